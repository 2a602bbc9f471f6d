"""Writes of the Contacts section (guide §8): contacts, tags, attributes, mass edit, targets, opt-outs, opt-out words.

Every public function is one transaction with an audit entry; values are validated by ``contacts.values`` wherever
they come from. Mass operations are single SQL statements over the selection, never one query per contact.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Lower, Now
from django.utils import timezone
from django.utils.translation import gettext as _

from channels_out.kinds import ChannelKind
from contacts.lists import contacts_spec, describe_filter, filter_from_params
from contacts.models import (
    MAX_ATTRIBUTES,
    Contact,
    ContactAttribute,
    ContactOptOut,
    ContactTag,
    OptOutWord,
    Tag,
    Target,
)
from contacts.selectors import optout_word_active
from contacts.values import clean_attribute_value, normalize_phone
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import Change, audit_record, change_of, snapshot
from portal.core.exceptions import ApplicationError
from portal.core.listing import ListQueryError, apply_filter
from portal.tenants.models import Company

CONTACT_AUDIT_FIELDS = ("phone", "first_name", "last_name", "email", "attributes")
NAME_MAX = 150
# Built-in fields of the contact form; an attribute may not take their names (they would show twice).
RESERVED_NAMES = {"phone", "phone number", "phonenumber", "name", "surname", "email", "e-mail", "tags"}


# -- contacts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactData:
    """The fields of New / Edit contact (guide §8.1.2-§8.1.3)."""

    phone: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    # Attribute key ("a3") -> raw value; an empty value clears it. Keys not given stay as they are.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # Tag names; None leaves the tags alone. Unknown names create the tag (guide §8.1.2: "+" with type-ahead).
    tags: Sequence[str] | None = None


def _clean_contact(
    company: Company, data: ContactData, contact: Contact | None
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """Validate ``data``; return the E.164 phone, the new attributes dict and per-field errors."""
    errors: dict[str, str] = {}
    phone = ""
    try:
        phone = normalize_phone(data.phone, country=company.default_country)
    except ValidationError as exc:
        errors["phone"] = " ".join(exc.messages)
    else:
        duplicate = Contact.objects.filter(company=company, phone=phone)
        if contact is not None:
            duplicate = duplicate.exclude(pk=contact.pk)
        if duplicate.exists():
            errors["phone"] = _("A contact with the phone number %(phone)s already exists.") % {
                "phone": phone
            }
    for name in ("first_name", "last_name"):
        if len(getattr(data, name)) > NAME_MAX:
            errors[name] = _("At most %(max)d characters.") % {"max": NAME_MAX}
    if data.email:
        try:
            validate_email(data.email.strip())
        except ValidationError:
            errors["email"] = _("“%(value)s” is not an e-mail address.") % {"value": data.email}
    attributes = dict(contact.attributes) if contact is not None else {}
    by_key = {a.key: a for a in ContactAttribute.objects.filter(company=company)}
    for key, raw in data.attributes.items():
        attribute = by_key.get(key)
        if attribute is None:
            errors[key] = _("This attribute no longer exists.")
            continue
        try:
            value = clean_attribute_value(attribute, raw)
        except ValidationError as exc:
            errors[key] = " ".join(exc.messages)
            continue
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    for name in data.tags or ():
        if len(name.strip()) > 100:
            errors["tags"] = _("A tag name has at most 100 characters.")
    return phone, attributes, errors


def _save_contact(contact: Contact) -> None:
    # The duplicate check above can race with another request; the unique constraint decides.
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:
        raise ValidationError(
            {
                "phone": _("A contact with the phone number %(phone)s already exists.")
                % {"phone": contact.phone}
            }
        ) from exc


@transaction.atomic
def contact_create(*, company: Company, actor: User | None, data: ContactData) -> Contact:
    """Add a contact (guide §8.1.2); the phone is stored as E.164 read with the company's default country.

    Side effects: inserts the contact, its tag links and tags typed for the first time; audit ``contact.created``.
    Raises ValidationError per field: phone missing, unreadable or taken; e-mail; attribute values by type.
    """
    phone, attributes, errors = _clean_contact(company, data, None)
    if errors:
        raise ValidationError(errors)
    contact = Contact(
        company=company,
        phone=phone,
        first_name=data.first_name.strip(),
        last_name=data.last_name.strip(),
        email=data.email.strip(),
        attributes=attributes,
    )
    _save_contact(contact)
    if data.tags is not None:
        _set_tags(company, actor, contact, data.tags)
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_CREATED,
        target=contact,
        changes=[
            change_of(contact, AuditDetail.Operation.INSERT, new=snapshot(contact, CONTACT_AUDIT_FIELDS))
        ],
    )
    return contact


@transaction.atomic
def contact_update(*, company: Company, actor: User | None, contact: Contact, data: ContactData) -> Contact:
    """Save Edit contact (guide §8.1.3).

    Side effects: updates the row and its tag links; audit ``contact.changed`` with old and new values.
    Raises ValidationError per field, as contact_create.
    """
    _check_company(company, contact)
    old = snapshot(contact, CONTACT_AUDIT_FIELDS)
    phone, attributes, errors = _clean_contact(company, data, contact)
    if errors:
        raise ValidationError(errors)
    contact.phone = phone
    contact.first_name = data.first_name.strip()
    contact.last_name = data.last_name.strip()
    contact.email = data.email.strip()
    contact.attributes = attributes
    _save_contact(contact)
    if data.tags is not None:
        _set_tags(company, actor, contact, data.tags)
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_CHANGED,
        target=contact,
        changes=[
            change_of(
                contact, AuditDetail.Operation.UPDATE, old=old, new=snapshot(contact, CONTACT_AUDIT_FIELDS)
            )
        ],
    )
    return contact


@transaction.atomic
def contact_delete(*, company: Company, actor: User | None, contact: Contact) -> None:
    """Delete one contact with its tags and opt-outs. Side effects: audit ``contact.deleted``."""
    _check_company(company, contact)
    change = change_of(contact, AuditDetail.Operation.DELETE, old=snapshot(contact, CONTACT_AUDIT_FIELDS))
    audit_record(
        company=company, actor=actor, action=actions.CONTACT_DELETED, target=contact, changes=[change]
    )
    contact.delete()


def _check_company(company: Company, obj: models.Model) -> None:
    if getattr(obj, "company_id", None) != company.pk:
        raise ApplicationError(_("This object belongs to another company."))


# -- tags ------------------------------------------------------------------------------------------------------


def _clean_tag_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationError({"name": _("Enter a tag name.")})
    if len(cleaned) > 100:
        raise ValidationError({"name": _("A tag name has at most 100 characters.")})
    return cleaned


def _tags_by_name(company: Company, actor: User | None, names: Sequence[str]) -> list[Tag]:
    """The tags called ``names`` (case-insensitive), created when missing (audit ``tag.created`` each)."""
    wanted: dict[str, str] = {}
    for name in names:
        cleaned = _clean_tag_name(name)
        wanted.setdefault(cleaned.lower(), cleaned)
    if not wanted:
        return []
    found = {t.name.lower(): t for t in _tags_named(company, list(wanted))}
    tags = []
    for lowered, name in wanted.items():
        tag = found.get(lowered)
        if tag is None:
            tag = Tag.objects.create(company=company, name=name)
            audit_record(
                company=company,
                actor=actor,
                action=actions.TAG_CREATED,
                target=tag,
                changes=[change_of(tag, AuditDetail.Operation.INSERT)],
            )
        tags.append(tag)
    return tags


def _tags_named(company: Company, lowered: Sequence[str]) -> QuerySet[Tag]:
    """Tags whose lower-cased name is in ``lowered`` (served by the unique (company, lower(name)) index)."""
    return Tag.objects.filter(company=company).alias(lname=Lower("name")).filter(lname__in=list(lowered))


def _set_tags(company: Company, actor: User | None, contact: Contact, names: Sequence[str]) -> None:
    tags = _tags_by_name(company, actor, names)
    keep = {t.pk for t in tags}
    ContactTag.objects.filter(company=company, contact=contact).exclude(tag_id__in=keep).delete()
    ContactTag.objects.bulk_create(
        [ContactTag(company=company, contact=contact, tag=t) for t in tags], ignore_conflicts=True
    )


@transaction.atomic
def tag_create(*, company: Company, actor: User | None, name: str) -> Tag:
    """Create a tag. Side effects: audit ``tag.created``. Raises ValidationError for an empty or taken name."""
    cleaned = _clean_tag_name(name)
    if Tag.objects.filter(company=company, name__iexact=cleaned).exists():
        raise ValidationError({"name": _("The tag %(name)s already exists.") % {"name": cleaned}})
    return _tags_by_name(company, actor, [cleaned])[0]


@transaction.atomic
def tag_delete(*, company: Company, actor: User | None, tag: Tag) -> None:
    """Delete a tag; its contacts stay. Side effects: audit ``tag.deleted``."""
    _check_company(company, tag)
    audit_record(
        company=company,
        actor=actor,
        action=actions.TAG_DELETED,
        target=tag,
        changes=[change_of(tag, AuditDetail.Operation.DELETE)],
    )
    ContactTag.objects.filter(company=company, tag=tag).delete()
    tag.delete()


# -- attributes (guide §8.2) -------------------------------------------------------------------------------------


def _clean_attribute(
    company: Company, name: str, options: Sequence[str], type_: str, attribute: ContactAttribute | None
) -> tuple[str, list[str]]:
    errors: dict[str, str] = {}
    cleaned = " ".join((name or "").split())
    if not cleaned:
        errors["name"] = _("Enter a name.")
    elif len(cleaned) > 100:
        errors["name"] = _("At most 100 characters.")
    elif cleaned.lower() in RESERVED_NAMES:
        errors["name"] = _("%(name)s is a built-in contact field.") % {"name": cleaned}
    else:
        taken = ContactAttribute.objects.filter(company=company, name__iexact=cleaned)
        if attribute is not None:
            taken = taken.exclude(pk=attribute.pk)
        if taken.exists():
            errors["name"] = _("An attribute called %(name)s already exists.") % {"name": cleaned}
    if type_ not in ContactAttribute.Type.values:
        errors["type"] = _("Choose a type.")
    values: list[str] = []
    for option in options:
        option = " ".join(option.split())
        if option and option.lower() not in {v.lower() for v in values}:
            values.append(option)
    if type_ == ContactAttribute.Type.LIST:
        if not values:
            errors["options"] = _("Give at least one value of the list.")
        elif any(len(v) > 200 for v in values):
            errors["options"] = _("A value of the list has at most 200 characters.")
    else:
        values = []
    if errors:
        raise ValidationError(errors)
    return cleaned, values


@transaction.atomic
def attribute_create(
    *,
    company: Company,
    actor: User | None,
    name: str,
    type: str,
    show_in_profile: bool = False,
    options: Sequence[str] = (),
) -> ContactAttribute:
    """Add an attribute of one of the six types (guide §8.2) in the company's lowest free slot.

    Side effects: inserts the attribute; audit ``contact_attribute.created``; after commit, builds the slot's sort
    index when no company used that slot before. Raises ValidationError per field (name missing or taken, type,
    list values) and when the company already has the maximum number of attributes.
    """
    cleaned, values = _clean_attribute(company, name, options, type, None)
    # Lock the company's attribute rows so two concurrent creates cannot take the same slot.
    used = set(
        ContactAttribute.objects.select_for_update().filter(company=company).values_list("slot", flat=True)
    )
    slot = next((n for n in range(1, MAX_ATTRIBUTES + 1) if n not in used), None)
    if slot is None:
        raise ValidationError(
            {"name": _("A company can have at most %(max)d attributes.") % {"max": MAX_ATTRIBUTES}}
        )
    attribute = ContactAttribute(
        company=company,
        name=cleaned,
        type=type,
        slot=slot,
        options=values,
        show_in_profile=show_in_profile,
    )
    attribute.full_clean()
    attribute.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_ATTRIBUTE_CREATED,
        target=attribute,
        changes=[change_of(attribute, AuditDetail.Operation.INSERT)],
    )
    from contacts.tasks import attribute_index_ensure_task

    transaction.on_commit(lambda: attribute_index_ensure_task.delay(slot))
    return attribute


@transaction.atomic
def attribute_update(
    *,
    company: Company,
    actor: User | None,
    attribute: ContactAttribute,
    name: str,
    show_in_profile: bool,
    options: Sequence[str] = (),
) -> ContactAttribute:
    """Rename an attribute, set "Show in client's profile" or edit its list (the type cannot change, §8.2).

    Side effects: audit ``contact_attribute.changed``. Raises ValidationError per field, and when a list value
    still held by contacts would be removed.
    """
    _check_company(company, attribute)
    old = snapshot(attribute)
    cleaned, values = _clean_attribute(company, name, options, attribute.type, attribute)
    if attribute.type == ContactAttribute.Type.LIST:
        removed = [o for o in attribute.options if o.lower() not in {v.lower() for v in values}]
        for option in removed:
            held = Contact.objects.filter(company=company, attributes__contains={attribute.key: option})
            count = held.count()
            if count:
                raise ValidationError(
                    {
                        "options": _("%(count)d contacts hold the value %(value)s; change them first.")
                        % {"count": count, "value": option}
                    }
                )
    attribute.name = cleaned
    attribute.show_in_profile = show_in_profile
    attribute.options = values
    attribute.full_clean()
    attribute.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_ATTRIBUTE_CHANGED,
        target=attribute,
        changes=[change_of(attribute, AuditDetail.Operation.UPDATE, old=old, new=snapshot(attribute))],
    )
    return attribute


@transaction.atomic
def attribute_delete(*, company: Company, actor: User | None, attribute: ContactAttribute) -> int:
    """Delete an attribute and clear its values on every contact in one UPDATE; return how many held one.

    Side effects: updates contacts that held a value; audit ``contact_attribute.deleted``.
    Raises ApplicationError when a target filters on it (G15: list the users of the object instead).
    """
    _check_company(company, attribute)
    users = [
        t.name
        for t in Target.objects.filter(company=company)
        if any(f.get("key") == attribute.key for f in t.filters)
    ]
    if users:
        raise ApplicationError(
            _("Targets filter on %(name)s: %(targets)s. Change them first.")
            % {"name": attribute.name, "targets": ", ".join(sorted(users))}
        )
    cleared = (
        Contact.objects.filter(company=company, attributes__has_key=attribute.key)
        .update(attributes=_minus_keys([attribute.key]), updated_at=Now())
    )  # fmt: skip
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_ATTRIBUTE_DELETED,
        target=attribute,
        changes=[change_of(attribute, AuditDetail.Operation.DELETE, new={"cleared_contacts": cleared})],
    )
    attribute.delete()
    return cleared


def _minus_keys(keys: Sequence[str]) -> CombinedExpression:
    """SQL ``attributes - ARRAY[keys]``: drop keys from the JSON object."""
    return CombinedExpression(
        F("attributes"),
        "-",
        Value(list(keys), output_field=ArrayField(models.TextField())),
        output_field=models.JSONField(),
    )


def _plus_values(values: Mapping[str, Any]) -> CombinedExpression:
    """SQL ``attributes || '{...}'``: set keys of the JSON object."""
    return CombinedExpression(
        F("attributes"),
        "||",
        Value(dict(values), output_field=models.JSONField()),
        output_field=models.JSONField(),
    )


# -- mass edit (guide §8.1.5) ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MassEdit:
    """What "Edit selected items" changes. Blank fields stay as they are (G14); phone and opt-outs are left out."""

    add_tags: Sequence[str] = ()
    remove_tags: Sequence[str] = ()
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)  # key -> raw value; blank = unchanged
    clear: Sequence[str] = ()  # "Delete attribute values": attribute keys and first_name/last_name/email


CLEARABLE_FIELDS = ("first_name", "last_name", "email")


@transaction.atomic
def contacts_mass_update(
    *, company: Company, actor: User | None, contacts: QuerySet[Contact], edit: MassEdit
) -> int:
    """Apply ``edit`` to every selected contact in a few set-based statements; return the number selected.

    Side effects: one UPDATE for fields and attributes, one INSERT … SELECT per added tag, one DELETE for removed
    tags; audit ``contact.mass_changed`` with the summary. Raises ValidationError per field for values that do
    not fit their type, and ApplicationError for an empty selection.
    """
    selection = contacts.filter(company=company).order_by()
    errors: dict[str, str] = {}
    by_key = {a.key: a for a in ContactAttribute.objects.filter(company=company)}
    values: dict[str, Any] = {}
    for key, raw in edit.attributes.items():
        attribute = by_key.get(key)
        if attribute is None:
            errors[key] = _("This attribute no longer exists.")
            continue
        try:
            value = clean_attribute_value(attribute, raw)
        except ValidationError as exc:
            errors[key] = " ".join(exc.messages)
            continue
        if value is not None:
            values[key] = value
    clear_keys = [k for k in edit.clear if k in by_key]
    clear_fields = [k for k in edit.clear if k in CLEARABLE_FIELDS]
    unknown = [k for k in edit.clear if k not in by_key and k not in CLEARABLE_FIELDS]
    if unknown:
        errors["clear"] = _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)}
    if edit.email.strip():
        try:
            validate_email(edit.email.strip())
        except ValidationError:
            errors["email"] = _("“%(value)s” is not an e-mail address.") % {"value": edit.email}
    for name in ("first_name", "last_name"):
        if len(getattr(edit, name)) > NAME_MAX:
            errors[name] = _("At most %(max)d characters.") % {"max": NAME_MAX}
    if errors:
        raise ValidationError(errors)
    count = selection.count()
    if not count:
        raise ApplicationError(_("Select at least one contact."))
    updates: dict[str, Any] = {}
    for name in CLEARABLE_FIELDS:
        new = getattr(edit, name).strip()
        if new:
            updates[name] = new
        elif name in clear_fields:
            updates[name] = ""
    expression: Any = F("attributes")
    if clear_keys:
        expression = _minus_keys(clear_keys)
    if values:
        expression = CombinedExpression(
            expression, "||", Value(values, output_field=models.JSONField()), output_field=models.JSONField()
        )
    if clear_keys or values:
        updates["attributes"] = expression
    ids = selection.values("pk")
    if updates:
        Contact.objects.filter(company=company, pk__in=ids).update(**updates, updated_at=Now())
    added = _tags_by_name(company, actor, edit.add_tags) if edit.add_tags else []
    for tag in added:
        _tag_selection(company, tag, selection)
    lowered = [n.strip().lower() for n in edit.remove_tags if n.strip()]
    if lowered:
        removed = _tags_named(company, lowered)
        ContactTag.objects.filter(company=company, tag__in=removed, contact_id__in=ids).delete()
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACTS_MASS_CHANGED,
        changes=[
            _mass_change(
                count=count,
                data={
                    "fields": sorted(k for k in updates if k != "attributes"),
                    "attributes_set": sorted(values),
                    "attributes_cleared": sorted(clear_keys),
                    "tags_added": [t.name for t in added],
                    "tags_removed": list(edit.remove_tags),
                },
            )
        ],
    )
    return count


def _mass_change(*, count: int, data: Mapping[str, Any]) -> Change:
    """One audit detail summarising a mass operation (one row per contact would double its cost)."""
    return Change(
        table=Contact._meta.db_table,
        operation=AuditDetail.Operation.UPDATE,
        object_id="",
        new={"contacts": count, **data},
    )


def _tag_selection(company: Company, tag: Tag, selection: QuerySet[Contact]) -> None:
    """INSERT … SELECT the tag links of the whole selection in one statement."""
    sql, params = selection.values("pk").query.sql_with_params()
    # The inner SQL is Django's own, its values still parameters; nothing from the user is pasted in.
    head = "INSERT INTO contacts_contacttag (company_id, contact_id, tag_id, created_at, updated_at) "
    body = f"SELECT %s, sel.id, %s, now(), now() FROM ({sql}) AS sel(id) "  # noqa: S608  (see above)
    insert = head + body + "ON CONFLICT (contact_id, tag_id) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(insert, [company.pk, tag.pk, *params])


@transaction.atomic
def contacts_mass_delete(*, company: Company, actor: User | None, contacts: QuerySet[Contact]) -> int:
    """Delete the selected contacts in one statement per table; return how many.

    Guide §8.1.5: "Mass removal of all contacts is not allowed" (L1895, L1986); enforced here too, by comparing the
    selection with the company's whole contact count (G14), so no request can empty the database at once.
    Side effects: deletes contacts, their tag links and opt-outs; audit ``contact.mass_deleted``.
    Raises ApplicationError for an empty selection or one that holds every contact.
    """
    selection = contacts.filter(company=company).order_by()
    count = selection.count()
    if not count:
        raise ApplicationError(_("Select at least one contact."))
    total = Contact.objects.filter(company=company).count()
    if count >= total:
        raise ApplicationError(
            _("Deleting all contacts at once is not allowed. Narrow the selection to fewer contacts.")
        )
    ids = selection.values("pk")
    ContactTag.objects.filter(company=company, contact_id__in=ids).delete()
    ContactOptOut.objects.filter(company=company, contact_id__in=ids).delete()
    Contact.objects.filter(company=company, pk__in=ids).delete()
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACTS_MASS_DELETED,
        changes=[_mass_change(count=count, data={"deleted": True})],
    )
    return count


# -- targets (guide §8.3) --------------------------------------------------------------------------------------


def clean_target_filters(company: Company, filters: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Check each filter against the company's columns; return them in stored form. Raises ValidationError."""
    spec = contacts_spec(ContactAttribute.objects.filter(company=company))
    cleaned: list[dict[str, str]] = []
    probe = Contact.objects.none()
    for number, params in enumerate(filters, start=1):
        item = {k: str(params.get(k, "") or "").strip() for k in ("key", "mode", "q", "from", "to")}
        try:
            flt = filter_from_params(spec, item)
            apply_filter(probe, flt)  # types the values; raises for a wrong one
        except ListQueryError as exc:
            raise ValidationError(
                {"filters": _("Filter %(n)d: %(error)s") % {"n": number, "error": exc}}
            ) from exc
        cleaned.append({k: v for k, v in item.items() if v})
    return cleaned


