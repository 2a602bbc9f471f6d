"""Import contacts (guide §8.2, inventory §8.4): dry run, duplicate modes, rejected rows, failure, wizard pages."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook  # type: ignore[import-untyped]

from contacts.models import Contact, ContactImport, ImportPreset, Tag
from contacts.services import imports
from portal.accounts import permissions
from portal.accounts.models import User
from portal.tenants.models import Company
from tests import factories
from tests.contacts.factories import make_attribute, make_contact

T = "contacts.models.ContactAttribute.Type"
ClientFor = Callable[[User], Client]
Status = ContactImport.Status


def csv_bytes(rows: list[list[Any]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(company: Company, data: bytes, name: str, **kw: Any) -> ContactImport:
    return imports.import_upload(company=company, actor=None, file=ContentFile(data), name=name, **kw)


def prepare(
    company: Company,
    data: bytes,
    name: str,
    mapping: dict[int, str],
    *,
    first_row: int = 2,
    capture: Any,
    **kw: Any,
) -> ContactImport:
    """Upload, choose the first row, map and run the dry run (its task runs on commit, eagerly)."""
    contact_import = upload(company, data, name, **kw)
    imports.import_first_row_set(
        company=company, actor=None, contact_import=contact_import, first_row=first_row
    )
    with capture(execute=True):
        imports.import_mapping_set(
            company=company, actor=None, contact_import=contact_import, mapping=mapping
        )
    contact_import.refresh_from_db()
    return contact_import


def run(
    company: Company, contact_import: ContactImport, capture: Any, mode: str | None = None
) -> ContactImport:
    if mode is not None:
        imports.import_duplicates_set(company=company, actor=None, contact_import=contact_import, mode=mode)
    with capture(execute=True):
        imports.import_run_start(company=company, actor=None, contact_import=contact_import)
    contact_import.refresh_from_db()
    return contact_import


ROWS = [
    ["phoneNumber", "Name", "City", "Birthday", "Age"],
    ["+12015550101", "Ann", "Madrid", "01.02.1990", "34"],
    ["2015550102", "Bob", "Paris", "1985-07-20", "41"],
    ["not a phone", "Cid", "Rome", "", ""],
    ["+12015550104", "Dee", "Oslo", "2024-13-45", "20"],
    ["", "", "", "", ""],
    ["", "Eve", "Nice", "", ""],
    ["+12015550101", "Ann again", "Lyon", "", "35"],
    ["+12015550107", "Fay", "Bonn", "", "abc"],
]


@pytest.fixture
def attrs(company: Company) -> dict[str, Any]:
    return {
        "city": make_attribute(company, "City", "text"),
        "birthday": make_attribute(company, "Birthday", "date"),
        "age": make_attribute(company, "Age", "number"),
    }


def _mapping(attrs: dict[str, Any]) -> dict[int, str]:
    return {0: "phone", 1: "first_name", 2: attrs["city"].key, 3: attrs["birthday"].key, 4: attrs["age"].key}


def test_dry_run_over_a_csv_counts_every_row_and_writes_nothing(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """The preview stages the whole file: new, rejected (with row numbers and reasons), blank; no contact saved."""
    make_contact(company, "+12015550102")
    contact_import = prepare(
        company, csv_bytes(ROWS), "crm.csv", _mapping(attrs), capture=django_capture_on_commit_callbacks
    )
    assert contact_import.status == Status.PREVIEWED
    assert contact_import.rows_total == 7  # 8 rows below the header, one of them blank
    assert contact_import.rows_new == 1  # +12015550101 (kept from row 8)
    assert contact_import.rows_existing == 1
    assert contact_import.rows_rejected == 5
    assert contact_import.preview["blank"] == 1
    rejected = {row: reason for row, _raw, reason in contact_import.preview["rejected"]}
    assert sorted(rejected) == [2, 4, 5, 7, 9]
    assert rejected[2] == "Duplicate of row 8 in this file: the last row with a number is imported."
    assert rejected[4] == "“not a phone” is not a phone number."
    assert rejected[5] == "Birthday: “2024-13-45” is not a date; use DD.MM.YYYY or YYYY-MM-DD."
    assert rejected[7] == "No phone number."
    assert rejected[9] == "Age: enter a number."
    assert Contact.objects.filter(company=company).count() == 1
    assert contact_import.preview["new"] == ["+12015550101"]
    assert contact_import.preview["existing"] == ["+12015550102"]


def test_dry_run_over_an_xlsx_reads_typed_cells(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Numbers stored as numbers and real date cells are read as the phone and the date they show."""
    rows: list[list[Any]] = [
        ["phone", "name", "city", "birthday", "age"],
        [12015550111, "Num", "Madrid", datetime.date(1990, 2, 1), 34],
        ["+12015550112", "Txt", "Paris", "20.07.1985", 41.0],
        ["12", "Bad", "", "", ""],
    ]
    contact_import = prepare(
        company, xlsx_bytes(rows), "book.xlsx", _mapping(attrs), capture=django_capture_on_commit_callbacks
    )
    assert contact_import.file_format == "xlsx"
    assert (contact_import.rows_total, contact_import.rows_new, contact_import.rows_rejected) == (3, 2, 1)
    assert contact_import.preview["rejected"][0][0] == 4
    contact_import = run(company, contact_import, django_capture_on_commit_callbacks)
    assert contact_import.status == Status.IMPORTED
    first = Contact.objects.get(company=company, phone="+12015550111")
    assert first.attributes == {
        attrs["city"].key: "Madrid",
        attrs["birthday"].key: "1990-02-01",
        attrs["age"].key: 34,
    }
    assert (
        Contact.objects.get(company=company, phone="+12015550112").attributes[attrs["birthday"].key]
        == "1985-07-20"
    )


