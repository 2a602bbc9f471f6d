"""Contacts export (issue 6 item 7): background job, filter applied, formula protection, permissions, tenants."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook  # type: ignore[import-untyped]

from contacts.models import ContactExport
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.contacts.factories import make_attribute, make_contact

ClientFor = Callable[[User], Client]


def _download(client: Client, export: ContactExport) -> bytes:
    response = client.get(reverse("contacts:export-download", args=[export.uuid]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_csv_export_of_the_filtered_list_protects_formulas(
    company: Company, admin_user: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    """Only the filtered contacts; cells starting with = + - @ get an apostrophe; the phone stays as it is."""
    city = make_attribute(company, "City", "text")
    make_contact(
        company,
        "+12015550301",
        first_name="=cmd|' /C calc'!A0",
        attributes={city.key: "@SUM(1)"},
        tags=["b", "a"],
    )
    make_contact(company, "+12015550302", first_name="Other")
    client = client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("contacts:export-create"),
            {"format": "csv", "filter": "phone", "mode": "value", "q": "0301"},
        )
    export = ContactExport.objects.get(company=company)
    assert response["Location"] == reverse("contacts:export-detail", args=[export.uuid])
    assert (export.status, export.rows) == (ContactExport.Status.DONE, 1)
    rows = list(csv.reader(io.StringIO(_download(client, export).decode("utf-8-sig"))))
    assert rows[0][:7] == ["phoneNumber", "Name", "Surname", "Email", "Tags", "Opt-Out", "City"]
    assert rows[1][:7] == ["+12015550301", "'=cmd|' /C calc'!A0", "", "", "a, b", "", "'@SUM(1)"]
    assert len(rows) == 2
    page = client.get(reverse("contacts:export-detail", args=[export.uuid])).content.decode()
    assert reverse("contacts:export-download", args=[export.uuid]) in page
    assert AuditEntry.objects.filter(company=company, action="contact.exported").count() == 1


def test_xlsx_export_has_typed_cells_and_the_same_protection(
    company: Company, admin_user: User, client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    age = make_attribute(company, "Age", "number")
    make_contact(company, "+12015550311", first_name="-2+3", attributes={age.key: 42})
    client = client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("contacts:export-create"), {"format": "xlsx"})
    export = ContactExport.objects.get(company=company)
    sheet = load_workbook(io.BytesIO(_download(client, export))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:2] == ("+12015550311", "'-2+3")
    assert rows[1][6] == 42
    assert sheet.cell(row=2, column=2).data_type == "s"


def test_export_needs_export_entities_and_manage_contacts(
    company: Company,
    finance_manager: User,
    broadcast_manager: User,
    outsider: User,
    admin_user: User,
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Finance manager (Export Entities, no contacts) and Broadcast manager (contacts, no export) get 403."""
    for user in (finance_manager, broadcast_manager):
        assert client_for(user).post(reverse("contacts:export-create"), {"format": "csv"}).status_code == 403
    assert not ContactExport.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin_user).post(reverse("contacts:export-create"), {"format": "csv"})
    export = ContactExport.objects.get(company=company)
    for name in ("contacts:export-detail", "contacts:export-download"):
        assert client_for(outsider).get(reverse(name, args=[export.uuid])).status_code == 404
    assert (
        client_for(finance_manager).get(reverse("contacts:export-download", args=[export.uuid])).status_code
        == 403
    )


def test_export_progress_fragment_and_bad_filter(
    company: Company, admin_user: User, htmx_client_for: ClientFor, client_for: ClientFor
) -> None:
    export = ContactExport.objects.create(company=company, format="csv", status=ContactExport.Status.RUNNING)
    body = (
        htmx_client_for(admin_user)
        .get(reverse("contacts:export-detail", args=[export.uuid]))
        .content.decode()
    )
    assert body.strip().startswith('<div id="export-progress"')
    assert 'hx-trigger="every 1s"' in body
    response = client_for(admin_user).post(
        reverse("contacts:export-create"), {"format": "csv", "filter": "nope", "mode": "value", "q": "x"}
    )
    assert response.status_code == 303
    assert ContactExport.objects.count() == 1
