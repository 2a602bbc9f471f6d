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


ACTIVITY_MARK_KEY = "portal_session_mark"
TWO_FACTOR_ENROL_PREFIX = "/accounts/two-factor/"


class TwoFactorEnrolmentRequiredMiddleware:
    """``Company.require_2fa`` or ``User.require_two_factor``: a user without two-factor sign-in must set it up
    before reaching any page.

    Runs after PasswordChangeRequiredMiddleware, so an expired password is changed first.
    """

    _allowed_prefixes = (
        "/static/",
        "/media/",
        "/i18n/",
        "/healthz",
        "/admin/",
        "/api/",
        TWO_FACTOR_ENROL_PREFIX,
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from portal.accounts.selectors import two_factor_enabled

        user = request.user
        company = getattr(request, "company", None)
        if (
            user.is_authenticated
            and company is not None
            and (company.require_2fa or user.require_two_factor)
            and not request.path.startswith(self._allowed_prefixes)
            and request.path
            not in {
                reverse("accounts:logout"),
                reverse("accounts:password-required"),
                reverse("accounts:language"),
            }
            and not two_factor_enabled(user=user)
        ):
            target = reverse("accounts:two-factor-enrol")
            if request.headers.get("HX-Request") == "true":
                response = HttpResponse(status=204)
                response["HX-Redirect"] = target
                return response
            return redirect(target)
        return self.get_response(request)


class SessionActivityMiddleware:
    """Keep the "Active sessions" list of Privacy and Security current (guide §17.2).

    A signed-in request refreshes its UserSession row at most once a minute (like IdleTimeoutMiddleware); a
    request that signs out or changes the session key drops the old row.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from portal.accounts import services
        from portal.audit.context import client_ip

        session = request.session
        key_before = session.session_key
        was_signed_in = request.user.is_authenticated
        response = self.get_response(request)
        key_after = session.session_key
        user = request.user
        if was_signed_in and key_before and (key_after != key_before or not user.is_authenticated):
            services.user_session_forget(session_key=key_before)
        if user.is_authenticated and key_after and not request.path.startswith("/api/"):
            now = int(time.time())
            mark = session.get(ACTIVITY_MARK_KEY)
            fresh = (
                isinstance(mark, list)
                and len(mark) == 2
                and mark[0] == key_after
                and now - int(mark[1]) < _TOUCH_EVERY_SECONDS
            )
            if not fresh:
                services.user_session_touch(
                    user=user,
                    session_key=key_after,
                    user_agent=request.headers.get("User-Agent", ""),
                    ip=client_ip(request),
                )
                session[ACTIVITY_MARK_KEY] = [key_after, now]
        return response
