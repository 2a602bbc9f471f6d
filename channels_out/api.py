"""The send API of the channel layer under /api/v1 (issue 5 §6; seed 004 §1.5, §1.8, §1.9 and §5.6-§5.8).

Endpoints (scope ``omni-api``; the key's allowed senders are enforced, 403 otherwise):

- ``POST sms/send``: seed 004 E037 (``sender``, ``to`` list or string, ``message``, ``type`` N/U/A, ``custom``,
  ``max_units``, ``flash``, ``port``, ``tags``);
- ``POST sms/bulk``: the CleverTap ``root``/``nodes`` batch of seed 004 X2 (§5.6 "defaults and per-recipient
  overrides");
- ``POST viber/message/send`` and ``POST whatsapp/message/send``: E075/E090 (``channels``, ``message``,
  ``recipient``);
- ``GET messages/<id>``: one message's status (§5.8: normalised status plus the vendor's raw status and code);
- ``GET messages?filter[group_id]=…|filter[custom]=…``: statuses of a batch, 100 per page at most.

Sends answer **202** with ``data = {"group_id", "messages": [{id, to, status, custom, segments, encoding,
length}]}``; the messages are queued (origin ``api``) and their status changes go to the key's webhook
(``channels_out.webhooks``).

``Idempotency-Key`` (§5.6): the first 2xx answer of a key is stored with a hash of the request (method, path,
body). The same key with the same request replays that answer (header ``Idempotent-Replayed: true``); the same key
with another body is **422** ``idempotency_key_reused``. Requests with one key are serialised by a transaction-level
advisory lock, so a concurrent repeat waits for the first and then replays it instead of sending twice (no 409).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from assets.services import whatsapp_payload_check
from channels_out.formats.seed004 import viber_payload, whatsapp_payload
from channels_out.kinds import ChannelKind
from channels_out.models import ApiIdempotencyKey, Message, MessageEvent
from channels_out.services import OutgoingItem, api_messages_send
from channels_out.sms import encoding_of, sms_info
from portal.api import envelope
from portal.api.authentication import request_access
from portal.api.base import ApiView, RequiresScope
from portal.api.envelope import error_body
from portal.api.models import ApiAccess
from portal.api.pagination import PortalPagination
from portal.api.schema import ERROR_RESPONSES, enveloped

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_RECIPIENTS = 1000
OMNI: list[type[BasePermission]] = [IsAuthenticated, RequiresScope(ApiAccess.Scope.OMNI_API)]


# -- shared pieces ----------------------------------------------------------------------------------------------


class QueuedSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    to = serializers.CharField()
    status = serializers.CharField()
    custom = serializers.CharField()
    segments = serializers.IntegerField()
    encoding = serializers.CharField()
    length = serializers.IntegerField()


class SendOutputSerializer(serializers.Serializer[Any]):
    group_id = serializers.UUIDField()
    messages = QueuedSerializer(many=True)


def _senders_allowed(access: ApiAccess, senders: Sequence[str]) -> None:
    """The key's allowed senders (guide §15): empty means every sender of the company."""
    if not access.senders:
        return
    refused = sorted({s for s in senders if s not in access.senders})
    if refused:
        raise PermissionDenied(
            _("This API key may not send from sender ID %(sender)s. Allowed: %(allowed)s.")
            % {"sender": ", ".join(refused), "allowed": ", ".join(access.senders)}
        )


def _queued(group_id: uuid.UUID, messages: Sequence[Message], custom: Sequence[str]) -> Response:
    rows = [
        {
            "id": m.uuid, "to": m.address, "status": m.status, "custom": ref, "segments": m.segments,
            "encoding": m.encoding, "length": len(m.text),
        }
        for m, ref in zip(messages, custom, strict=True)
    ]  # fmt: skip
    data = SendOutputSerializer({"group_id": group_id, "messages": rows}).data
    count = len(messages)
    message = _("%(n)d numbers accepted for delivery.") % {"n": count}  # seed 004 E037's wording
    return envelope.ok(data, message=message, status=202)


