"""API-key authentication for /api/v1 (guide §15, seed 004 §2.2, CONVENTIONS R5 "API requests").

A key is accepted in any of the four places the sources use, checked in this order:

1. ``X-API-Key: <key>`` (guide §12.3 Omni API);
2. ``Authorization: Bearer <key>`` (seed 004 §2.2, the preferred form; guide Appendix 4);
3. HTTP Basic with the key as the user name and an empty password (guide Appendix 3, ``curl -u <key>:``);
4. ``?access_token=<key>`` for clients that cannot set headers (seed 004 §2.2); it is masked in the logs.

The key resolves to its ApiAccess and company: ``request.company`` is set from the key and never from the URL
or body, and ``request.auth`` is the ApiAccess. A missing key is 401 "not_authenticated"; a wrong, deleted or
replaced key, or a key of a deactivated company, is 401 "authentication_failed" with one message for all cases.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from portal.api.models import ApiAccess
from portal.api.selectors import api_access_for_key
from portal.api.services import api_access_mark_used
from portal.tenants.models import Company

HEADER_NAME = "X-API-Key"
QUERY_PARAM = "access_token"
INVALID_KEY_MESSAGE = _("The API key is not valid. Check the key or create a new one in API Accesses.")


@dataclass(frozen=True)
class ApiClient:
    """``request.user`` of an API call: the third-party system behind a key, not a portal user."""

    access: ApiAccess

    is_authenticated = True
    is_anonymous = False

    @property
    def company(self) -> Company:
        return self.access.company

    def __str__(self) -> str:
        return f"api:{self.access.name}"


def _basic_user(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _sep, _password = decoded.partition(":")
    return user.strip()


def key_from_request(request: Request) -> str | None:
    """Return the key the client sent, or None when it sent no credentials at all."""
    header = request.META.get("HTTP_X_API_KEY")
    if header:
        return str(header).strip()
    authorization = str(request.META.get("HTTP_AUTHORIZATION", "")).strip()
    if authorization:
        scheme, _sep, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        if scheme.lower() == "basic":
            return _basic_user(value) or ""
        return ""  # an unknown scheme is a credential we cannot accept, not an absent one
    token = request.query_params.get(QUERY_PARAM)
    if token:
        return token.strip()
    return None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiAccess] | None:
        key = key_from_request(request)
        if key is None:
            return None
        access = api_access_for_key(key=key)
        if access is None:
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        api_access_mark_used(access=access)
        # Set on the Django request too, so CompanyMiddleware adds X-Portal-Company like on pages.
        request._request.company = access.company  # type: ignore[attr-defined]
        request.company = access.company  # type: ignore[attr-defined]
        return ApiClient(access=access), access

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) with WWW-Authenticate when credentials are missing or wrong.
        return 'Bearer realm="api"'


def request_access(request: Request | Any) -> ApiAccess:
    """The ApiAccess that authenticated ``request`` (views run only after authentication succeeded)."""
    access = getattr(request, "auth", None)
    if not isinstance(access, ApiAccess):
        raise AuthenticationFailed(INVALID_KEY_MESSAGE)
    return access


def request_company(request: Request | Any) -> Company:
    return request_access(request).company
