"""The back office may read the audit log but never change it (guide §14 [INF]: read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.audit.models import AuditDetail, AuditEntry


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditDetailInline(ReadOnlyAdminMixin, admin.TabularInline[AuditDetail, AuditEntry]):
    model = AuditDetail
    fields = ("table", "operation", "object_id", "old_value", "new_value")
    readonly_fields = fields
    extra = 0


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AuditEntry]):
    list_display = ("created_at", "company", "actor_login", "ip", "action")
    list_filter = ("action",)
    search_fields = ("actor_login", "action")
    list_select_related = ("company",)
    show_full_result_count = False
    inlines = [AuditDetailInline]
