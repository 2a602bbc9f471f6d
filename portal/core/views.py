"""Shell-level pages: home redirect, "not available yet" sections, menu state and the health probe."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from portal.accounts.services import user_preferences_update
from portal.core.menu import BY_KEY, menu_for
from portal.core.request import PortalRequest
from portal.core.selectors import health_status
from portal.tenants.access import company_view


@company_view()
@require_GET
def home(request: PortalRequest) -> HttpResponse:
    """Guide §4: the first page after sign-in is the Dashboard, or the first section the roles allow."""
    items = [item for item in menu_for(request.membership.permission_codes) if item.any_perm]
    return redirect(items[0].url if items else "core:no-access")


@company_view()
@require_GET
def no_access(request: PortalRequest) -> HttpResponse:
    return render(request, "core/no_access.html", status=200)


@company_view()
@require_GET
def not_available(request: PortalRequest, section: str) -> HttpResponse:
    item = BY_KEY.get(section)
    if item is None or item.available:
        raise Http404("No such section")
    if item.any_perm and not item.any_perm & request.membership.permission_codes:
        raise PermissionDenied("Your role does not allow this section.")
    return render(request, "core/not_available.html", {"item": item, "active_menu": item.key})


@company_view()
@require_POST
def menu_toggle(request: PortalRequest) -> HttpResponse:
    """Keep the collapsed/expanded state of the left menu on the user (guide §4 [INFER])."""
    collapsed = request.POST.get("collapsed") == "1"
    user_preferences_update(user=request.user, company=request.company, menu_collapsed=collapsed)
    return HttpResponse(status=204)


@never_cache
@require_GET
def healthz(request: PortalRequest) -> JsonResponse:
    status = health_status()
    return JsonResponse(status, status=200 if status["ok"] else 503)
