"""Contacts in a real browser (issue 6, the key flows): the five-step import wizard with a dry run that names every
rejected row, the report, then the contacts list filtered on a custom attribute and a mass edit of a selection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contacts.models import Contact, ContactImport
from tests.contacts.factories import make_attribute, make_contact
from tests.e2e.conftest import htmx_idle
from tests.factories import PASSWORD, make_company, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CSV = (
    "phoneNumber,City,Age\n"
    "+34612000101,Madrid,34\n"
    "612000102,Madrid,41\n"  # national form: the company's default country (Spain) makes it E.164
    "not a phone,Paris,20\n"
    "+34612000103,Oslo,abc\n"  # a number column with text: rejected with its row number
    "+34612000101,Madrid,35\n"  # the same number twice in one file: the last row wins
    "+34612000109,Rome,50\n"  # stored already: enriched (its empty City is filled, nothing else changes)
)


def test_import_wizard_report_filter_and_mass_edit(
    page: Any, sign_in: Callable[[str, str], None], tmp_path: Any
) -> None:
    company = make_company("Browser Contacts Co", default_country="ES")
    make_user(company, [system_role(company, "admin")], login="ct-admin")
    city = make_attribute(company, "City", "text")
    make_attribute(company, "Age", "number")
    make_contact(company, "+34612000109", first_name="Stored")
    path = tmp_path / "crm.csv"
    path.write_text(CSV, encoding="utf-8")

    sign_in("ct-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto("/contacts/import/")
    # Step 1: the file goes through the drop zone's input (the zone shows the chosen file's name).
    page.set_input_files("#id_file", str(path))
    page.click("#import-next")
    # Step 2: row 1 holds the headers, contacts start at row 2.
    page.locator("#import-grid").wait_for()
    page.check('input[name="first_row"][value="2"]')
    page.click("#import-first-row-next")
    # Step 3: map the columns (the header names are shown above each column).
    page.locator("#import-mapping-form").wait_for()
    page.select_option('select[name="col_0"]', label="phoneNumber")
    page.select_option('select[name="col_1"]', label="City")
    page.select_option('select[name="col_2"]', label="Age")
    page.click("#import-mapping-next")
    # Step 4: the dry run checked every row; one number of the file is stored already.
    page.locator("#import-duplicates-form").wait_for()
    assert "1 record in the file has a phone number that is stored already" in page.inner_text(
        "#import-matches"
    )
    page.check('input[name="duplicates"][value="enrich"]')
    page.click("#import-duplicates-next")
    # Step 5: the preview counts and each rejected row with its file row number and reason.
    counts = page.locator("#import-preview-counts")
    counts.wait_for()
    assert counts.locator('[data-count="to-import"]').inner_text() == "3"
    assert counts.locator('[data-count="error"]').inner_text() == "3"
    rejected = page.inner_text("#import-step")
    assert "5\t+34612000103\tAge: enter a number." in rejected
    assert "2\t+34612000101\tDuplicate of row 6 in this file" in rejected
    assert "4\tnot a phone\t" in rejected
    page.click("#import-run")

    page.wait_for_url("**/contacts/?import=*")
    done = page.locator("#contact-import-done")
    done.wait_for()
    assert "2 imported, 1 updated, 0 skipped, 3 rejected" in done.inner_text()
    assert ContactImport.objects.get().status == ContactImport.Status.IMPORTED
    stored = Contact.objects.get(phone="+34612000109")
    assert stored.first_name == "Stored"
    assert stored.attributes[city.key] == "Rome"

    # The unified filter on the custom attribute: City = Madrid.
    page.goto("/contacts/")
    page.click("#contact-filter summary")
    page.select_option("#contact-filter-column", label="City")
    page.fill("#contact-filter-q", "Madrid")
    page.click('#contact-filter button[type="submit"]')
    page.locator("#contact-active-filter").wait_for()
    htmx_idle(page)
    table = page.locator("#contact-table")
    assert "+34612000101" in table.inner_text()
    assert "+34612000102" in table.inner_text()
    assert "+34612000109" not in table.inner_text()

    # Mass edit of the filtered rows, picked one by one: the counter follows, the tag lands on both. The "More
    # actions" links were re-sent with the filtered table, so mass edit keeps the filter.
    page.click("#contact-more summary")
    page.click("#contact-mass-on")
    page.locator("#contact-mass-form").wait_for()
    htmx_idle(page)
    rows = page.locator("[data-mass-row]")
    assert rows.count() == 2
    rows.nth(0).check()
    rows.nth(1).check()
    assert page.inner_text("[data-mass-count]") == "2"
    page.fill("#id_add_tags", "madrid-vip")
    page.click("#contact-mass-save")
    page.locator(".flash-success", has_text="2 contacts were saved").wait_for()
    tagged = Contact.objects.filter(company=company, tags__name="madrid-vip")
    assert sorted(tagged.values_list("phone", flat=True)) == ["+34612000101", "+34612000102"]
