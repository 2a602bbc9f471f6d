"""Writes on users, roles and sign-in: account creation, password changes, sign-in outcomes (guide §13, App. 2).

Every function records its audit entry in the same transaction.
"""

from __future__ import annotations

import datetime
import io
import uuid
from collections.abc import Iterable, Mapping
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts.models import Department, Membership, PasswordHistory, Role, User, UserSession
from portal.accounts.permissions import SYSTEM_ROLES
from portal.accounts.selectors import inactivity_locked, membership_is_admin
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import Change, audit_record, change_of
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


# --- My account (guide §17.1): profile, contact, avatar, active sessions, account deletion -------------------

ACCOUNT_DELETE_WORD = "delete-account"
_AVATAR_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP"})
_AVATAR_SIDE = 256
_AVATAR_MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding the pixels


def phone_e164(raw: str, *, country: str | None) -> str:
    """Parse a phone number typed by a person; a number without "+" is read in the company's country.

    Raises ValidationError (field ``phone``) when it is not a valid number.
    """
    import phonenumbers

    text = raw.strip()
    try:
        number = phonenumbers.parse(text, (country or "US").upper())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError({"phone": _("Enter a valid phone number, e.g. +14155550123.")}) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError({"phone": _("Enter a valid phone number, e.g. +14155550123.")})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _user_changed(
    *, user: User, actor: User, company: Company | None, old: Mapping[str, object], new: Mapping[str, object]
) -> None:
    if company is not None and old != new:
        audit_record(
            company=company,
            actor=actor,
            action=actions.USER_CHANGED,
            target=user,
            changes=[change_of(user, AuditDetail.Operation.UPDATE, old=old, new=new)],
        )


@transaction.atomic
def user_profile_update(
    *, user: User, actor: User, company: Company | None, first_name: str, last_name: str, email: str
) -> User:
    """Save the "Basic information" block of Account settings: full name and e-mail (guide §17.1).

    Login and roles stay read-only here. Side effects: updates the user; ``user.changed`` with old and new
    values. Raises ValidationError (fields ``first_name``, ``last_name``, ``email``).
    """
    fields = ["first_name", "last_name", "email"]
    old = {name: getattr(user, name) for name in fields}
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.email = email.strip()
    if not user.first_name:
        raise ValidationError({"first_name": _("Enter the first name.")})
    if not user.email:
        raise ValidationError({"email": _("Enter an e-mail address.")})
    user.full_clean(exclude=[f.name for f in User._meta.fields if f.name not in fields])
    user.save(update_fields=fields)
    _user_changed(user=user, actor=actor, company=company, old=old, new={n: getattr(user, n) for n in fields})
    return user


@transaction.atomic
def user_contact_update(*, user: User, actor: User, company: Company | None, phone: str) -> User:
    """Save the "Contact information" block: the contact phone (company and department are read-only).

    An empty value clears the phone. Side effects: updates the user; ``user.changed`` with old and new values.
    Raises ValidationError (field ``phone``).
    """
    old = {"phone": user.phone}
    user.phone = (
        phone_e164(phone, country=company.default_country if company else None) if phone.strip() else ""
    )
    user.save(update_fields=["phone"])
    _user_changed(user=user, actor=actor, company=company, old=old, new={"phone": user.phone})
    return user


def _avatar_png(upload: Any) -> bytes:
    from PIL import Image, ImageOps, UnidentifiedImageError

    not_a_picture = ValidationError({"avatar": _("Upload a JPEG, PNG, GIF or WebP picture.")})
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            if probe.format not in _AVATAR_FORMATS:
                raise not_a_picture
            if probe.width * probe.height > _AVATAR_MAX_PIXELS:
                raise ValidationError({"avatar": _("The picture has too many pixels.")})
            probe.verify()
        upload.seek(0)
        # Re-encoding keeps only pixels: no metadata, no polyglot payload, one size and one format.
        with Image.open(upload) as image:
            picture = ImageOps.exif_transpose(image).convert("RGBA")
            picture = ImageOps.fit(picture, (_AVATAR_SIDE, _AVATAR_SIDE))
            out = io.BytesIO()
            picture.save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise not_a_picture from exc
    return out.getvalue()


@transaction.atomic
def user_avatar_set(*, user: User, company: Company | None, upload: Any) -> User:
    """Store a new avatar (guide §17.1): at most ``PORTAL_AVATAR_MAX_BYTES``, a real picture, re-encoded as PNG.

    Side effects: writes the file under MEDIA_ROOT, updates the user, removes the previous file after commit,
    writes ``user.changed``. Raises ValidationError (field ``avatar``) for a large file or a non-picture.
    """
    limit = int(settings.PORTAL_AVATAR_MAX_BYTES)
    if upload.size is None or upload.size > limit:
        raise ValidationError(
            {"avatar": _("The picture is larger than %(size)s.") % {"size": filesizeformat(limit)}}
        )
    data = _avatar_png(upload)
    old_name = user.avatar.name or ""
    user.avatar.save("avatar.png", ContentFile(data), save=False)
    user.save(update_fields=["avatar"])
    if old_name:
        storage = user.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_name))
    _user_changed(
        user=user, actor=user, company=company, old={"avatar": old_name}, new={"avatar": user.avatar.name}
    )
    return user


