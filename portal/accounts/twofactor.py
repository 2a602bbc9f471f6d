"""Two-factor sign-in writes (guide §17.2): SMS to a verified phone, authenticator app (TOTP), recovery codes.

This is a service module of the accounts app (CONVENTIONS R3), kept apart from ``services.py`` for its size.

Rules:
- SMS codes: 6 digits from the CSPRNG, stored as keyed hashes, valid ``PORTAL_OTP_TTL_SECONDS``, at most
  ``PORTAL_OTP_MAX_ATTEMPTS`` tries each, one new code per ``PORTAL_OTP_RESEND_SECONDS``, compared in constant time.
- Sign-in codes (SMS, TOTP or recovery) are throttled per user in Redis like ``accounts.lockout``: after
  ``PORTAL_2FA_MAX_FAILURES`` wrong codes the user waits ``PORTAL_LOGIN_LOCKOUT_MINUTES``.
- A failed check must still count, so the functions that check codes are not one transaction: the attempt
  counter is written first, the enabling writes then run in their own ``transaction.atomic`` block.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.accounts import otp
from portal.accounts.models import OneTimeCode, RecoveryCode, TwoFactor, User
from portal.accounts.services import phone_e164
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import Change, audit_record
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company

METHOD_SMS = "sms"
METHOD_TOTP = "totp"
METHOD_RECOVERY = "recovery"
_RECOVERY_PURPOSE = "recovery"


class TwoFactorThrottledError(ApplicationError):
    pass


class TwoFactorRequiredError(ApplicationError):
    pass


# --- helpers -------------------------------------------------------------------------------------------------


def _locked(user: User) -> TwoFactor:
    tf, _created = TwoFactor.objects.get_or_create(user=user)
    return TwoFactor.objects.select_for_update().get(pk=tf.pk)


def _state(tf: TwoFactor) -> dict[str, object]:
    # Never the secrets: the audit keeps only what is enabled and where codes go.
    return {"sms_phone": tf.sms_phone, "sms_enabled": tf.sms_enabled, "totp_enabled": tf.totp_enabled}


def _audit(
    *, company: Company | None, user: User, action: str, tf: TwoFactor, old: dict[str, object] | None
) -> None:
    if company is None:
        return
    audit_record(
        company=company,
        actor=user,
        action=action,
        target=user,
        changes=[
            Change(
                table=TwoFactor._meta.db_table,
                operation=AuditDetail.Operation.UPDATE,
                object_id=str(tf.pk),
                old=old,
                new=_state(tf),
            )
        ],
    )


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


def _open_code(*, user: User, purpose: str, now: datetime.datetime) -> OneTimeCode | None:
    return (
        OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=now)
        .order_by("-created_at", "-id")
        .first()
    )


def _resend_wait(*, user: User, purpose: str, now: datetime.datetime) -> int:
    """Seconds left before another code may be sent (0 = may send now)."""
    last = OneTimeCode.objects.filter(user=user, purpose=purpose).order_by("-created_at", "-id").first()
    gap = int(settings.PORTAL_OTP_RESEND_SECONDS)
    if last is None:
        return 0
    left = gap - int((now - last.created_at).total_seconds())
    return max(left, 0)


def code_resend_wait(*, user: User, purpose: str, now: datetime.datetime | None = None) -> int:
    """Read side of the resend throttle, for the pages ("send again in N seconds")."""
    return _resend_wait(user=user, purpose=purpose, now=_now(now))


def _code_issue(
    *, user: User, company: Company | None, purpose: str, phone: str, now: datetime.datetime
) -> None:
    wait = _resend_wait(user=user, purpose=purpose, now=now)
    if wait:
        raise ValidationError(
            {
                "code": _("A code was sent a moment ago. You can ask for a new one in %(s)d seconds.")
                % {"s": wait}
            }
        )
    # A new code replaces the previous ones of the same purpose.
    OneTimeCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(expires_at=now)
    code = otp.code_generate()
    ttl = int(settings.PORTAL_OTP_TTL_SECONDS)
    OneTimeCode.objects.create(
        user=user,
        purpose=purpose,
        phone=phone,
        code_hash=otp.code_hash(user_id=user.pk, purpose=purpose, code=code),
        expires_at=now + datetime.timedelta(seconds=ttl),
    )
    text = _("%(code)s is your %(issuer)s verification code. It expires in %(m)d minutes.") % {
        "code": code,
        "issuer": settings.PORTAL_OTP_ISSUER,
        "m": max(ttl // 60, 1),
    }
    # Vendor calls leave only once the code is stored (CONVENTIONS R4).
    transaction.on_commit(lambda: otp.sms_send(company=company, phone=phone, text=text))


def _code_consume(*, user: User, purpose: str, phone: str, code: str, now: datetime.datetime) -> bool:
    """Check ``code`` against the open code of ``purpose``; count the attempt even when it fails."""
    row = _open_code(user=user, purpose=purpose, now=now)
    if row is None or row.phone != phone:
        return False
    OneTimeCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
    if row.attempts + 1 > int(settings.PORTAL_OTP_MAX_ATTEMPTS):
        OneTimeCode.objects.filter(pk=row.pk).update(expires_at=now)
        return False
    if not otp.code_matches(expected_hash=row.code_hash, user_id=user.pk, purpose=purpose, code=code):
        return False
    # The conditional update makes a code usable once even when two requests race.
    return OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) == 1


# --- SMS (guide §17.2: Add phone number → Get verification code → code → active) -----------------------------


@transaction.atomic
def two_factor_sms_start(
    *, user: User, company: Company | None, phone: str, now: datetime.datetime | None = None
) -> TwoFactor:
    """Save the phone aside and send it a verification code; 2FA by SMS starts only once the code is entered.

    Side effects: updates TwoFactor.pending_phone, inserts a OneTimeCode, sends an SMS after commit.
    Raises ValidationError (``phone`` for a bad number, ``code`` when asked again too soon).
    """
    now = _now(now)
    e164 = phone_e164(phone, country=company.default_country if company else None)
    tf = _locked(user)
    tf.pending_phone = e164
    tf.save(update_fields=["pending_phone", "updated_at"])
    _code_issue(user=user, company=company, purpose=OneTimeCode.Purpose.ENROL, phone=e164, now=now)
    return tf


@transaction.atomic
def two_factor_sms_resend(
    *, user: User, company: Company | None, now: datetime.datetime | None = None
) -> None:
    """Send a new verification code to the phone waiting for verification.

    Side effects: inserts a OneTimeCode, sends an SMS after commit. Raises ValidationError (``code``).
    """
    tf = _locked(user)
    if not tf.pending_phone:
        raise ValidationError({"code": _("Enter a phone number first.")})
    _code_issue(
        user=user, company=company, purpose=OneTimeCode.Purpose.ENROL, phone=tf.pending_phone, now=_now(now)
    )


def two_factor_sms_confirm(
    *, user: User, company: Company | None, code: str, now: datetime.datetime | None = None
) -> list[str]:
    """Verify the code sent to the pending phone; it becomes the 2FA phone and 2FA by SMS is on.

    Returns new recovery codes when the user had none left (to show once), else an empty list.
    Side effects: counts the attempt on the code, then (in one transaction) updates TwoFactor, may insert
    RecoveryCode rows and writes ``auth.2fa_enabled`` with the old and new phone. Raises ValidationError (``code``).
    """
    now = _now(now)
    tf = TwoFactor.objects.filter(user=user).first()
    if tf is None or not tf.pending_phone:
        raise ValidationError({"code": _("Enter a phone number first.")})
    if not _code_consume(
        user=user,
        purpose=OneTimeCode.Purpose.ENROL,
        phone=tf.pending_phone,
        code=otp.normalize_code(code),
        now=now,
    ):
        raise ValidationError({"code": _("The code is not correct or has expired.")})
    with transaction.atomic():
        tf = _locked(user)
        old = _state(tf)
        tf.sms_phone = tf.pending_phone
        tf.pending_phone = ""
        tf.sms_enabled_at = now
        tf.save()
        codes: list[str] = []
        if not RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
            codes = _recovery_codes_replace(user=user)
        _audit(company=company, user=user, action=actions.TWOFA_ENABLED, tf=tf, old=old)
    return codes


@transaction.atomic
def two_factor_cancel(*, user: User) -> None:
    """Cancel an unfinished set-up (a phone waiting for its code or an unconfirmed authenticator app).

    Side effects: clears the pending phone and secret and expires the open verification codes.
    """
    TwoFactor.objects.filter(user=user).update(pending_phone="", totp_pending_secret="")
    OneTimeCode.objects.filter(user=user, purpose=OneTimeCode.Purpose.ENROL, used_at__isnull=True).update(
        expires_at=timezone.now()
    )


@transaction.atomic
def two_factor_disable(*, user: User, company: Company | None, method: str) -> TwoFactor:
    """Turn off one method (``sms`` or ``totp``); with none left, the recovery codes go too.

    Side effects: updates TwoFactor, may delete RecoveryCode rows, writes ``auth.2fa_disabled``.
    Raises TwoFactorRequiredError when the company requires 2FA and this is the last method.
    """
    if method not in (METHOD_SMS, METHOD_TOTP):
        raise ValidationError({"method": _("Unknown two-factor method.")})
    tf = _locked(user)
    old = _state(tf)
    remaining = tf.totp_enabled if method == METHOD_SMS else tf.sms_enabled
    if company is not None and company.require_2fa and not remaining:
        raise TwoFactorRequiredError(
            _("%(company)s requires two-factor sign-in. Set up another method before turning this one off.")
            % {"company": company.name}
        )
    if method == METHOD_SMS:
        tf.sms_phone, tf.sms_enabled_at, tf.pending_phone = "", None, ""
    else:
        tf.totp_secret, tf.totp_enabled_at, tf.totp_pending_secret, tf.totp_last_counter = "", None, "", None
    tf.save()
    if not tf.enabled:
        RecoveryCode.objects.filter(user=user).delete()
    _audit(company=company, user=user, action=actions.TWOFA_DISABLED, tf=tf, old=old)
    return tf


@transaction.atomic
def two_factor_reset_by_admin(*, company: Company, actor: User, user: User) -> None:
    """Turn off every second factor of ``user`` (an admin's reset, e.g. after a lost phone).

    Side effects: clears TwoFactor, deletes RecoveryCode and open OneTimeCode rows, writes ``auth.2fa_disabled``
    with the admin as actor. Does nothing when the user has no second factor.
    """
    tf = TwoFactor.objects.select_for_update().filter(user=user).first()
    if tf is None or not (tf.enabled or tf.pending_phone or tf.totp_pending_secret):
        return
    old = _state(tf)
    tf.sms_phone, tf.sms_enabled_at, tf.pending_phone = "", None, ""
    tf.totp_secret, tf.totp_enabled_at, tf.totp_pending_secret, tf.totp_last_counter = "", None, "", None
    tf.save()
    RecoveryCode.objects.filter(user=user).delete()
    OneTimeCode.objects.filter(user=user, used_at__isnull=True).delete()
    audit_record(
        company=company,
        actor=actor,
        action=actions.TWOFA_DISABLED,
        target=user,
        changes=[Change("accounts_twofactor", AuditDetail.Operation.UPDATE, str(tf.pk), old, _state(tf))],
    )


# --- Authenticator app (TOTP) and recovery codes ---------------------------------------------------------------


@transaction.atomic
def two_factor_totp_start(*, user: User) -> TwoFactor:
    """Create the secret to scan; the app is on only after a code from it is confirmed.

    Side effects: updates TwoFactor.totp_pending_secret.
    """
    tf = _locked(user)
    tf.totp_pending_secret = otp.totp_secret_generate()
    tf.save(update_fields=["totp_pending_secret", "updated_at"])
    return tf


@transaction.atomic
def two_factor_totp_confirm(
    *, user: User, company: Company | None, code: str, now: datetime.datetime | None = None
) -> list[str]:
    """Confirm the authenticator app with a code from it; returns new recovery codes (empty if some remain).

    Side effects: updates TwoFactor, may insert RecoveryCode rows, writes ``auth.2fa_enabled``.
    Raises ValidationError (``code``).
    """
    now = _now(now)
    tf = _locked(user)
    if not tf.totp_pending_secret:
        raise ValidationError({"code": _("Start the authenticator app set-up first.")})
    counter = otp.totp_counter(
        secret=tf.totp_pending_secret, code=otp.normalize_code(code), now=now.timestamp()
    )
    if counter is None:
        raise ValidationError(
            {"code": _("The code is not correct. Check the time on your phone and try again.")}
        )
    old = _state(tf)
    tf.totp_secret = tf.totp_pending_secret
    tf.totp_pending_secret = ""
    tf.totp_enabled_at = now
    tf.totp_last_counter = counter
    tf.save()
    codes: list[str] = []
    if not RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
        codes = _recovery_codes_replace(user=user)
    _audit(company=company, user=user, action=actions.TWOFA_ENABLED, tf=tf, old=old)
    return codes


def _recovery_codes_replace(*, user: User) -> list[str]:
    codes = otp.recovery_codes_generate()
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [
            RecoveryCode(
                user=user,
                code_hash=otp.code_hash(
                    user_id=user.pk, purpose=_RECOVERY_PURPOSE, code=otp.normalize_code(code)
                ),
            )
            for code in codes
        ]
    )
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User, company: Company | None) -> list[str]:
    """Replace every recovery code; the old ones stop working. Returns the new codes (shown once).

    Side effects: deletes and inserts RecoveryCode rows, writes ``auth.2fa_recovery_regenerated``.
    Raises ApplicationError when two-factor sign-in is off.
    """
    tf = TwoFactor.objects.filter(user=user).first()
    if tf is None or not tf.enabled:
        raise ApplicationError(_("Turn on two-factor sign-in first."))
    codes = _recovery_codes_replace(user=user)
    if company is not None:
        audit_record(company=company, actor=user, action=actions.TWOFA_RECOVERY_REGENERATED, target=user)
    return codes


# --- Sign-in second step ---------------------------------------------------------------------------------------


def _fail_key(user: User) -> str:
    return f"2fa-fail:user:{user.pk}"


def _window() -> int:
    return int(settings.PORTAL_LOGIN_LOCKOUT_MINUTES) * 60


def sign_in_code_throttled(*, user: User) -> bool:
    return int(cache.get(_fail_key(user), 0)) >= int(settings.PORTAL_2FA_MAX_FAILURES)


def _throttled_error() -> TwoFactorThrottledError:
    return TwoFactorThrottledError(
        _("Too many wrong codes. Try again in %(m)d minutes.") % {"m": settings.PORTAL_LOGIN_LOCKOUT_MINUTES}
    )


@transaction.atomic
def two_factor_sign_in_sms_send(
    *, user: User, company: Company | None, now: datetime.datetime | None = None
) -> None:
    """Send a sign-in code to the user's verified phone.

    Side effects: inserts a OneTimeCode, sends an SMS after commit. Raises ValidationError (``code``) when
    asked again too soon, ApplicationError when SMS is not set up, TwoFactorThrottledError after too many
    wrong codes.
    """
    tf = TwoFactor.objects.filter(user=user).first()
    if tf is None or not tf.sms_enabled:
        raise ApplicationError(_("Two-factor sign-in by SMS is not set up for this account."))
    if sign_in_code_throttled(user=user):
        raise _throttled_error()
    _code_issue(
        user=user, company=company, purpose=OneTimeCode.Purpose.SIGN_IN, phone=tf.sms_phone, now=_now(now)
    )


def two_factor_sign_in_verify(
    *, user: User, company: Company | None, code: str, now: datetime.datetime | None = None
) -> str:
    """Check the second-step code: authenticator app, SMS code or one recovery code. Returns the method used.

    Side effects: on success marks the SMS or recovery code used (or stores the TOTP step, so the code cannot
    be replayed) and clears the failure counter; ``auth.2fa_recovery_used`` when a recovery code was spent.
    On failure counts it in Redis and writes ``auth.2fa_failed``.
    Raises TwoFactorThrottledError after too many failures, ValidationError (``code``) for a wrong code.
    """
    now = _now(now)
    if sign_in_code_throttled(user=user):
        raise _throttled_error()
    value = otp.normalize_code(code)
    tf = TwoFactor.objects.filter(user=user).first()
    method: str | None = None
    if tf is not None and value.isdigit() and len(value) == otp.CODE_DIGITS:
        if tf.totp_enabled:
            counter = otp.totp_counter(secret=tf.totp_secret, code=value, now=now.timestamp())
            if counter is not None:
                fresh = Q(totp_last_counter__isnull=True) | Q(totp_last_counter__lt=counter)
                if TwoFactor.objects.filter(fresh, pk=tf.pk).update(totp_last_counter=counter) == 1:
                    method = METHOD_TOTP
        if method is None and tf.sms_enabled:
            purpose = OneTimeCode.Purpose.SIGN_IN
            if _code_consume(user=user, purpose=purpose, phone=tf.sms_phone, code=value, now=now):
                method = METHOD_SMS
    if method is None and tf is not None and tf.enabled and len(value) == 10:
        for row in RecoveryCode.objects.filter(user=user, used_at__isnull=True):
            if otp.code_matches(
                expected_hash=row.code_hash, user_id=user.pk, purpose=_RECOVERY_PURPOSE, code=value
            ):
                if RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) == 1:
                    method = METHOD_RECOVERY
                break
    if method is None:
        cache.add(_fail_key(user), 0, timeout=_window())
        try:
            cache.incr(_fail_key(user))
        except ValueError:
            cache.set(_fail_key(user), 1, timeout=_window())
        if company is not None:
            audit_record(
                company=company,
                actor=None,
                actor_login=user.username,
                action=actions.TWOFA_FAILED,
                target=user,
            )
        if sign_in_code_throttled(user=user):
            raise _throttled_error()
        raise ValidationError({"code": _("The code is not correct or has expired.")})
    cache.delete(_fail_key(user))
    if method == METHOD_RECOVERY and company is not None:
        left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        audit_record(
            company=company,
            actor=user,
            action=actions.TWOFA_RECOVERY_USED,
            target=user,
            changes=[
                Change(
                    table=RecoveryCode._meta.db_table,
                    operation=AuditDetail.Operation.UPDATE,
                    object_id=str(user.pk),
                    old=None,
                    new={"remaining": left},
                )
            ],
        )
    return method