def _clean_target_name(company: Company, name: str, target: Target | None) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationError({"name": _("Enter a name.")})
    if len(cleaned) > 150:
        raise ValidationError({"name": _("At most 150 characters.")})
    taken = Target.objects.filter(company=company, name__iexact=cleaned)
    if target is not None:
        taken = taken.exclude(pk=target.pk)
    if taken.exists():
        raise ValidationError({"name": _("A target called %(name)s already exists.") % {"name": cleaned}})
    return cleaned


@transaction.atomic
def target_create(
    *, company: Company, actor: User | None, name: str, filters: Sequence[Mapping[str, Any]]
) -> Target:
    """Save a named set of filters (guide §8.3). Side effects: audit ``target.created``. Raises ValidationError."""
    target = Target(
        company=company,
        name=_clean_target_name(company, name, None),
        filters=clean_target_filters(company, filters),
    )
    target.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.TARGET_CREATED,
        target=target,
        changes=[change_of(target, AuditDetail.Operation.INSERT)],
    )
    return target


@transaction.atomic
def target_update(
    *, company: Company, actor: User | None, target: Target, name: str, filters: Sequence[Mapping[str, Any]]
) -> Target:
    """Change a target's name and filters. Side effects: audit ``target.changed``. Raises ValidationError."""
    _check_company(company, target)
    old = snapshot(target)
    target.name = _clean_target_name(company, name, target)
    target.filters = clean_target_filters(company, filters)
    target.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.TARGET_CHANGED,
        target=target,
        changes=[change_of(target, AuditDetail.Operation.UPDATE, old=old, new=snapshot(target))],
    )
    return target


