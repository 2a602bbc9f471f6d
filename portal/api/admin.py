"""Back office view of API accesses: read the keys' settings and raise a key's rate limit (seed 004 §2.4)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.api.models import ApiAccess


@admin.register(ApiAccess)
class ApiAccessAdmin(admin.ModelAdmin[ApiAccess]):
    list_display = ("name", "company", "key_prefix", "scopes", "last_used_at", "rate_limit_get")
    list_filter = ("company",)
    search_fields = ("name", "key_prefix")
    # Only the rate limit is the back office's to change; keys are managed by the company in the portal, so
    # their changes are audited there. The hash is never shown.
    fields = (
        "company",
        "name",
        "scopes",
        "webhook_url",
        "senders",
        "key_prefix",
        "key_created_at",
        "last_used_at",
        "rate_limit_get",
    )
    readonly_fields = tuple(f for f in fields if f != "rate_limit_get")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