@pytest.mark.parametrize(
    ("mode", "name", "city", "age"),
    [
        ("skip", "Stored", "Madrid", None),
        ("override", "New name", None, 50),  # the empty City cell clears the stored value (G11)
        ("enrich", "Stored", "Madrid", 50),  # only empty values are filled
    ],
)
def test_duplicate_modes(
    company: Company,
    attrs: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
    mode: str,
    name: str,
    city: str | None,
    age: int | None,
) -> None:
    """Acceptance 21: not import leaves the contact as is, override replaces mapped values, enrich fills empties."""
    stored = make_contact(
        company, "+12015550121", first_name="Stored", attributes={attrs["city"].key: "Madrid"}
    )
    rows = [["phone", "name", "city", "birthday", "age"], ["+12015550121", "New name", "", "", "50"]]
    contact_import = prepare(
        company, csv_bytes(rows), "dup.csv", _mapping(attrs), capture=django_capture_on_commit_callbacks
    )
    contact_import = run(company, contact_import, django_capture_on_commit_callbacks, mode)
    stored.refresh_from_db()
    assert stored.first_name == name
    assert stored.attributes.get(attrs["city"].key) == city
    assert stored.attributes.get(attrs["age"].key) == age
    assert (contact_import.updated, contact_import.skipped) == ((0, 1) if mode == "skip" else (1, 0))


