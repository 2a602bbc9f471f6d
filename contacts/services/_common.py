"""Helpers shared by the contacts services: tenant check, the checks of a contact's fields and attribute values
(New/Edit contact and mass edit alike), and JSON attribute expressions."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import F, Value
from django.db.models.expressions import CombinedExpression
from django.utils.translation import gettext as _

from contacts.models import ContactAttribute
from contacts.values import clean_attribute_value
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company

CONTACT_AUDIT_FIELDS = ("phone", "first_name", "last_name", "email", "attributes")
NAME_MAX = 150
# Built-in fields of the contact form; an attribute may not take their names (they would show twice).
RESERVED_NAMES = {"phone", "phone number", "phonenumber", "name", "surname", "email", "e-mail", "tags"}


def _check_company(company: Company, obj: models.Model) -> None:
    if getattr(obj, "company_id", None) != company.pk:
        raise ApplicationError(_("This object belongs to another company."))


def _name_email_errors(*, first_name: str, last_name: str, email: str) -> dict[str, str]:
    """Per-field errors of the names (at most NAME_MAX characters) and the e-mail (blank: not given)."""
    errors: dict[str, str] = {}
    for name, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > NAME_MAX:
            errors[name] = _("At most %(max)d characters.") % {"max": NAME_MAX}
    if email.strip():
        try:
            validate_email(email.strip())
        except ValidationError:
            errors["email"] = _("“%(value)s” is not an e-mail address.") % {"value": email}
    return errors


def _attribute_values(
    company: Company, raw: Mapping[str, Any]
) -> tuple[dict[str, ContactAttribute], dict[str, Any], dict[str, str]]:
    """Read posted attribute values (key -> raw value) against the company's attributes.

    Returns the company's attributes by key, each readable key's stored value (``None``: the value was blank) and
    per-key errors: an attribute that no longer exists, a value that does not fit the attribute's type.
    """
    by_key = {a.key: a for a in ContactAttribute.objects.filter(company=company)}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        attribute = by_key.get(key)
        if attribute is None:
            errors[key] = _("This attribute no longer exists.")
            continue
        try:
            values[key] = clean_attribute_value(attribute, value)
        except ValidationError as exc:
            errors[key] = " ".join(exc.messages)
    return by_key, values, errors


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
