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
TWOFA_FAILED = "auth.2fa_failed"
TWOFA_RECOVERY_USED = "auth.2fa_recovery_used"
TWOFA_RECOVERY_REGENERATED = "auth.2fa_recovery_regenerated"
SESSIONS_ENDED = "auth.sessions_ended"
DEPARTMENT_CREATED = "department.created"
API_KEY_CREATED = "api_key.created"
API_KEY_CHANGED = "api_key.changed"
API_KEY_DELETED = "api_key.deleted"
API_KEY_REGENERATED = "api_key.regenerated"
CONNECTION_CREATED = "connection.created"
CONNECTION_CHANGED = "connection.changed"

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
    TWOFA_FAILED: _("Failed 2FA code"),
    TWOFA_RECOVERY_USED: _("Used a 2FA recovery code"),
    TWOFA_RECOVERY_REGENERATED: _("Generated new 2FA recovery codes"),
    SESSIONS_ENDED: _("Signed out other sessions"),
    DEPARTMENT_CREATED: _("Added new department"),
    API_KEY_CREATED: _("Created API key"),
    API_KEY_CHANGED: _("Changed API key"),
    API_KEY_DELETED: _("Deleted API key"),
    API_KEY_REGENERATED: _("Regenerated API key"),
    CONNECTION_CREATED: _("Added new channel connection"),
    CONNECTION_CHANGED: _("Changed channel connection"),
}


def label(code: str) -> str:
    return str(LABELS.get(code, code))


# Contacts (guide §8).
CONTACT_CREATED = "contact.created"
CONTACT_CHANGED = "contact.changed"
CONTACT_DELETED = "contact.deleted"
CONTACTS_MASS_CHANGED = "contact.mass_changed"
CONTACTS_MASS_DELETED = "contact.mass_deleted"
CONTACT_OPTED_OUT = "contact.opted_out"
CONTACT_OPTED_IN = "contact.opted_in"
CONTACT_ATTRIBUTE_CREATED = "contact_attribute.created"
CONTACT_ATTRIBUTE_CHANGED = "contact_attribute.changed"
CONTACT_ATTRIBUTE_DELETED = "contact_attribute.deleted"
TAG_CREATED = "tag.created"
TAG_CHANGED = "tag.changed"
TAG_DELETED = "tag.deleted"
TARGET_CREATED = "target.created"
TARGET_CHANGED = "target.changed"
TARGET_DELETED = "target.deleted"
OPTOUT_WORD_CREATED = "optout_word.created"
OPTOUT_WORD_CHANGED = "optout_word.changed"
OPTOUT_WORD_DELETED = "optout_word.deleted"
CONTACTS_IMPORTED = "contact.imported"
CONTACTS_EXPORTED = "contact.exported"

LABELS.update(
    {
        CONTACT_CREATED: _("Added new contact"),
        CONTACT_CHANGED: _("Changed contact"),
        CONTACT_DELETED: _("Deleted contact"),
        CONTACTS_MASS_CHANGED: _("Mass edited contacts"),
        CONTACTS_MASS_DELETED: _("Mass deleted contacts"),
        CONTACT_OPTED_OUT: _("Contact opted out"),
        CONTACT_OPTED_IN: _("Contact opted back in"),
        CONTACT_ATTRIBUTE_CREATED: _("Added new contact attribute"),
        CONTACT_ATTRIBUTE_CHANGED: _("Changed contact attribute"),
        CONTACT_ATTRIBUTE_DELETED: _("Deleted contact attribute"),
        TAG_CREATED: _("Added new tag"),
        TAG_CHANGED: _("Renamed tag"),
        TAG_DELETED: _("Deleted tag"),
        TARGET_CREATED: _("Added new target"),
        TARGET_CHANGED: _("Changed target"),
        TARGET_DELETED: _("Deleted target"),
        OPTOUT_WORD_CREATED: _("Added new opt-out word"),
        OPTOUT_WORD_CHANGED: _("Changed opt-out word"),
        OPTOUT_WORD_DELETED: _("Deleted opt-out word"),
        CONTACTS_IMPORTED: _("Imported contacts"),
        CONTACTS_EXPORTED: _("Exported contacts"),
    }
)

# Broadcasts (guide §6, issue 7).
BROADCAST_CREATED = "broadcast.created"
BROADCAST_CHANGED = "broadcast.changed"
BROADCAST_LAUNCHED = "broadcast.launched"
BROADCAST_SCHEDULED = "broadcast.scheduled"
BROADCAST_MODERATION_SENT = "broadcast.moderation_sent"
BROADCAST_APPROVED = "broadcast.approved"
BROADCAST_REJECTED = "broadcast.rejected"
BROADCAST_PAUSED = "broadcast.paused"
BROADCAST_RESUMED = "broadcast.resumed"
BROADCAST_ABORTED = "broadcast.aborted"

