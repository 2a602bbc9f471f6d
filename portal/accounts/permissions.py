"""The one permission catalogue of the portal (guide §13.5): every section's codes, grouped by area.

Roles store lists of these codes; every view (``company_view(perm=...)``) and API endpoint checks one of them.
The System roles of guide §13.4 are defined here too, so their contents are reviewed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Permission:
    code: str
    label: str | Promise
    area: str


@dataclass(frozen=True)
class Area:
    key: str
    label: str | Promise


AREAS: tuple[Area, ...] = (
    Area("export", _("Export")),
    Area("dashboard", _("Dashboard")),
    Area("broadcasts", _("Broadcast")),
    Area("contacts", _("Contacts")),
    Area("conversations", _("Conversations")),
    Area("chatbots", _("Chatbots")),
    Area("finance", _("Finance")),
    Area("statistics", _("Statistics")),
    Area("assets", _("Assets")),
    Area("users", _("Users")),
    Area("audit", _("Audit")),
    Area("api", _("API")),
    Area("twofa", _("2FA")),
)

EXPORT_ENTITIES = "export.entities"
DASHBOARD_VIEW = "dashboard.view"
BROADCASTS_MANAGE = "broadcasts.manage"
CONTACTS_MANAGE = "contacts.manage"
TARGETS_MANAGE = "contacts.targets"
OPTOUT_WORDS_MANAGE = "contacts.optout_words"
CONVERSATIONS_VIEW = "conversations.view"
CONVERSATIONS_MANAGE = "conversations.manage"
CHATBOTS_VIEW = "chatbots.view"
CHATBOTS_MANAGE = "chatbots.manage"
PAYMENTS_MANAGE = "finance.payments"
SERVICES_VIEW = "finance.services"
INVOICES_VIEW = "finance.invoices"
REPORTS_VIEW = "statistics.reports"
EDRS_VIEW = "statistics.edrs"
STATISTICS_VIEW = "statistics.view"
MEDIA_MANAGE = "assets.media"
SENDER_IDS_MANAGE = "assets.sender_ids"
CONTENT_TEMPLATES_MANAGE = "assets.content_templates"
WHATSAPP_TEMPLATES_MANAGE = "assets.whatsapp_templates"
CONVERSATION_TEMPLATES_MANAGE = "assets.conversation_templates"
USERS_MANAGE = "users.manage"
ROLES_MANAGE = "users.roles"
AUDIT_VIEW = "audit.view"
API_ACCESS_MANAGE = "api.manage"
TWOFA_MANAGE = "twofa.manage"
TWOFA_STATS_VIEW = "twofa.statistics"

CATALOGUE: tuple[Permission, ...] = (
    Permission(EXPORT_ENTITIES, _("Export Entities"), "export"),
    Permission(DASHBOARD_VIEW, _("View Dashboard"), "dashboard"),
    Permission(BROADCASTS_MANAGE, _("Manage Broadcasts"), "broadcasts"),
    Permission(CONTACTS_MANAGE, _("Manage Contacts"), "contacts"),
    Permission(TARGETS_MANAGE, _("Manage Targets"), "contacts"),
    Permission(OPTOUT_WORDS_MANAGE, _("Manage Opt-out words"), "contacts"),
    Permission(CONVERSATIONS_VIEW, _("View Conversations"), "conversations"),
    Permission(CONVERSATIONS_MANAGE, _("Manage Conversations"), "conversations"),
    Permission(CHATBOTS_VIEW, _("View Chatbots"), "chatbots"),
    Permission(CHATBOTS_MANAGE, _("Manage Chatbots"), "chatbots"),
    Permission(PAYMENTS_MANAGE, _("Manage Payments"), "finance"),
    Permission(SERVICES_VIEW, _("View Services"), "finance"),
    Permission(INVOICES_VIEW, _("View Invoices"), "finance"),
    Permission(REPORTS_VIEW, _("View Reports"), "statistics"),
    Permission(EDRS_VIEW, _("View EDRs"), "statistics"),
    Permission(STATISTICS_VIEW, _("View Statistics"), "statistics"),
    Permission(MEDIA_MANAGE, _("Manage Media"), "assets"),
    Permission(SENDER_IDS_MANAGE, _("Manage Sender IDs"), "assets"),
    Permission(CONTENT_TEMPLATES_MANAGE, _("Manage Content templates"), "assets"),
    Permission(WHATSAPP_TEMPLATES_MANAGE, _("Manage WhatsApp templates"), "assets"),
    Permission(CONVERSATION_TEMPLATES_MANAGE, _("Manage Conversations templates"), "assets"),
    Permission(USERS_MANAGE, _("Manage Users"), "users"),
    Permission(ROLES_MANAGE, _("Manage Roles"), "users"),
    Permission(AUDIT_VIEW, _("View Audit"), "audit"),
    Permission(API_ACCESS_MANAGE, _("Manage API Accesses"), "api"),
    Permission(TWOFA_MANAGE, _("Manage 2FA service"), "twofa"),
    Permission(TWOFA_STATS_VIEW, _("View 2FA statistics"), "twofa"),
)

ALL_CODES: frozenset[str] = frozenset(p.code for p in CATALOGUE)
BY_CODE: dict[str, Permission] = {p.code: p for p in CATALOGUE}


@dataclass(frozen=True)
class SystemRole:
    key: str
    name: str
    description: str
    permissions: frozenset[str]


# Guide §13.4: the four built-in roles and their permission counts (27, 16, 7, 14).
SYSTEM_ROLES: tuple[SystemRole, ...] = (
    SystemRole("admin", "Admin", "Full access to every section.", ALL_CODES),
    SystemRole(
        "broadcast_manager",
        "Broadcast manager",
        "Manages broadcasts, contacts and the content they use.",
        frozenset(
            {
                DASHBOARD_VIEW,
                BROADCASTS_MANAGE,
                CONTACTS_MANAGE,
                TARGETS_MANAGE,
                OPTOUT_WORDS_MANAGE,
                CONVERSATIONS_VIEW,
                CONVERSATIONS_MANAGE,
                CHATBOTS_VIEW,
                CHATBOTS_MANAGE,
                MEDIA_MANAGE,
                SENDER_IDS_MANAGE,
                CONTENT_TEMPLATES_MANAGE,
                WHATSAPP_TEMPLATES_MANAGE,
                CONVERSATION_TEMPLATES_MANAGE,
                REPORTS_VIEW,
                STATISTICS_VIEW,
            }
        ),
    ),
    SystemRole(
        "finance_manager",
        "Finance manager",
        "Handles payments, rate plans and invoices.",
        frozenset(
            {
                EXPORT_ENTITIES,
                DASHBOARD_VIEW,
                PAYMENTS_MANAGE,
                SERVICES_VIEW,
                INVOICES_VIEW,
                REPORTS_VIEW,
                STATISTICS_VIEW,
            }
        ),
    ),
    SystemRole(
        "noc_engineer",
        "NOC engineer",
        "Monitors and supports the System.",
        frozenset(
            {
                EXPORT_ENTITIES,
                DASHBOARD_VIEW,
                CHATBOTS_VIEW,
                CONVERSATIONS_VIEW,
                REPORTS_VIEW,
                EDRS_VIEW,
                STATISTICS_VIEW,
                AUDIT_VIEW,
                MEDIA_MANAGE,
                SENDER_IDS_MANAGE,
                API_ACCESS_MANAGE,
                TWOFA_MANAGE,
                TWOFA_STATS_VIEW,
                SERVICES_VIEW,
            }
        ),
    ),
)
ADMIN_ROLE_KEY = "admin"


@dataclass(frozen=True)
class PermissionGroup:
    area: Area
    permissions: list[tuple[Permission, bool]]

    @property
    def selected(self) -> int:
        return sum(1 for _p, on in self.permissions if on)

    @property
    def total(self) -> int:
        return len(self.permissions)


def permission_groups(selected: frozenset[str] | set[str]) -> list[PermissionGroup]:
    """The catalogue grouped by area with what is selected, for "(selected of total)" counters (guide §13.2/13.5)."""
    return [
        PermissionGroup(area, [(p, p.code in selected) for p in CATALOGUE if p.area == area.key])
        for area in AREAS
    ]
