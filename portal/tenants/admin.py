from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.tenants.models import Company


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin[Company]):
    list_display = (
        "name",
        "is_active",
        "default_country",
        "time_zone",
        "moderation_required",
        "require_2fa",
        "created_at",
    )
    list_filter = ("is_active", "moderation_required", "require_2fa")
    search_fields = ("name",)
    readonly_fields = ("uuid", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: Company, form: Any, change: bool) -> None:
        from portal.tenants.services import company_save

        company_save(company=obj, actor=request.user if request.user.is_authenticated else None)

    def has_delete_permission(self, request: HttpRequest, obj: Company | None = None) -> bool:
        # Companies own billing and audit history; the back office deactivates them instead.
        return False
