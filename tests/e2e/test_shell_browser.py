"""End to end in a real browser: sign in, dashboard, collapse the menu, reload, still collapsed, log out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from portal.tenants.services import company_create
from tests.factories import PASSWORD, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_collapse_menu_survives_reload_and_log_out(
    page: Any, sign_in: Callable[[str, str], None]
) -> None:
    company = company_create(name="Browser Co")
    make_user(company, [system_role(company, "admin")], login="browser-admin", first_name="Ada")

    sign_in("browser-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")
    assert page.locator("#page-title").inner_text() == "Dashboard"
    assert page.locator(".app-company").inner_text() == "Browser Co"
    assert page.locator("body").get_attribute("class") == "shell"
    assert page.locator(".app-menu-link .menu-text", has_text="Broadcast").is_visible()

    with page.expect_response("**/ui/menu/") as saved:
        page.click("#menu-toggle")
    assert saved.value.status == 204
    assert "menu-collapsed" in (page.locator("body").get_attribute("class") or "")
    assert not page.locator(".app-menu-link .menu-text", has_text="Broadcast").is_visible()

    page.reload()
    assert "menu-collapsed" in (page.locator("body").get_attribute("class") or "")

    page.click("#help-open")
    assert page.locator("#help-dialog").is_visible()
    assert "Need any help?" in page.locator("#help-dialog").inner_text()
    page.click("#help-dialog button")

    page.click("#user-menu summary")
    page.click("#logout-button")
    page.wait_for_url("**/accounts/login/")
    assert "You have signed out." in page.content()
    page.goto("/dashboard/")
    assert "/accounts/login/" in page.url


def test_wrong_password_shows_the_generic_error(page: Any, sign_in: Callable[[str, str], None]) -> None:
    company = company_create(name="Browser Co 2")
    make_user(company, [system_role(company, "admin")], login="browser-2")
    sign_in("browser-2", "Not-the-pass-1")
    assert page.locator("[role=alert]").inner_text() == "Incorrect login or password."
