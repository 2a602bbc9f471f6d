"""Audit action codes and their readable labels (guide §14: "Added new <entity>", "Logged in", ...)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

LOGGED_IN = "auth.logged_in"
LOGGED_OUT = "auth.logged_out"
FAILED_LOGIN = "auth.failed_login"
PASSWORD_CHANGED = "auth.password_changed"  # noqa: S105  (an action name, not a secret)
PASSWORD_RESET = "auth.password_reset"  # noqa: S105  (an action name, not a secret)
TWOFA_ENABLED = "auth.2fa_enabled"
TWOFA_DISABLED = "auth.2fa_disabled"
USER_CREATED = "user.created"
USER_CHANGED = "user.changed"
USER_DELETED = "user.deleted"
ROLE_CREATED = "role.created"
ROLE_CHANGED = "role.changed"
ROLE_DELETED = "role.deleted"
PREFERENCES_CHANGED = "user.preferences_changed"

LABELS = {
    LOGGED_IN: _("Logged in"),
    LOGGED_OUT: _("Logged out"),
    FAILED_LOGIN: _("Failed login"),
    PASSWORD_CHANGED: _("Changed password"),
    PASSWORD_RESET: _("Reset password"),
    TWOFA_ENABLED: _("Enabled 2FA"),
    TWOFA_DISABLED: _("Disabled 2FA"),
    USER_CREATED: _("Added new user"),
    USER_CHANGED: _("Changed user"),
    USER_DELETED: _("Deleted user"),
    ROLE_CREATED: _("Added new role"),
    ROLE_CHANGED: _("Changed role"),
    ROLE_DELETED: _("Deleted role"),
    PREFERENCES_CHANGED: _("Changed preferences"),
}


def label(code: str) -> str:
    return str(LABELS.get(code, code))