def _references(custom: str, count: int) -> list[str | None]:
    """Client references from ``custom`` (seed 004 §5.6: ``custom`` is the dedup key): one per recipient."""
    if not custom:
        return [None] * count
    if count == 1:
        return [custom]
    return [f"{custom}:{n}" for n in range(1, count + 1)]


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per ``Idempotency-Key`` (see the module docstring)."""
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key:
        return handler()
    if len(key) > 255:
        return Response(
            error_body(
                code=422,
                message=_("The Idempotency-Key is longer than 255 characters."),
                error_type="validation_error",
            ),
            status=422,
        )
    access = request_access(request)
    digest = hashlib.sha256(
        b"\n".join([(request.method or "").encode(), request.path.encode(), request.body])
    ).hexdigest()
    lock = int(hashlib.sha256(f"{access.pk}:{key}".encode()).hexdigest()[:15], 16)
    with transaction.atomic():
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock])
        stored = ApiIdempotencyKey.objects.filter(access=access, key=key).first()
        if stored is not None:
            if stored.request_hash != digest:
                return Response(
                    error_body(
                        code=422,
                        message=_("This Idempotency-Key was already used with a different request."),
                        error_type="idempotency_key_reused",
                    ),
                    status=422,
                )
            replay = Response(stored.response, status=stored.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = handler()
        if 200 <= response.status_code < 300:
            ApiIdempotencyKey.objects.create(
                company=access.company, access=access, key=key, request_hash=digest,
                status_code=response.status_code, response=_plain(response.data),
            )  # fmt: skip
    return response


def _plain(data: Any) -> Any:
    """DRF's ReturnDict/UUID values → JSON-safe plain values for storage."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(v) for v in data]
    if isinstance(data, uuid.UUID):
        return str(data)
    return data


# -- SMS ----------------------------------------------------------------------------------------------------------


