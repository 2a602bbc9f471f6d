"""Privacy and Security (guide §17.2; acceptance checks 82, 89): change password, active sessions, delete account."""

from __future__ import annotations

import string
from collections.abc import Callable

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from portal.accounts import services
from portal.accounts.models import Membership, PasswordHistory, User, UserSession
from portal.audit import actions
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.factories import PASSWORD, make_user, system_role

SECURITY_URL = "/accounts/security/"


def _signed_in(
    login: str, password: str = PASSWORD, agent: str = "Mozilla/5.0 (X11; Linux) Firefox/140.0"
) -> Client:
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post("/accounts/login/", {"login": login, "password": password})
    assert response.status_code == 302
    return client


@pytest.fixture
def member(company: Company) -> User:
    return make_user(company, [system_role(company, "broadcast_manager")], login="rui")


# --- page ----------------------------------------------------------------------------------------------------


def test_security_page_shows_every_block(client_for: Callable[[User], Client], member: User) -> None:
    html = client_for(member).get(SECURITY_URL).content.decode()
    for text in (
        "Privacy and Security",
        "Password",
        "Change password",
        "Two-factor authentication",
        "Add phone number",
        "Set up authenticator app",
        "Active sessions",
        "Danger zone",
        "Delete account",
    ):
        assert text in html, text


def test_htmx_block_request_returns_only_the_block(
    htmx_client_for: Callable[[User], Client], member: User
) -> None:
    html = htmx_client_for(member).get(SECURITY_URL + "?edit=password&block=password").content.decode()
    assert html.lstrip().startswith('<section id="security-password"')
    assert "<html" not in html
    for text in ("Current password", "New password", "Generate", "Confirm password", "Save", "Cancel"):
        assert text in html, text


# --- change password (check 82) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new1", "new2", "message"),
    [
        ("Wrong-pass-1", "Abcdef1!", "Abcdef1!", "The current password is not correct."),
        (PASSWORD, "Abcdef1!", "Abcdef1?", "The two passwords do not match."),
        (PASSWORD, "abcdefgh", "abcdefgh", "at least 3 of these groups"),
        (
            PASSWORD,
            "Abc1!xy",
            "Abc1!xy",
            "This password is too short. It must contain at least 8 characters.",
        ),
    ],
)
def test_change_password_errors_per_field(
    htmx_client_for: Callable[[User], Client],
    admin_user: User,
    current: str,
    new1: str,
    new2: str,
    message: str,
) -> None:
    response = htmx_client_for(admin_user).post(
        "/accounts/security/password/",
        {"current_password": current, "new_password1": new1, "new_password2": new2},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="security-password"')
    assert message in html
    admin_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD)


def test_change_password_succeeds_and_keeps_the_session(admin_user: User, company: Company) -> None:
    client = _signed_in("owner")
    response = client.post(
        "/accounts/security/password/",
        {"current_password": PASSWORD, "new_password1": "Abcdef1!", "new_password2": "Abcdef1!"},
        HTTP_HX_REQUEST="true",
    )
    assert "Your password has been changed." in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.check_password("Abcdef1!")
    assert client.get("/dashboard/").status_code == 200  # still signed in
    assert AuditEntry.objects.filter(company=company, action=actions.PASSWORD_CHANGED).count() == 1


def test_regular_user_cannot_change_again_within_24_hours(
    htmx_client_for: Callable[[User], Client], member: User
) -> None:
    html = (
        htmx_client_for(member)
        .post(
            "/accounts/security/password/",
            {"current_password": PASSWORD, "new_password1": "Abcdef1!", "new_password2": "Abcdef1!"},
        )
        .content.decode()
    )
    assert "You changed your password less than 24 hours ago; try again later." in html


def test_generate_gives_a_policy_conforming_password(
    client_for: Callable[[User], Client], member: User
) -> None:
    seen = set()
    for _n in range(5):
        response = client_for(member).get("/accounts/security/password/generate/")
        password = response.json()["password"]
        seen.add(password)
        assert len(password) == 16
        for group in (string.ascii_uppercase, string.ascii_lowercase, string.digits):
            assert any(c in group for c in password)
        validate_password(password, member)
    assert len(seen) == 5
    assert "no-cache" in response["Cache-Control"]


# --- active sessions --------------------------------------------------------------------------------------------


