"""The base of every /api/v1 endpoint: key authentication, a valid key required, per-key rate limit headers."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.models import ApiAccess
from portal.api.throttling import STATE_ATTR, RateLimitState


class KeepSessionUserMixin:
    """Give the Django request its own user back once DRF is done.

    DRF writes the API client (or an anonymous user) onto the underlying HttpRequest. Middleware that runs after
    the view (e.g. the active-sessions bookkeeping of My account) must keep seeing the browser session's user, if
    any, and never a key.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        session_user = getattr(request, "user", None)
        try:
            response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            return response
        finally:
            if session_user is not None:
                request.user = session_user


class ApiView(KeepSessionUserMixin, APIView):
    """Adds ``X-RateLimit-*`` to every response of a counted request (seed 004 §5.4)."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, STATE_ATTR, None)
        if isinstance(state, RateLimitState):
            for name, value in state.headers().items():
                response[name] = value
        return response


class HasScope(BasePermission):
    """The key's scopes must cover the endpoint family (guide §15 enforcement: 403 otherwise)."""

    scope: ClassVar[str] = ""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = getattr(request, "auth", None)
        if not isinstance(access, ApiAccess) or not access.has_scope(self.scope):
            self.message = _("This API key lacks the “%(scope)s” scope. Add it in API Accesses.") % {
                "scope": self.scope
            }
            return False
        return True


def RequiresScope(scope: str) -> type[BasePermission]:  # noqa: N802  (reads like a class in permission_classes)
    """``permission_classes = [IsAuthenticated, RequiresScope("omni-api")]``."""
    if scope not in ApiAccess.Scope.values:
        raise ValueError(f"Unknown API scope {scope!r}; choose from {ApiAccess.Scope.values}")
    return type(f"RequiresScope[{scope}]", (HasScope,), {"scope": scope})


KEY_REQUIRED = [IsAuthenticated]
