"""Writes on users, roles and sign-in: account creation, password changes, sign-in outcomes (guide §13, App. 2).

Every function records its audit entry in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import Department, Membership, PasswordHistory, Role, User
from portal.accounts.permissions import SYSTEM_ROLES
from portal.accounts.selectors import inactivity_locked, membership_is_admin
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company


def departments_seed_defaults(*, company: Company) -> None:
    """Create the two default departments of guide §13.2 (Admin, First line support) when missing.

    Side effects: inserts up to two Department rows.
    """
    for kind, name in ((Department.Kind.ADMIN, "Admin"), (Department.Kind.FIRST_LINE, "First line support")):
        Department.objects.get_or_create(company=company, kind=kind, defaults={"name": name})


def roles_seed_system(*, company: Company) -> list[Role]:
    """Create or refresh the four System roles of guide §13.4 for ``company``.

    Side effects: upserts four Role rows. Safe to run again after the catalogue changes.
    """
    roles = []
    for spec in SYSTEM_ROLES:
        role, _created = Role.objects.update_or_create(
            company=company,
            system_key=spec.key,
            defaults={
                "name": spec.name,
                "description": spec.description,
                "permissions": sorted(spec.permissions),
            },
        )
        roles.append(role)
    return roles


@transaction.atomic
def user_create(
    *,
    company: Company,
    actor: User | None,
    login: str,
    password: str,
    email: str,
    first_name: str,
    last_name: str,
    roles: Iterable[Role],
    middle_name: str = "",
    phone: str = "",
    language: str = User.Language.ENGLISH,
    must_change_password: bool = True,
    department: Department | None = None,
) -> User:
    """Create a portal user with a membership in ``company`` holding ``roles``.

    Side effects: inserts User, Membership, PasswordHistory rows and an audit entry ``user.created``.
    Raises ValidationError for a taken login (case-insensitive), a bad e-mail, a policy-breaking password or a
    role of another company.
    """
    role_list = list(roles)
    if any(role.company_id != company.pk for role in role_list):
        raise ValidationError({"roles": _("Choose roles of your own company.")})
    if department is not None and department.company_id != company.pk:
        raise ValidationError({"department": _("Choose a department of your own company.")})
    if User.objects.filter(username__iexact=login.strip()).exists():
        raise ValidationError({"login": _("This login is already taken.")})
    user = User(
        username=login.strip(),
        email=email.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        middle_name=middle_name.strip(),
        phone=phone.strip(),
        language=language,
        must_change_password=must_change_password,
    )
    user.full_clean(exclude=["password"])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.save()
    PasswordHistory.objects.create(user=user, password=user.password)
    if department is None:
        department = Department.objects.filter(company=company, kind=Department.Kind.FIRST_LINE).first()
    membership = Membership.objects.create(company=company, user=user, department=department)
    membership.roles.set(role_list)
    audit_record(
        company=company,
        actor=actor,
        action=actions.USER_CREATED,
        target=user,
        changes=[change_of(user, AuditDetail.Operation.INSERT)],
    )
    return user


@transaction.atomic
def password_change(
    *,
    user: User,
    actor: User,
    company: Company | None,
    new_password: str,
    current_password: str | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Set a new password under the policy of guide Appendix 2.

    A user changing their own password must give the current one and, unless an admin, wait the minimum age
    (24 h). An admin setting another user's password marks it for change at that user's next sign-in.
    Side effects: updates the user, appends to the password history, writes ``auth.password_changed``.
    Raises ValidationError with the field that failed.
    """
    now = now or timezone.now()
    own = actor.pk == user.pk
    if own and current_password is not None and not check_password(current_password, user.password):
        raise ValidationError({"current_password": _("The current password is not correct.")})
    if own and not user.must_change_password and user.password_changed_at is not None:
        is_admin = company is not None and _is_admin(user=user, company=company)
        min_age = datetime.timedelta(hours=int(settings.PORTAL_PASSWORD_MIN_AGE_HOURS))
        if not is_admin and now - user.password_changed_at < min_age:
            raise ValidationError(
                {
                    "new_password1": _(
                        "You changed your password less than %(hours)d hours ago; try again later."
                    )
                    % {"hours": settings.PORTAL_PASSWORD_MIN_AGE_HOURS}
                }
            )
    _set_password(user=user, raw=new_password, now=now)
    user.must_change_password = not own
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    if company is not None:
        audit_record(company=company, actor=actor, action=actions.PASSWORD_CHANGED, target=user)


