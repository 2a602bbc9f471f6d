"""Contacts: New / Edit / Delete contact (guide §8.1.2-§8.1.3)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.services._common import (
    CONTACT_AUDIT_FIELDS,
    _attribute_values,
    _check_company,
    _name_email_errors,
)
from contacts.services.tags import _set_tags
from contacts.values import normalize_phone
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.tenants.models import Company


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
    errors.update(_name_email_errors(first_name=data.first_name, last_name=data.last_name, email=data.email))
    attributes = dict(contact.attributes) if contact is not None else {}
    _by_key, values, attribute_errors = _attribute_values(company, data.attributes)
    errors.update(attribute_errors)
    for key, value in values.items():
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
