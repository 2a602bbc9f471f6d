"""In a browser: an admin creates a role and a user with it; that user sees only the permitted menu items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from portal.tenants.services import company_create
from tests.factories import PASSWORD, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_creates_role_and_user_who_sees_only_permitted_sections(
    page: Any, sign_in: Callable[[str, str], None]
) -> None:
    company = company_create(name="Roles Co")
    make_user(company, [system_role(company, "admin")], login="roles-admin")
    sign_in("roles-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")

    page.click("[data-menu=users]")
    page.click("nav.tabs >> text=Roles")
    page.wait_for_url("**/users/roles/")
    page.click("#role-new")
    page.fill("#id_name", "Auditor")
    assert page.locator("[data-counter-for=id_name]").inner_text() == "7 / 40"
    page.check("input[name=permissions][value='dashboard.view']")
    page.check("input[name=permissions][value='audit.view']")
    page.click("#role-form button[type=submit]")
    page.wait_for_url("**/users/roles/")
    assert "Auditor" in page.locator("#role-table").inner_text()

    page.click("nav.tabs >> text=Users")
    page.wait_for_url("**/users/")
    page.click("#user-new")
    page.fill("#id_first_name", "Ann")
    page.fill("#id_last_name", "Auditor")
    page.select_option("#id_department", label="First line support")
    page.fill("#id_login", "ann")
    page.fill("#id_password", "Ann-pass-2026")
    page.fill("#id_email", "ann@example.com")
    page.click("[data-tab=user-role]")
    page.get_by_label("Auditor").check()
    page.wait_for_selector("#permission-groups >> text=Audit (1 of 1)")
    page.click("#user-form button[type=submit]")
    page.wait_for_url("**/users/")
    assert "ann@example.com" in page.locator("#user-table").inner_text()

    page.click("#user-menu summary")
    page.click("#logout-button")
    page.wait_for_url("**/accounts/login/")
    sign_in("ann", "Ann-pass-2026")
    page.wait_for_url("**/password/change-required/")
    page.fill("#id_current_password", "Ann-pass-2026")
    page.fill("#id_new_password1", "Ann-fresh-2027")
    page.fill("#id_new_password2", "Ann-fresh-2027")
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    items = page.locator("[data-menu]").evaluate_all("els => els.map(e => e.dataset.menu)")
    assert items == ["dashboard", "audit", "account", "help"]
    page.goto("/users/")
    assert "Access denied" in page.content()