@transaction.atomic
def password_reset_complete(*, user: User, new_password: str) -> None:
    """Finish a "Forgot password?" reset: the policy applies, the user is signed in with it at once.

    Side effects: updates the user and the password history, writes ``auth.password_reset`` in each company.
    """
    _set_password(user=user, raw=new_password, now=timezone.now())
    user.must_change_password = False
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    for membership in Membership.objects.filter(user=user).select_related("company"):
        audit_record(company=membership.company, actor=user, action=actions.PASSWORD_RESET, target=user)


def _set_password(*, user: User, raw: str, now: datetime.datetime) -> None:
    try:
        validate_password(raw, user)
    except ValidationError as exc:
        raise ValidationError({"new_password1": exc.messages}) from exc
    user.set_password(raw)
    user.password_changed_at = now
    PasswordHistory.objects.create(user=user, password=user.password)
    keep = int(settings.PORTAL_PASSWORD_HISTORY)
    stale = user.password_history.order_by("-created_at", "-id").values_list("pk", flat=True)[keep:]
    PasswordHistory.objects.filter(pk__in=list(stale)).delete()


def _is_admin(*, user: User, company: Company) -> bool:
    membership = Membership.objects.filter(user=user, company=company).first()
    return membership is not None and membership_is_admin(membership=membership)


class SignInRefusedError(ApplicationError):
    pass


def sign_in_check(*, user: User, now: datetime.datetime | None = None) -> None:
    """Refuse a sign-in with a correct password when the account is locked or has no active company.

    Side effects: marks the user locked for inactivity (guide Appendix 2 §7) the first time it applies.
    Raises SignInRefusedError with the message to show.
    """
    now = now or timezone.now()
    if inactivity_locked(user=user, now=now):
        if user.locked_at is None:
            user.locked_at = now
            user.save(update_fields=["locked_at"])
        raise SignInRefusedError(
            _(
                "Your account is locked because it was not used for more than %(days)d days. "
                "Contact your platform administrator."
            )
            % {"days": settings.PORTAL_INACTIVITY_LOCK_DAYS}
        )
    if not user.is_staff and not Membership.objects.filter(user=user, company__is_active=True).exists():
        raise SignInRefusedError(
            _("Your account has no active company. Contact your platform administrator.")
        )


def sign_in_record(*, user: User, company: Company | None) -> None:
    """Side effects: writes ``auth.logged_in`` in the user's company."""
    if company is not None:
        audit_record(company=company, actor=user, action=actions.LOGGED_IN, target=user)


def sign_out_record(*, user: User, company: Company | None) -> None:
    """Side effects: writes ``auth.logged_out`` in the user's company."""
    if company is not None:
        audit_record(company=company, actor=user, action=actions.LOGGED_OUT, target=user)


def sign_in_failed_record(*, login: str) -> None:
    """Record a failed sign-in in the company of the login, when such a user exists.

    Side effects: writes ``auth.failed_login`` with no actor (the person is not known to be the user).
    """
    membership = (
        Membership.objects.filter(user__username__iexact=login.strip())
        .select_related("company", "user")
        .first()
    )
    if membership is not None:
        audit_record(
            company=membership.company,
            actor=None,
            actor_login=login.strip()[:150],
            action=actions.FAILED_LOGIN,
            target=membership.user,
        )


@transaction.atomic
def user_preferences_update(
    *,
    user: User,
    company: Company | None,
    language: str | None = None,
    theme: str | None = None,
    menu_collapsed: bool | None = None,
) -> User:
    """Save the user's interface choices (language, theme, collapsed menu).

    Side effects: updates the user row. Raises ValidationError on an unknown language or theme.
    """
    fields = []
    if language is not None:
        if language not in User.Language.values:
            raise ValidationError({"language": _("Unknown language.")})
        user.language = language
        fields.append("language")
    if theme is not None:
        if theme not in User.Theme.values:
            raise ValidationError({"theme": _("Unknown theme.")})
        user.theme = theme
        fields.append("theme")
    if menu_collapsed is not None:
        user.menu_collapsed = menu_collapsed
        fields.append("menu_collapsed")
    if fields:
        user.save(update_fields=fields)
    return user


@transaction.atomic
def users_unlock(*, user_ids: list[int]) -> int:
    """Lift the inactivity lock (back office only); the sign-in clock restarts from now.

    Side effects: clears ``locked_at`` and sets ``last_login`` to now on the given users.
    """
    return User.objects.filter(pk__in=user_ids, locked_at__isnull=False).update(
        locked_at=None, last_login=timezone.now()
    )
