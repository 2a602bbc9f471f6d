"""End to end in a real browser: dark theme and back (check 80), and sign-in with an authenticator app (check 88)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from django.utils import timezone

from portal.accounts import twofactor
from portal.accounts.models import User
from portal.accounts.services import user_preferences_update
from portal.tenants.services import company_create
from tests.factories import PASSWORD, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _background(page: Any) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


def test_switch_to_dark_theme_and_back(page: Any, sign_in: Callable[[str, str], None]) -> None:
    company = company_create(name="Theme Co")
    user = make_user(company, [system_role(company, "admin")], login="theme-user")
    user_preferences_update(user=user, company=company, theme=User.Theme.LIGHT)
    sign_in("theme-user", PASSWORD)
    page.wait_for_url("**/dashboard/")
    light = _background(page)

    page.click("#user-menu summary")
    page.hover("#user-menu-appearance")
    with page.expect_response("**/accounts/me/theme/") as saved:
        page.click("[data-theme-choice=dark]")
    assert saved.value.status == 204
    assert page.locator("html").get_attribute("data-theme") == "dark"
    dark = _background(page)
    assert dark != light

    page.reload()  # kept on the account
    assert page.locator("html").get_attribute("data-theme") == "dark"
    assert _background(page) == dark
    user.refresh_from_db()
    assert user.theme == User.Theme.DARK

    page.goto("/accounts/security/")  # another page renders dark too
    assert _background(page) == dark

    page.click("#user-menu summary")
    page.hover("#user-menu-appearance")
    with page.expect_response("**/accounts/me/theme/"):
        page.click("[data-theme-choice=light]")
    page.reload()
    assert page.locator("html").get_attribute("data-theme") == "light"
    assert _background(page) == light


def test_sign_in_with_an_authenticator_app(page: Any, sign_in: Callable[[str, str], None]) -> None:
    company = company_create(name="TOTP Co")
    user = make_user(company, [system_role(company, "admin")], login="totp-user")
    tf = twofactor.two_factor_totp_start(user=user)
    secret = tf.totp_pending_secret
    earlier = pyotp.TOTP(secret).at(timezone.now() - datetime.timedelta(seconds=30))
    twofactor.two_factor_totp_confirm(user=user, company=company, code=earlier)

    sign_in("totp-user", PASSWORD)
    page.wait_for_url("**/accounts/login/verify/")
    assert "Enter the 6-digit code from your authenticator app." in page.locator("#verify-hint").inner_text()
    page.fill("#id_code", "000000")
    page.click("#verify-form button[type=submit]")
    assert "The code is not correct or has expired." in page.locator("#verify-form .errorlist").inner_text()

    page.fill("#id_code", pyotp.TOTP(secret).now())
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/dashboard/")
    assert page.locator("#page-title").inner_text() == "Dashboard"

    page.click("#user-menu summary")
    page.click("#user-menu-security")
    page.wait_for_url("**/accounts/security/")
    assert page.locator("#two-factor-status").inner_text() == "On"
    assert "Codes from your authenticator app are accepted." in page.locator("#two-factor-app").inner_text()
