"""Two-factor sign-in (guide §17.2, acceptance check 88): SMS to a verified phone, authenticator app, recovery codes,
the second sign-in step, throttling and the company setting that makes 2FA mandatory."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pyotp
import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from channels_out.models import Message
from channels_out.services import simulator_connection_create
from portal.accounts import twofactor
from portal.accounts.models import OneTimeCode, RecoveryCode, TwoFactor, User
from portal.audit import actions
from portal.audit.models import AuditDetail, AuditEntry
from portal.tenants.models import Company
from tests.factories import PASSWORD, make_user, system_role

PHONE = "+14155550123"
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def member(company: Company) -> User:
    return make_user(company, [system_role(company, "broadcast_manager")], login="tess", first_name="Tess")


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks: Capture) -> Callable[[], AbstractContextManager[Any]]:
    """Run the after-commit callbacks (the SMS hand-over) at the end of the block, as a real commit would."""

    def make() -> AbstractContextManager[Any]:
        return django_capture_on_commit_callbacks(execute=True)

    return make


@pytest.fixture(autouse=True)
def sms_connection(company: Company) -> None:
    """Sign-in codes leave through the channel layer: the company's simulator connection serves SMS."""
    simulator_connection_create(company=company, actor=None, sender_ids=["PORTAL"])


def _code_sms() -> Any:
    return Message.objects.filter(origin="system", channel="sms")


def _last_code(phone: str = PHONE) -> str:
    sms = Message.objects.filter(address=phone, origin="system").order_by("-created_at", "-id").first()
    assert sms is not None, "no SMS was sent"
    match = re.search(r"\b(\d{6})\b", sms.text)
    assert match is not None, sms.text
    return match.group(1)


def _enable_sms(user: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]) -> None:
    with on_commit():
        twofactor.two_factor_sms_start(user=user, company=company, phone=PHONE)
    twofactor.two_factor_sms_confirm(user=user, company=company, code=_last_code())


def _enable_totp(user: User, company: Company) -> tuple[str, list[str]]:
    tf = twofactor.two_factor_totp_start(user=user)
    secret = tf.totp_pending_secret
    # A code of the previous time step: the sign-in tests then use the current one (no replay refusal).
    previous = pyotp.TOTP(secret).at(timezone.now() - datetime.timedelta(seconds=30))
    codes = twofactor.two_factor_totp_confirm(user=user, company=company, code=previous)
    return secret, codes


def _password_step(client: Client, login: str, password: str = PASSWORD) -> Any:
    return client.post("/accounts/login/", {"login": login, "password": password})


# --- services: SMS ------------------------------------------------------------------------------------------


def test_sms_start_sends_a_code_that_is_stored_only_hashed(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    with on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone="+1 (415) 555-0123")
    sms = Message.objects.get(company=company, origin="system")
    assert sms.address == PHONE
    code = _last_code()
    assert f"{code} is your Client portal verification code. It expires in 5 minutes." == sms.text
    row = OneTimeCode.objects.get(user=member)
    assert len(row.code_hash) == 64
    assert code not in row.code_hash
    tf = TwoFactor.objects.get(user=member)
    assert (tf.pending_phone, tf.sms_enabled) == (PHONE, False)  # active only after the code


def test_the_code_leaves_through_the_channel_layer_as_system_traffic(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]], admin_user: User
) -> None:
    """Issue 5: an SMS Message (origin system, realtime queue) from the company's SMS sender, text hidden in the log."""
    from unittest import mock

    with mock.patch("channels_out.services.sending.messages_submit_realtime_task") as realtime, on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    sms = Message.objects.get(company=company)
    assert (sms.channel, sms.origin, sms.direction, sms.sender_id, sms.status) == (
        "sms",
        "system",
        "mt",
        "PORTAL",
        "queued",
    )
    assert sms.payload["sensitive"] is True
    assert realtime.delay.call_args.args == (company.pk, [sms.pk])  # the realtime queue, not bulk
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/messages/{sms.uuid}/")
    assert page.status_code == 200
    assert _last_code() not in page.content.decode()


