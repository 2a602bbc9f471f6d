"""Writes of the Users and Roles section (guide §13): users of a company, their roles, departments, custom roles.

Every function is one transaction with an audit entry of old and new values. Passwords never reach the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import Department, Membership, PasswordHistory, Role, User
from portal.accounts.permissions import ADMIN_ROLE_KEY, ALL_CODES
from portal.accounts.selectors import membership_is_admin, two_factor_enabled
from portal.accounts.services import user_create
from portal.accounts.twofactor import two_factor_reset_by_admin
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.tenants.models import Company

USER_AUDIT_FIELDS = (
    "username", "email", "first_name", "middle_name", "last_name", "phone", "language", "is_active",
    "require_two_factor",
)  # fmt: skip


@dataclass(frozen=True)
class UserData:
    """The fields of the user panel (guide §13.2, General and Role tabs)."""

    first_name: str
    last_name: str
    login: str
    email: str
    department: Department
    language: str
    roles: tuple[Role, ...]
    middle_name: str = ""
    phone: str = ""
    is_active: bool = True
    password: str = ""  # required on create; on edit blank means unchanged
    two_factor: bool = False  # guide §13.2 toggle: the user must sign in with a second factor


def _roles_of(company: Company, roles: Iterable[Role], no_restrictions: bool) -> list[Role]:
    chosen = list(roles)
    if no_restrictions:
        # Guide §13.2: "No restrictions" gives the Admin role.
        chosen.append(Role.objects.get(company=company, system_key=ADMIN_ROLE_KEY))
    unique = {role.pk: role for role in chosen}
    if not unique:
        raise ValidationError({"roles": _("Choose at least one role.")})
    if any(role.company_id != company.pk for role in unique.values()):
        raise ValidationError({"roles": _("Choose roles of your own company.")})
    return list(unique.values())


def _check_department(company: Company, department: Department) -> None:
    if department.company_id != company.pk:
        raise ValidationError({"department": _("Choose a department of your own company.")})


@transaction.atomic
def company_user_create(
    *, company: Company, actor: User, data: UserData, no_restrictions: bool = False
) -> User:
    """Add a user to ``company`` from the user panel; the admin-set password must be changed at first sign-in.

    Side effects: inserts User, Membership, PasswordHistory rows; audit ``user.created``.
    Raises ValidationError per field (login taken case-insensitively, e-mail, password policy, roles, department).
    """
    if not data.password:
        raise ValidationError({"password": _("Set a password for the new user.")})
    roles = _roles_of(company, data.roles, no_restrictions)
    _check_department(company, data.department)
    user = user_create(
        company=company,
        actor=actor,
        login=data.login,
        password=data.password,
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        middle_name=data.middle_name,
        phone=data.phone,
        language=data.language,
        roles=roles,
        department=data.department,
        must_change_password=True,
    )
    if not data.is_active or data.two_factor:
        user.is_active = data.is_active
        user.require_two_factor = data.two_factor
        user.save(update_fields=["is_active", "require_two_factor"])
    return user


@transaction.atomic
def company_user_update(
    *, company: Company, actor: User, membership: Membership, data: UserData, no_restrictions: bool = False
) -> User:
    """Save the user panel for an existing member of ``company``.

    A role change takes effect on the user's next request (permissions are read per request), which is sooner
    than the guide's "after the next sign-in". Side effects: updates User and Membership, replaces the roles,
    sets a new password when one is given (the user must change it at next sign-in); audit ``user.changed``.
    Raises ValidationError per field, and when the change would leave the company without an enabled Admin.
    """
    if membership.company_id != company.pk:
        raise ValidationError(_("This user is not a member of your company."))
    user = membership.user
    roles = _roles_of(company, data.roles, no_restrictions)
    _check_department(company, data.department)
    login = data.login.strip()
    if User.objects.filter(username__iexact=login).exclude(pk=user.pk).exists():
        raise ValidationError({"login": _("This login is already taken.")})
    old_user = snapshot(user, USER_AUDIT_FIELDS)
    old_membership = {
        "department": membership.department_id,
        "roles": sorted(r.pk for r in membership.roles.all()),
    }
    is_admin_now = any(r.system_key == ADMIN_ROLE_KEY for r in roles) and data.is_active
    if not is_admin_now:
        _ensure_other_admin(company=company, membership=membership)
    if user.pk == actor.pk and not data.is_active:
        raise ValidationError({"is_active": _("You cannot disable your own account.")})
    user.username = login
    user.email = data.email.strip()
    user.first_name = data.first_name.strip()
    user.middle_name = data.middle_name.strip()
    user.last_name = data.last_name.strip()
    user.phone = data.phone.strip()
    user.language = data.language
    user.is_active = data.is_active
    # Turning the toggle off also resets a second factor the user set up: it is how an admin helps a user
    # who lost the phone or the authenticator app.
    reset_two_factor = not data.two_factor and two_factor_enabled(user=user)
    user.require_two_factor = data.two_factor
    user.full_clean(exclude=["password"])
    changes = []
    if data.password:
        try:
            validate_password(data.password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
        user.set_password(data.password)
        user.password_changed_at = timezone.now()
        user.must_change_password = user.pk != actor.pk
        PasswordHistory.objects.create(user=user, password=user.password)
    user.save()
    membership.department = data.department
    membership.save(update_fields=["department", "updated_at"])
    membership.roles.set(roles)
    if reset_two_factor:
        two_factor_reset_by_admin(company=company, actor=actor, user=user)
    new_membership = {"department": membership.department_id, "roles": sorted(r.pk for r in roles)}
    changes.append(
        change_of(user, AuditDetail.Operation.UPDATE, old=old_user, new=snapshot(user, USER_AUDIT_FIELDS))
    )
    changes.append(
        change_of(membership, AuditDetail.Operation.UPDATE, old=old_membership, new=new_membership)
    )
    audit_record(company=company, actor=actor, action=actions.USER_CHANGED, target=user, changes=changes)
    if data.password:
        audit_record(company=company, actor=actor, action=actions.PASSWORD_CHANGED, target=user)
    return user


def _ensure_other_admin(*, company: Company, membership: Membership) -> None:
    others = (
        Membership.objects.filter(company=company, roles__system_key=ADMIN_ROLE_KEY, user__is_active=True)
        .exclude(pk=membership.pk)
        .exists()
    )
    if not others and membership_is_admin(membership=membership):
        raise ValidationError({"roles": _("The company must keep at least one enabled Admin.")})


@transaction.atomic
def company_user_delete(*, company: Company, actor: User, membership: Membership) -> None:
    """Remove a user from ``company``; a user with no other company is deleted.

    Side effects: deletes the Membership (and the User when it has no other membership); audit ``user.deleted``.
    Audit rows keep the login as written (``actor_login``). Raises ValidationError when deleting oneself or the
    last Admin.
    """
    if membership.company_id != company.pk:
        raise ValidationError(_("This user is not a member of your company."))
    if membership.user_id == actor.pk:
        raise ValidationError(_("You cannot delete your own account here; use My account → Danger zone."))
    _ensure_other_admin(company=company, membership=membership)
    user = membership.user
    change = change_of(user, AuditDetail.Operation.DELETE, old=snapshot(user, USER_AUDIT_FIELDS))
    audit_record(company=company, actor=actor, action=actions.USER_DELETED, target=user, changes=[change])
    membership.delete()
    if not Membership.objects.filter(user=user).exists():
        user.delete()


@transaction.atomic
def department_create(*, company: Company, actor: User, name: str) -> Department:
    """Create a department from the user panel ("+ Create new"); guide §13.2: only Admin users may.

    Side effects: inserts a Department; audit ``department.created``. Raises ValidationError on an empty or taken
    name, or when the actor is not an Admin.
    """
    membership = Membership.objects.filter(company=company, user=actor).first()
    if membership is None or not membership_is_admin(membership=membership):
        raise ValidationError({"department": _("Only Admin users can create departments.")})
    name = name.strip()
    if not name:
        raise ValidationError({"department": _("Type a department name.")})
    if Department.objects.filter(company=company, name__iexact=name).exists():
        raise ValidationError({"department": _("A department with this name already exists.")})
    department = Department(company=company, name=name[:80])
    department.full_clean()
    department.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.DEPARTMENT_CREATED,
        target=department,
        changes=[change_of(department, AuditDetail.Operation.INSERT)],
    )
    return department


@dataclass(frozen=True)
class RoleData:
    name: str
    description: str
    permissions: frozenset[str]


def _validate_role(company: Company, data: RoleData, role: Role | None) -> str:
    name = data.name.strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("Give the role a name.")
    elif len(name) > 40:
        errors["name"] = _("The name can have at most 40 characters.")
    elif Role.objects.filter(company=company, name__iexact=name).exclude(pk=role.pk if role else 0).exists():
        errors["name"] = _("A role with this name already exists.")
    unknown = data.permissions - ALL_CODES
    if unknown:
        errors["permissions"] = _("Unknown permissions: %(codes)s.") % {"codes": ", ".join(sorted(unknown))}
    elif not data.permissions:
        errors["permissions"] = _("Choose at least one permission.")
    if errors:
        raise ValidationError(errors)
    return name


@transaction.atomic
def role_create(*, company: Company, actor: User, data: RoleData) -> Role:
    """Create a custom role (guide §13.5).

    Side effects: inserts a Role; audit ``role.created``. Raises ValidationError per field.
    """
    name = _validate_role(company, data, None)
    role = Role.objects.create(
        company=company, name=name, description=data.description.strip(), permissions=sorted(data.permissions)
    )
    audit_record(
        company=company,
        actor=actor,
        action=actions.ROLE_CREATED,
        target=role,
        changes=[change_of(role, AuditDetail.Operation.INSERT)],
    )
    return role


@transaction.atomic
def role_update(*, company: Company, actor: User, role: Role, data: RoleData) -> Role:
    """Save a custom role; System roles cannot be edited (guide §13.4).

    The new permissions apply to its holders on their next request. Side effects: updates the Role; audit
    ``role.changed``. Raises ValidationError per field or for a System role.
    """
    if role.company_id != company.pk:
        raise ValidationError(_("This role is not one of your company's."))
    if role.is_system:
        raise ValidationError(_("System roles cannot be edited."))
    name = _validate_role(company, data, role)
    old = snapshot(role)
    role.name = name
    role.description = data.description.strip()
    role.permissions = sorted(data.permissions)
    role.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.ROLE_CHANGED,
        target=role,
        changes=[change_of(role, AuditDetail.Operation.UPDATE, old=old, new=snapshot(role))],
    )
    return role


@transaction.atomic
def role_delete(*, company: Company, actor: User, role: Role) -> None:
    """Delete a custom role.

    Decision for guide §13.6 [INF]: a role still held by users is NOT deleted; the error says how many users hold
    it, so nobody silently loses access. System roles cannot be deleted. Side effects: deletes the Role; audit
    ``role.deleted``. Raises ValidationError otherwise.
    """
    if role.company_id != company.pk:
        raise ValidationError(_("This role is not one of your company's."))
    if role.is_system:
        raise ValidationError(_("System roles cannot be deleted."))
    holders = role.memberships.count()
    if holders:
        raise ValidationError(
            _("%(n)d users still have this role. Give them another role first, then delete it.")
            % {"n": holders}
        )
    audit_record(
        company=company,
        actor=actor,
        action=actions.ROLE_DELETED,
        target=role,
        changes=[change_of(role, AuditDetail.Operation.DELETE)],
    )
    role.delete()
