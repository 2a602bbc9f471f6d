"""The Dashboard page (guide §5). Its widgets arrive with the statistics issue; the page says so plainly."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal.accounts import permissions
from portal.core.request import PortalRequest
from portal.tenants.access import company_view


@company_view(perm=permissions.DASHBOARD_VIEW)
@require_GET
def index(request: PortalRequest) -> HttpResponse:
    return render(request, "dashboard/index.html", {"active_menu": "dashboard"})