def test_without_an_sms_connection_no_code_is_sent(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    from channels_out.models import Connection
    from portal.core.exceptions import ApplicationError

    Connection.objects.filter(company=company).update(enabled=False)
    with pytest.raises(ApplicationError), on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    assert not _code_sms().exists()


def test_nothing_is_sent_before_commit(
    member: User, company: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    assert len(callbacks) == 1
    assert not _code_sms().exists()


def test_sms_confirm_enables_and_audits(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    with on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    codes = twofactor.two_factor_sms_confirm(user=member, company=company, code=_last_code())
    assert len(codes) == 10
    assert all(re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", c) for c in codes)
    tf = TwoFactor.objects.get(user=member)
    assert (tf.sms_phone, tf.sms_enabled, tf.pending_phone) == (PHONE, True, "")
    entry = AuditEntry.objects.get(company=company, action=actions.TWOFA_ENABLED)
    detail = AuditDetail.objects.get(entry=entry)
    assert detail.old_value == {"sms_phone": "", "sms_enabled": False, "totp_enabled": False}
    assert detail.new_value == {"sms_phone": PHONE, "sms_enabled": True, "totp_enabled": False}


def test_bad_phone_is_refused(member: User, company: Company) -> None:
    with pytest.raises(ValidationError, match="Enter a valid phone number"):
        twofactor.two_factor_sms_start(user=member, company=company, phone="123")
    assert not OneTimeCode.objects.exists()


def test_wrong_code_is_counted_and_attempts_are_limited(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    with on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    right = _last_code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _n in range(5):
        with pytest.raises(ValidationError, match=r"The code is not correct or has expired\."):
            twofactor.two_factor_sms_confirm(user=member, company=company, code=wrong)
    assert OneTimeCode.objects.get(user=member).attempts == 5
    # The code has had its five tries: even the right one no longer works.
    with pytest.raises(ValidationError, match=r"The code is not correct or has expired\."):
        twofactor.two_factor_sms_confirm(user=member, company=company, code=right)
    assert not TwoFactor.objects.get(user=member).sms_enabled


def test_code_expires_after_five_minutes(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    start = timezone.now()
    with on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE, now=start)
    with pytest.raises(ValidationError, match="has expired"):
        twofactor.two_factor_sms_confirm(
            user=member,
            company=company,
            code=_last_code(),
            now=start + datetime.timedelta(minutes=5, seconds=1),
        )


def test_resend_is_throttled(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False), on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    with (
        time_machine.travel(start + datetime.timedelta(seconds=10), tick=False),
        pytest.raises(ValidationError, match="You can ask for a new one in 50 seconds"),
    ):
        twofactor.two_factor_sms_resend(user=member, company=company)
    first = _last_code()
    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False), on_commit():
        twofactor.two_factor_sms_resend(user=member, company=company)
    assert _code_sms().count() == 2
    # The new code replaced the first one.
    if first != _last_code():
        with pytest.raises(ValidationError):
            twofactor.two_factor_sms_confirm(
                user=member, company=company, code=first, now=start + datetime.timedelta(seconds=62)
            )


def test_sender_is_pluggable(
    member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]], settings: Any
) -> None:
    sent.clear()
    settings.PORTAL_OTP_SMS_SENDER = "tests.accounts.test_two_factor.RecordingSender"
    with on_commit():
        twofactor.two_factor_sms_start(user=member, company=company, phone=PHONE)
    assert [(c, p) for c, p, _t in sent] == [(company, PHONE)]
    assert not _code_sms().exists()


sent: list[tuple[Any, str, str]] = []


class RecordingSender:
    def send(self, *, company: Company | None, phone: str, text: str) -> None:
        sent.append((company, phone, text))


# --- services: TOTP, disable, recovery --------------------------------------------------------------------


def test_totp_needs_a_right_code_to_turn_on(member: User, company: Company) -> None:
    tf = twofactor.two_factor_totp_start(user=member)
    with pytest.raises(ValidationError, match="The code is not correct"):
        twofactor.two_factor_totp_confirm(user=member, company=company, code="000000")
    assert not TwoFactor.objects.get(user=member).totp_enabled
    codes = twofactor.two_factor_totp_confirm(
        user=member, company=company, code=pyotp.TOTP(tf.totp_pending_secret).now()
    )
    tf.refresh_from_db()
    assert tf.totp_enabled
    assert tf.totp_pending_secret == ""
    assert len(codes) == 10
    assert RecoveryCode.objects.filter(user=member, used_at__isnull=True).count() == 10


def test_disable_last_method_drops_recovery_codes(member: User, company: Company) -> None:
    _enable_totp(member, company)
    twofactor.two_factor_disable(user=member, company=company, method="totp")
    tf = TwoFactor.objects.get(user=member)
    assert not tf.enabled
    assert tf.totp_secret == ""
    assert not RecoveryCode.objects.filter(user=member).exists()
    assert AuditEntry.objects.filter(company=company, action=actions.TWOFA_DISABLED).count() == 1


def test_company_requiring_2fa_refuses_to_disable_the_last_method(member: User, company: Company) -> None:
    _enable_totp(member, company)
    company.require_2fa = True
    company.save()
    with pytest.raises(twofactor.TwoFactorRequiredError, match="requires two-factor sign-in"):
        twofactor.two_factor_disable(user=member, company=company, method="totp")
    assert TwoFactor.objects.get(user=member).totp_enabled


def test_recovery_codes_regenerate_replaces_the_old_ones(member: User, company: Company) -> None:
    _secret, old = _enable_totp(member, company)
    new = twofactor.recovery_codes_regenerate(user=member, company=company)
    assert set(old).isdisjoint(new)
    with pytest.raises(ValidationError):
        twofactor.two_factor_sign_in_verify(user=member, company=company, code=old[0])
    assert twofactor.two_factor_sign_in_verify(user=member, company=company, code=new[0]) == "recovery"


def test_audit_never_holds_the_secret(member: User, company: Company) -> None:
    secret, codes = _enable_totp(member, company)
    values = list(AuditDetail.objects.values_list("old_value", "new_value"))
    assert secret not in str(values)
    assert codes[0] not in str(values)


# --- sign-in second step ---------------------------------------------------------------------------------------


def test_sms_sign_in_end_to_end(
    client: Client, member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    _enable_sms(member, company, on_commit)
    with on_commit():
        response = _password_step(client, "tess")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/verify/"
    assert "_auth_user_id" not in client.session  # not signed in after the password alone
    assert client.get("/dashboard/")["Location"].startswith("/accounts/login/")
    page = client.get("/accounts/login/verify/").content.decode()
    assert "Enter the 6-digit code we sent to +14" in page
    assert PHONE not in page  # the phone is masked
    bad = client.post("/accounts/login/verify/", {"code": "12345x"}).content.decode()
    assert "The code is not correct or has expired." in bad
    response = client.post("/accounts/login/verify/", {"code": _last_code()})
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200
    assert AuditEntry.objects.filter(company=company, action=actions.LOGGED_IN, actor=member).count() == 1
    assert AuditEntry.objects.filter(company=company, action=actions.TWOFA_FAILED).count() == 1


def test_totp_sign_in_end_to_end_and_no_replay(client: Client, member: User, company: Company) -> None:
    secret, _codes = _enable_totp(member, company)
    _password_step(client, "tess")
    page = client.get("/accounts/login/verify/").content.decode()
    assert "Enter the 6-digit code from your authenticator app." in page
    code = pyotp.TOTP(secret).now()
    assert client.post("/accounts/login/verify/", {"code": code})["Location"] == "/"
    assert client.get("/dashboard/").status_code == 200
    # The same code a second time (a replay) is refused.
    other = Client()
    _password_step(other, "tess")
    html = other.post("/accounts/login/verify/", {"code": code}).content.decode()
    assert "The code is not correct or has expired." in html
    assert "_auth_user_id" not in other.session


def test_recovery_code_works_once(client: Client, member: User, company: Company) -> None:
    _secret, codes = _enable_totp(member, company)
    _password_step(client, "tess")
    assert client.post("/accounts/login/verify/", {"code": codes[3].lower()}).status_code == 302
    assert AuditEntry.objects.filter(company=company, action=actions.TWOFA_RECOVERY_USED).count() == 1
    second = Client()
    _password_step(second, "tess")
    html = second.post("/accounts/login/verify/", {"code": codes[3]}).content.decode()
    assert "The code is not correct or has expired." in html
    assert RecoveryCode.objects.filter(user=member, used_at__isnull=True).count() == 9


def test_bad_codes_are_throttled(client: Client, member: User, company: Company) -> None:
    secret, _codes = _enable_totp(member, company)
    _password_step(client, "tess")
    for _n in range(4):
        html = client.post("/accounts/login/verify/", {"code": "000000"}).content.decode()
        assert "The code is not correct or has expired." in html
    html = client.post("/accounts/login/verify/", {"code": "000000"}).content.decode()
    assert "Too many wrong codes. Try again in 15 minutes." in html
    # Even the right code waits now.
    html = client.post("/accounts/login/verify/", {"code": pyotp.TOTP(secret).now()}).content.decode()
    assert "Too many wrong codes. Try again in 15 minutes." in html
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(company=company, action=actions.TWOFA_FAILED).count() == 5


def test_verify_page_without_a_password_step_goes_to_login(client: Client, db: None) -> None:
    response = client.get("/accounts/login/verify/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "Your sign-in has expired. Sign in again." in response.content.decode()


def test_pending_sign_in_expires(client: Client, member: User, company: Company) -> None:
    secret, _codes = _enable_totp(member, company)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _password_step(client, "tess")
    with time_machine.travel(start + datetime.timedelta(minutes=11), tick=False):
        response = client.post("/accounts/login/verify/", {"code": pyotp.TOTP(secret).now()})
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_verify_keeps_the_next_page(client: Client, member: User, company: Company) -> None:
    secret, _codes = _enable_totp(member, company)
    client.post(
        "/accounts/login/?next=/accounts/me/",
        {"login": "tess", "password": PASSWORD, "next": "/accounts/me/"},
    )
    page = client.get("/accounts/login/verify/").content.decode()
    assert 'name="next" value="/accounts/me/"' in page
    response = client.post(
        "/accounts/login/verify/", {"code": pyotp.TOTP(secret).now(), "next": "/accounts/me/"}
    )
    assert response["Location"] == "/accounts/me/"


def test_sms_resend_on_the_verify_page(
    client: Client, member: User, company: Company, on_commit: Callable[[], AbstractContextManager[Any]]
) -> None:
    _enable_sms(member, company, on_commit)
    start = timezone.now() + datetime.timedelta(minutes=2)
    with time_machine.travel(start, tick=False), on_commit():
        _password_step(client, "tess")
    with time_machine.travel(start + datetime.timedelta(seconds=5), tick=False):
        response = client.post("/accounts/login/verify/send/", follow=True)
    assert "A code was sent a moment ago." in response.content.decode()
    with time_machine.travel(start + datetime.timedelta(seconds=70), tick=False), on_commit():
        response = client.post("/accounts/login/verify/send/", follow=True)
        assert "We sent a new code to your phone." in response.content.decode()
    with time_machine.travel(start + datetime.timedelta(seconds=75), tick=False):
        assert client.post("/accounts/login/verify/", {"code": _last_code()}).status_code == 302


# --- company requires 2FA ---------------------------------------------------------------------------------------


@pytest.fixture
def strict_company(company: Company) -> Company:
    company.require_2fa = True
    company.save()
    return company


def test_required_2fa_forces_enrolment_before_any_page(
    client: Client, member: User, strict_company: Company
) -> None:
    response = _password_step(client, "tess")
    assert response.status_code == 302
    for url in ("/dashboard/", "/accounts/me/", "/accounts/security/"):
        assert client.get(url)["Location"] == "/accounts/two-factor/enrol/", url
    htmx = client.get("/dashboard/", HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == "/accounts/two-factor/enrol/"
    page = client.get("/accounts/two-factor/enrol/").content.decode()
    assert f"{strict_company.name} requires two-factor sign-in. Set it up to continue." in page
    assert "Set up authenticator app" in page
    assert "Add phone number" in page

    fragment = client.post(
        "/accounts/two-factor/app/", {"enrol": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.lstrip().startswith('<section id="two-factor"')
    assert "data:image/svg+xml;base64," in fragment
    secret = TwoFactor.objects.get(user=member).totp_pending_secret
    done = client.post(
        "/accounts/two-factor/app/verify/",
        {"code": pyotp.TOTP(secret).now(), "enrol": "1"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Your recovery codes" in done
    assert 'id="enrol-continue"' in done
    assert client.get("/dashboard/").status_code == 200
    # Once enrolled, the enrolment page sends the user on.
    assert client.get("/accounts/two-factor/enrol/")["Location"] == "/"


def test_required_2fa_lets_logout_through(client: Client, member: User, strict_company: Company) -> None:
    _password_step(client, "tess")
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"


def test_required_2fa_user_with_2fa_goes_through_the_code_step(
    client: Client, member: User, strict_company: Company
) -> None:
    secret, _codes = _enable_totp(member, strict_company)
    assert _password_step(client, "tess")["Location"] == "/accounts/login/verify/"
    client.post("/accounts/login/verify/", {"code": pyotp.TOTP(secret).now()})
    assert client.get("/dashboard/").status_code == 200


# --- Privacy and Security page: SMS set-up through htmx ----------------------------------------------------------


def test_sms_set_up_through_the_page(
    htmx_client_for: Callable[[User], Client],
    member: User,
    company: Company,
    on_commit: Callable[[], AbstractContextManager[Any]],
) -> None:
    client = htmx_client_for(member)
    form = client.get("/accounts/two-factor/?edit=sms").content.decode()
    assert form.lstrip().startswith('<section id="two-factor"')
    assert "Add phone number" in form
    assert "Get verification code" in form
    bad = client.post("/accounts/two-factor/sms/", {"phone": "12"}).content.decode()
    assert "Enter a valid phone number" in bad
    with on_commit():
        sent_page = client.post("/accounts/two-factor/sms/", {"phone": PHONE}).content.decode()
    assert "We sent a verification code to this phone." in sent_page
    assert f"Enter the code we sent to {PHONE}." in sent_page
    wrong = client.post("/accounts/two-factor/sms/verify/", {"code": "000000"}).content.decode()
    if _last_code() != "000000":
        assert "The code is not correct or has expired." in wrong
    on = client.post("/accounts/two-factor/sms/verify/", {"code": _last_code()}).content.decode()
    assert "Two-factor authentication by SMS is on." in on
    assert f"Codes are sent to {PHONE}." in on
    assert "Your recovery codes" in on
    assert "data:text/plain;charset=utf-8," in on  # the download link
    # Shown once: the next render has no codes.
    assert "Your recovery codes" not in client.get("/accounts/two-factor/").content.decode()

    confirm = client.get("/accounts/two-factor/?edit=sms-disable").content.decode()
    assert f"Stop sending sign-in codes to {PHONE}?" in confirm
    assert "Disable" in confirm
    assert TwoFactor.objects.get(user=member).sms_enabled  # asking is not disabling
    off = client.post("/accounts/two-factor/disable/", {"method": "sms"}).content.decode()
    assert "Two-factor authentication by SMS is off." in off
    assert not TwoFactor.objects.get(user=member).sms_enabled


def test_change_phone_keeps_the_old_one_until_verified(
    htmx_client_for: Callable[[User], Client],
    member: User,
    company: Company,
    on_commit: Callable[[], AbstractContextManager[Any]],
) -> None:
    _enable_sms(member, company, on_commit)
    client = htmx_client_for(member)
    assert "Edit phone number" in client.get("/accounts/two-factor/?edit=sms-change").content.decode()
    new_phone = "+14155550999"
    with on_commit(), time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        client.post("/accounts/two-factor/sms/", {"phone": new_phone})
    assert TwoFactor.objects.get(user=member).sms_phone == PHONE
    client.post("/accounts/two-factor/cancel/")
    tf = TwoFactor.objects.get(user=member)
    assert (tf.sms_phone, tf.pending_phone, tf.sms_enabled) == (PHONE, "", True)


def test_plain_post_redirects_back_to_the_page(
    client_for: Callable[[User], Client], member: User, company: Company
) -> None:
    client = client_for(member)
    response = client.post("/accounts/two-factor/app/")
    assert response.status_code == 303
    assert response["Location"] == "/accounts/security/#two-factor"
    assert 'id="totp-qr"' in client.get("/accounts/security/").content.decode()


def test_disable_refused_when_required_shows_the_reason(
    htmx_client_for: Callable[[User], Client], member: User, strict_company: Company
) -> None:
    _enable_totp(member, strict_company)
    html = htmx_client_for(member).post("/accounts/two-factor/disable/", {"method": "totp"}).content.decode()
    assert "requires two-factor sign-in. Set up another method before turning this one off." in html
    assert TwoFactor.objects.get(user=member).totp_enabled


def test_asking_again_too_soon_is_explained(
    htmx_client_for: Callable[[User], Client],
    member: User,
    company: Company,
    on_commit: Callable[[], AbstractContextManager[Any]],
) -> None:
    client = htmx_client_for(member)
    with on_commit():
        client.post("/accounts/two-factor/sms/", {"phone": PHONE})
    client.post("/accounts/two-factor/cancel/")
    html = client.post("/accounts/two-factor/sms/", {"phone": PHONE}).content.decode()
    assert "A code was sent a moment ago. You can ask for a new one in" in html
    assert html.count("A code was sent a moment ago.") == 1
    assert _code_sms().count() == 1