class _Recipients(serializers.ListField):
    """``to`` as seed 004 has it: an array of numbers, or one string (comma-separated, as in X1)."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, str):
            data = [part.strip() for part in data.split(",") if part.strip()]
        return list(super().to_internal_value(data))


def _sms_text(text: str, sms_type: str) -> str:
    """Seed 004 §3.1: with type N every character outside GSM-7 is sent as ``?``; A and U auto-detect."""
    if sms_type != "N":
        return text
    return "".join(ch if encoding_of(ch) == "gsm7" else "?" for ch in text)


def _check_units(text: str, max_units: int | None, field: str) -> None:
    if max_units is not None and sms_info(text).segments > max_units:
        # Seed 004 §6 check 18: more parts than max_units is refused, nothing is billed.
        raise serializers.ValidationError(
            {
                field: [
                    _("The text needs %(n)d SMS parts; max_units is %(max)d.")
                    % {"n": sms_info(text).segments, "max": max_units}
                ]
            }
        )


class SmsSendApi(ApiView):
    """Send one SMS text to one or more numbers (seed 004 E037)."""

    permission_classes = OMNI

    class InputSerializer(serializers.Serializer[Any]):
        sender = serializers.CharField(max_length=64)
        to = _Recipients(child=serializers.CharField(max_length=32), min_length=1, max_length=MAX_RECIPIENTS)
        message = serializers.CharField(max_length=5000)
        type = serializers.ChoiceField(choices=["N", "U", "A"], default="A")
        custom = serializers.CharField(max_length=60, required=False, default="")
        max_units = serializers.ChoiceField(choices=[2, 3], required=False, allow_null=True, default=None)
        flash = serializers.ChoiceField(choices=[0, 1], required=False, default=0)
        port = serializers.CharField(max_length=5, required=False, default="")
        tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=3)

    @extend_schema(
        operation_id="sms_send",
        summary="Send an SMS",
        request=InputSerializer,
        responses={202: enveloped("SmsSend", SendOutputSerializer), **ERROR_RESPONSES},
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, lambda: self._send(request))

    def _send(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        access = request_access(request)
        _senders_allowed(access, [values["sender"]])
        text = _sms_text(values["message"], values["type"])
        _check_units(text, values["max_units"], "message")
        payload: dict[str, Any] = {"text": text}
        if values["flash"]:
            payload["flash"] = 1
        for key in ("port", "tags"):
            if values.get(key):
                payload[key] = values[key]
        refs = _references(values["custom"], len(values["to"]))
        items = [
            OutgoingItem(ChannelKind.SMS, values["sender"], to, payload, ref)
            for to, ref in zip(values["to"], refs, strict=True)
        ]
        customs = [values["custom"]] * len(items)
        group_id, messages = api_messages_send(
            company=access.company, access=access, items=items, custom=customs
        )
        return _queued(group_id, messages, customs)


class SmsBulkApi(ApiView):
    """Send many SMS with defaults and per-recipient overrides (seed 004 X2 ``root``/``nodes``)."""

    permission_classes = OMNI

    class RootSerializer(serializers.Serializer[Any]):
        sender = serializers.CharField(max_length=64, required=False, default="")
        message = serializers.CharField(max_length=5000, required=False, default="")
        type = serializers.ChoiceField(choices=["N", "U", "A"], default="A")
        max_units = serializers.ChoiceField(choices=[2, 3], required=False, allow_null=True, default=None)

    class NodeSerializer(serializers.Serializer[Any]):
        to = serializers.CharField(max_length=32)
        sender = serializers.CharField(max_length=64, required=False, default="")
        message = serializers.CharField(max_length=5000, required=False, default="")
        custom = serializers.CharField(max_length=64, required=False, default="")

    class InputSerializer(serializers.Serializer[Any]):
        # ``root`` is declared below: the name is a read-only property of DRF fields.
        nodes = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_RECIPIENTS)

    InputSerializer._declared_fields["root"] = serializers.DictField(required=False, default=dict)

    @extend_schema(
        operation_id="sms_bulk",
        summary="Send SMS in bulk",
        request=InputSerializer,
        responses={202: enveloped("SmsBulk", SendOutputSerializer), **ERROR_RESPONSES},
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        return idempotent(request, lambda: self._send(request))

    def _send(self, request: Request) -> Response:
        outer = self.InputSerializer(data=request.data)
        outer.is_valid(raise_exception=True)
        root_in = self.RootSerializer(data=outer.validated_data["root"])
        root_in.is_valid(raise_exception=True)
        root = root_in.validated_data
        errors: dict[str, Any] = {}
        nodes: list[dict[str, Any]] = []
        for index, raw in enumerate(outer.validated_data["nodes"]):
            node_in = self.NodeSerializer(data=raw)
            if not node_in.is_valid():
                errors.update({f"nodes.{index}.{k}": v for k, v in node_in.errors.items()})
                continue
            node = dict(node_in.validated_data)
            node["sender"] = node["sender"] or root["sender"]
            node["message"] = _sms_text(node["message"] or root["message"], root["type"])
            for name in ("sender", "message"):
                if not node[name]:
                    errors[f"nodes.{index}.{name}"] = [
                        _("Give %(field)s in the node or in root.") % {"field": name}
                    ]
            if (
                node["message"]
                and root["max_units"]
                and sms_info(node["message"]).segments > root["max_units"]
            ):
                errors[f"nodes.{index}.message"] = [_("The text needs more than max_units SMS parts.")]
            nodes.append(node)
        if errors:
            raise serializers.ValidationError(errors)
        access = request_access(request)
        _senders_allowed(access, [n["sender"] for n in nodes])
        items = [
            OutgoingItem(ChannelKind.SMS, n["sender"], n["to"], {"text": n["message"]}, n["custom"] or None)
            for n in nodes
        ]
        customs = [n["custom"] for n in nodes]
        group_id, messages = api_messages_send(
            company=access.company, access=access, items=items, custom=customs
        )
        return _queued(group_id, messages, customs)


# -- Viber and WhatsApp -------------------------------------------------------------------------------------------


class _ChannelSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    # Declared as "from" below: a Python keyword cannot be a field name.
    meta = serializers.DictField(required=False, default=dict)


_ChannelSerializer._declared_fields["from"] = serializers.CharField(max_length=64)


class _ContentSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(max_length=20, default="text")
    payload = serializers.DictField()


class _RecipientSerializer(serializers.Serializer[Any]):
    to = _Recipients(child=serializers.CharField(max_length=32), min_length=1, max_length=MAX_RECIPIENTS)


class _ChatSendApi(ApiView):
    """Seed 004 E075/E090: ``{"channels": [{"name", "from", "meta"}], "message": {type, payload}, "recipient"}``."""

    permission_classes = OMNI
    channel: ChannelKind = ChannelKind.VIBER

    class InputSerializer(serializers.Serializer[Any]):
        channels = _ChannelSerializer(many=True, min_length=1, max_length=1)  # type: ignore[call-arg]
        message = _ContentSerializer()
        recipient = _RecipientSerializer()
        custom = serializers.CharField(max_length=60, required=False, default="")

    def post(self, request: Request) -> Response:
        return idempotent(request, lambda: self._send(request))

    def payload_for(self, content: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _send(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        channel = values["channels"][0]
        if channel["name"] != self.channel:
            raise serializers.ValidationError(
                {
                    "channels.0.name": [
                        _("This endpoint sends %(channel)s only.") % {"channel": self.channel.value}
                    ]
                }
            )
        access = request_access(request)
        _senders_allowed(access, [channel["from"]])
        payload = self.payload_for(values["message"], channel["meta"])
        # Issue 8 / guide §12.4: a WhatsApp template message needs an Approved template of the company.
        whatsapp_payload_check(company=access.company, channel=self.channel, payload=payload)
        recipients = values["recipient"]["to"]
        refs = _references(values["custom"], len(recipients))
        items = [
            OutgoingItem(self.channel, channel["from"], to, payload, ref)
            for to, ref in zip(recipients, refs, strict=True)
        ]
        customs = [values["custom"]] * len(items)
        group_id, messages = api_messages_send(
            company=access.company, access=access, items=items, custom=customs
        )
        return _queued(group_id, messages, customs)


class ViberSendApi(_ChatSendApi):
    """Send a Viber message: text, file, text + button, text + image + button (seed 004 E075, guide §12.1)."""

    channel = ChannelKind.VIBER

    def payload_for(self, content: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        # Issue 8: the rich shapes become constructor formats (channels_out.formats.seed004).
        return viber_payload(content, meta)

    @extend_schema(
        operation_id="viber_send",
        summary="Send a Viber message",
        request=_ChatSendApi.InputSerializer,
        responses={202: enveloped("ViberSend", SendOutputSerializer), **ERROR_RESPONSES},
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class WhatsAppSendApi(_ChatSendApi):
    """Send a WhatsApp text, card, list, file, location (request) or template message (seed 004 E090)."""

    channel = ChannelKind.WHATSAPP

    def payload_for(self, content: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        # Issue 8: cards, lists, files, locations and templates become constructor formats (formats.seed004).
        return whatsapp_payload(content, meta)

    @extend_schema(
        operation_id="whatsapp_send",
        summary="Send a WhatsApp message",
        request=_ChatSendApi.InputSerializer,
        responses={202: enveloped("WhatsAppSend", SendOutputSerializer), **ERROR_RESPONSES},
        tags=["messages"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


# -- status -------------------------------------------------------------------------------------------------------


class MessageOutputSerializer(serializers.Serializer[Message]):
    id = serializers.UUIDField(source="uuid")
    channel = serializers.CharField()
    to = serializers.CharField(source="address")
    sender = serializers.CharField(source="sender_id")
    status = serializers.CharField()
    raw_status = serializers.SerializerMethodField()
    error_code = serializers.CharField()
    error = serializers.CharField(source="error_text")
    custom = serializers.CharField(source="api_send.custom")
    group_id = serializers.UUIDField(source="api_send.group_id")
    segments = serializers.IntegerField()
    encoding = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=5, allow_null=True)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(source="displayed_at", allow_null=True)

    def get_raw_status(self, obj: Message) -> str:
        """The vendor's own word of the last applied report (e.g. ``DELIVRD``), seed 004 §5.8."""
        timeline = obj.timeline  # type: ignore[attr-defined]
        return next((e.raw_status for e in reversed(timeline) if e.applied and e.status == obj.status), "")


