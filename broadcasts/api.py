"""``/api/v1/broadcasts…`` (issue 7 item 8, scope ``broadcast``), in the spirit of seed 004 §5.6 (a
"channels / recipient / message" body, ``order`` by position, ``wait`` for fallback).

| Method & path | What |
|---|---|
| ``GET broadcasts`` | the company's runs, newest first, paged (seed 004 §2.7 shape) |
| ``POST broadcasts`` | create a run; ``"launch": true`` launches (or schedules) it at once, launch type API |
| ``GET broadcasts/{id}`` | status and statistics (guide §6.5 totals and per-channel messages) |
| ``POST broadcasts/{id}/launch`` | launch a Draft created earlier, launch type API |

Writes go through ``broadcasts.services`` (same validation as the form: a step without a served sender ID, a
past ``schedule_at``, a text over a channel's limit… are 422 with field errors named as in the body, e.g.
``channels.0.from``). With company moderation on, ``launch`` is refused (422 ``application_error``) and
``"moderation": true`` sends the run to moderation instead.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from broadcasts import selectors, services
from broadcasts.models import Broadcast, BroadcastStep
from broadcasts.selectors import BroadcastStats, ChannelStats
from broadcasts.services import BroadcastData, StepData
from channels_out.kinds import ChannelKind
from contacts.models import Tag, Target
from portal.api import envelope
from portal.api.authentication import request_access
from portal.api.base import ApiView, RequiresScope
from portal.api.pagination import PortalPagination
from portal.api.schema import ERROR_RESPONSES, enveloped
from portal.tenants.models import Company

SCOPE: list[type[BasePermission]] = [IsAuthenticated, RequiresScope("broadcast")]
# Service field names → the body's names, for 422 field errors.
STEP_FIELD_NAMES = {"sender_id": "from", "text": "message.text", "title": "message.title"}


def _company(request: Request) -> Company:
    return request_access(request).company


def _many(serializer: type[serializers.Serializer[Any]], items: Any) -> Any:
    return serializer(items, many=True).data


def _broadcast(company: Company, uuid: str) -> Broadcast:
    broadcast = selectors.broadcast_list(company=company).filter(uuid=uuid).first()
    if broadcast is None:
        raise Http404  # another company's run is a 404, the same as a missing one (CONVENTIONS R5)
    return broadcast


def _api_errors(exc: ValidationError) -> ValidationError:
    """``steps.0.sender_id`` → ``channels.0.from``; ``target_ids`` stays as given in the body's ``recipients``."""
    if not hasattr(exc, "error_dict"):
        return exc
    named: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        if key.startswith("steps."):
            _steps, index, field_name = [*key.split(".", 2), "", ""][:3]
            key = f"channels.{index}.{STEP_FIELD_NAMES.get(field_name, field_name)}".rstrip(".")
        elif key in ("steps",):
            key = "channels"
        elif key == "scheduled_for":
            key = "schedule_at"
        elif key in ("numbers", "recipients"):
            key = "recipients"
        named.setdefault(key, []).extend(messages)
    return ValidationError(named)


class ChannelOutputSerializer(serializers.Serializer[BroadcastStep]):
    order = serializers.IntegerField()
    name = serializers.CharField(source="channel")
    sender = serializers.CharField(source="sender_id")
    wait_for = serializers.CharField()
    wait_seconds = serializers.IntegerField(source="waiting_seconds")
    message = serializers.DictField(source="text_content")
    content = serializers.JSONField(help_text="The stored message keyed by its constructor format (issue 8).")


class ChannelStatsSerializer(serializers.Serializer[ChannelStats]):
    order = serializers.IntegerField(source="step.order")
    name = serializers.CharField(source="step.channel")
    sent = serializers.IntegerField()
    pending = serializers.IntegerField()
    submitted = serializers.IntegerField()
    delivered = serializers.IntegerField()
    displayed = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    successful = serializers.IntegerField()