@transaction.atomic
def target_duplicate(*, company: Company, actor: User | None, target: Target) -> Target:
    """Copy a target as "<name> (copy)" with Launches 0 (guide §8.3 Duplicate). Side effects: audit."""
    _check_company(company, target)
    base = _("%(name)s (copy)") % {"name": target.name}
    name, n = base[:150], 2
    while Target.objects.filter(company=company, name__iexact=name).exists():
        name = f"{base[:140]} {n}"
        n += 1
    copy = Target(company=company, name=name, filters=list(target.filters))
    copy.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.TARGET_CREATED,
        target=copy,
        changes=[change_of(copy, AuditDetail.Operation.INSERT)],
    )
    return copy


@transaction.atomic
def target_delete(*, company: Company, actor: User | None, target: Target) -> None:
    """Delete a target. Side effects: audit ``target.deleted``."""
    _check_company(company, target)
    audit_record(
        company=company,
        actor=actor,
        action=actions.TARGET_DELETED,
        target=target,
        changes=[change_of(target, AuditDetail.Operation.DELETE)],
    )
    target.delete()


def target_launches_add(*, company: Company, targets: Sequence[Target]) -> None:
    """Count one broadcast launch on each target (guide §8.3 Launches); called by the broadcast launch."""
    Target.objects.filter(company=company, pk__in=[t.pk for t in targets]).update(launches=F("launches") + 1)


