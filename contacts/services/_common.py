"""Helpers shared by the contacts services: tenant check and JSON attribute expressions."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Value
from django.db.models.expressions import CombinedExpression
from django.utils.translation import gettext as _

from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company

CONTACT_AUDIT_FIELDS = ("phone", "first_name", "last_name", "email", "attributes")
NAME_MAX = 150
# Built-in fields of the contact form; an attribute may not take their names (they would show twice).
RESERVED_NAMES = {"phone", "phone number", "phonenumber", "name", "surname", "email", "e-mail", "tags"}


def _check_company(company: Company, obj: models.Model) -> None:
    if getattr(obj, "company_id", None) != company.pk:
        raise ApplicationError(_("This object belongs to another company."))


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
