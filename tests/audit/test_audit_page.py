"""Audit page (guide §14; issue #4 item 3): columns, details, CSV, read-only, tenant and permission guards."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail, AuditEntry
from portal.audit.services import Change, audit_record
from portal.tenants.models import Company

ClientFor = Callable[[User], Client]


def _entry(company: Company, actor: User, **new: object) -> AuditEntry:
    return audit_record(
        company=company,
        actor=actor,
        action=actions.ROLE_CREATED,
        ip="163.172.249.55",
        changes=[Change("accounts_role", "insert", "1005", None, {"id": 1005, "name": "VA_http", **new})],
    )


def test_audit_list_shows_the_guide_columns(
    client_for: ClientFor, admin_user: User, company: Company
) -> None:
    _entry(company, admin_user)
    html = client_for(admin_user).get("/audit/").content.decode()
    for header in ("Date &amp; Time", "User", "IP Address", "Logged Action"):
        assert header in html
    assert "163.172.249.55/32" in html
    assert "Added new role" in html


def test_audit_list_filters_by_action_label(
    client_for: ClientFor, admin_user: User, company: Company
) -> None:
    _entry(company, admin_user)
    audit_record(company=company, actor=admin_user, action=actions.LOGGED_OUT)
    html = (
        client_for(admin_user)
        .get("/audit/?filter=action&q=Logged+out", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert html.lstrip().startswith('<div id="audit-table"')
    assert "Logged out" in html
    assert "Added new role" not in html


def test_details_fragment_and_csv(client_for: ClientFor, admin_user: User, company: Company) -> None:
    entry = _entry(company, admin_user, note="=HYPERLINK(1)")
    client = client_for(admin_user)
    fragment = client.get(f"/audit/{entry.uuid}/details/", HTTP_HX_REQUEST="true").content.decode()
    assert "This event has 1 line of detail" in fragment
    assert "VA_http" in fragment
    assert "<html" not in fragment
    response = client.get(f"/audit/{entry.uuid}/details.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Table", "Operation", "Object ID", "Old value", "New value"]
    assert rows[1][:3] == ["accounts_role", "Insert", "1005"]
    assert '"name": "VA_http"' in rows[1][4]


def test_other_company_entry_is_404(
    client_for: ClientFor, admin_user: User, outsider: User, other_company: Company
) -> None:
    foreign = _entry(other_company, outsider)
    client = client_for(admin_user)
    assert client.get(f"/audit/{foreign.uuid}/details/").status_code == 404
    assert client.get(f"/audit/{foreign.uuid}/details.csv").status_code == 404
    assert "VA_http" not in client.get("/audit/").content.decode()


def test_audit_needs_view_audit(
    client_for: ClientFor, finance_manager: User, admin_user: User, company: Company
) -> None:
    entry = _entry(company, admin_user)
    client = client_for(finance_manager)
    assert client.get("/audit/").status_code == 403
    assert client.get(f"/audit/{entry.uuid}/details/").status_code == 403
    assert client.get(f"/audit/{entry.uuid}/details.csv").status_code == 403


def test_audit_is_read_only_in_the_back_office(admin_user: User, company: Company) -> None:
    entry = _entry(company, admin_user)
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("root-bo", "root@example.com", "Root-pass-1")
    admin = site._registry[AuditEntry]
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request, entry)
    assert not admin.has_delete_permission(request, entry)
    assert not site._registry.get(AuditDetail)  # details are only an inline of their entry
    # There is no write path in the portal either: only GET routes exist.
    assert Client().post(f"/audit/{entry.uuid}/details/").status_code in (302, 405)
