"""Sets ``request.company`` and ``request.membership`` for signed-in users (CONVENTIONS R5)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

SESSION_KEY = "portal_membership_id"


class CompanyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from portal.accounts.selectors import membership_for_session

        request.company = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = membership_for_session(user=user, membership_id=request.session.get(SESSION_KEY))
            if membership is not None:
                request.session[SESSION_KEY] = membership.pk
                request.membership = membership  # type: ignore[attr-defined]
                request.company = membership.company  # type: ignore[attr-defined]
                # Times on pages read in the company's time zone (guide samples: DD.MM.YYYY HH:MM:SS).
                timezone.activate(zoneinfo.ZoneInfo(membership.company.time_zone))
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
        company = getattr(request, "company", None)
        if company is not None:
            # The layout compares this header on htmx swaps, so a tab left open on another company reloads.
            response["X-Portal-Company"] = str(company.uuid)
        return response
