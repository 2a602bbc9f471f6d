"""Portal users, their company memberships and roles (guide §13) and the password history (Appendix 2)."""

from __future__ import annotations

from functools import cached_property
from typing import ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from portal.accounts.permissions import ALL_CODES
from portal.core.models import PublicIdMixin, TenantModel, TimeStampedModel


class PortalUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Guide §13.2 [INF]: logins are unique per platform and case-insensitive.
        return self.get(username__iexact=username)


class User(PublicIdMixin, AbstractUser):
    class Language(models.TextChoices):
        ENGLISH = "en", "English"
        SPANISH = "es", "Español"

    class Theme(models.TextChoices):
        LIGHT = "light", _("Light theme")
        DARK = "dark", _("Dark theme")
        SYSTEM = "system", _("System settings")

    middle_name = models.CharField(_("middle name"), max_length=150, blank=True)
    phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.ENGLISH
    )
    theme = models.CharField(_("theme"), max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    menu_collapsed = models.BooleanField(_("menu collapsed"), default=False)
    # Guide Appendix 2 §6: a password set by an administrator must be changed at first login.
    must_change_password = models.BooleanField(_("must change password"), default=False)
    password_changed_at = models.DateTimeField(_("password changed at"), null=True, blank=True)
    # Guide Appendix 2 §7: inactivity lock; only platform staff can lift it in the back office.
    locked_at = models.DateTimeField(_("locked for inactivity at"), null=True, blank=True)

    objects: ClassVar[PortalUserManager] = PortalUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_login_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def initials(self) -> str:
        letters = [part[0] for part in (self.first_name, self.last_name) if part]
        return ("".join(letters) or self.username[:2]).upper()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Role(PublicIdMixin, TenantModel):
    name = models.CharField(_("name"), max_length=40)
    description = models.TextField(_("description"), blank=True)
    # Set on the four built-in roles of guide §13.4; those cannot be edited or deleted.
    system_key = models.CharField(max_length=32, blank=True)
    permissions = ArrayField(models.CharField(max_length=64), default=list, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="role_name_ci_unique_per_company"),
            models.UniqueConstraint(
                fields=["company", "system_key"],
                condition=~models.Q(system_key=""),
                name="role_system_key_unique_per_company",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return bool(self.system_key)


class Department(PublicIdMixin, TenantModel):
    """Guide §13.2: departments limit which conversations a user sees (Admin: all; First line support: new ones)."""

    class Kind(models.TextChoices):
        ADMIN = "admin", _("Admin")
        FIRST_LINE = "first_line", _("First line support")
        CUSTOM = "custom", _("Custom")

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOM)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="department_name_ci_unique_per_company"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    """A user's seat in a company, with the roles that decide what the user may do there."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    roles = models.ManyToManyField(Role, related_name="memberships", blank=True)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "user"], name="membership_unique_user_per_company"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.company_id}"

    @cached_property
    def permission_codes(self) -> frozenset[str]:
        codes: set[str] = set()
        for perms in self.roles.values_list("permissions", flat=True):
            codes.update(perms)
        return frozenset(codes & ALL_CODES)

    def has_perm(self, code: str) -> bool:
        return code in self.permission_codes


class PasswordHistory(TimeStampedModel):
    """Hashes of a user's previous passwords (guide Appendix 2 §3: not one of the last 7)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="pwhistory_user_recent")]

    def __str__(self) -> str:
        return f"password of {self.user_id} at {self.created_at}"
