"""Back office for portal users and roles (guide §2: the BackOffice is the Django admin)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Department, Membership, Role, SimulatedSms, User


class MembershipInline(admin.TabularInline[Membership, User]):
    model = Membership
    fk_name = "user"
    extra = 0
    filter_horizontal = ("roles",)
    autocomplete_fields = ("company",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    list_display = ("username", "email", "first_name", "last_name", "is_active", "locked_at", "last_login")
    list_filter = ("is_active", "is_staff", "language")
    search_fields = ("username", "email", "first_name", "last_name")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (
            _("Portal"),
            {
                "fields": (
                    "middle_name",
                    "phone",
                    "language",
                    "theme",
                    "must_change_password",
                    "password_changed_at",
                    "locked_at",
                )
            },
        ),
    )
    inlines = [MembershipInline]
    actions = ["unlock_users"]

    @admin.action(description=_("Unlock users locked for inactivity"))
    def unlock_users(self, request: HttpRequest, queryset: Any) -> None:
        # Guide Appendix 2 §7: only the System owner unblocks; the next sign-in restarts the 30-day clock.
        from portal.accounts.services import users_unlock

        count = users_unlock(user_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(n)d users unlocked.") % {"n": count})


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin[Role]):
    list_display = ("name", "company", "system_key")
    list_filter = ("system_key",)
    search_fields = ("name", "company__name")
    list_select_related = ("company",)

    def has_change_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        # Guide §13.4: System roles cannot be edited.
        return not (obj is not None and obj.is_system) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Role | None = None) -> bool:
        return not (obj is not None and obj.is_system) and super().has_delete_permission(request, obj)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin[Department]):
    list_display = ("name", "company", "kind")
    list_filter = ("kind",)
    search_fields = ("name", "company__name")
    list_select_related = ("company",)


@admin.register(SimulatedSms)
class SimulatedSmsAdmin(admin.ModelAdmin[SimulatedSms]):
    """The development SMS outbox (accounts.otp.SimulatorSender): read the 2FA codes that were "sent"."""

    list_display = ("created_at", "company", "phone", "text")
    list_filter = ("company",)
    search_fields = ("phone",)
    list_select_related = ("company",)
    readonly_fields = ("created_at", "company", "phone", "text")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SimulatedSms | None = None) -> bool:
        return False
