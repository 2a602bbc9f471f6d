"""DRF's EXCEPTION_HANDLER for /api/v1: every error leaves in the one envelope (seed 004 §2.5, §2.6, §5.1).

| Error | HTTP | ``error.type`` |
|---|---|---|
| no key | 401 | ``not_authenticated`` |
| wrong, deleted or replaced key | 401 | ``authentication_failed`` |
| key without the scope, role refusal | 403 | ``permission_denied`` |
| missing object, another tenant's object, unknown path | 404 | ``not_found`` |
| method not allowed | 405 | ``method_not_allowed`` |
| malformed JSON or header | 400 | ``parse_error`` |
| field validation (per-field messages in ``error.fields``) | 422 | ``validation_error`` |
| a product rule refused the operation (ApplicationError) | 422 | ``application_error`` |
| rate limit | 429 (+ ``Retry-After``) | ``rate_limited`` |
| anything else | 500 | ``server_error`` (details only in the server log) |

Seed 004 §2.6 and §6 check 74 separate 400 (malformed) from 422 (validation); the envelope follows them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from portal.api.envelope import error_body
from portal.core.exceptions import ApplicationError
from portal.core.exceptions import PermissionDeniedError as AppPermissionDenied

logger = logging.getLogger(__name__)


def _plain(detail: Any) -> Any:
    """ErrorDetail trees → plain strings, lists and dicts."""
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list | tuple):
        return [_plain(v) for v in detail]
    return str(detail)


def _fields(detail: Any) -> dict[str, Any]:
    plain = _plain(detail)
    if isinstance(plain, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in plain.items()}
    return {"non_field_errors": plain if isinstance(plain, list) else [plain]}


def _response(status: int, message: str, error_type: str, fields: dict[str, Any] | None = None) -> Response:
    return Response(
        error_body(code=status, message=message, error_type=error_type, fields=fields), status=status
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    set_rollback()
    if isinstance(exc, Http404 | drf.NotFound):
        return _response(404, _("Not found."), "not_found")
    if isinstance(exc, DjangoPermissionDenied | AppPermissionDenied):
        message = exc.message if isinstance(exc, ApplicationError) else _("You do not have permission.")
        return _response(403, message, "permission_denied")
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return _response(422, _("The request has invalid fields."), "validation_error", fields)
    if isinstance(exc, ApplicationError):
        return _response(422, exc.message, "application_error", exc.extra or None)
    if isinstance(exc, drf.ValidationError):
        return _response(422, _("The request has invalid fields."), "validation_error", _fields(exc.detail))
    if isinstance(exc, drf.Throttled):
        retry_after = max(1, int((getattr(exc, "wait", None) or 1) + 0.999))
        response = _response(
            429,
            _("Too many requests for this API key. Try again in %(s)d seconds.") % {"s": retry_after},
            "rate_limited",
        )
        response["Retry-After"] = str(retry_after)
        return response
    if isinstance(exc, drf.APIException):
        response = _response(exc.status_code, str(_plain(exc.detail)), _error_type(exc))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            response["WWW-Authenticate"] = auth_header
        return response
    view = context.get("view")
    logger.error("Unhandled error in API view %s", type(view).__name__, exc_info=exc)
    return _response(500, _("The server failed to process the request. Try again later."), "server_error")


def _error_type(exc: drf.APIException) -> str:
    if isinstance(exc, drf.ParseError):
        return "parse_error"
    return str(exc.default_code)
