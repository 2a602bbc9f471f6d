"""OpenAPI pieces of /api/v1: the key security schemes and the envelope shapes (drf-spectacular)."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "portal.api.authentication.ApiKeyAuthentication"
    name = ["BearerKey", "HeaderKey", "BasicKey", "QueryKey"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "Authorization: Bearer <API key> (preferred).",
            },
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            {
                "type": "http",
                "scheme": "basic",
                "description": "The API key as user name, an empty password.",
            },
            {
                "type": "apiKey",
                "in": "query",
                "name": "access_token",
                "description": "For clients that cannot set headers; masked in the server logs.",
            },
        ]


class PortalAutoSchema(AutoSchema):
    """Names nested serializers after their endpoint (``ContactListApi.InputSerializer`` → ``ContactListApiInput``).

    Every endpoint nests its own ``InputSerializer`` / ``OutputSerializer`` (CONVENTIONS R9); named by class name
    alone they would all be one "Input" component of the schema.
    """

    def get_serializer_name(self, serializer: Any, direction: Literal["request", "response"]) -> str:
        qualname: str = serializer.__class__.__qualname__
        if "." in qualname and "<locals>" not in qualname:
            return qualname.replace(".", "")
        name: str = super().get_serializer_name(serializer, direction)
        return name


_ENVELOPES: dict[str, Any] = {}


def enveloped(
    name: str, data: type[serializers.BaseSerializer[Any]] | serializers.BaseSerializer[Any]
) -> Any:
    """The success envelope ``{status, code, message, data}`` around ``data``, one component per ``name``."""
    if name in _ENVELOPES:
        return _ENVELOPES[name]
    _ENVELOPES[name] = inline_serializer(
        name=f"{name}Response",
        fields={
            "status": serializers.CharField(default="OK"),
            "code": serializers.IntegerField(default=200),
            "message": serializers.CharField(default="OK"),
            "data": data() if isinstance(data, type) else data,
        },
    )
    return _ENVELOPES[name]


ErrorEnvelope = inline_serializer(
    name="ErrorResponse",
    fields={
        "status": serializers.CharField(default="error"),
        "code": serializers.IntegerField(),
        "message": serializers.CharField(),
        "data": serializers.JSONField(allow_null=True, default=None),
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "type": serializers.CharField(),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()), required=False
                ),
            },
        ),
    },
)

ERROR_RESPONSES = {
    401: OpenApiResponse(ErrorEnvelope, description="No key, or a wrong, deleted or replaced key."),
    403: OpenApiResponse(ErrorEnvelope, description="The key lacks the scope of this endpoint."),
    429: OpenApiResponse(ErrorEnvelope, description="Rate limit of the key exceeded; see Retry-After."),
}
