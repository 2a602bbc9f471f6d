"""Portal users, their company memberships and roles (guide §13) and the password history (Appendix 2)."""

from __future__ import annotations

import secrets
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


def avatar_upload_to(instance: User, filename: str) -> str:
    # A fresh random name per upload: the old URL stops working and no cache serves a stale picture.
    return f"avatars/{instance.uuid}/{secrets.token_hex(8)}.png"


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
    # Guide §13.2 "Two Factor Authentication" toggle of the user panel: the user must sign in with a second
    # factor (enrolment is forced at the next sign-in, as for Company.require_2fa).
    require_two_factor = models.BooleanField(_("two-factor sign-in required"), default=False)
    # Guide §17.1: re-encoded to a square PNG by accounts.services.user_avatar_set; initials otherwise.
    avatar = models.ImageField(_("avatar"), upload_to=avatar_upload_to, blank=True)

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


class TwoFactor(TimeStampedModel):
    """A user's two-factor sign-in (guide §17.2): an SMS code to a verified phone and/or an authenticator app.

    Per user, not per company: a login is platform-wide (guide §13.2), so its second factor is too.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor")
    # The verified phone (E.164) that receives sign-in codes; set only after the code sent to it was entered.
    sms_phone = models.CharField(_("phone for codes"), max_length=32, blank=True)
    sms_enabled_at = models.DateTimeField(null=True, blank=True)
    # Guide §17.2 [INF]: a new phone is kept aside until its code is verified; the old one keeps working.
    pending_phone = models.CharField(max_length=32, blank=True)
    # Base32 TOTP secret. It must be readable to check codes, so it is not hashed; the audit snapshot
    # leaves "totp_secret" out (audit.services.REDACTED_FIELDS).
    totp_secret = models.CharField(max_length=64, blank=True)
    totp_enabled_at = models.DateTimeField(null=True, blank=True)
    totp_pending_secret = models.CharField(max_length=64, blank=True)
    # The last accepted TOTP time step: a code seen once cannot be replayed within its 30-second window.
    totp_last_counter = models.BigIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"2FA of {self.user_id}"

    @property
    def sms_enabled(self) -> bool:
        return bool(self.sms_enabled_at and self.sms_phone)

    @property
    def totp_enabled(self) -> bool:
        return bool(self.totp_enabled_at and self.totp_secret)

    @property
    def enabled(self) -> bool:
        return self.sms_enabled or self.totp_enabled

    @property
    def masked_phone(self) -> str:
        phone = self.sms_phone
        return f"{phone[:3]}{'•' * max(len(phone) - 7, 2)}{phone[-4:]}" if len(phone) > 7 else phone


class OneTimeCode(TimeStampedModel):
    """A 6-digit code sent by SMS, stored only as a keyed hash; it expires and allows a few attempts."""

    class Purpose(models.TextChoices):
        ENROL = "enrol", _("Phone verification")
        SIGN_IN = "sign_in", _("Sign-in")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="one_time_codes")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    phone = models.CharField(max_length=32)
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "-created_at"], name="otp_user_purpose_recent")]

    def __str__(self) -> str:
        return f"{self.purpose} code of {self.user_id}"


class RecoveryCode(TimeStampedModel):
    """A one-time recovery code for two-factor sign-in, stored only as a keyed hash."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}"


class UserSession(PublicIdMixin, TimeStampedModel):
    """One signed-in browser of a user, for the "Active sessions" list of Privacy and Security."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tracked_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    last_activity = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["user", "-last_activity"], name="usersession_user_recent")]

    def __str__(self) -> str:
        return f"session of {self.user_id}"


class SimulatedSms(TenantModel):
    """Outbox of the development SMS sender (accounts.otp.SimulatorSender): what would have been sent.

    Developers read it in the back office and tests read it instead of a phone. Real senders never write here.
    """

    phone = models.CharField(max_length=32)
    text = models.CharField(max_length=480)

    class Meta:
        verbose_name = _("simulated SMS")
        verbose_name_plural = _("simulated SMS")
        indexes = [models.Index(fields=["company", "-created_at"], name="simsms_company_recent")]

    def __str__(self) -> str:
        return f"SMS to {self.phone}"