def test_sessions_are_listed_with_the_current_one_marked(member: User) -> None:
    laptop = _signed_in("rui", agent="Mozilla/5.0 (Windows NT 10.0) Chrome/130.0 Safari/537.36")
    _signed_in("rui", agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Version/17.0 Mobile Safari/604.1")
    assert UserSession.objects.filter(user=member).count() == 2
    html = laptop.get(SECURITY_URL).content.decode()
    assert "Chrome on Windows" in html
    assert "Safari on iOS" in html
    assert html.count("This device") == 1
    assert "127.0.0.1" in html
    assert "Sign out other sessions" in html


def test_sign_out_other_sessions_really_ends_them(member: User, company: Company) -> None:
    mine = _signed_in("rui")
    other = _signed_in("rui")
    assert other.get("/accounts/me/").status_code == 200
    response = mine.post("/accounts/security/sessions/end-others/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="security-sessions"')
    assert "Signed out 1 other sessions." in html
    response = other.get("/accounts/me/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert mine.get("/accounts/me/").status_code == 200
    assert UserSession.objects.filter(user=member).count() == 1
    assert AuditEntry.objects.filter(company=company, action=actions.SESSIONS_ENDED).count() == 1


def test_sign_out_one_session(member: User) -> None:
    mine = _signed_in("rui")
    other = _signed_in("rui")
    third = _signed_in("rui")
    target = UserSession.objects.get(session_key=other.session.session_key)
    response = mine.post(f"/accounts/security/sessions/{target.uuid}/end/")
    assert response.status_code == 303
    assert other.get("/accounts/me/").status_code == 302
    assert third.get("/accounts/me/").status_code == 200
    # The current session is ended with Log out, not here.
    current = UserSession.objects.get(session_key=mine.session.session_key)
    assert mine.post(f"/accounts/security/sessions/{current.uuid}/end/").status_code == 404


def test_cannot_end_someone_elses_session(member: User, admin_user: User) -> None:
    theirs = _signed_in("owner")
    row = UserSession.objects.get(session_key=theirs.session.session_key)
    mine = _signed_in("rui")
    assert mine.post(f"/accounts/security/sessions/{row.uuid}/end/").status_code == 404
    assert theirs.get("/dashboard/").status_code == 200


def test_logout_drops_the_session_row(member: User) -> None:
    client = _signed_in("rui")
    client.get("/accounts/me/")
    assert UserSession.objects.filter(user=member).count() == 1
    client.post("/accounts/logout/")
    assert UserSession.objects.filter(user=member).count() == 0


# --- delete account (check 89) --------------------------------------------------------------------------------


def test_delete_needs_the_password_first(htmx_client_for: Callable[[User], Client], member: User) -> None:
    client = htmx_client_for(member)
    html = client.post(
        "/accounts/security/delete/confirm/", {"confirmation": "delete-account"}
    ).content.decode()
    assert "Enter your current password first." in html
    assert User.objects.get(pk=member.pk).is_active


def test_delete_wrong_password_then_wrong_word_deletes_nothing(
    htmx_client_for: Callable[[User], Client], member: User
) -> None:
    client = htmx_client_for(member)
    step1 = client.get(SECURITY_URL + "?edit=delete&block=delete").content.decode()
    assert "Delete your account" in step1
    assert "Continue" in step1
    wrong = client.post("/accounts/security/delete/", {"current_password": "Nope-123x"}).content.decode()
    assert "The current password is not correct." in wrong
    step2 = client.post("/accounts/security/delete/", {"current_password": PASSWORD}).content.decode()
    assert "Are you sure you want to delete your account?" in step2
    assert "To confirm, please type <strong>delete-account</strong> in the field below." in step2
    assert 'data-confirm-word="delete-account"' in step2
    for word in ("delete account", "DELETE-ACCOUNT", "delete-account ", ""):
        html = client.post("/accounts/security/delete/confirm/", {"confirmation": word}).content.decode()
        assert "Type delete-account exactly to confirm." in html or "This field is required." in html
    member.refresh_from_db()
    assert member.is_active
    assert member.username == "rui"


def test_delete_account_end_to_end(member: User, company: Company) -> None:
    client = _signed_in("rui")
    other = _signed_in("rui")
    assert client.post("/accounts/security/delete/", {"current_password": PASSWORD}).status_code == 303
    response = client.post("/accounts/security/delete/confirm/", {"confirmation": "delete-account"})
    assert response.status_code == 303
    assert response["Location"] == "/accounts/login/"
    assert "Your account has been deleted." in client.get("/accounts/login/").content.decode()
    assert "_auth_user_id" not in client.session
    assert other.get("/accounts/me/").status_code == 302  # every session ended

    # That login can no longer sign in.
    html = Client().post("/accounts/login/", {"login": "rui", "password": PASSWORD}).content.decode()
    assert "Incorrect login or password." in html

    gone = User.objects.get(pk=member.pk)
    assert not gone.is_active
    assert gone.username.startswith("deleted-")
    assert (gone.email, gone.first_name, gone.last_name, gone.phone) == ("", "", "", "")
    assert not gone.has_usable_password()
    assert not Membership.objects.filter(user=gone).exists()
    assert not PasswordHistory.objects.filter(user=gone).exists()
    assert not UserSession.objects.filter(user=gone).exists()
    # The audit log still reads with the old login.
    entry = AuditEntry.objects.get(company=company, action=actions.USER_DELETED)
    assert entry.actor_login == "rui"
    assert AuditEntry.objects.filter(company=company, actor_login="rui", action=actions.LOGGED_IN).exists()


def test_deleted_login_can_be_issued_again(member: User, company: Company) -> None:
    services.user_account_delete(user=member, confirmation="delete-account")
    again = make_user(company, [], login="rui")
    assert again.pk != member.pk


def test_delete_service_refuses_the_wrong_word(member: User) -> None:
    with pytest.raises(ValidationError, match=r"Type delete-account exactly to confirm\."):
        services.user_account_delete(user=member, confirmation="yes")
    assert User.objects.get(pk=member.pk).is_active


def test_delete_step_one_is_throttled(htmx_client_for: Callable[[User], Client], member: User) -> None:
    client = htmx_client_for(member)
    for _n in range(5):
        client.post("/accounts/security/delete/", {"current_password": "Nope-123x"})
    html = client.post("/accounts/security/delete/", {"current_password": PASSWORD}).content.decode()
    assert "Too many wrong passwords. Try again in 15 minutes." in html
    assert "Are you sure" not in html