class StatisticsSerializer(serializers.Serializer[BroadcastStats]):
    """Guide §6.5 Fallback statistics (count and % of the total) and per-channel message statistics."""

    total = serializers.IntegerField()
    not_initiated = serializers.IntegerField(source="not_initiated.count")
    initiated = serializers.IntegerField(source="initiated.count")
    successful = serializers.IntegerField(source="successful.count")
    unsuccessful = serializers.IntegerField(source="unsuccessful.count")
    pending = serializers.IntegerField()
    percent = serializers.SerializerMethodField()
    channels = ChannelStatsSerializer(many=True)

    def get_percent(self, obj: BroadcastStats) -> dict[str, float]:
        return {
            "not_initiated": obj.not_initiated.percent,
            "initiated": obj.initiated.percent,
            "successful": obj.successful.percent,
            "unsuccessful": obj.unsuccessful.percent,
        }


class BroadcastOutputSerializer(serializers.Serializer[Broadcast]):
    id = serializers.UUIDField(source="uuid")
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    status = serializers.CharField()
    launch_type = serializers.CharField()
    schedule_at = serializers.DateTimeField(source="scheduled_for", allow_null=True)
    launched_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    template_id = serializers.IntegerField(allow_null=True)
    contacts = serializers.IntegerField()
    rcs_check = serializers.BooleanField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()


class BroadcastDetailSerializer(BroadcastOutputSerializer):
    channels = serializers.SerializerMethodField()
    statistics = serializers.SerializerMethodField()

    def get_channels(self, obj: Broadcast) -> Any:
        steps = selectors.broadcast_steps(company=obj.company, broadcast=obj)
        return _many(ChannelOutputSerializer, steps)

    def get_statistics(self, obj: Broadcast) -> Any:
        return StatisticsSerializer(selectors.broadcast_stats(company=obj.company, broadcast=obj)).data


def _detail(broadcast: Broadcast) -> Any:
    return BroadcastDetailSerializer(broadcast).data


class BroadcastListApi(ApiView):
    """List the company's runs (newest first, ``?status=`` filter) and create one."""

    permission_classes = SCOPE

    class InputSerializer(serializers.Serializer[Any]):
        class RecipientsSerializer(serializers.Serializer[Any]):
            to = serializers.ListField(
                child=serializers.CharField(max_length=40), required=False, default=list
            )
            target_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)
            tag_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list)

        class ChannelSerializer(serializers.Serializer[Any]):
            class MessageSerializer(serializers.Serializer[Any]):
                text = serializers.CharField(allow_blank=True, required=False, default="")
                title = serializers.CharField(allow_blank=True, required=False, default="")

            name = serializers.ChoiceField(choices=ChannelKind.values)
            sender = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
            wait_for = serializers.ChoiceField(
                choices=BroadcastStep.WaitFor.values, required=False, default=BroadcastStep.WaitFor.DELIVERY
            )
            wait_seconds = serializers.IntegerField(min_value=0, required=False, default=600)
            message = MessageSerializer(required=False, default=dict)
            # Issue 8: a constructor format of the channel keyed by its format ({"carousel": {...}}), validated by
            # channels_out.formats like the step editor; errors read channels.<n>.content.<format>.<field>.
            content = serializers.DictField(required=False, default=dict)

        name = serializers.CharField(max_length=255)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        type = serializers.ChoiceField(
            choices=[Broadcast.Type.FALLBACK, Broadcast.Type.RCS_CHECK], required=False, default="fallback"
        )
        recipients = RecipientsSerializer()
        channels = ChannelSerializer(many=True, required=False, default=list)
        schedule_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        rcs_check = serializers.BooleanField(required=False, default=False)
        launch = serializers.BooleanField(required=False, default=False)
        moderation = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="broadcasts_list",
        responses={200: BroadcastOutputSerializer(many=True), **ERROR_RESPONSES},
        tags=["broadcasts"],
    )
    def get(self, request: Request) -> Response:
        company = _company(request)
        qs = selectors.broadcast_list(company=company).order_by("-id")
        wanted = request.query_params.get("status")
        if wanted:
            qs = qs.filter(status=wanted.strip().lower())
        paginator = PortalPagination()
        page = paginator.paginate_queryset(qs, request, view=self) or []
        return paginator.get_paginated_response(_many(BroadcastOutputSerializer, page))

    @extend_schema(
        operation_id="broadcasts_create",
        request=InputSerializer,
        responses={201: enveloped("Broadcast", BroadcastDetailSerializer), **ERROR_RESPONSES},
        tags=["broadcasts"],
    )
    def post(self, request: Request) -> Response:
        company = _company(request)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        recipients = values["recipients"]
        steps = [
            # The API gives the waiting time in seconds; it is stored in the largest whole unit.
            StepData(
                channel=c["name"],
                sender_id=c["sender"],
                wait_for=c["wait_for"],
                wait_value=_wait(c["wait_seconds"])[0],
                wait_unit=_wait(c["wait_seconds"])[1],
                text=c["message"].get("text", ""),
                title=c["message"].get("title", ""),
                formats=c["content"],
            )
            for c in values["channels"]
        ]
        data = BroadcastData(
            name=values["name"],
            description=values["description"],
            type=values["type"],
            instantly=values["schedule_at"] is None,
            scheduled_for=values["schedule_at"],
            rcs_check=values["rcs_check"],
            target_ids=list(
                Target.objects.filter(company=company, uuid__in=recipients["target_ids"]).values_list(
                    "pk", flat=True
                )
            ),
            tag_ids=list(
                Tag.objects.filter(company=company, uuid__in=recipients["tag_ids"]).values_list(
                    "pk", flat=True
                )
            ),
            numbers=list(recipients["to"]),
            steps=steps,
        )
        unknown = len(set(recipients["target_ids"])) - len(data.target_ids)
        unknown_tags = len(set(recipients["tag_ids"])) - len(data.tag_ids)
        if unknown or unknown_tags:
            raise ValidationError({"recipients": [_("Unknown target or tag id.")]})
        action = "moderation" if values["moderation"] else "launch" if values["launch"] else "draft"
        try:
            broadcast = services.broadcast_save(
                company=company,
                actor=request_access(request).created_by,
                data=data,
                action=action,
                launch_type=Broadcast.LaunchType.API,
            )
        except ValidationError as exc:
            raise _api_errors(exc) from exc
        return envelope.ok(
            _detail(broadcast),
            message={"draft": "Broadcast created", "launch": "Broadcast launched"}.get(
                action, "Sent to moderation"
            ),
            status=status.HTTP_201_CREATED,
        )


