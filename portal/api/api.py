"""Endpoints of the API plumbing itself: ``GET /api/v1/auth/me`` (seed 004 E001) and the JSON 404 fallback.

Seed 004 §1.10 names only finance endpoints (balance, reseller credits); they belong to the finance app and arrive
with it. The seed names no users or roles endpoints.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from portal.api import envelope
from portal.api.authentication import request_access
from portal.api.base import ApiView
from portal.api.models import ApiAccess
from portal.api.schema import ERROR_RESPONSES, enveloped


class AuthMeApi(ApiView):
    """The key that made the request: its name, scopes, senders, webhook and company."""

    class CompanyOutputSerializer(serializers.Serializer[Any]):
        id = serializers.UUIDField(source="uuid")
        name = serializers.CharField()

    class OutputSerializer(serializers.Serializer[ApiAccess]):
        id = serializers.UUIDField(source="uuid")
        name = serializers.CharField()
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiAccess.Scope.choices))
        senders = serializers.ListField(
            child=serializers.CharField(),
            help_text="Sender IDs the key may send from; empty means every sender of the company.",
        )
        webhook_url = serializers.CharField()
        key_prefix = serializers.CharField(
            help_text="The first characters of the key, as shown in the portal."
        )
        created_at = serializers.DateTimeField()
        last_used_at = serializers.DateTimeField(allow_null=True)
        rate_limit = serializers.SerializerMethodField()
        company = serializers.SerializerMethodField()

        def get_rate_limit(self, obj: ApiAccess) -> dict[str, int]:
            return {
                "get_per_window": int(obj.rate_limit_get or settings.PORTAL_API_RATE_LIMIT_GET),
                "write_per_window": int(settings.PORTAL_API_RATE_LIMIT_WRITE),
                "window_seconds": int(settings.PORTAL_API_RATE_WINDOW_SECONDS),
            }

        def get_company(self, obj: ApiAccess) -> dict[str, Any]:
            return dict(AuthMeApi.CompanyOutputSerializer(obj.company).data)

    @extend_schema(
        operation_id="auth_me",
        summary="The authenticated API key",
        responses={200: enveloped("AuthMe", OutputSerializer), **ERROR_RESPONSES},
        tags=["auth"],
    )
    def get(self, request: Request) -> Response:
        access = request_access(request)
        return envelope.ok(self.OutputSerializer(access).data)


class NotFoundApi(ApiView):
    """Any other path under /api/v1: the JSON 404 of the envelope instead of Django's HTML page."""

    schema = None  # not an endpoint of the documented API

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    get = post = put = patch = delete = _not_found
