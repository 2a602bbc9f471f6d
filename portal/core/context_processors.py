from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from portal.core.menu import menu_for


def shell(request: HttpRequest) -> dict[str, Any]:
    """Context of the page shell: company, menu for the user's permissions, help links, version."""
    membership = getattr(request, "membership", None)
    context: dict[str, Any] = {
        "portal_version": settings.PORTAL_VERSION,
        "docs_url": settings.PORTAL_DOCS_URL,
    }
    if membership is not None:
        context["company"] = membership.company
        context["menu"] = menu_for(membership.permission_codes)
        context["support_email"] = membership.company.support_email or settings.PORTAL_SUPPORT_EMAIL
    return context
