"""Session policies of guide Appendix 2: idle timeout (§8) and forced password change (§4, §6)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

LAST_SEEN_KEY = "portal_last_seen"
# Writing the session on every request costs a row update each time; a minute of precision is enough.
_TOUCH_EVERY_SECONDS = 60


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and not request.path.startswith("/api/"):
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            idle_limit = int(settings.PORTAL_SESSION_IDLE_MINUTES) * 60
            if isinstance(last_seen, int) and now - last_seen > idle_limit:
                logout(request)
                messages.info(
                    request,
                    _("You were signed out after %(m)d minutes without activity.")
                    % {"m": settings.PORTAL_SESSION_IDLE_MINUTES},
                )
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.path}")
            if not isinstance(last_seen, int) or now - last_seen >= _TOUCH_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """Send a user whose password expired or was set by an admin to the change form before anything else."""

    _allowed_prefixes = ("/static/", "/media/", "/i18n/", "/healthz", "/admin/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from portal.accounts.selectors import password_expired

        user = request.user
        if user.is_authenticated and not request.path.startswith(self._allowed_prefixes):
            must_change = user.must_change_password or password_expired(user=user)
            allowed = {reverse("accounts:password-required"), reverse("accounts:logout")}
            if must_change and request.path not in allowed:
                return redirect("accounts:password-required")
        return self.get_response(request)
