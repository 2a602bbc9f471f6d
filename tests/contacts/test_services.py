"""Contacts services against the real database: phones, types, tags, attributes, mass edit, targets (guide §8)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.indexes import slot_index_ensure, slot_index_exists
from contacts.models import Contact, ContactAttribute, ContactTag, Tag
from contacts.selectors import contact_selection, target_contacts, target_count
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company
from tests.contacts.factories import make_attribute, make_contact

T = ContactAttribute.Type


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


def test_phone_is_normalised_to_e164_with_the_company_country(company: Company, admin_user: User) -> None:
    """A national number is read in the company's default country and stored as E.164; the audit log has it."""
    company.default_country = "ES"
    company.save()
    contact = services.contact_create(
        company=company, actor=admin_user, data=services.ContactData(phone="612 34 56 78", first_name="Ana")
    )
    assert contact.phone == "+34612345678"
    entry = AuditEntry.objects.get(company=company, action="contact.created")
    detail = entry.details.get()
    assert detail.new_value is not None
    assert detail.new_value["phone"] == "+34612345678"


def test_phone_is_required_and_must_be_valid(company: Company) -> None:
    """Acceptance 1: an empty phone is a field error; so is a number that cannot exist."""
    with pytest.raises(ValidationError) as exc:
        services.contact_create(company=company, actor=None, data=services.ContactData(phone=" "))
    assert _errors(exc)["phone"] == ["Enter a phone number."]
    with pytest.raises(ValidationError) as exc:
        services.contact_create(company=company, actor=None, data=services.ContactData(phone="1234"))
    assert _errors(exc)["phone"] == ["“1234” is not a valid phone number."]
    assert not Contact.objects.filter(company=company).exists()


def test_phone_is_unique_per_company_in_any_spelling(company: Company, other_company: Company) -> None:
    """Acceptance 2: the same number written differently is a duplicate; another company may hold it."""
    make_contact(company, "+1 (201) 555-0123")
    with pytest.raises(ValidationError) as exc:
        make_contact(company, "2015550123")
    assert _errors(exc)["phone"] == ["A contact with the phone number +12015550123 already exists."]
    assert make_contact(other_company, "2015550123").phone == "+12015550123"


@pytest.mark.parametrize(
    ("type_", "bad", "message", "good", "stored"),
    [
        (T.EMAIL, "not-an-email", "Mail: “not-an-email” is not an e-mail address.", "a@b.co", "a@b.co"),
        (T.NUMBER, "abc", "Mail: enter a number.", "18,5", 18.5),
        (T.DATE, "31.02.2024", "Mail: “31.02.2024” is not a date; use DD.MM.YYYY or YYYY-MM-DD.", "01.05.1990",
         "1990-05-01"),
        (T.BOOL, "maybe", "Mail: answer yes or no.", "Yes", True),
    ],
)  # fmt: skip
def test_attribute_values_are_validated_by_type(
    company: Company, type_: str, bad: str, message: str, good: str, stored: object
) -> None:
    """Acceptance 3: e-mail, number, date and yes/no attributes refuse values of the wrong shape per field."""
    attribute = make_attribute(company, "Mail", type_)
    with pytest.raises(ValidationError) as exc:
        make_contact(company, attributes={attribute.key: bad})
    assert _errors(exc)[attribute.key] == [message]
    contact = make_contact(company, attributes={attribute.key: good})
    assert contact.attributes == {attribute.key: stored}


def test_list_attribute_accepts_only_its_values(company: Company) -> None:
    gender = make_attribute(company, "Gender", T.LIST, options=["m", "f"])
    with pytest.raises(ValidationError) as exc:
        make_contact(company, attributes={gender.key: "x"})
    assert _errors(exc)[gender.key] == ["Gender: “x” is not in the list (m, f)."]
    assert make_contact(company, attributes={gender.key: "F"}).attributes == {gender.key: "f"}


def test_attribute_create_refuses_missing_name_type_and_duplicates(company: Company) -> None:
    """Acceptance 10: no name or no type is refused; names are unique per company, case-insensitively."""
    with pytest.raises(ValidationError) as exc:
        services.attribute_create(company=company, actor=None, name="", type="")
    assert _errors(exc) == {"name": ["Enter a name."], "type": ["Choose a type."]}
    make_attribute(company, "City", T.TEXT)
    with pytest.raises(ValidationError, match=re.escape("An attribute called city already exists.")):
        make_attribute(company, "city", T.TEXT)
    with pytest.raises(ValidationError, match=re.escape("Phone number is a built-in contact field.")):
        make_attribute(company, "Phone number", T.TEXT)


