"""Contacts pages: list with attribute columns, forms, htmx fragments, tenants (404) and permissions (403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactAttribute, ContactOptOut, OptOutWord, Target
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.contacts.factories import make_attribute, make_contact

T = ContactAttribute.Type
ClientFor = Callable[[User], Client]


def test_list_shows_attribute_columns_and_filters_on_them(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """One column per custom attribute; a filter on a number attribute by range narrows the rows."""
    age = make_attribute(company, "Age", T.NUMBER)
    make_contact(company, "+12015550101", first_name="Young", attributes={age.key: 17})
    make_contact(company, "+12015550102", first_name="Adult", attributes={age.key: 30})
    client = client_for(admin_user)
    response = client.get(reverse("contacts:contact-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert ">Age<" in body
    assert "Young" in body
    assert "Adult" in body
    response = client.get(
        reverse("contacts:contact-list"), {"filter": age.key, "mode": "range", "from": "18"}
    )
    body = response.content.decode()
    assert "Adult" in body
    assert "Young" not in body


def test_a_filtered_table_fragment_resends_the_filtered_actions(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """The htmx table fragment carries "More actions" out of band, so mass edit and export keep the new filter."""
    age = make_attribute(company, "Age", T.NUMBER)
    client = client_for(admin_user)
    query = {"filter": age.key, "mode": "range", "from": "18"}
    body = client.get(
        reverse("contacts:contact-list"), query, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="contact-more" hx-swap-oob="true"' in body
    assert f'href="?filter={age.key}&amp;mode=range&amp;from=18&amp;mass=1" id="contact-mass-on"' in body
    assert '<input type="hidden" name="from" value="18">' in body
    page = client.get(reverse("contacts:contact-list"), query).content.decode()
    assert page.count('id="contact-more"') == 1
    assert "hx-swap-oob" not in page


def test_list_sorts_by_an_attribute_and_pages_with_keyset(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Sorting by a JSON attribute walks every row once across pages, empty values last when ascending."""
    age = make_attribute(company, "Age", T.NUMBER)
    for i in range(60):
        make_contact(company, f"+1201555{1000 + i}", attributes={age.key: i % 7} if i % 5 else {})
    client = client_for(admin_user)
    seen: list[str] = []
    url = reverse("contacts:contact-list") + f"?sort={age.key}"
    from urllib.parse import parse_qsl

    from contacts.selectors import contact_list, contact_spec
    from portal.core.listing import list_page

    page = list_page(contact_list(company=company), contact_spec(company=company), {"sort": age.key})
    while True:
        seen.extend(obj.phone for obj, _cells in page.rows)
        if not page.next_url:
            break
        page = list_page(
            contact_list(company=company), contact_spec(company=company), dict(parse_qsl(page.next_url[1:]))
        )
    assert len(seen) == 60 == len(set(seen))
    values = [Contact.objects.get(phone=p).attributes.get(age.key) for p in seen]
    numbers = [v for v in values if v is not None]
    assert numbers == sorted(numbers)
    assert values[-12:] == [None] * 12
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("query", "built"),
    [
        ({"sort": "{key}"}, True),
        ({"sort": "-{key}"}, True),
        ({"filter": "{key}", "mode": "range", "from": "18"}, True),
        ({"filter": "{key}", "mode": "empty"}, True),
        ({"filter": "{key}", "mode": "value", "q": "18"}, False),  # a GIN containment query
        ({"sort": "phone"}, False),
    ],
)
def test_sorting_a_large_list_by_an_attribute_builds_its_index(
    company: Company,
    admin_user: User,
    client_for: ClientFor,
    monkeypatch: pytest.MonkeyPatch,
    query: dict[str, str],
    built: bool,
) -> None:
    """contacts.indexes: a slot's sort index is built on demand, when a large company sorts or range-filters by it."""
    from django.db import connection

    from contacts import indexes

    monkeypatch.setattr(indexes, "LARGE_COMPANY", 3)
    age = make_attribute(company, "Age", T.NUMBER)
    for i in range(4):
        make_contact(company, f"+1201555{1000 + i}", attributes={age.key: 20 + i})
    assert not indexes.slot_index_exists(age.slot)  # creating the attribute built nothing
    with connection.cursor() as cursor:  # a CREATE INDEX in the test's transaction needs the FK checks done
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    params = {name: value.format(key=age.key) for name, value in query.items()}
    response = client_for(admin_user).get(reverse("contacts:contact-list"), params)
    assert response.status_code == 200
    assert indexes.slot_index_exists(age.slot) is built  # the build task ran (eager Celery in tests)