def target_filters_described(company: Company, target: Target) -> list[str]:
    spec = contacts_spec(ContactAttribute.objects.filter(company=company))
    return [describe_filter(spec, f) for f in target.filters]


# -- opt-outs (guide §8.1.3-§8.1.4) ----------------------------------------------------------------------------


def _clean_channel(channel: str) -> str:
    if channel not in ChannelKind.values:
        raise ValidationError({"channel": _("Choose a channel.")})
    return channel


@transaction.atomic
def contact_optout_set(
    *,
    company: Company,
    actor: User | None,
    contact: Contact,
    channel: str,
    sender_id: str = "",
    source: str = ContactOptOut.Source.MANUAL,
) -> ContactOptOut:
    """Opt the contact out of ``channel`` (a sender ID, or blank for the whole channel) with the date and user.

    Side effects: inserts a ContactOptOut (an existing one is kept as it was); audit ``contact.opted_out``.
    Raises ValidationError for an unknown channel or a sender ID over 100 characters.
    """
    _check_company(company, contact)
    _clean_channel(channel)
    sender_id = sender_id.strip()
    if len(sender_id) > 100:
        raise ValidationError({"sender_id": _("At most 100 characters.")})
    optout, created = ContactOptOut.objects.get_or_create(
        company=company,
        contact=contact,
        channel=channel,
        sender_id=sender_id,
        defaults={"source": source, "created_by": actor if actor is not None else None},
    )
    if created:
        audit_record(
            company=company,
            actor=actor,
            action=actions.CONTACT_OPTED_OUT,
            target=contact,
            changes=[change_of(optout, AuditDetail.Operation.INSERT)],
        )
    return optout


