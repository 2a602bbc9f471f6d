"""Reads of the Contacts section: contacts, attributes, tags, targets, opt-outs and opt-out words (guide §8)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence

from django.db.models import Q, QuerySet

from contacts.lists import apply_filters, contacts_spec
from contacts.models import (
    Contact,
    ContactAttribute,
    ContactImport,
    ContactOptOut,
    ImportPreset,
    OptOutWord,
    Tag,
    Target,
)
from portal.core.listing import COUNT_CAP, ListQueryError, ListSpec, apply_filter, parse_state
from portal.tenants.models import Company


def attribute_list(*, company: Company) -> QuerySet[ContactAttribute]:
    """The company's attributes in name order (the Attribute manager and the list columns)."""
    return ContactAttribute.objects.filter(company=company).order_by("name")


def contact_spec(*, company: Company) -> ListSpec:
    return contacts_spec(attribute_list(company=company))


def contact_list(*, company: Company) -> QuerySet[Contact]:
    """All contacts of the company with what the table shows (tags and opt-outs prefetched per page)."""
    return Contact.objects.filter(company=company).prefetch_related("tags", "optouts")


def contact_count(*, company: Company) -> int:
    return Contact.objects.filter(company=company).count()


def contact_filtered(*, company: Company, params: Mapping[str, str]) -> QuerySet[Contact]:
    """The contacts the list's one filter in ``params`` selects (mass edit "all records", export).

    Raises ListQueryError when the filter in ``params`` is not valid, so a selection never silently widens to
    every contact.
    """
    spec = contact_spec(company=company)
    qs: QuerySet[Contact] = Contact.objects.filter(company=company)
    state = parse_state(spec, params)
    if state.errors and params.get("filter"):
        raise ListQueryError(" ".join(state.errors))
    if state.filter is not None:
        qs = apply_filter(qs, state.filter)
    return qs


def contact_selection(
    *, company: Company, uuids: Sequence[str] = (), params: Mapping[str, str] | None = None
) -> QuerySet[Contact]:
    """Guide §8.1.5: the chosen rows (one by one or a whole page) or, with ``params``, all rows of the filter."""
    if params is not None:
        return contact_filtered(company=company, params=params)
    valid = [u for u in uuids if _is_uuid(u)]
    return Contact.objects.filter(company=company, uuid__in=valid)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def tag_list(*, company: Company) -> QuerySet[Tag]:
    return Tag.objects.filter(company=company).order_by("name")


def target_list(*, company: Company) -> QuerySet[Target]:
    return Target.objects.filter(company=company)


def target_contacts(
    *, company: Company, filters: Sequence[Mapping[str, str]], spec: ListSpec | None = None
) -> QuerySet[Contact]:
    """The contacts a target's filters select now (targets are dynamic, guide §8.3). Raises ListQueryError."""
    spec = spec or contact_spec(company=company)
    return apply_filters(Contact.objects.filter(company=company), spec, filters)


def target_count(
    *, company: Company, filters: Sequence[Mapping[str, str]], spec: ListSpec | None = None
) -> tuple[int, bool]:
    """How many contacts match, exact up to the list cap; ``(count, capped)``. Raises ListQueryError."""
    qs = target_contacts(company=company, filters=filters, spec=spec).order_by()
    total = qs[: COUNT_CAP * 10 + 1].count()
    return min(total, COUNT_CAP * 10), total > COUNT_CAP * 10


def optout_list(*, company: Company, contact: Contact) -> QuerySet[ContactOptOut]:
    return ContactOptOut.objects.filter(company=company, contact=contact).select_related("created_by")


def opted_out_contact_ids(
    *, company: Company, channel: str, sender_id: str, contact_ids: Iterable[int]
) -> set[int]:
    """The contacts among ``contact_ids`` that may not get messages on ``channel`` from ``sender_id``.

    Every send path (broadcasts, conversations, API) asks this before sending (guide §8.1.4).
    """
    rows = ContactOptOut.objects.filter(
        company=company, channel=channel, contact_id__in=list(contact_ids)
    ).filter(Q(sender_id="") | Q(sender_id=sender_id))
    return set(rows.values_list("contact_id", flat=True))


def optout_word_list(*, company: Company) -> QuerySet[OptOutWord]:
    return OptOutWord.objects.filter(company=company)


def optout_word_active(
    *, company: Company, channel: str, sender_id: str, moment: datetime.datetime
) -> QuerySet[OptOutWord]:
    """Words in force at ``moment`` on ``channel`` for ``sender_id`` (its own words and whole-channel words)."""
    return (
        OptOutWord.objects.filter(company=company, channel=channel, effective_from__lte=moment)
        .filter(Q(effective_till__isnull=True) | Q(effective_till__gt=moment))
        .filter(Q(sender_id="") | Q(sender_id__iexact=sender_id))
    )


# -- imports and exports (guide §8.2, issue 6 items 5 and 7) ---------------------------------------------------


def import_history(*, company: Company, limit: int = 5) -> QuerySet[ContactImport]:
    """Guide §8.2 step 1: the five most recent files, view only (no download)."""
    return (
        ContactImport.objects.filter(company=company)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def import_list(*, company: Company) -> QuerySet[ContactImport]:
    return ContactImport.objects.filter(company=company).order_by("-created_at", "-id")


def import_get_or_none(*, company: Company, uuid: str) -> ContactImport | None:
    if not _is_uuid(uuid):
        return None
    return ContactImport.objects.filter(company=company, uuid=uuid).first()


def import_preset_list(*, company: Company) -> QuerySet[ImportPreset]:
    return ImportPreset.objects.filter(company=company).order_by("name")


def import_preset_get(*, company: Company, uuid: str) -> ImportPreset | None:
    if not _is_uuid(uuid):
        return None
    return ImportPreset.objects.filter(company=company, uuid=uuid).first()


def attribute_by_name(*, company: Company) -> dict[str, ContactAttribute]:
    """The company's attributes by lower-cased name (the API names attributes, the storage uses slots)."""
    return {a.name.lower(): a for a in ContactAttribute.objects.filter(company=company)}
