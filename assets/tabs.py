"""The Assets section's tabs (guide §12: Media, Content templates, WhatsApp templates), each gated by its own
permission."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy

from portal.accounts import permissions
from portal.core.request import PortalRequest

TABS = (
    ("media", gettext_lazy("Media"), "assets:media-list", permissions.MEDIA_MANAGE),
    (
        "content",
        gettext_lazy("Content templates"),
        "assets:content-list",
        permissions.CONTENT_TEMPLATES_MANAGE,
    ),
    (
        "whatsapp",
        gettext_lazy("WhatsApp templates"),
        "assets:whatsapp-list",
        permissions.WHATSAPP_TEMPLATES_MANAGE,
    ),
)


def tabs(request: PortalRequest, active: str) -> list[dict[str, Any]]:
    return [
        {"key": key, "label": label, "url": reverse(name), "active": key == active}
        for key, label, name, perm in TABS
        if request.membership.has_perm(perm)
    ]


def section_context(request: PortalRequest, tab: str, **extra: Any) -> dict[str, Any]:
    return {"active_menu": "assets", "tabs": tabs(request, tab), "tab": tab, **extra}