@transaction.atomic
def contact_optout_remove(*, company: Company, actor: User | None, optout: ContactOptOut) -> None:
    """Lift one opt-out. Side effects: audit ``contact.opted_in``."""
    _check_company(company, optout)
    audit_record(
        company=company,
        actor=actor,
        action=actions.CONTACT_OPTED_IN,
        target=optout.contact,
        changes=[change_of(optout, AuditDetail.Operation.DELETE)],
    )
    optout.delete()


# -- opt-out words (guide §8.3, inventory §8.5) ----------------------------------------------------------------


@dataclass(frozen=True)
class OptOutWordData:
    word: str
    channel: str
    effective_from: datetime.datetime | None
    effective_till: datetime.datetime | None = None
    sender_id: str = ""  # blank = the whole channel


def _clean_word(data: OptOutWordData) -> dict[str, Any]:
    errors: dict[str, str] = {}
    word = " ".join((data.word or "").split())
    if not word:
        errors["word"] = _("Enter the opt-out word.")
    elif len(word) > 100:
        errors["word"] = _("At most 100 characters.")
    if data.channel not in ChannelKind.values:
        errors["channel"] = _("Choose a channel.")
    if len(data.sender_id.strip()) > 100:
        errors["sender_id"] = _("At most 100 characters.")
    if data.effective_from is None:
        errors["effective_from"] = _("Enter the date and time the word starts to work.")
    elif data.effective_till is not None and data.effective_till < data.effective_from:
        # G12: a till earlier than from is refused.
        errors["effective_till"] = _("Effective till must not be earlier than Effective from.")
    for moment in (data.effective_from, data.effective_till):
        if moment is not None and timezone.is_naive(moment):
            raise ValueError("opt-out word periods must be aware datetimes")
    if errors:
        raise ValidationError(errors)
    return {
        "word": word,
        "channel": data.channel,
        "sender_id": data.sender_id.strip(),
        "effective_from": data.effective_from,
        "effective_till": data.effective_till,
    }


