"""Sign-in page and flow (guide §3, §4, Appendix 2; issue #3)."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.factories import PASSWORD

LOGIN_URL = "/accounts/login/"


def _login(client: Client, login: str, password: str, **extra: str) -> Any:
    return client.post(LOGIN_URL, {"login": login, "password": password, **extra})


@pytest.mark.django_db
def test_login_page_shows_the_guide_elements(client: Client) -> None:
    html = client.get(LOGIN_URL).content.decode()
    for text in ("Login", "Password", "Remember me", "Forgot password?", "Sign in", "Register", "Español"):
        assert text in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_sign_in_lands_on_the_dashboard_and_is_audited(
    client: Client, admin_user: User, company: Company
) -> None:
    response = _login(client, "OWNER", PASSWORD)  # logins are case-insensitive
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard:index")
    assert b"Dashboard" in response.content
    entry = AuditEntry.objects.get(company=company, action=actions.LOGGED_IN)
    assert entry.actor == admin_user
    assert entry.ip == "127.0.0.1"


def test_wrong_password_and_unknown_login_give_the_same_generic_error(
    client: Client, admin_user: User
) -> None:
    wrong = _login(client, "owner", "Wrong-pass-1").content.decode()
    unknown = _login(client, "nobody-here", "Wrong-pass-1").content.decode()
    for html in (wrong, unknown):
        assert "Incorrect login or password." in html
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action=actions.FAILED_LOGIN, actor_login="owner").count() == 1


def test_repeated_failures_lock_the_login_even_with_the_right_password(
    client: Client, admin_user: User
) -> None:
    for _ in range(5):
        _login(client, "owner", "Wrong-pass-1")
    html = _login(client, "owner", PASSWORD).content.decode()
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in html
    assert "_auth_user_id" not in client.session
    # Another login from the same address is not locked by someone else's failures.
    assert "Too many" not in _login(client, "someone-else", "x").content.decode()


def test_remember_me_makes_a_persistent_session(admin_user: User) -> None:
    short, long = Client(), Client()
    _login(short, "owner", PASSWORD)
    _login(long, "owner", PASSWORD, remember_me="on")
    assert short.session.get_expire_at_browser_close() is True
    assert long.session.get_expire_at_browser_close() is False


def test_disabled_user_cannot_sign_in(client: Client, admin_user: User) -> None:
    User.objects.filter(pk=admin_user.pk).update(is_active=False)
    assert "Incorrect login or password." in _login(client, "owner", PASSWORD).content.decode()


def test_logout_needs_post_and_is_audited(client_for, admin_user: User, company: Company) -> None:  # type: ignore[no-untyped-def]
    client = client_for(admin_user)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(company=company, action=actions.LOGGED_OUT).exists()


def test_csrf_is_enforced_on_login() -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(LOGIN_URL, {"login": "a", "password": "b"}).status_code == 403


def test_anonymous_user_is_sent_to_login(client: Client, db: None) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_admin_set_password_forces_a_change_before_any_page(client: Client, company: Company) -> None:
    from tests.factories import make_user, system_role

    make_user(company, [system_role(company, "admin")], login="newbie", must_change_password=True)
    _login(client, "newbie", PASSWORD)
    response = client.get("/dashboard/")
    assert response["Location"] == "/accounts/password/change-required/"
    response = client.post(
        "/accounts/password/change-required/",
        {"current_password": PASSWORD, "new_password1": "Fresh-pass-77", "new_password2": "Fresh-pass-77"},
    )
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 200


def test_expired_password_forces_a_change(client_for, admin_user: User) -> None:  # type: ignore[no-untyped-def]
    User.objects.filter(pk=admin_user.pk).update(
        password_changed_at=timezone.now() - datetime.timedelta(days=61)
    )
    response = client_for(admin_user).get("/dashboard/")
    assert response["Location"] == "/accounts/password/change-required/"


def test_user_inactive_for_31_days_is_locked_but_admin_is_not(
    client: Client, admin_user: User, broadcast_manager: User
) -> None:
    old = timezone.now() - datetime.timedelta(days=31)
    User.objects.filter(pk__in=[admin_user.pk, broadcast_manager.pk]).update(last_login=old)
    html = _login(client, "bm", PASSWORD).content.decode()
    assert "locked because it was not used for more than 30 days" in html
    assert User.objects.get(pk=broadcast_manager.pk).locked_at is not None
    assert _login(client, "owner", PASSWORD).status_code == 302


def test_idle_session_expires_after_60_minutes(client_for, admin_user: User) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = client_for(admin_user)
        assert client.get("/dashboard/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=59), tick=False):
        assert client.get("/dashboard/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=59 + 61), tick=False):
        response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_forgot_password_sends_a_working_reset_link(client: Client, admin_user: User) -> None:
    response = client.post("/accounts/password/reset/", {"email": admin_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+/)", str(mail.outbox[0].body))
    assert link is not None
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    weak = client.post(form_url, {"new_password1": "abcdefgh", "new_password2": "abcdefgh"})
    assert "at least 3 of these groups" in weak.content.decode()
    done = client.post(form_url, {"new_password1": "Brand-new-9", "new_password2": "Brand-new-9"})
    assert done.status_code == 302
    assert _login(Client(), "owner", "Brand-new-9").status_code == 302


def test_forgot_password_for_an_unknown_email_looks_the_same(client: Client, db: None) -> None:
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_language_switch_on_login_page_sets_spanish(client: Client, db: None) -> None:
    response = client.post("/accounts/language/", {"language": "es", "next": LOGIN_URL})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "es"
    assert client.post("/accounts/language/", {"language": "xx"}).status_code == 400