def test_import_writes_contacts_tags_and_report(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Acceptance 23: the tag goes on every imported contact; the job's counters match the preview."""
    existing_tag = Tag.objects.create(company=company, name="batch-1")
    make_contact(company, "+12015550102", tags=["batch-1"])
    contact_import = prepare(
        company,
        csv_bytes(ROWS),
        "crm.csv",
        _mapping(attrs),
        capture=django_capture_on_commit_callbacks,
        tag_name="Batch-1",
    )
    to_import = contact_import.rows_to_import
    contact_import = run(company, contact_import, django_capture_on_commit_callbacks, "enrich")
    assert (contact_import.imported, contact_import.updated, contact_import.rejected) == (1, 1, 5)
    assert contact_import.imported + contact_import.updated == to_import
    assert contact_import.tag == existing_tag
    ann = Contact.objects.get(company=company, phone="+12015550101")
    assert ann.first_name == "Ann again"  # G6: the last row of a number wins
    assert set(existing_tag.contacts.values_list("phone", flat=True)) == {"+12015550101", "+12015550102"}
    report = list(csv.reader(io.StringIO(contact_import.report.open("rb").read().decode("utf-8-sig"))))
    assert report[0] == ["Row", "Phone number", "Reason"]
    assert [r[0] for r in report[1:]] == ["2", "4", "5", "7", "9"]


def test_a_failed_import_leaves_the_database_as_before(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """One transaction: an error after the contacts were written rolls them back, and the import says so."""
    stored = make_contact(company, "+12015550102", first_name="Stored")
    contact_import = prepare(
        company, csv_bytes(ROWS), "crm.csv", _mapping(attrs), capture=django_capture_on_commit_callbacks
    )
    with (
        mock.patch.object(imports, "_write_report", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError, match="disk full"),
    ):
        run(company, contact_import, django_capture_on_commit_callbacks, "override")
    contact_import.refresh_from_db()
    assert contact_import.status == Status.FAILED
    assert contact_import.error.startswith("The import failed and nothing was imported.")
    assert list(Contact.objects.filter(company=company).values_list("phone", "first_name")) == [
        ("+12015550102", "Stored")
    ]
    stored.refresh_from_db()
    assert stored.first_name == "Stored"


def test_a_check_that_crashes_goes_back_to_step_2_instead_of_checking_forever(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """An unexpected error in the dry run (e.g. the stored file is gone) ends the check with an error; the page
    would otherwise poll a check that never ends. Nothing is written."""
    with (
        mock.patch.object(imports, "_write_report", side_effect=OSError("file gone")),
        pytest.raises(OSError, match="file gone"),
    ):
        prepare(
            company, csv_bytes(ROWS), "crm.csv", _mapping(attrs), capture=django_capture_on_commit_callbacks
        )
    contact_import = ContactImport.objects.get(company=company)
    assert contact_import.status == Status.UPLOADED
    assert not contact_import.is_busy
    assert contact_import.error.startswith("The check of the file failed.")
    assert not Contact.objects.filter(company=company).exists()


def test_parallel_parsing_gives_the_same_result(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """The worker pool (used for big files) stages exactly what in-process parsing stages."""
    rows = [["phone", "name", "city", "birthday", "age"]] + [
        [f"+1201555{2000 + i:04d}", f"N{i}", "X", "", str(i)] for i in range(5000)
    ]
    rows.append(["bad", "", "", "", ""])
    with mock.patch.object(imports, "POOL_MIN_BYTES", 0):
        contact_import = prepare(
            company, csv_bytes(rows), "big.csv", _mapping(attrs), capture=django_capture_on_commit_callbacks
        )
        assert imports._pool_size(1) >= 2 or imports._pool_size(1) == 0
        contact_import = run(company, contact_import, django_capture_on_commit_callbacks)
    assert (contact_import.imported, contact_import.rejected) == (5000, 1)
    assert contact_import.preview["rejected"][0][0] == 5002


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("contacts.txt", b"+12015550101\n", "Choose a .csv, .xls or .xlsx file."),
        ("empty.csv", b"", "The file is empty."),
        ("blank.csv", b"\n,,\n", "The file has no rows with data."),
        ("book.xlsx", b"phone\n+12015550101\n", "The file is not a valid Excel workbook."),
        ("fake.csv", b"PK\x03\x04rest", "The file is a spreadsheet, not a CSV file; save it as .xlsx."),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(
    company: Company, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(Exception) as info:  # noqa: PT011  (ValidationError; the message is what matters)
        upload(company, data, name)
    assert info.value.message_dict == {"file": [message]}  # type: ignore[attr-defined]


def test_encoding_is_detected_and_a_late_decoding_error_names_the_row(
    company: Company, django_capture_on_commit_callbacks: Any
) -> None:
    """A Windows-1252 file is read as such; UTF-8 chosen for a file broken further down sends it back to step 2."""
    rows = [["phone", "name"], ["+12015550131", "José"]]
    contact_import = upload(company, csv_bytes(rows, "cp1252", ";"), "win.csv")
    assert (contact_import.encoding, contact_import.delimiter) == ("cp1252", ";")
    assert contact_import.sample[1] == ["+12015550131", "José"]
    good = "phone,name\n" + "".join(f"+1201555{3000 + i},Ann\n" for i in range(4000))
    data = good.encode() + "+12015559999,Zoë\n".encode("latin-1")
    contact_import = prepare(
        company, data, "late.csv", {0: "phone", 1: "first_name"}, capture=django_capture_on_commit_callbacks
    )
    assert contact_import.encoding == "utf-8"
    assert contact_import.status == Status.UPLOADED
    assert "is not valid utf-8 text" in contact_import.error
    assert "Choose another encoding in step 2" in contact_import.error
    imports.import_first_row_set(
        company=company, actor=None, contact_import=contact_import, first_row=2, encoding="latin-1"
    )
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_mapping_set(
            company=company, actor=None, contact_import=contact_import, mapping={0: "phone", 1: "first_name"}
        )
    contact_import.refresh_from_db()
    assert (contact_import.status, contact_import.rows_new) == (Status.PREVIEWED, 4001)


def test_mapping_needs_the_phone_and_one_column_per_field(company: Company) -> None:
    contact_import = upload(company, csv_bytes(ROWS), "crm.csv")
    with pytest.raises(Exception) as info:  # noqa: PT011
        imports.import_mapping_set(
            company=company,
            actor=None,
            contact_import=contact_import,
            mapping={1: "first_name", 2: "first_name"},
        )
    assert info.value.message_dict["mapping"] == [  # type: ignore[attr-defined]
        "Name is mapped to columns B and C; choose one.",
        "Map a column to phoneNumber: it is the only required column.",
    ]


def test_a_saved_preset_maps_the_next_file_of_the_same_shape(
    company: Company, attrs: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """Acceptance 19: preset crm-export is applied to a later file with the same header row."""
    first = upload(company, csv_bytes(ROWS), "crm.csv")
    imports.import_first_row_set(company=company, actor=None, contact_import=first, first_row=2)
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_mapping_set(
            company=company,
            actor=None,
            contact_import=first,
            mapping=_mapping(attrs),
            preset_name="crm-export",
        )
    preset = ImportPreset.objects.get(company=company, name="crm-export")
    second = upload(company, csv_bytes([ROWS[0], ["+12015550141", "Kim", "Oslo", "", ""]]), "crm2.csv")
    imports.import_first_row_set(company=company, actor=None, contact_import=second, first_row=2)
    assert imports.preset_for(company=company, contact_import=second) == preset
    other = upload(company, csv_bytes([["tel", "x"], ["+12015550141", "Kim"]]), "other.csv")
    imports.import_first_row_set(company=company, actor=None, contact_import=other, first_row=2)
    assert imports.preset_for(company=company, contact_import=other) is None


def test_quick_import_tags_stored_numbers_without_duplicating_them(
    company: Company, admin_user: User, htmx_client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    """Acceptance 24: new numbers imported, stored ones tagged; the end leads to Broadcasts with a message."""
    stored = make_contact(company, "+12015550151", first_name="Kept")
    data = csv_bytes([["phoneNumber"], ["+12015550151"], ["+12015550152"], ["oops"]])
    client = htmx_client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("contacts:import-start"),
            {"file": ContentFile(data, name="phones.csv"), "kind": "quick", "tag_name": "promo"},
        )
    contact_import = ContactImport.objects.get(company=company)
    assert response["HX-Redirect"] == reverse("contacts:import-detail", args=[contact_import.uuid])
    assert (contact_import.status, contact_import.rows_new, contact_import.rows_rejected) == (
        Status.PREVIEWED,
        1,
        1,
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("contacts:import-run", args=[contact_import.uuid]))
    response = client.get(reverse("contacts:import-progress", args=[contact_import.uuid]))
    # On to New broadcast with the import's tag chosen as recipients (guide §8.2 L2221).
    tag = Tag.objects.get(company=company, name="promo")
    assert response["HX-Redirect"] == f"{reverse('broadcasts:broadcast-create')}?tag={tag.uuid}"
    form = client.get(response["HX-Redirect"], HTTP_HX_REQUEST="false").content.decode()
    assert f'<option value="{tag.uuid}" selected>promo</option>' in form
    assert Contact.objects.filter(company=company).count() == 2
    stored.refresh_from_db()
    assert stored.first_name == "Kept"
    assert set(Tag.objects.get(company=company, name="promo").contacts.values_list("phone", flat=True)) == {
        "+12015550151",
        "+12015550152",
    }
    assert "1 new numbers imported, 1 stored ones kept" in form


def test_quick_import_without_broadcast_permission_stays_on_its_report(
    company: Company, htmx_client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    role = factories.make_role(company, {permissions.CONTACTS_MANAGE}, name="Contacts only")
    user = factories.make_user(company, [role], login="contacts-only")
    client = htmx_client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("contacts:import-start"),
            {"file": ContentFile(csv_bytes([["+12015550161"]]), name="p.csv"), "kind": "quick"},
        )
    contact_import = ContactImport.objects.get(company=company)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("contacts:import-run", args=[contact_import.uuid]))
    response = client.get(reverse("contacts:import-progress", args=[contact_import.uuid]))
    assert response["HX-Redirect"] == reverse("contacts:import-detail", args=[contact_import.uuid])


def test_quick_import_refuses_a_file_with_more_columns(company: Company) -> None:
    with pytest.raises(Exception, match="only the column with phone numbers"):
        upload(company, csv_bytes(ROWS), "crm.csv", kind=ContactImport.Kind.QUICK)


def test_the_wizard_through_the_pages(
    company: Company,
    admin_user: User,
    client_for: ClientFor,
    attrs: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Steps 1-5 over HTTP: the header row stays out (acceptance 17), Import leads to Contacts with the report."""
    client = client_for(admin_user)
    response = client.post(
        reverse("contacts:import-start"),
        {"file": ContentFile(csv_bytes(ROWS), name="crm.csv"), "kind": "regular"},
    )
    contact_import = ContactImport.objects.get(company=company)
    uuid = contact_import.uuid
    assert response.status_code == 303
    page = client.get(reverse("contacts:import-first-row", args=[uuid])).content.decode()
    assert "Column E" in page
    assert "phoneNumber" in page
    client.post(reverse("contacts:import-first-row", args=[uuid]), {"first_row": "2"})
    page = client.get(reverse("contacts:import-mapping", args=[uuid])).content.decode()
    assert "Select attribute" in page
    response = client.post(reverse("contacts:import-mapping", args=[uuid]), {"col_1": "first_name"})
    assert "Map a column to phoneNumber" in response.content.decode()  # acceptance 18
    mapping = {f"col_{i}": v for i, v in _mapping(attrs).items()}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("contacts:import-mapping", args=[uuid]), mapping)
    assert response["Location"] == reverse("contacts:import-duplicates", args=[uuid])
    page = client.get(reverse("contacts:import-duplicates", args=[uuid])).content.decode()
    assert "0 records in the file have phone numbers that are stored already" in page
    client.post(reverse("contacts:import-duplicates", args=[uuid]), {"duplicates": "enrich"})
    page = client.get(reverse("contacts:import-detail", args=[uuid])).content.decode()
    assert 'data-count="to-import">2<' in page
    assert 'data-count="error">5<' in page
    assert "2024-13-45" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("contacts:import-run", args=[uuid]))
    assert response["Location"] == reverse("contacts:contact-list") + f"?import={uuid}"
    page = client.get(response["Location"]).content.decode()
    assert "2 imported, 0 updated, 0 skipped, 5 rejected" in page
    assert "+12015550101" in page
    assert "phoneNumber" not in set(Contact.objects.values_list("phone", flat=True))
    report = client.get(reverse("contacts:import-report", args=[uuid]))
    assert b"".join(report.streaming_content).decode("utf-8-sig").splitlines()[1].startswith("2,")  # type: ignore[attr-defined]
    history = client.get(reverse("contacts:import-start")).content.decode()
    assert "crm.csv" in history
    assert "rejected.csv" not in history  # view only, no download (guide §8.2 step 1)


def test_progress_fragment_polls_while_the_job_runs(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    contact_import = upload(company, csv_bytes(ROWS), "crm.csv")
    ContactImport.objects.filter(pk=contact_import.pk).update(status=Status.RUNNING)
    imports._reporter(contact_import)(0.42, 1234)
    response = htmx_client_for(admin_user).get(
        reverse("contacts:import-progress", args=[contact_import.uuid])
    )
    body = response.content.decode()
    assert body.strip().startswith('<div id="import-progress"')
    assert 'hx-trigger="every 1s"' in body
    assert "42% · 1234 rows read" in body
    assert "<html" not in body


def test_history_lists_the_last_five_files(company: Company, admin_user: User, client_for: ClientFor) -> None:
    for i in range(7):
        upload(company, csv_bytes(ROWS), f"file{i}.csv")
    page = client_for(admin_user).get(reverse("contacts:import-start")).content.decode()
    assert [f"file{i}.csv" in page for i in range(7)] == [False, False, True, True, True, True, True]


def test_other_tenants_and_roles(
    company: Company, outsider: User, finance_manager: User, client_for: ClientFor
) -> None:
    contact_import = upload(company, csv_bytes(ROWS), "crm.csv")
    for name in ("import-detail", "import-first-row", "import-mapping", "import-report"):
        assert (
            client_for(outsider).get(reverse(f"contacts:{name}", args=[contact_import.uuid])).status_code
            == 404
        )
    assert client_for(finance_manager).get(reverse("contacts:import-start")).status_code == 403
    response = client_for(outsider).post(reverse("contacts:import-run", args=[contact_import.uuid]))
    assert response.status_code == 404