def test_attribute_slots_are_reused_and_values_cleared_on_delete(company: Company) -> None:
    """Deleting an attribute clears its values in one UPDATE, and the next attribute takes the free slot."""
    city = make_attribute(company, "City", T.TEXT)
    age = make_attribute(company, "Age", T.NUMBER)
    kept = make_contact(company, attributes={city.key: "Madrid", age.key: 30})
    cleared = services.attribute_delete(company=company, actor=None, attribute=city)
    assert cleared == 1
    kept.refresh_from_db()
    assert kept.attributes == {age.key: 30}
    kids = make_attribute(company, "Kids", T.NUMBER)
    assert kids.slot == city.slot


def test_attribute_rename_keeps_values(company: Company) -> None:
    city = make_attribute(company, "City", T.TEXT)
    contact = make_contact(company, attributes={city.key: "Madrid"})
    services.attribute_update(company=company, actor=None, attribute=city, name="Town", show_in_profile=True)
    contact.refresh_from_db()
    assert contact.attributes[city.key] == "Madrid"
    assert ContactAttribute.objects.get(pk=city.pk).name == "Town"


def test_list_value_in_use_cannot_be_removed(company: Company) -> None:
    gender = make_attribute(company, "Gender", T.LIST, options=["m", "f"])
    make_contact(company, attributes={gender.key: "f"})
    with pytest.raises(ValidationError, match="1 contacts hold the value f"):
        services.attribute_update(
            company=company, actor=None, attribute=gender, name="Gender", show_in_profile=False, options=["m"]
        )


def test_attribute_used_by_a_target_cannot_be_deleted(company: Company) -> None:
    """G15: the message names the targets that use the attribute."""
    age = make_attribute(company, "Age", T.NUMBER)
    services.target_create(
        company=company, actor=None, name="Adults", filters=[{"key": age.key, "mode": "range", "from": "18"}]
    )
    with pytest.raises(ApplicationError, match="Targets filter on Age: Adults"):
        services.attribute_delete(company=company, actor=None, attribute=age)


def _fk_checks_done() -> None:
    """A CREATE INDEX in the test's transaction needs the deferred foreign-key checks of inserted rows done."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_attribute_index_request_queues_one_build_per_slot(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing index of a large company's attribute is queued once; a present one, or a small company, queues none."""
    from contacts import indexes, tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.attribute_index_ensure_task, "delay", queued.append)
    age = make_attribute(company, "Age", T.NUMBER)
    city = make_attribute(company, "City", T.TEXT)
    make_contact(company)
    make_contact(company, "+12015550199")
    request = services.attribute_indexes_request
    assert request(company=company, keys=[age.key]) == []  # small company
    monkeypatch.setattr(indexes, "LARGE_COMPANY", 1)
    _fk_checks_done()
    slot_index_ensure(city.slot)
    assert request(company=company, keys=[age.key, city.key, "phone"]) == [age.slot]
    assert request(company=company, keys=[age.key]) == []  # queued already, not again
    assert queued == [age.slot]


def test_slot_index_is_built_once(company: Company) -> None:
    """The sort index of a slot exists after the first build; a second call finds it."""
    slot_index_ensure(42)
    assert slot_index_exists(42)
    assert slot_index_ensure(42) is False


def test_tags_are_created_inline_and_removed(company: Company) -> None:
    """Acceptance 4: a typed tag is created and linked; saving without it unlinks it but keeps the tag."""
    contact = make_contact(company, tags=["VIP", "vip", "Women"])
    assert sorted(t.name for t in contact.tags.all()) == ["VIP", "Women"]
    services.contact_update(
        company=company,
        actor=None,
        contact=contact,
        data=services.ContactData(phone=contact.phone, tags=["Women"]),
    )
    assert [t.name for t in contact.tags.all()] == ["Women"]
    assert Tag.objects.filter(company=company, name="VIP").exists()
    assert ContactTag.objects.filter(company=company).count() == 1


def test_mass_edit_tags_exactly_the_selection(company: Company) -> None:
    """Acceptance 7: tag dog_owners on 3 selected contacts tags exactly those 3."""
    contacts = [make_contact(company) for _ in range(5)]
    chosen = [str(c.uuid) for c in contacts[:3]]
    count = services.contacts_mass_update(
        company=company,
        actor=None,
        contacts=contact_selection(company=company, uuids=chosen),
        edit=services.MassEdit(add_tags=["dog_owners"]),
    )
    assert count == 3
    tagged = set(Contact.objects.filter(tags__name="dog_owners").values_list("uuid", flat=True))
    assert {str(u) for u in tagged} == set(chosen)