LABELS.update(
    {
        BROADCAST_CREATED: _("Added new broadcast"),
        BROADCAST_CHANGED: _("Changed broadcast"),
        BROADCAST_LAUNCHED: _("Launched broadcast"),
        BROADCAST_SCHEDULED: _("Scheduled broadcast"),
        BROADCAST_MODERATION_SENT: _("Sent broadcast to moderation"),
        BROADCAST_APPROVED: _("Approved broadcast"),
        BROADCAST_REJECTED: _("Rejected broadcast"),
        BROADCAST_PAUSED: _("Paused broadcast"),
        BROADCAST_RESUMED: _("Resumed broadcast"),
        BROADCAST_ABORTED: _("Aborted broadcast"),
    }
)

# Send-API customer webhooks (channels_out.webhooks): a user replayed one or all failed deliveries.
WEBHOOK_REPLAYED = "webhook.replayed"

LABELS.update({WEBHOOK_REPLAYED: _("Replayed webhook deliveries")})

# Broadcast templates (guide §7): saved, moderated, schedule paused/resumed, launched by hand, deleted.
BROADCAST_TEMPLATE_CREATED = "broadcast_template.created"
BROADCAST_TEMPLATE_CHANGED = "broadcast_template.changed"
BROADCAST_TEMPLATE_MODERATION_SENT = "broadcast_template.moderation_sent"
BROADCAST_TEMPLATE_APPROVED = "broadcast_template.approved"
BROADCAST_TEMPLATE_REJECTED = "broadcast_template.rejected"
BROADCAST_TEMPLATE_PAUSED = "broadcast_template.paused"
BROADCAST_TEMPLATE_RESUMED = "broadcast_template.resumed"
BROADCAST_TEMPLATE_LAUNCHED = "broadcast_template.launched"
BROADCAST_TEMPLATE_DELETED = "broadcast_template.deleted"

LABELS.update(
    {
        BROADCAST_TEMPLATE_CREATED: _("Added new broadcast template"),
        BROADCAST_TEMPLATE_CHANGED: _("Changed broadcast template"),
        BROADCAST_TEMPLATE_MODERATION_SENT: _("Sent broadcast template to moderation"),
        BROADCAST_TEMPLATE_APPROVED: _("Approved broadcast template"),
        BROADCAST_TEMPLATE_REJECTED: _("Rejected broadcast template"),
        BROADCAST_TEMPLATE_PAUSED: _("Paused broadcast template schedule"),
        BROADCAST_TEMPLATE_RESUMED: _("Resumed broadcast template schedule"),
        BROADCAST_TEMPLATE_LAUNCHED: _("Launched broadcast from template"),
        BROADCAST_TEMPLATE_DELETED: _("Deleted broadcast template"),
    }
)

# Broadcast settings (issue 7 item 5): a company changed its quiet hours.
BROADCAST_SETTINGS_CHANGED = "broadcast_settings.changed"

LABELS.update({BROADCAST_SETTINGS_CHANGED: _("Changed broadcast quiet hours")})

# Assets (guide §12): media files, content templates, WhatsApp templates.
MEDIA_UPLOADED = "media.uploaded"
MEDIA_DELETED = "media.deleted"
CONTENT_TEMPLATE_CREATED = "content_template.created"
CONTENT_TEMPLATE_CHANGED = "content_template.changed"
CONTENT_TEMPLATE_DELETED = "content_template.deleted"
WA_TEMPLATE_CREATED = "whatsapp_template.created"
WA_TEMPLATE_SUBMITTED = "whatsapp_template.submitted"
WA_TEMPLATE_MODERATED = "whatsapp_template.moderated"
WA_TEMPLATE_DELETED = "whatsapp_template.deleted"

LABELS.update(
    {
        MEDIA_UPLOADED: _("Uploaded media file"),
        MEDIA_DELETED: _("Deleted media file"),
        CONTENT_TEMPLATE_CREATED: _("Added new content template"),
        CONTENT_TEMPLATE_CHANGED: _("Changed content template"),
        CONTENT_TEMPLATE_DELETED: _("Deleted content template"),
        WA_TEMPLATE_CREATED: _("Added new WhatsApp template"),
        WA_TEMPLATE_SUBMITTED: _("Submitted WhatsApp template"),
        WA_TEMPLATE_MODERATED: _("Moderated WhatsApp template"),
        WA_TEMPLATE_DELETED: _("Deleted WhatsApp template"),
    }
)
