"""The back office (Django admin): staff only; a company created there gets its System roles and departments."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from portal.accounts.models import Department, Role, User
from portal.tenants.models import Company


def test_portal_users_cannot_reach_the_back_office(
    client_for: Callable[[User], Client], admin_user: User
) -> None:
    response = client_for(admin_user).get("/admin/tenants/company/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_creates_a_company_with_roles_and_departments(db: None) -> None:
    staff = User.objects.create_superuser("root-bo", "root@example.com", "Root-pass-1")
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/tenants/company/add/",
        {"name": "Initech", "default_country": "ES", "time_zone": "Europe/Madrid", "is_active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    company = Company.objects.get(name="Initech")
    assert Role.objects.filter(company=company).count() == 4
    assert set(Department.objects.filter(company=company).values_list("kind", flat=True)) == {
        "admin",
        "first_line",
    }
    bad = client.post(
        "/admin/tenants/company/add/", {"name": "Bad", "default_country": "XX", "time_zone": "Mars/Base"}
    )
    assert bad.status_code == 200
    assert "XX is not a known ISO country code." in bad.content.decode()
    assert "Mars/Base is not a known time zone." in bad.content.decode()