def test_mass_edit_sets_and_clears_attributes_in_bulk(
    company: Company, django_assert_max_num_queries: object
) -> None:
    """Acceptance 8: clearing City touches only the selection; the statement count does not grow with rows."""
    city = make_attribute(company, "City", T.TEXT)
    age = make_attribute(company, "Age", T.NUMBER)
    contacts = [make_contact(company, attributes={city.key: "Madrid", age.key: 20}) for _ in range(30)]
    selection = contact_selection(company=company, uuids=[str(c.uuid) for c in contacts[:20]])
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        services.contacts_mass_update(
            company=company,
            actor=None,
            contacts=selection,
            edit=services.MassEdit(attributes={age.key: "40"}, clear=[city.key], first_name="Bulk"),
        )
    changed = Contact.objects.filter(company=company, first_name="Bulk")
    assert changed.count() == 20
    assert all(c.attributes == {age.key: 40} for c in changed)
    untouched = Contact.objects.filter(company=company).exclude(first_name="Bulk")
    assert all(c.attributes == {city.key: "Madrid", age.key: 20} for c in untouched)


def test_mass_edit_validates_values_by_type(company: Company) -> None:
    age = make_attribute(company, "Age", T.NUMBER)
    make_contact(company)
    with pytest.raises(ValidationError) as exc:
        services.contacts_mass_update(
            company=company,
            actor=None,
            contacts=Contact.objects.filter(company=company),
            edit=services.MassEdit(attributes={age.key: "old"}),
        )
    assert _errors(exc)[age.key] == ["Age: enter a number."]


def test_mass_delete_refuses_every_contact_but_deletes_a_part(company: Company) -> None:
    """Acceptance 9: deleting all contacts at once is refused, also through a filter that matches all."""
    contacts = [make_contact(company, tags=["x"]) for _ in range(4)]
    everyone = contact_selection(company=company, params={"filter": "phone", "mode": "nonempty"})
    with pytest.raises(ApplicationError, match="Deleting all contacts at once is not allowed"):
        services.contacts_mass_delete(company=company, actor=None, contacts=everyone)
    assert Contact.objects.filter(company=company).count() == 4
    deleted = services.contacts_mass_delete(
        company=company,
        actor=None,
        contacts=contact_selection(company=company, uuids=[str(c.uuid) for c in contacts[:3]]),
    )
    assert deleted == 3
    assert list(Contact.objects.filter(company=company)) == [contacts[3]]
    assert ContactTag.objects.filter(company=company).count() == 1


def test_mass_operations_never_touch_another_company(company: Company, other_company: Company) -> None:
    mine = make_contact(company)
    make_contact(company)
    theirs = make_contact(other_company)
    services.contacts_mass_update(
        company=company,
        actor=None,
        contacts=Contact.objects.filter(pk__in=[mine.pk, theirs.pk]),
        edit=services.MassEdit(first_name="Mine"),
    )
    theirs.refresh_from_db()
    assert theirs.first_name == ""


def test_target_is_dynamic_and_combines_filters(company: Company) -> None:
    """Acceptance 12-13: Gender f and Age 18-25 select only matching contacts; new matches count at once."""
    gender = make_attribute(company, "Gender", T.LIST, options=["m", "f"])
    age = make_attribute(company, "Age", T.NUMBER)
    for g, a in [("f", 20), ("f", 30), ("m", 20), ("f", 25), (None, 22)]:
        make_contact(company, attributes={gender.key: g, age.key: a})
    target = services.target_create(
        company=company,
        actor=None,
        name="Women 18-25",
        filters=[
            {"key": gender.key, "mode": "value", "q": "f"},
            {"key": age.key, "mode": "range", "from": "18", "to": "25"},
        ],
    )
    assert target_count(company=company, filters=target.filters) == (2, False)
    make_contact(company, attributes={gender.key: "f", age.key: 18})
    assert target_count(company=company, filters=target.filters) == (3, False)
    empty = target_contacts(company=company, filters=[{"key": gender.key, "mode": "empty"}])
    assert empty.count() == 1
    nonempty = target_contacts(company=company, filters=[{"key": gender.key, "mode": "nonempty"}])
    assert nonempty.count() == 5


def test_target_filters_are_validated(company: Company) -> None:
    age = make_attribute(company, "Age", T.NUMBER)
    with pytest.raises(ValidationError, match=re.escape("Filter 1: Age: enter a number.")):
        services.target_create(
            company=company, actor=None, name="X", filters=[{"key": age.key, "mode": "range", "from": "old"}]
        )
    with pytest.raises(ValidationError, match=re.escape("Filter 1: This filter is not available.")):
        services.target_create(company=company, actor=None, name="X", filters=[{"key": "nope"}])


def test_target_duplicate_copies_filters_independently(company: Company) -> None:
    """Acceptance 14: the copy has the same filters; editing it leaves the original."""
    target = services.target_create(
        company=company, actor=None, name="Men", filters=[{"key": "first_name", "mode": "nonempty"}]
    )
    copy = services.target_duplicate(company=company, actor=None, target=target)
    assert (copy.name, copy.filters, copy.launches) == ("Men (copy)", target.filters, 0)
    services.target_update(company=company, actor=None, target=copy, name="Men 2", filters=[])
    target.refresh_from_db()
    assert target.filters == [{"key": "first_name", "mode": "nonempty"}]
    assert services.target_duplicate(company=company, actor=None, target=target).name == "Men (copy)"


