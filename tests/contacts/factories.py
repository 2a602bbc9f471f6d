"""Helpers for contacts tests; tenant rows always take their company explicitly (CONVENTIONS R12)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from contacts import services
from contacts.models import Contact, ContactAttribute
from portal.tenants.models import Company

_seq = itertools.count(100)


def phone() -> str:
    """A fresh valid US number in E.164."""
    return f"+1201555{next(_seq) % 10000:04d}"


def make_contact(company: Company, number: str | None = None, **fields: Any) -> Contact:
    tags: Sequence[str] | None = fields.pop("tags", None)
    attributes = fields.pop("attributes", {})
    return services.contact_create(
        company=company,
        actor=None,
        data=services.ContactData(phone=number or phone(), tags=tags, attributes=attributes, **fields),
    )


def make_attribute(company: Company, name: str, type_: str, **fields: Any) -> ContactAttribute:
    return services.attribute_create(company=company, actor=None, name=name, type=type_, **fields)
