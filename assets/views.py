"""The Assets section's entry (guide §12); the pages live in views_media, views_content and views_whatsapp."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from assets.tabs import TABS
from portal.core.request import PortalRequest
from portal.tenants.access import company_view


@company_view()
@require_GET
def index(request: PortalRequest) -> HttpResponse:
    """The Assets menu item: the first tab the role may open."""
    for _key, _label, name, perm in TABS:
        if request.membership.has_perm(perm):
            return redirect(name)
    raise PermissionDenied(_("Your role does not allow this."))
