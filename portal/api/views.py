"""The API Accesses pages (guide §15): list, create/edit panel, key shown once, regenerate, delete."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.accounts import permissions
from portal.api import selectors, services
from portal.api.forms import ApiAccessForm
from portal.api.models import ApiAccess
from portal.core.htmx import is_fragment_request, redirect_after_form, render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Kind, ListSpec, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view

PAGE_SIZE = 25
FORM_TEMPLATE = "api/access_form.html"


ACCESS_LIST = register_list(
    ListSpec(
        key="api-accesses",
        columns=(
            Column("id", gettext_lazy("ID"), "id", Kind.NUMBER),
            Column("name", gettext_lazy("Name"), "name", required=True),
            Column("key", gettext_lazy("API key"), None, value=lambda a: a.key_display),
            Column("scopes", gettext_lazy("Scopes"), None, value=lambda a: a.scopes),
            Column("webhook", gettext_lazy("Webhook"), "webhook_url"),
            Column("last_used", gettext_lazy("Last used"), "last_used_at", Kind.DATETIME),
        ),
        default_sort="-id",
        page_size=PAGE_SIZE,
    )
)


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_GET
def access_list(request: PortalRequest) -> HttpResponse:
    return list_response(
        request,
        qs=selectors.api_access_list(company=request.company),
        spec=ACCESS_LIST,
        template="api/access_list.html",
        context={"active_menu": "api"},
    )


def _panel(
    request: PortalRequest,
    form: ApiAccessForm,
    access: ApiAccess | None,
    *,
    new_key: str | None = None,
) -> HttpResponse:
    context = {"form": form, "access": access, "new_key": new_key, "active_menu": "api"}
    response = render_page(request, FORM_TEMPLATE, context, partial="panel")
    if new_key is not None:
        # The key is in this response only: no browser or proxy may keep a copy.
        add_never_cache_headers(response)
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
        if access is not None and is_fragment_request(request):
            response["HX-Replace-Url"] = reverse("api:access-edit", args=[access.uuid])
    return response


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_http_methods(["GET", "POST"])
def access_create(request: PortalRequest) -> HttpResponse:
    form = ApiAccessForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_access_create(
                company=request.company, actor=request.user, **form.service_data()
            )
        except ValidationError as exc:
            form.apply_service_error(exc)
        else:
            shown = ApiAccessForm(initial=ApiAccessForm.initial_for(issued.access))
            return _panel(request, shown, issued.access, new_key=issued.key)
    return _panel(request, form, None)


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_http_methods(["GET", "POST"])
def access_edit(request: PortalRequest, uuid: UUID) -> HttpResponse:
    access = selectors.api_access_get(company=request.company, uuid=uuid)
    if request.method == "POST":
        form = ApiAccessForm(request.POST)
        if form.is_valid():
            try:
                services.api_access_update(
                    company=request.company, actor=request.user, access=access, **form.service_data()
                )
            except ValidationError as exc:
                form.apply_service_error(exc)
            else:
                messages.success(request, _("API access “%(name)s” saved.") % {"name": access.name})
                return redirect_after_form(request, reverse("api:access-list"))
    else:
        form = ApiAccessForm(initial=ApiAccessForm.initial_for(access))
    return _panel(request, form, access)


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_POST
def access_regenerate(request: PortalRequest, uuid: UUID) -> HttpResponse:
    """Guide §15.2 step 3: *Create API key* again replaces the key; the old one stops working at once."""
    access = selectors.api_access_get(company=request.company, uuid=uuid)
    issued = services.api_access_regenerate_key(company=request.company, actor=request.user, access=access)
    form = ApiAccessForm(initial=ApiAccessForm.initial_for(issued.access))
    return _panel(request, form, issued.access, new_key=issued.key)


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_http_methods(["GET", "POST"])
def access_delete(request: PortalRequest, uuid: UUID) -> HttpResponse:
    access = selectors.api_access_get(company=request.company, uuid=uuid)
    if request.method == "POST":
        name = access.name
        services.api_access_delete(company=request.company, actor=request.user, access=access)
        messages.success(
            request, _("API access “%(name)s” deleted. Its key no longer works.") % {"name": name}
        )
        return redirect_after_form(request, reverse("api:access-list"))
    return render_page(request, "api/access_delete.html", {"access": access, "active_menu": "api"})