@transaction.atomic
def optout_word_create(*, company: Company, actor: User | None, data: OptOutWordData) -> OptOutWord:
    """Add an opt-out word. Side effects: audit ``optout_word.created``. Raises ValidationError per field."""
    word = OptOutWord(company=company, **_clean_word(data))
    word.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.OPTOUT_WORD_CREATED,
        target=word,
        changes=[change_of(word, AuditDetail.Operation.INSERT)],
    )
    return word


@transaction.atomic
def optout_word_update(
    *, company: Company, actor: User | None, word: OptOutWord, data: OptOutWordData
) -> OptOutWord:
    """Change an opt-out word. Side effects: audit ``optout_word.changed``. Raises ValidationError per field."""
    _check_company(company, word)
    old = snapshot(word)
    for name, value in _clean_word(data).items():
        setattr(word, name, value)
    word.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.OPTOUT_WORD_CHANGED,
        target=word,
        changes=[change_of(word, AuditDetail.Operation.UPDATE, old=old, new=snapshot(word))],
    )
    return word


@transaction.atomic
def optout_word_delete(*, company: Company, actor: User | None, word: OptOutWord) -> None:
    """Delete an opt-out word; opt-outs it made stay. Side effects: audit ``optout_word.deleted``."""
    _check_company(company, word)
    audit_record(
        company=company,
        actor=actor,
        action=actions.OPTOUT_WORD_DELETED,
        target=word,
        changes=[change_of(word, AuditDetail.Operation.DELETE)],
    )
    word.delete()