def test_a_small_company_sorting_by_an_attribute_builds_no_index(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    from contacts import indexes

    age = make_attribute(company, "Age", T.NUMBER)
    make_contact(company, attributes={age.key: 30})
    assert client_for(admin_user).get(reverse("contacts:contact-list"), {"sort": age.key}).status_code == 200
    assert not indexes.slot_index_exists(age.slot)


def test_htmx_list_request_gets_only_the_table(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    make_contact(company, first_name="Frag")
    response = htmx_client_for(admin_user).get(reverse("contacts:contact-list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="contact-table"' in body
    assert "Frag" in body
    assert "<html" not in body
    assert 'id="page-title"' not in body


def test_create_contact_with_tags_and_attribute(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Acceptance 1, 4, 11: phone only saves; a new Number attribute is an input; tags are created inline."""
    kids = make_attribute(company, "kids", T.NUMBER)
    client = client_for(admin_user)
    form = client.get(reverse("contacts:contact-create")).content.decode()
    assert f'name="{kids.key}"' in form
    response = client.post(
        reverse("contacts:contact-create"), {"phone": "201-555-0142", "tags": "VIP, new", kids.key: "2"}
    )
    assert response.status_code == 303
    contact = Contact.objects.get(company=company)
    assert contact.phone == "+12015550142"
    assert contact.attributes == {kids.key: 2}
    assert sorted(t.name for t in contact.tags.all()) == ["VIP", "new"]
    listing = client.get(reverse("contacts:contact-list")).content.decode()
    assert "VIP +1" in listing or "new +1" in listing


def test_create_contact_errors_are_shown_on_fields_in_the_fragment(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    age = make_attribute(company, "Age", T.NUMBER)
    response = htmx_client_for(admin_user).post(
        reverse("contacts:contact-create"), {"phone": "", age.key: "abc"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Enter a phone number." in body
    assert "Age: enter a number." in body
    assert "<html" not in body
    assert not Contact.objects.exists()


def test_edit_contact_shows_rcs_read_only_and_records_optout(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Acceptance 5-6: RCS fields read-only, Save changes / Delete contact; a WhatsApp whole-channel opt-out."""
    contact = make_contact(company)
    client = client_for(admin_user)
    body = client.get(reverse("contacts:contact-edit", args=[contact.uuid])).content.decode()
    assert "RCS capability last checked" in body
    assert "Save changes" in body
    assert "Delete contact" in body
    response = client.post(
        reverse("contacts:contact-optout-add", args=[contact.uuid]), {"channel": "whatsapp", "sender_id": ""}
    )
    assert response.status_code == 303
    optout = ContactOptOut.objects.get(contact=contact)
    assert (optout.channel, optout.sender_id, optout.created_by) == ("whatsapp", "", admin_user)
    body = client.get(reverse("contacts:contact-edit", args=[contact.uuid])).content.decode()
    assert "Whole channel" in body
    assert admin_user.username in body


def test_mass_edit_page_and_delete_all_refused(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Acceptance 7 and 9 through the page: selected rows get a tag; "all records" cannot be deleted."""
    contacts = [make_contact(company) for _ in range(4)]
    client = client_for(admin_user)
    page = client.get(reverse("contacts:contact-list") + "?mass=1").content.decode()
    assert 'id="contact-mass-form"' in page
    assert "data-mass-row" in page
    response = client.post(
        reverse("contacts:contact-mass-edit"),
        {"scope": "selected", "selected": [str(c.uuid) for c in contacts[:3]], "add_tags": "dog_owners",
         "action": "save"},
    )  # fmt: skip
    assert response.status_code == 303
    assert Contact.objects.filter(tags__name="dog_owners").count() == 3
    response = client.post(reverse("contacts:contact-mass-edit"), {"scope": "all", "action": "delete"})
    assert response["Location"] == reverse("contacts:contact-list") + "?mass=1"
    assert "Deleting all contacts at once is not allowed" in client.get(response["Location"]).content.decode()
    assert Contact.objects.filter(company=company).count() == 4


def test_attribute_manager_create_rename_delete(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    client = client_for(admin_user)
    body = client.get(reverse("contacts:attribute-create")).content.decode()
    for label in ("E-mail", "Text", "Text list of values", "Number", "Date", "Logical yes / no"):
        assert label in body
    response = client.post(reverse("contacts:attribute-create"), {"name": "", "type": ""})
    assert "Enter a name." in response.content.decode()
    assert "Choose a type." in response.content.decode()
    response = client.post(
        reverse("contacts:attribute-create"), {"name": "Gender", "type": "list", "options": "m\nf"}
    )
    assert response.status_code == 303
    gender = ContactAttribute.objects.get(company=company, name="Gender")
    assert gender.options == ["m", "f"]
    client.post(reverse("contacts:attribute-edit", args=[gender.uuid]), {"name": "Sex", "options": "m\nf\nx"})
    gender.refresh_from_db()
    assert (gender.name, gender.type, gender.options) == ("Sex", "list", ["m", "f", "x"])
    listing = client.get(reverse("contacts:attribute-list")).content.decode()
    assert "cannot be removed" in listing  # Phone number has no delete control
    client.post(reverse("contacts:attribute-delete", args=[gender.uuid]))
    assert not ContactAttribute.objects.filter(pk=gender.pk).exists()


def test_target_pages_create_count_duplicate(
    company: Company, broadcast_manager: User, client_for: ClientFor, htmx_client_for: ClientFor
) -> None:
    age = make_attribute(company, "Age", T.NUMBER)
    for a in (10, 20, 30):
        make_contact(company, attributes={age.key: a})
    client = client_for(broadcast_manager)
    filters = {"f-0-key": age.key, "f-0-mode": "range", "f-0-from": "15"}
    count = htmx_client_for(broadcast_manager).post(reverse("contacts:target-count"), filters)
    assert "2 contacts match" in count.content.decode()
    assert "<form" not in count.content.decode()
    response = client.post(reverse("contacts:target-create"), {"name": "Adults", **filters, "action": "save"})
    assert response.status_code == 303
    target = Target.objects.get(company=company)
    assert target.filters == [{"key": age.key, "mode": "range", "from": "15"}]
    client.post(reverse("contacts:target-duplicate", args=[target.uuid]))
    listing = client.get(reverse("contacts:target-list")).content.decode()
    assert "Adults (copy)" in listing
    assert "Age" in listing


def test_targets_table_summarises_the_filters_and_sends_a_selection_to_broadcasts(
    company: Company, broadcast_manager: User, client_for: ClientFor, htmx_client_for: ClientFor
) -> None:
    """Guide §8.3: the Filters column reads as criteria; selected rows go to New broadcast (acceptance 15)."""
    gender = make_attribute(company, "Gender", T.TEXT)
    age = make_attribute(company, "Age", T.NUMBER)
    women = services.target_create(
        company=company,
        actor=None,
        name="Women 18-25",
        filters=[
            {"key": gender.key, "mode": "value", "q": "f"},
            {"key": age.key, "mode": "range", "from": "18", "to": "25"},
        ],
    )
    no_email = services.target_create(
        company=company, actor=None, name="No e-mail", filters=[{"key": "email", "mode": "empty"}]
    )
    services.target_create(company=company, actor=None, name="Everyone", filters=[])
    client = client_for(broadcast_manager)
    body = htmx_client_for(broadcast_manager).get(reverse("contacts:target-list")).content.decode()
    assert "Gender: f; Age from 18 to 25" in body
    assert "Email is empty" in body
    assert "All contacts" in body
    assert 'id="target-select-form"' in body
    assert body.count('form="target-select-form"') == 3  # one checkbox per row
    response = client.get(
        reverse("contacts:target-to-broadcasts"), {"selected": [str(women.uuid), str(no_email.uuid)]}
    )
    assert response.status_code == 302
    assert response["Location"] == (
        f"{reverse('broadcasts:broadcast-create')}?target={women.uuid}&target={no_email.uuid}"
    )
    broadcast_form = client.get(response["Location"]).content.decode()
    for chosen in (women, no_email):
        assert f'<option value="{chosen.uuid}" selected>{chosen.name}</option>' in broadcast_form
    # Nothing selected: back to the table with an error, not an empty broadcast.
    response = client.get(reverse("contacts:target-to-broadcasts"))
    assert response["Location"] == reverse("contacts:target-list")
    # The edit form's To broadcasts opens the same New broadcast form with this target.
    form = client.get(reverse("contacts:target-edit", args=[women.uuid])).content.decode()
    assert (
        f'href="{reverse("broadcasts:broadcast-create")}?target={women.uuid}" id="target-to-broadcasts"'
        in form
    )


def test_to_broadcasts_with_another_company_target_is_404_and_needs_the_permission(
    company: Company, outsider: User, finance_manager: User, client_for: ClientFor
) -> None:
    target = services.target_create(company=company, actor=None, name="Ours", filters=[])
    url = reverse("contacts:target-to-broadcasts")
    assert client_for(outsider).get(url, {"selected": [str(target.uuid)]}).status_code == 404
    assert client_for(finance_manager).get(url, {"selected": [str(target.uuid)]}).status_code == 403


def test_optout_word_dates_are_in_the_company_time_zone(
    company: Company, broadcast_manager: User, client_for: ClientFor
) -> None:
    company.time_zone = "Europe/Madrid"
    company.save()
    client = client_for(broadcast_manager)
    response = client.post(
        reverse("contacts:word-create"),
        {
            "word": "STOP",
            "channel": "sms",
            "effective_from": "2026-07-01T00:00",
            "effective_till": "2026-06-01T00:00",
        },
    )
    assert "Effective till must not be earlier than Effective from." in response.content.decode()
    response = client.post(
        reverse("contacts:word-create"),
        {"word": "STOP", "channel": "sms", "effective_from": "2026-07-01T00:00"},
    )
    assert response.status_code == 303
    word = OptOutWord.objects.get(company=company)
    assert word.effective_from.isoformat() == "2026-06-30T22:00:00+00:00"  # 00:00 in Madrid, summer time
    listing = client.get(reverse("contacts:word-list")).content.decode()
    assert "01.07.2026 00:00:00" in listing


def test_menu_leads_to_contacts_and_tabs_follow_permissions(
    company: Company, broadcast_manager: User, client_for: ClientFor
) -> None:
    body = client_for(broadcast_manager).get(reverse("contacts:contact-list")).content.decode()
    assert 'href="/contacts/"' in body
    for tab in ("contacts", "attributes", "targets", "words"):
        assert f'id="contacts-tab-{tab}"' in body


@pytest.mark.parametrize(
    "name",
    ["contacts:contact-list", "contacts:attribute-list", "contacts:target-list", "contacts:word-list",
     "contacts:contact-create", "contacts:attribute-create", "contacts:target-create", "contacts:word-create"],
)  # fmt: skip
def test_role_without_permission_gets_403(name: str, finance_manager: User, client_for: ClientFor) -> None:
    assert client_for(finance_manager).get(reverse(name)).status_code == 403


def test_role_without_permission_cannot_write(
    company: Company, finance_manager: User, client_for: ClientFor
) -> None:
    contact = make_contact(company)
    client = client_for(finance_manager)
    assert client.post(reverse("contacts:contact-delete", args=[contact.uuid])).status_code == 403
    assert (
        client.post(reverse("contacts:contact-mass-edit"), {"scope": "all", "action": "delete"}).status_code
        == 403
    )
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_outsider_gets_404_on_another_companys_objects(
    company: Company, outsider: User, client_for: ClientFor
) -> None:
    import datetime

    from django.utils import timezone

    contact = make_contact(company)
    attribute = make_attribute(company, "City", T.TEXT)
    target = services.target_create(company=company, actor=None, name="All", filters=[])
    word = services.optout_word_create(
        company=company,
        actor=None,
        data=services.OptOutWordData(
            word="STOP", channel="sms", effective_from=timezone.now() - datetime.timedelta(days=1)
        ),
    )
    client = client_for(outsider)
    for name, uuid in [
        ("contacts:contact-edit", contact.uuid),
        ("contacts:attribute-edit", attribute.uuid),
        ("contacts:target-edit", target.uuid),
        ("contacts:word-edit", word.uuid),
    ]:
        assert client.get(reverse(name, args=[uuid])).status_code == 404
    for name, uuid in [
        ("contacts:contact-delete", contact.uuid),
        ("contacts:attribute-delete", attribute.uuid),
        ("contacts:target-delete", target.uuid),
        ("contacts:target-duplicate", target.uuid),
        ("contacts:word-delete", word.uuid),
    ]:
        assert client.post(reverse(name, args=[uuid])).status_code == 404
    # Mass edit with another company's row ids touches nothing.
    client.post(reverse("contacts:contact-mass-edit"), {"selected": [str(contact.uuid)], "first_name": "X"})
    contact.refresh_from_db()
    assert contact.first_name == ""
    assert Target.objects.filter(company=company).count() == 1


def test_an_attribute_created_from_import_step_3_sends_the_wizard_back_to_step_1(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """Acceptance 20 (guide §8.2 L2292): the mapping step links to the Attribute manager, and saving the new
    attribute leads back to step 1 of the import; a next address off the site is ignored."""
    from django.core.files.base import ContentFile

    from contacts.models import ContactImport

    client = client_for(admin_user)
    client.post(
        reverse("contacts:import-start"),
        {"file": ContentFile(b"phone,kids\n+12015550171,2\n", name="kids.csv"), "kind": "regular"},
    )
    contact_import = ContactImport.objects.get(company=company)
    client.post(reverse("contacts:import-first-row", args=[contact_import.uuid]), {"first_row": "2"})
    page = client.get(reverse("contacts:import-mapping", args=[contact_import.uuid])).content.decode()
    link = f"{reverse('contacts:attribute-create')}?next={reverse('contacts:import-start')}"
    assert f'href="{link}" id="import-attribute-manager"' in page
    form = client.get(link).content.decode()
    assert f'name="next" value="{reverse("contacts:import-start")}"' in form
    response = client.post(link, {"name": "kids", "type": "number", "next": reverse("contacts:import-start")})
    assert response["Location"] == reverse("contacts:import-start")
    response = client.post(
        reverse("contacts:attribute-create"), {"name": "pets", "type": "number", "next": "//evil.example/"}
    )
    assert response["Location"] == reverse("contacts:attribute-list")
    assert set(ContactAttribute.objects.filter(company=company).values_list("name", flat=True)) == {
        "kids",
        "pets",
    }


def test_attribute_form_next_refuses_a_backslash_host(
    company: Company, admin_user: User, client_for: ClientFor
) -> None:
    """``/\\evil`` is another host to a browser: New attribute goes back to the attributes list instead."""
    response = client_for(admin_user).post(
        reverse("contacts:attribute-create"), {"name": "pets", "type": "number", "next": "/\\evil.example/"}
    )
    assert response["Location"] == reverse("contacts:attribute-list")


def test_import_progress_next_stays_on_the_site(
    company: Company, admin_user: User, htmx_client_for: ClientFor, django_capture_on_commit_callbacks: Any
) -> None:
    """A finished check follows the progress poll's ``next`` only within the portal (no open redirect)."""
    from django.core.files.base import ContentFile

    from contacts.models import ContactImport

    client = htmx_client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("contacts:import-start"),
            {"file": ContentFile(b"+12015550161\n", name="p.csv"), "kind": "quick"},
        )
    url = reverse("contacts:import-progress", args=[ContactImport.objects.get(company=company).uuid])
    detail = reverse("contacts:import-detail", args=[ContactImport.objects.get(company=company).uuid])
    assert client.get(url, {"next": "https://evil.example/"})["HX-Redirect"] == detail
    assert client.get(url, {"next": "//evil.example/"})["HX-Redirect"] == detail
    assert client.get(url, {"next": "/contacts/"})["HX-Redirect"] == "/contacts/"
