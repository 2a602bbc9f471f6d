"""The import wizard through its pages with a real Celery worker (issue 6 item 5): the dry run and the import run
as jobs in another process, the page's progress partial is polled until the job is done, then the report counts."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from contacts.models import Contact, ContactImport, Tag
from contacts.services import imports
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.contacts.factories import make_attribute, make_contact
from tests.contacts.test_import import csv_bytes

ClientFor = Callable[[User], Client]
Status = ContactImport.Status
# Above imports.POOL_MIN_BYTES, so the worker's job also forks its checking processes.
ROWS = 9000


def _rows() -> list[list[str]]:
    rows = [["phoneNumber", "Name", "Age"]]
    rows += [[f"+1201555{i:04d}", f"Person number {i}", str(20 + i % 50)] for i in range(ROWS)]
    rows[5][2] = "abc"  # rejected: Age is a number (file row 6)
    rows[7][0] = "12"  # rejected: not a phone number (file row 8)
    rows.append(["+12015550010", "Later row", "77"])  # a number repeated further down: the last row wins (G6)
    return rows


def _poll_until_done(htmx: Client, uuid: str, seconds: float = 90) -> str:
    """Poll the progress partial as the page does (hx-trigger every 1s) until it sends the page on (HX-Redirect)."""
    url = reverse("contacts:import-progress", args=[uuid])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = htmx.get(url)
        assert response.status_code == 200
        if "HX-Redirect" in response:
            return str(response["HX-Redirect"])
        assert response.content.decode().strip().startswith('<div id="import-progress"')
        time.sleep(0.5)
    raise AssertionError("the import job did not finish in time")


@pytest.mark.worker
def test_import_runs_in_the_worker_and_the_page_shows_the_report(
    db_worker: str,
    company: Company,
    admin_user: User,
    client_for: ClientFor,
    htmx_client_for: ClientFor,
) -> None:
    assert len(csv_bytes(_rows())) > imports.POOL_MIN_BYTES
    age = make_attribute(company, "Age", "number")
    make_contact(company, "+12015550003", first_name="Stored", attributes={})
    client, htmx = client_for(admin_user), htmx_client_for(admin_user)
    response = client.post(
        reverse("contacts:import-start"),
        {
            "file": ContentFile(csv_bytes(_rows()), name="people.csv"),
            "kind": "regular",
            "tag_name": "worker-batch",
        },
    )
    assert response.status_code == 303
    uuid = str(ContactImport.objects.get(company=company).uuid)
    client.post(reverse("contacts:import-first-row", args=[uuid]), {"first_row": "2"})
    response = client.post(
        reverse("contacts:import-mapping", args=[uuid]),
        {"col_0": "phone", "col_1": "first_name", "col_2": age.key},
    )
    assert response["Location"] == reverse("contacts:import-duplicates", args=[uuid])
    # The dry run is a job of the worker; the page polls until it is done.
    assert _poll_until_done(htmx, uuid) == reverse("contacts:import-detail", args=[uuid])
    contact_import = ContactImport.objects.get(company=company)
    assert contact_import.status == Status.PREVIEWED
    assert (contact_import.rows_total, contact_import.rows_rejected, contact_import.rows_existing) == (
        ROWS + 1,
        3,  # rows 6 and 8, and row 12 repeated by the last row
        1,
    )
    assert Contact.objects.filter(company=company).count() == 1  # the dry run wrote nothing
    client.post(reverse("contacts:import-duplicates", args=[uuid]), {"duplicates": "enrich"})
    response = client.post(reverse("contacts:import-run", args=[uuid]))
    assert response["Location"] == reverse("contacts:contact-list") + f"?import={uuid}"
    # The Contacts page shows the import's progress and is sent on when the worker has finished.
    page = client.get(response["Location"]).content.decode()
    assert "import-progress" in page or "imported, " in page
    _poll_until_done(htmx, uuid)
    contact_import.refresh_from_db()
    assert contact_import.status == Status.IMPORTED, contact_import.error
    page = client.get(reverse("contacts:import-detail", args=[uuid])).content.decode()
    new = ROWS - 3  # 9000 rows, two rejected, one a number stored before the import
    assert f'data-count="imported">{new}<' in page
    assert 'data-count="updated">1<' in page
    assert 'data-count="skipped">0<' in page
    assert 'data-count="rejected">3<' in page
    assert Contact.objects.filter(company=company).count() == new + 1
    stored = Contact.objects.get(company=company, phone="+12015550003")
    assert (stored.first_name, stored.attributes) == ("Stored", {age.key: 23})  # enriched, name kept
    assert Contact.objects.get(company=company, phone="+12015550010").first_name == "Later row"
    tag = Tag.objects.get(company=company, name="worker-batch")
    assert tag.contacts.count() == new + 1
    report = client.get(reverse("contacts:import-report", args=[uuid]))
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()  # type: ignore[attr-defined]
    assert [line.split(",")[0] for line in lines[1:]] == ["6", "8", "12"]