@transaction.atomic
def user_avatar_remove(*, user: User, company: Company | None) -> User:
    """Remove the avatar; the initials show again. Side effects: updates the user, deletes the file after commit."""
    old_name = user.avatar.name or ""
    if old_name:
        storage = user.avatar.storage
        user.avatar = ""
        user.save(update_fields=["avatar"])
        transaction.on_commit(lambda: storage.delete(old_name))
        _user_changed(user=user, actor=user, company=company, old={"avatar": old_name}, new={"avatar": ""})
    return user


def user_session_touch(
    *, user: User, session_key: str, user_agent: str, ip: str | None, now: datetime.datetime | None = None
) -> None:
    """Record that a signed-in browser was active (at most once a minute, see SessionActivityMiddleware).

    Side effects: upserts the UserSession row of ``session_key``.
    """
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={
            "user": user,
            "user_agent": user_agent[:300],
            "ip": ip,
            "last_activity": now or timezone.now(),
        },
    )


def user_session_forget(*, session_key: str) -> None:
    """Drop the tracking row of a session that signed out. Side effects: deletes at most one UserSession."""
    UserSession.objects.filter(session_key=session_key).delete()


def _sessions_kill(keys: Iterable[str]) -> None:
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store_class().delete(key)


@transaction.atomic
def user_sessions_end(
    *,
    user: User,
    company: Company | None,
    keep_session_key: str | None,
    session_uuid: uuid.UUID | None = None,
) -> int:
    """Sign out the user's other browsers: one (``session_uuid``) or all but ``keep_session_key``.

    Side effects: deletes the Django sessions (those browsers are signed out at their next request) and their
    UserSession rows; writes ``auth.sessions_ended``. Returns how many sessions ended.
    """
    rows = UserSession.objects.filter(user=user)
    if keep_session_key:
        rows = rows.exclude(session_key=keep_session_key)
    if session_uuid is not None:
        rows = rows.filter(uuid=session_uuid)
    keys = list(rows.values_list("session_key", flat=True))
    _sessions_kill(keys)
    UserSession.objects.filter(session_key__in=keys).delete()
    if keys and company is not None:
        audit_record(
            company=company,
            actor=user,
            action=actions.SESSIONS_ENDED,
            target=user,
            changes=[
                Change(
                    table=UserSession._meta.db_table,
                    operation=AuditDetail.Operation.DELETE,
                    object_id=str(user.pk),
                    old={"sessions": len(keys)},
                    new=None,
                )
            ],
        )
    return len(keys)


@transaction.atomic
def user_account_delete(*, user: User, confirmation: str) -> None:
    """Delete the user's own account (guide §17.2 "Danger zone"); the caller has checked the current password.

    Decision: the User row is deactivated and anonymised instead of hard-deleted. Other tenants' rows (audit
    entries, later broadcasts and conversations) keep pointing at it, and the audit log stays readable because
    ``AuditEntry.actor_login`` is a snapshot of the login. The login name is freed (renamed to
    ``deleted-<id>``), so that login can no longer sign in and may be issued again by an admin. Personal data
    goes: names, e-mail, phones, avatar, password (unusable), 2FA, recovery codes, password history, every
    session, every company membership.
    Side effects: ``user.deleted`` in each company of the user, written before the data is erased.
    Raises ValidationError (field ``confirmation``) unless ``confirmation`` is exactly ``delete-account``.
    """
    from guardian.models import UserObjectPermission

    from portal.accounts.models import OneTimeCode, RecoveryCode, TwoFactor

    if confirmation != ACCOUNT_DELETE_WORD:
        raise ValidationError(
            {"confirmation": _("Type %(word)s exactly to confirm.") % {"word": ACCOUNT_DELETE_WORD}}
        )
    anonymous_login = f"deleted-{user.pk}-{user.uuid.hex[:8]}"
    old = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name}
    for membership in Membership.objects.filter(user=user).select_related("company"):
        audit_record(
            company=membership.company,
            actor=user,
            action=actions.USER_DELETED,
            target=user,
            changes=[
                change_of(user, AuditDetail.Operation.UPDATE, old=old, new={"username": anonymous_login}),
                change_of(membership, AuditDetail.Operation.DELETE, old={"user_id": user.pk}),
            ],
        )
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    _sessions_kill(keys)
    UserSession.objects.filter(user=user).delete()
    TwoFactor.objects.filter(user=user).delete()
    OneTimeCode.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    PasswordHistory.objects.filter(user=user).delete()
    UserObjectPermission.objects.filter(user=user).delete()
    Membership.objects.filter(user=user).delete()
    if user.avatar:
        storage, name = user.avatar.storage, user.avatar.name
        transaction.on_commit(lambda: storage.delete(name))
    user.username = anonymous_login
    user.first_name = user.last_name = user.middle_name = user.email = user.phone = ""
    user.avatar = ""
    user.is_active = user.is_staff = user.is_superuser = False
    # An unusable hash also changes the session auth hash, so a session missed above is refused too.
    user.set_unusable_password()
    user.save()
