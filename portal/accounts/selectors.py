"""Reads on users, memberships and roles."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.utils import timezone

from portal.accounts.models import Membership, RecoveryCode, Role, TwoFactor, User, UserSession
from portal.accounts.permissions import ADMIN_ROLE_KEY
from portal.core.models import TenantQuerySet
from portal.tenants.models import Company


def membership_for_session(*, user: User, membership_id: int | None) -> Membership | None:
    """Return the membership the session works in: the remembered one, else the user's first active one."""
    qs = Membership.objects.select_related("company").filter(user=user, company__is_active=True)
    if membership_id is not None:
        membership = qs.filter(pk=membership_id).first()
        if membership is not None:
            return membership
    return qs.order_by("pk").first()


def membership_get(*, user: User, company: Company) -> Membership | None:
    return Membership.objects.filter(user=user, company=company).first()


def membership_is_admin(*, membership: Membership) -> bool:
    """Admin = holds the System "Admin" role ("No restrictions" in guide §13.2)."""
    return membership.roles.filter(system_key=ADMIN_ROLE_KEY).exists()


def user_is_company_admin(*, user: User) -> bool:
    return Membership.objects.filter(user=user, roles__system_key=ADMIN_ROLE_KEY).exists()


def role_list(*, company: Company) -> TenantQuerySet[Role]:
    return Role.objects.for_company(company).order_by("name")


def password_expired(*, user: User, now: datetime.datetime | None = None) -> bool:
    """Guide Appendix 2 §4: a password older than the maximum age must be changed before anything else."""
    max_age = int(settings.PORTAL_PASSWORD_MAX_AGE_DAYS)
    if max_age <= 0 or user.password_changed_at is None:
        return False
    now = now or timezone.now()
    return now - user.password_changed_at > datetime.timedelta(days=max_age)


def inactivity_locked(*, user: User, now: datetime.datetime | None = None) -> bool:
    """Guide Appendix 2 §7: a non-admin user who has not signed in for more than 30 days is blocked."""
    if user.locked_at is not None:
        return True
    days = int(settings.PORTAL_INACTIVITY_LOCK_DAYS)
    if days <= 0 or user.last_login is None or user.is_staff:
        return False
    now = now or timezone.now()
    return now - user.last_login > datetime.timedelta(days=days) and not user_is_company_admin(user=user)


def two_factor_get(*, user: User) -> TwoFactor | None:
    return TwoFactor.objects.filter(user=user).first()


def two_factor_enabled(*, user: User) -> bool:
    """True when the user signs in with a second factor (a verified phone or an authenticator app)."""
    tf = two_factor_get(user=user)
    return tf is not None and tf.enabled


def recovery_codes_remaining(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def user_session_list(*, user: User, now: datetime.datetime | None = None) -> list[UserSession]:
    """The user's signed-in browsers, most recent first; sessions idle past the timeout are already dead."""
    qs = UserSession.objects.filter(user=user)
    idle = int(settings.PORTAL_SESSION_IDLE_MINUTES)
    if idle > 0:
        qs = qs.filter(last_activity__gte=(now or timezone.now()) - datetime.timedelta(minutes=idle))
    return list(qs.order_by("-last_activity"))


def user_password_matches(*, user: User, password: str) -> bool:
    """Check a password typed to confirm a sensitive step (constant time, through the configured hasher)."""
    return check_password(password, user.password)
