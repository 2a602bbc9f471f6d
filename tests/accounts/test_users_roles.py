"""Users and Roles section (guide §13; issue #4 items 1-2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from portal.accounts import permissions as p
from portal.accounts.models import Department, Membership, Role, User
from portal.accounts.users_services import (
    RoleData,
    UserData,
    company_user_create,
    company_user_delete,
    company_user_update,
    department_create,
    role_create,
    role_delete,
    role_update,
)
from portal.audit import actions
from portal.audit.models import AuditDetail, AuditEntry
from portal.tenants.models import Company
from tests.factories import PASSWORD, make_role, make_user, system_role

ClientFor = Callable[[User], Client]


def _data(company: Company, **overrides: object) -> UserData:
    fields: dict[str, object] = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "login": "ghopper",
        "email": "grace@example.com",
        "department": Department.objects.get(company=company, kind=Department.Kind.FIRST_LINE),
        "language": "en",
        "roles": (system_role(company, "broadcast_manager"),),
        "password": "Cobol-1959!",
    }
    fields.update(overrides)
    return UserData(**fields)  # type: ignore[arg-type]


def _form(company: Company, **overrides: object) -> dict[str, object]:
    form: dict[str, object] = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "department": Department.objects.get(company=company, kind=Department.Kind.FIRST_LINE).pk,
        "language": "es",
        "login": "ghopper",
        "password": "Cobol-1959!",
        "email": "grace@example.com",
        "is_active": "on",
        "roles": [system_role(company, "broadcast_manager").pk],
    }
    form.update(overrides)
    return form


# -- services -------------------------------------------------------------------------------------------------


def test_create_user_is_audited_without_the_password(company: Company, admin_user: User) -> None:
    user = company_user_create(company=company, actor=admin_user, data=_data(company))
    assert user.must_change_password is True
    entry = AuditEntry.objects.get(company=company, action=actions.USER_CREATED, target_id=str(user.pk))
    assert entry.actor == admin_user
    detail = entry.details.get()
    assert detail.operation == AuditDetail.Operation.INSERT
    assert detail.new_value is not None
    assert detail.new_value["username"] == "ghopper"
    assert "password" not in detail.new_value


def test_login_is_unique_case_insensitively_across_companies(
    company: Company, other_company: Company, admin_user: User, outsider: User
) -> None:
    with pytest.raises(ValidationError, match="This login is already taken"):
        company_user_create(company=company, actor=admin_user, data=_data(company, login="OUTSIDER"))


def test_roles_and_department_must_be_of_the_company(
    company: Company, other_company: Company, admin_user: User
) -> None:
    with pytest.raises(ValidationError, match="Choose roles of your own company"):
        company_user_create(
            company=company,
            actor=admin_user,
            data=_data(company, roles=(system_role(other_company, "admin"),)),
        )
    foreign_department = Department.objects.filter(company=other_company).first()
    with pytest.raises(ValidationError, match="Choose a department of your own company"):
        company_user_create(
            company=company, actor=admin_user, data=_data(company, department=foreign_department)
        )
    with pytest.raises(ValidationError, match="Choose at least one role"):
        company_user_create(company=company, actor=admin_user, data=_data(company, roles=()))


def test_no_restrictions_gives_the_admin_role(company: Company, admin_user: User) -> None:
    user = company_user_create(
        company=company, actor=admin_user, data=_data(company, roles=()), no_restrictions=True
    )
    membership = Membership.objects.get(user=user)
    assert membership.has_perm(p.USERS_MANAGE)
    assert membership.permission_codes == p.ALL_CODES


def test_update_changes_roles_at_once_and_keeps_an_admin(company: Company, admin_user: User) -> None:
    user = company_user_create(company=company, actor=admin_user, data=_data(company))
    membership = Membership.objects.get(user=user)
    assert not membership.has_perm(p.PAYMENTS_MANAGE)
    company_user_update(
        company=company,
        actor=admin_user,
        membership=membership,
        data=_data(company, roles=(system_role(company, "finance_manager"),), password=""),
    )
    assert Membership.objects.get(user=user).has_perm(p.PAYMENTS_MANAGE)
    own = Membership.objects.get(user=admin_user)
    with pytest.raises(ValidationError, match="must keep at least one enabled Admin"):
        company_user_update(
            company=company, actor=admin_user, membership=own,
            data=_data(company, login="owner", email="o@example.com", password=""),
        )  # fmt: skip


def test_delete_user_refuses_self_and_removes_others(
    company: Company, admin_user: User, viewer: User
) -> None:
    with pytest.raises(ValidationError, match="cannot delete your own account"):
        company_user_delete(
            company=company, actor=admin_user, membership=Membership.objects.get(user=admin_user)
        )
    company_user_delete(company=company, actor=admin_user, membership=Membership.objects.get(user=viewer))
    assert not User.objects.filter(pk=viewer.pk).exists()
    assert AuditEntry.objects.filter(company=company, action=actions.USER_DELETED).exists()


def test_only_admins_create_departments(company: Company, admin_user: User, broadcast_manager: User) -> None:
    department = department_create(company=company, actor=admin_user, name="Sales")
    assert department.company == company
    with pytest.raises(ValidationError, match="A department with this name already exists"):
        department_create(company=company, actor=admin_user, name="sales")
    with pytest.raises(ValidationError, match="Only Admin users can create departments"):
        department_create(company=company, actor=broadcast_manager, name="Support")


def test_role_rules(company: Company, admin_user: User) -> None:
    with pytest.raises(ValidationError, match="at most 40 characters"):
        role_create(
            company=company, actor=admin_user, data=RoleData("x" * 41, "", frozenset({p.DASHBOARD_VIEW}))
        )
    with pytest.raises(ValidationError, match="Choose at least one permission"):
        role_create(company=company, actor=admin_user, data=RoleData("Empty", "", frozenset()))
    with pytest.raises(ValidationError, match="Unknown permissions: nope"):
        role_create(company=company, actor=admin_user, data=RoleData("Bad", "", frozenset({"nope"})))
    with pytest.raises(ValidationError, match="A role with this name already exists"):
        role_create(
            company=company, actor=admin_user, data=RoleData("admin", "", frozenset({p.DASHBOARD_VIEW}))
        )
    with pytest.raises(ValidationError, match="System roles cannot be edited"):
        role_update(
            company=company, actor=admin_user, role=system_role(company, "admin"),
            data=RoleData("Admin", "", frozenset({p.DASHBOARD_VIEW})),
        )  # fmt: skip
    with pytest.raises(ValidationError, match="System roles cannot be deleted"):
        role_delete(company=company, actor=admin_user, role=system_role(company, "admin"))


def test_role_held_by_users_is_not_deleted(company: Company, admin_user: User, viewer: User) -> None:
    role = Role.objects.get(company=company, name="Viewer")
    with pytest.raises(ValidationError, match="1 users still have this role"):
        role_delete(company=company, actor=admin_user, role=role)
    spare = role_create(
        company=company, actor=admin_user, data=RoleData("Spare", "", frozenset({p.AUDIT_VIEW}))
    )
    role_delete(company=company, actor=admin_user, role=spare)
    assert not Role.objects.filter(pk=spare.pk).exists()
    assert AuditEntry.objects.filter(company=company, action=actions.ROLE_DELETED).exists()


# -- pages -----------------------------------------------------------------------------------------------------


def test_users_list_shows_the_guide_columns(
    client_for: ClientFor, admin_user: User, broadcast_manager: User
) -> None:
    html = client_for(admin_user).get("/users/").content.decode()
    for header in ("First name", "Middle name", "Last name", "Login", "E-mail", "Contact phone", "Created"):
        assert header in html
    assert "bm@example.com" in html
    assert "Page 1 of 1" in html


def test_users_list_htmx_returns_only_the_table(client_for: ClientFor, admin_user: User) -> None:
    response = client_for(admin_user).get("/users/?sort=login", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="user-table"')
    assert "<html" not in html
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]


def test_users_list_does_not_show_other_companies(
    client_for: ClientFor, admin_user: User, outsider: User
) -> None:
    html = client_for(admin_user).get("/users/").content.decode()
    assert "outsider@example.com" not in html


def test_users_pages_need_manage_users(
    client_for: ClientFor, finance_manager: User, admin_user: User
) -> None:
    client = client_for(finance_manager)
    target = admin_user.uuid
    for url in ("/users/", "/users/new/", f"/users/{target}/edit/", "/users/roles/", "/users/roles/new/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/users/{target}/delete/").status_code == 403


def test_other_company_user_and_role_are_404(client_for: ClientFor, admin_user: User, outsider: User) -> None:
    client = client_for(admin_user)
    foreign_role = Role.objects.filter(company=Membership.objects.get(user=outsider).company).first()
    assert foreign_role is not None
    assert client.get(f"/users/{outsider.uuid}/edit/").status_code == 404
    assert client.post(f"/users/{outsider.uuid}/delete/").status_code == 404
    assert client.get(f"/users/roles/{foreign_role.uuid}/edit/").status_code == 404
    assert client.post(f"/users/roles/{foreign_role.uuid}/delete/").status_code == 404
    assert client.get(f"/users/roles/new/?template={foreign_role.uuid}").status_code == 404
    assert User.objects.filter(pk=outsider.pk).exists()


def test_create_user_through_the_panel(client_for: ClientFor, admin_user: User, company: Company) -> None:
    client = client_for(admin_user)
    response = client.post("/users/new/", _form(company, new_department="Night shift", department=""))
    assert response.status_code == 303
    user = User.objects.get(username="ghopper")
    membership = Membership.objects.get(user=user)
    assert membership.department.name == "Night shift"  # type: ignore[union-attr]
    assert user.language == "es"
    # The new user must change the admin-set password at first sign-in.
    fresh = Client()
    fresh.post("/accounts/login/", {"login": "ghopper", "password": "Cobol-1959!"})
    assert fresh.get("/dashboard/")["Location"] == "/accounts/password/change-required/"


def test_user_panel_errors_come_back_in_the_htmx_fragment(
    client_for: ClientFor, admin_user: User, company: Company
) -> None:
    response = client_for(admin_user).post(
        "/users/new/", _form(company, password="abc", email="not-an-email", roles=[]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<form method="post" class="card panel" id="user-form"')
    assert "Enter a valid email address." in html
    assert "Choose at least one role, or tick No restrictions." in html
    assert not User.objects.filter(username="ghopper").exists()


def test_permissions_preview_counts(client_for: ClientFor, admin_user: User, company: Company) -> None:
    role = system_role(company, "broadcast_manager")
    html = (
        client_for(admin_user)
        .get(f"/users/permissions/?roles={role.pk}", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "Export (0 of 1)" in html
    assert "Contacts (3 of 3)" in html


def test_role_pages_create_from_template_and_edit(
    client_for: ClientFor, admin_user: User, company: Company
) -> None:
    client = client_for(admin_user)
    template = system_role(company, "finance_manager")
    html = client.get(f"/users/roles/new/?template={template.uuid}").content.decode()
    assert html.count("checked") == 7
    assert "Finance (3 of 3)" in html
    response = client.post(
        "/users/roles/new/", {"name": "Auditor", "permissions": [p.AUDIT_VIEW, p.EXPORT_ENTITIES]}
    )
    assert response.status_code == 303
    role = Role.objects.get(company=company, name="Auditor")
    response = client.post(
        f"/users/roles/{role.uuid}/edit/", {"name": "Auditors", "permissions": [p.AUDIT_VIEW]}
    )
    assert response.status_code == 303
    role.refresh_from_db()
    assert (role.name, role.permissions) == ("Auditors", [p.AUDIT_VIEW])
    listing = client.get("/users/roles/").content.decode()
    assert "Admin · System" in listing
    assert "Auditors" in listing


def test_roles_only_manager_is_sent_to_the_roles_tab(client_for: ClientFor, company: Company) -> None:
    user = make_user(company, [make_role(company, {p.ROLES_MANAGE})], login="rolesonly")
    client = client_for(user)
    assert client.get("/users/")["Location"] == "/users/roles/"
    assert client.get("/users/roles/").status_code == 200
    assert client.get("/users/new/").status_code == 403


def test_custom_role_limits_the_menu_and_pages(client_for: ClientFor, company: Company) -> None:
    role = make_role(company, {p.AUDIT_VIEW, p.DASHBOARD_VIEW}, name="Auditor")
    user = make_user(company, [role], login="auditor")
    client = client_for(user)
    html = client.get("/dashboard/").content.decode()
    assert 'data-menu="audit"' in html
    assert 'data-menu="users"' not in html
    assert client.get("/users/").status_code == 403
    assert PASSWORD


def test_two_factor_toggle_forces_enrolment_and_off_resets_it(
    client_for: ClientFor, admin_user: User, company: Company
) -> None:
    from portal.accounts.models import TwoFactor
    from portal.accounts.selectors import two_factor_enabled

    user = company_user_create(company=company, actor=admin_user, data=_data(company, two_factor=True))
    assert User.objects.get(pk=user.pk).require_two_factor is True
    User.objects.filter(pk=user.pk).update(must_change_password=False)
    client = client_for(User.objects.get(pk=user.pk))
    assert client.get("/dashboard/")["Location"] == "/accounts/two-factor/enrol/"
    # The user enrols (an authenticator app), then the admin switches the toggle off: the factor is reset.
    TwoFactor.objects.create(user=user, totp_secret="JBSWY3DPEHPK3PXP", totp_enabled_at=timezone.now())
    assert two_factor_enabled(user=user)
    company_user_update(
        company=company,
        actor=admin_user,
        membership=Membership.objects.get(user=user),
        data=_data(company, password="", two_factor=False),
    )
    assert not two_factor_enabled(user=user)
    assert User.objects.get(pk=user.pk).require_two_factor is False
    assert AuditEntry.objects.filter(
        company=company, action=actions.TWOFA_DISABLED, actor=admin_user
    ).exists()
    assert client.get("/dashboard/").status_code == 200