def test_contact_form_and_mass_edit_check_names_email_and_attributes_alike(company: Company) -> None:
    """New contact and mass edit give the same errors for a long name, a bad e-mail and a value of the wrong type
    or a removed attribute; a blank e-mail is no e-mail for both."""
    age = make_attribute(company, "Age", T.NUMBER)
    make_contact(company)
    long_name, bad_email, values = "x" * 151, "not-an-email", {age.key: "old", "gone": "1"}
    with pytest.raises(ValidationError) as created:
        services.contact_create(
            company=company,
            actor=None,
            data=services.ContactData(
                phone="+4915112345678", first_name=long_name, email=bad_email, attributes=values
            ),
        )
    with pytest.raises(ValidationError) as mass:
        services.contacts_mass_update(
            company=company,
            actor=None,
            contacts=Contact.objects.filter(company=company),
            edit=services.MassEdit(first_name=long_name, email=bad_email, attributes=values),
        )
    expected = {
        "first_name": ["At most 150 characters."],
        "email": ["“not-an-email” is not an e-mail address."],
        age.key: ["Age: enter a number."],
        "gone": ["This attribute no longer exists."],
    }
    assert _errors(created) == expected
    assert _errors(mass) == expected
    blank = services.contact_create(
        company=company, actor=None, data=services.ContactData(phone="+4915187654321", email="  ")
    )
    assert blank.email == ""


def test_attribute_filters_are_answered_by_an_index(company: Company) -> None:
    """Storage decision (contacts.models): "non-empty" uses the per-slot index, "by value" the GIN index.

    The GIN index uses jsonb_path_ops, which cannot answer ``attributes ? key``; the filters must not use it.
    """
    from django.db import connection

    city = make_attribute(company, "City", T.LIST, options=["Madrid", "Paris"])
    slot_index_ensure(city.slot)
    make_contact(company, attributes={city.key: "Madrid"})
    make_contact(company, attributes={city.key: "Paris"})
    with connection.cursor() as cursor:  # enough rows for the planner to prefer the selective index
        cursor.execute(
            "INSERT INTO contacts_contact (uuid, company_id, phone, first_name, last_name, email, attributes,"
            " created_at, updated_at) SELECT gen_random_uuid(), %s, '+1917555' || lpad(g::text, 4, '0'), '', '',"
            " '', '{}', now(), now() FROM generate_series(1, 3000) g",
            [company.pk],
        )
        cursor.execute("ANALYZE contacts_contact")
        # Autovacuum would move the GIN index's pending list (fastupdate) into the index; on a server running
        # without it (this machine's CI), the rolled-back inserts of earlier tests pile up there and the planner
        # prices the GIN scan above a whole-company scan of the per-slot index.
        cursor.execute("SELECT gin_clean_pending_list('contact_attrs_path_gin'::regclass)")
    plans = {}
    for mode, extra in (("nonempty", {}), ("empty", {}), ("value", {"q": "Madrid"})):
        selection = target_contacts(company=company, filters=[{"key": city.key, "mode": mode, **extra}])
        assert selection.count() == {"nonempty": 2, "empty": 3000, "value": 1}[mode]
        sql, params = selection.order_by().values("id").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            plans[mode] = "\n".join(row[0] for row in cursor.fetchall())
    assert f"contact_attr_{city.key}_idx" in plans["nonempty"], plans["nonempty"]
    assert "IS NOT NULL" in plans["nonempty"]
    assert "contact_attrs_path_gin" in plans["value"], plans["value"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_slot_index_builds_take_turns() -> None:
    """Two CREATE INDEX CONCURRENTLY on contacts_contact deadlock; the builds take a lock, polling, one at a time."""
    import threading

    from django.db import connection, connections

    from contacts import indexes

    slots = [95, 96, 97]
    errors: list[BaseException] = []

    def build(slot: int) -> None:
        try:
            slot_index_ensure(slot)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    try:
        with connection.cursor() as cursor:  # a build "running" elsewhere holds the lock
            cursor.execute("SELECT pg_advisory_lock(%s)", [indexes.BUILD_LOCK])
        threads = [threading.Thread(target=build, args=[slot]) for slot in slots]
        for thread in threads:
            thread.start()
        threads[0].join(timeout=1.5)
        assert threads[0].is_alive()  # waits for the lock
        assert not any(slot_index_exists(slot) for slot in slots)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [indexes.BUILD_LOCK])
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert all(slot_index_exists(slot) for slot in slots)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
            for slot in slots:
                cursor.execute(f'DROP INDEX IF EXISTS "{indexes.slot_index_name(slot)}"')