def _matches(word: str, text: str) -> bool:
    # G12: the whole message, trimmed and case-insensitive (so STOP, Stop and stop are the same word).
    return " ".join(text.split()).casefold() == " ".join(word.split()).casefold()


@transaction.atomic
def optout_inbound_apply(
    *,
    company_id: int,
    channel: str,
    sender_id: str,
    from_address: str,
    text: str,
    received_at: datetime.datetime,
    message_id: int | None = None,
) -> str:
    """Handle one inbound message for opt-outs; return "opted_out", "opted_in" or "none".

    Guide §8.3: a message matching a word active at its time (words of that channel for that sender or the whole
    channel) opts the contact out of the word's scope, recorded with the message time and source "word". The
    contact is created when the number is new, so that a later import cannot message someone who said STOP.

    A later message that is not an opt-out word opts the contact back in. The guide says "any MO … regardless of
    the channel type"; decision (G13): it lifts only the opt-outs of that message's channel for that sender and the
    whole-channel one, not other channels, and only those older than the message, so a re-delivered or late
    message never undoes a newer STOP, and the STOP itself never lifts its own opt-out.

    Idempotent: handling the same message twice changes nothing more. Side effects: ContactOptOut rows, maybe a
    contact; audit ``contact.opted_out`` / ``contact.opted_in`` with the system as actor.
    """
    company = Company.objects.get(pk=company_id)
    try:
        phone = normalize_phone(from_address, country=company.default_country)
    except ValidationError:
        return "none"  # not a phone identity (e-mail, app id): no contact to opt out
    words = [
        w
        for w in optout_word_active(company=company, channel=channel, sender_id=sender_id, moment=received_at)
        if _matches(w.word, text)
    ]
    contact = Contact.objects.filter(company=company, phone=phone).first()
    if words:
        if contact is None:
            contact = Contact(company=company, phone=phone)
            _save_contact(contact)
            audit_record(
                company=company,
                actor=None,
                action=actions.CONTACT_CREATED,
                target=contact,
                changes=[
                    change_of(
                        contact, AuditDetail.Operation.INSERT, new=snapshot(contact, CONTACT_AUDIT_FIELDS)
                    )
                ],
            )
        # A whole-channel word wins over a sender word: it covers more.
        word = min(words, key=lambda w: (bool(w.sender_id), w.pk))
        scope = "" if word.whole_channel else sender_id
        optout, created = ContactOptOut.objects.get_or_create(
            company=company,
            contact=contact,
            channel=channel,
            sender_id=scope,
            defaults={
                "source": ContactOptOut.Source.WORD,
                "word": word,
                "message_id": message_id,
                "opted_out_at": received_at,
            },
        )
        if created:
            audit_record(
                company=company,
                actor=None,
                action=actions.CONTACT_OPTED_OUT,
                target=contact,
                changes=[change_of(optout, AuditDetail.Operation.INSERT)],
            )
        return "opted_out"
    if contact is None:
        return "none"
    lifted = list(
        ContactOptOut.objects.filter(company=company, contact=contact, channel=channel)
        .filter(Q(sender_id="") | Q(sender_id=sender_id))
        .filter(opted_out_at__lt=received_at)
    )
    if not lifted:
        return "none"
    audit_record(
        company=company,
        actor=None,
        action=actions.CONTACT_OPTED_IN,
        target=contact,
        changes=[change_of(o, AuditDetail.Operation.DELETE) for o in lifted],
    )
    ContactOptOut.objects.filter(pk__in=[o.pk for o in lifted]).delete()
    return "opted_in"