def _api_messages(access: ApiAccess) -> Any:
    from django.db.models import Prefetch

    return (
        Message.objects.filter(company=access.company, origin=Message.Origin.API, api_send__isnull=False)
        .select_related("api_send")
        .prefetch_related(
            Prefetch("events", queryset=MessageEvent.objects.order_by("id"), to_attr="timeline")
        )
    )


class MessageDetailApi(ApiView):
    """One message sent through the API: normalised status, vendor status and times (seed 004 §5.8)."""

    permission_classes = OMNI

    @extend_schema(
        operation_id="message_get",
        summary="A message's status",
        responses={200: enveloped("Message", MessageOutputSerializer), **ERROR_RESPONSES},
        tags=["messages"],
    )
    def get(self, request: Request, uuid: uuid.UUID) -> Response:
        access = request_access(request)
        message = _api_messages(access).filter(uuid=uuid).first()
        if message is None:
            from rest_framework.exceptions import NotFound

            raise NotFound()
        return envelope.ok(MessageOutputSerializer(message).data)


class MessageStatusPagination(PortalPagination):
    page_size = 100  # seed 004 §2.7: DLR pull pages hold 100


class MessageListApi(ApiView):
    """Statuses of a batch: ``filter[group_id]`` or ``filter[custom]`` is required (seed 004 E040, §5.8)."""

    permission_classes = OMNI
    pagination_class = MessageStatusPagination

    @extend_schema(
        operation_id="message_list",
        summary="Statuses of a batch of messages",
        responses={200: MessageOutputSerializer(many=True), **ERROR_RESPONSES},
        tags=["messages"],
    )
    def get(self, request: Request) -> Response:
        access = request_access(request)
        group = request.query_params.get("filter[group_id]", "").strip()
        custom = request.query_params.get("filter[custom]", "").strip()
        if not group and not custom:
            raise serializers.ValidationError({"filter": [_("Give filter[group_id] or filter[custom].")]})
        qs = _api_messages(access)
        if group:
            try:
                qs = qs.filter(api_send__group_id=uuid.UUID(group))
            except ValueError as exc:
                raise serializers.ValidationError({"filter[group_id]": [_("Not a valid id.")]}) from exc
        if custom:
            qs = qs.filter(api_send__custom=custom)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs.order_by("id"), request, view=self)
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)  # type: ignore[arg-type]


# Included under /api/v1/ by portal/api/urls.py (before its JSON 404 catch-all).
urlpatterns = [
    path("sms/send", SmsSendApi.as_view(), name="sms-send"),
    path("sms/bulk", SmsBulkApi.as_view(), name="sms-bulk"),
    path("viber/message/send", ViberSendApi.as_view(), name="viber-send"),
    path("whatsapp/message/send", WhatsAppSendApi.as_view(), name="whatsapp-send"),
    path("messages", MessageListApi.as_view(), name="message-list"),
    path("messages/<uuid:uuid>", MessageDetailApi.as_view(), name="message-detail"),
]
