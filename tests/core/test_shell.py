"""The page shell: menu by permission, not-available sections, menu state, company header (guide §4, §18)."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from portal.accounts.models import User
from portal.tenants.models import Company

ALL_ITEMS = [
    "Dashboard", "Broadcast", "Contacts", "Conversations", "Finance", "Statistics", "Assets", "Users", "Audit",
    "API Accesses", "2FA Service", "Account settings", "Help",
]  # fmt: skip


def _menu(html: str) -> list[str]:
    import re

    return re.findall(r'data-menu="([a-z]+)"', html)


def test_admin_sees_every_section_of_the_guide(
    client_for: Callable[[User], Client], admin_user: User
) -> None:
    html = client_for(admin_user).get("/dashboard/").content.decode()
    for label in ALL_ITEMS:
        assert label in html
    assert _menu(html) == [
        "dashboard", "broadcasts", "contacts", "conversations", "finance", "statistics", "assets", "users",
        "audit", "api", "twofa", "account", "help",
    ]  # fmt: skip
    assert "Need any help?" in html


def test_menu_shows_only_what_the_roles_allow(
    client_for: Callable[[User], Client], finance_manager: User
) -> None:
    items = _menu(client_for(finance_manager).get("/dashboard/").content.decode())
    assert items == ["dashboard", "finance", "statistics", "account", "help"]


def test_section_not_built_yet_is_an_honest_page(
    client_for: Callable[[User], Client], admin_user: User
) -> None:
    response = client_for(admin_user).get("/soon/conversations/")
    assert response.status_code == 200
    assert "not available yet" in response.content.decode()
    assert client_for(admin_user).get("/soon/dashboard/").status_code == 404  # built sections have real pages
    assert client_for(admin_user).get("/soon/nonsense/").status_code == 404


def test_section_outside_the_roles_is_403(
    client_for: Callable[[User], Client], finance_manager: User
) -> None:
    assert client_for(finance_manager).get("/soon/conversations/").status_code == 403


def test_dashboard_needs_its_permission(client_for: Callable[[User], Client], company: Company) -> None:
    from tests.factories import make_role, make_user

    user = make_user(company, [make_role(company, {"finance.payments"})], login="payonly")
    client = client_for(user)
    assert client.get("/dashboard/").status_code == 403
    # The start page sends such a user to the first section the roles allow.
    assert client.get("/")["Location"] == "/soon/finance/"


def test_menu_collapse_is_kept_on_the_account(client_for: Callable[[User], Client], admin_user: User) -> None:
    client = client_for(admin_user)
    assert "menu-collapsed" not in client.get("/dashboard/").content.decode()
    assert client.post("/ui/menu/", {"collapsed": "1"}, HTTP_HX_REQUEST="true").status_code == 204
    assert 'class="shell menu-collapsed"' in client.get("/dashboard/").content.decode()
    client.post("/ui/menu/", {"collapsed": "0"})
    assert "menu-collapsed" not in client.get("/dashboard/").content.decode()


def test_menu_toggle_needs_csrf(admin_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post("/ui/menu/", {"collapsed": "1"}).status_code == 403


def test_every_response_names_the_company(
    client_for: Callable[[User], Client], admin_user: User, company: Company
) -> None:
    response = client_for(admin_user).get("/dashboard/", HTTP_HX_REQUEST="true")
    assert response["X-Portal-Company"] == str(company.uuid)
    assert company.name in response.content.decode()


def test_user_without_company_gets_403(client: Client, db: None) -> None:
    user = User.objects.create_user("lonely", "lonely@example.com", "Lonely-pass-1")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 403