def _wait(seconds: int) -> tuple[int, str]:
    if seconds and seconds % 3600 == 0:
        return seconds // 3600, BroadcastStep.Unit.HOURS
    if seconds and seconds % 60 == 0:
        return seconds // 60, BroadcastStep.Unit.MINUTES
    return seconds, BroadcastStep.Unit.SECONDS


class BroadcastDetailApi(ApiView):
    """Status and statistics of one run."""

    permission_classes = SCOPE

    @extend_schema(
        operation_id="broadcasts_show",
        responses={200: enveloped("Broadcast", BroadcastDetailSerializer), **ERROR_RESPONSES},
        tags=["broadcasts"],
    )
    def get(self, request: Request, uuid: str) -> Response:
        return envelope.ok(_detail(_broadcast(_company(request), uuid)))


class BroadcastLaunchApi(ApiView):
    """Launch (or schedule) a Draft; the run's launch type becomes API."""

    permission_classes = SCOPE

    @extend_schema(
        operation_id="broadcasts_launch",
        request=None,
        responses={200: enveloped("Broadcast", BroadcastDetailSerializer), **ERROR_RESPONSES},
        tags=["broadcasts"],
    )
    def post(self, request: Request, uuid: str) -> Response:
        company = _company(request)
        broadcast = _broadcast(company, uuid)
        try:
            broadcast = services.broadcast_launch(
                company=company,
                actor=request_access(request).created_by,
                broadcast=broadcast,
                launch_type=Broadcast.LaunchType.API,
            )
        except ValidationError as exc:
            raise _api_errors(exc) from exc
        return envelope.ok(_detail(broadcast), message="Broadcast launched")


# Included by portal/api/urls.py under /api/v1/ (CONVENTIONS R9).
urlpatterns = [
    path("broadcasts", BroadcastListApi.as_view(), name="broadcasts"),
    path("broadcasts/<uuid:uuid>", BroadcastDetailApi.as_view(), name="broadcast"),
    path("broadcasts/<uuid:uuid>/launch", BroadcastLaunchApi.as_view(), name="broadcast-launch"),
]
