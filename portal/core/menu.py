"""The left menu of guide §4, in the guide's order, each item gated by the permission catalogue."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.accounts import permissions as p


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str | Promise
    icon: str
    any_perm: frozenset[str]
    url_name: str | None = None  # None while the section is not built: it leads to the "not available" page

    @property
    def url(self) -> str:
        if self.url_name is None:
            return reverse("core:not-available", args=[self.key])
        return reverse(self.url_name)

    @property
    def available(self) -> bool:
        return self.url_name is not None


def _perms(*codes: str) -> frozenset[str]:
    return frozenset(codes)


MENU: tuple[MenuItem, ...] = (
    MenuItem("dashboard", _("Dashboard"), "dashboard", _perms(p.DASHBOARD_VIEW), "dashboard:index"),
    MenuItem(
        "broadcasts", _("Broadcast"), "broadcast", _perms(p.BROADCASTS_MANAGE), "broadcasts:broadcast-list"
    ),
    MenuItem(
        "contacts",
        _("Contacts"),
        "contacts",
        _perms(p.CONTACTS_MANAGE, p.TARGETS_MANAGE, p.OPTOUT_WORDS_MANAGE),
        "contacts:contact-list",
    ),
    MenuItem(
        "conversations", _("Conversations"), "conversations", _perms(p.CONVERSATIONS_VIEW, p.CHATBOTS_VIEW)
    ),
    MenuItem("finance", _("Finance"), "finance", _perms(p.PAYMENTS_MANAGE, p.SERVICES_VIEW, p.INVOICES_VIEW)),
    MenuItem(
        "statistics",
        _("Statistics"),
        "statistics",
        _perms(p.REPORTS_VIEW, p.EDRS_VIEW, p.STATISTICS_VIEW),
        "channels_out:message-list",  # the message log (issue 5); reports and charts come with finance
    ),
    MenuItem(
        "assets",
        _("Assets"),
        "assets",
        _perms(
            p.MEDIA_MANAGE,
            p.SENDER_IDS_MANAGE,
            p.CONTENT_TEMPLATES_MANAGE,
            p.WHATSAPP_TEMPLATES_MANAGE,
            p.CONVERSATION_TEMPLATES_MANAGE,
        ),
        "assets:index",
    ),
    MenuItem("users", _("Users"), "users", _perms(p.USERS_MANAGE, p.ROLES_MANAGE), "users:list"),
    MenuItem("audit", _("Audit"), "audit", _perms(p.AUDIT_VIEW), "audit:list"),
    MenuItem("api", _("API Accesses"), "api", _perms(p.API_ACCESS_MANAGE), "api:access-list"),
    MenuItem("twofa", _("2FA Service"), "twofa", _perms(p.TWOFA_MANAGE, p.TWOFA_STATS_VIEW)),
    # Account settings is every user's own page: no permission gates it.
    MenuItem("account", _("Account settings"), "account", frozenset(), "accounts:account-settings"),
)

BY_KEY = {item.key: item for item in MENU}


def menu_for(codes: frozenset[str]) -> list[MenuItem]:
    return [item for item in MENU if not item.any_perm or item.any_perm & codes]
