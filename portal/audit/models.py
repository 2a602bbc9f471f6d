"""The audit log (guide §14): who did what, when and from where, with detail rows of old and new values."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.core.models import PublicIdMixin, TenantModel


class AuditEntry(PublicIdMixin, TenantModel):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A snapshot of the login, so the log still reads right after the user is renamed or deleted.
    actor_login = models.CharField(_("user"), max_length=150, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            models.Index(fields=["company", "-created_at", "-id"], name="audit_company_recent"),
            models.Index(fields=["company", "action", "-created_at"], name="audit_company_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_login} {self.action}"


class AuditDetail(TenantModel):
    class Operation(models.TextChoices):
        INSERT = "insert", _("Insert")
        UPDATE = "update", _("Update")
        DELETE = "delete", _("Delete")

    entry = models.ForeignKey(AuditEntry, on_delete=models.CASCADE, related_name="details")
    table = models.CharField(max_length=64)
    operation = models.CharField(max_length=8, choices=Operation.choices)
    object_id = models.CharField(max_length=64, blank=True)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.operation} {self.table} {self.object_id}"
