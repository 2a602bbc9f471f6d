"""The view side of the list engine: one call renders a list page or, for htmx, its table fragment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from portal.core.htmx import is_fragment_request, render_page
from portal.core.listing import ListSpec, Page, list_page
from portal.core.request import PortalRequest
from portal.core.selectors import list_columns_get
from portal.core.services import list_columns_save
from portal.tenants.access import company_view


def list_page_for(request: PortalRequest, qs: models.QuerySet[Any], spec: ListSpec) -> Page:
    keys = list_columns_get(company=request.company, user=request.user, list_key=spec.key)
    return list_page(qs, spec, request.GET.dict(), visible_keys=keys)


def list_response(
    request: PortalRequest,
    *,
    qs: models.QuerySet[Any],
    spec: ListSpec,
    template: str,
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """Render ``template`` with ``page``; an htmx request gets only its ``table`` partial."""
    page = list_page_for(request, qs, spec)
    return render_page(request, template, {**(context or {}), "page": page}, partial="table")


@company_view()
@require_POST
def list_columns(request: PortalRequest, list_key: str) -> HttpResponse:
    """Save the column picker of one list for the current user."""
    try:
        list_columns_save(
            company=request.company,
            user=request.user,
            list_key=list_key,
            columns=request.POST.getlist("columns"),
        )
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400)
    if is_fragment_request(request):
        return HttpResponseClientRefresh()
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return redirect(target)
