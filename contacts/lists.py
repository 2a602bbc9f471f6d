"""The contacts table of guide §8.1.1 on the portal's list engine, with one column per custom attribute.

The columns depend on the company's attributes, so the spec is built per request (:func:`contacts_spec`). The
registered spec (:data:`CONTACTS_LIST`) holds the fixed columns plus one placeholder per attribute slot, so that
the column picker accepts any attribute column a company can have (the keys are the slot keys ``a1``…).
Targets (guide §8.3) store filters in the same vocabulary and are evaluated by the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from channels_out.kinds import ChannelKind
from contacts.models import (
    MAX_ATTRIBUTES,
    Contact,
    ContactAttribute,
    ContactOptOut,
    ContactTag,
    has_value,
    is_slot_key,
    slot_key,
)
from contacts.values import clean_attribute_value, display_value
from portal.core.listing import (
    Column,
    Filter,
    Kind,
    ListQueryError,
    ListSpec,
    ListState,
    Mode,
    apply_filter,
    register_list,
)

LIST_KEY = "contacts"
PAGE_SIZE = 50

_KIND_OF_TYPE = {
    ContactAttribute.Type.EMAIL: Kind.TEXT,
    ContactAttribute.Type.TEXT: Kind.TEXT,
    ContactAttribute.Type.LIST: Kind.CHOICE,
    ContactAttribute.Type.NUMBER: Kind.NUMBER,
    ContactAttribute.Type.DATE: Kind.DATE,
    ContactAttribute.Type.BOOL: Kind.BOOL,
}


def _tags_cell(contact: Contact) -> str:
    """Guide §8.1: the first tag as a chip plus how many more (``Women +2``)."""
    names = sorted(tag.name for tag in contact.tags.all())
    if not names:
        return ""
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def _optouts_cell(contact: Contact) -> str:
    parts = []
    for optout in contact.optouts.all():
        channel = ChannelKind(optout.channel).label
        parts.append(f"{channel}: {optout.sender_id or _('Whole channel')}")
    return "; ".join(parts)


def _tags_filter(flt: Filter) -> Q:
    links = ContactTag.objects.filter(contact=OuterRef("pk"))
    if flt.mode == Mode.EMPTY:
        return ~Q(Exists(links))
    if flt.mode == Mode.NONEMPTY:
        return Q(Exists(links))
    if not flt.q:
        raise ListQueryError(_("Type a value to filter by."))
    return Q(Exists(links.filter(tag__name__icontains=flt.q)))


def _optouts_filter(flt: Filter) -> Q:
    rows = ContactOptOut.objects.filter(contact=OuterRef("pk"))
    if flt.mode == Mode.EMPTY:
        return ~Q(Exists(rows))
    if flt.mode == Mode.NONEMPTY:
        return Q(Exists(rows))
    if not flt.q:
        raise ListQueryError(_("Type a value to filter by."))
    channels = [kind.value for kind in ChannelKind if flt.q.lower() in str(kind.label).lower()]
    return Q(Exists(rows.filter(Q(channel__in=channels) | Q(sender_id__icontains=flt.q))))


def _attribute_filter(attribute: ContactAttribute) -> Callable[[Filter], Q]:
    key = attribute.key

    def typed(raw: str) -> Any:
        try:
            return clean_attribute_value(attribute, raw)
        except ValidationError as exc:
            raise ListQueryError(" ".join(exc.messages)) from exc

    def build(flt: Filter) -> Q:
        # Empty / non-empty: the value IS [NOT] NULL, served by the attribute's per-slot index (contacts.models).
        if flt.mode == Mode.EMPTY:
            return has_value(key, present=False)
        if flt.mode == Mode.NONEMPTY:
            return has_value(key)
        if flt.mode == Mode.RANGE:
            if not flt.low and not flt.high:
                raise ListQueryError(_("Give at least one end of the range."))
            cond = Q()
            # jsonb compares numbers as numbers and ISO dates as text, which is their order (models docstring).
            if flt.low:
                cond &= Q(**{f"attributes__{key}__gte": typed(flt.low)})
            if flt.high:
                cond &= Q(**{f"attributes__{key}__lte": typed(flt.high)})
            return cond
        if not flt.q:
            raise ListQueryError(_("Type a value to filter by."))
        if attribute.type in (ContactAttribute.Type.TEXT, ContactAttribute.Type.EMAIL):
            # Guide §7.3: "By value" is a case-insensitive substring.
            return Q(**{f"attributes__{key}__icontains": flt.q})
        if attribute.type == ContactAttribute.Type.LIST and flt.q.lower() not in {
            o.lower() for o in attribute.options
        }:
            return Q(**{f"attributes__{key}__icontains": flt.q})
        # Exact typed values are containment queries, answered by the GIN index.
        return Q(attributes__contains={key: typed(flt.q)})

    return build


def _attribute_reader(attribute: ContactAttribute) -> Callable[[Contact], Any]:
    def read(contact: Contact) -> Any:
        return display_value(attribute, contact.attribute(attribute))

    return read


def attribute_column(attribute: ContactAttribute) -> Column:
    kind = _KIND_OF_TYPE[ContactAttribute.Type(attribute.type)]
    return Column(
        attribute.key,
        attribute.name,
        f"attributes__{attribute.key}",
        kind,
        choices=tuple((o, o) for o in attribute.options),
        value=_attribute_reader(attribute),
        filter_q=_attribute_filter(attribute),
    )


def _fixed_columns() -> tuple[Column, ...]:
    # Guide §8.1.1 (L1764): Phone number, Name, Surname, City, Email, Tags, Target Filters, Opt-Out, <attributes>,
    # RCS Capable, RCS capability last checked, Actions. City and the like are custom attributes here.
    return (
        Column("phone", gettext_lazy("Phone number"), "phone", required=True),
        Column("first_name", gettext_lazy("Name"), "first_name"),
        Column("last_name", gettext_lazy("Surname"), "last_name"),
        Column("email", gettext_lazy("Email"), "email"),
        Column("tags", gettext_lazy("Tags"), None, value=_tags_cell, filter_q=_tags_filter),
        Column("optouts", gettext_lazy("Opt-Out"), None, value=_optouts_cell, filter_q=_optouts_filter),
    )


def _tail_columns() -> tuple[Column, ...]:
    return (
        Column("rcs", gettext_lazy("RCS Capable"), "rcs_capable", Kind.BOOL),
        Column("rcs_checked", gettext_lazy("RCS capability last checked"), "rcs_checked_at", Kind.DATETIME),
        Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME, default=False),
        Column("updated", gettext_lazy("Updated"), "updated_at", Kind.DATETIME, default=False),
    )


def slot_indexed_keys(spec: ListSpec, state: ListState) -> list[str]:
    """The attribute keys the list's query reads through their per-slot index: the sort column, and a range,
    empty or non-empty filter (a "by value" filter is a GIN containment or a substring; contacts.indexes)."""
    attribute_keys = {column.key for column in spec.columns if is_slot_key(column.key)}
    keys = [state.sort_key] if state.sort_key in attribute_keys else []
    flt = state.filter
    if (
        flt is not None
        and flt.column.key in attribute_keys
        and flt.mode in (Mode.RANGE, Mode.EMPTY, Mode.NONEMPTY)
    ):
        keys.append(flt.column.key)
    return keys


# Registered for the column picker: every slot an attribute can occupy.
CONTACTS_LIST = register_list(
    ListSpec(
        key=LIST_KEY,
        columns=(
            *_fixed_columns(),
            *(
                Column(slot_key(n), gettext_lazy("Attribute"), f"attributes__{slot_key(n)}")
                for n in range(1, MAX_ATTRIBUTES + 1)
            ),
            *_tail_columns(),
        ),
        default_sort="-created",
        page_size=PAGE_SIZE,
    )
)


def contacts_spec(attributes: Iterable[ContactAttribute]) -> ListSpec:
    """The contacts table of one company: fixed columns, then its attributes in name order."""
    return ListSpec(
        key=LIST_KEY,
        columns=(*_fixed_columns(), *(attribute_column(a) for a in attributes), *_tail_columns()),
        default_sort="-created",
        page_size=PAGE_SIZE,
    )


# -- target filters (guide §8.3): the list filter vocabulary, several at once, combined with AND ---------------


def filter_from_params(spec: ListSpec, params: Mapping[str, str]) -> Filter:
    """Build one filter from ``{"key", "mode", "q", "from", "to"}``; raise ListQueryError when it makes no sense."""
    column = spec.column(str(params.get("key", "")))
    mode = str(params.get("mode") or Mode.VALUE)
    if column is None or mode not in column.modes:
        raise ListQueryError(_("This filter is not available."))
    return Filter(
        column=column,
        mode=mode,
        q=str(params.get("q", "")).strip(),
        low=str(params.get("from", "")).strip(),
        high=str(params.get("to", "")).strip(),
    )


def apply_filters(
    qs: QuerySet[Contact], spec: ListSpec, filters: Sequence[Mapping[str, str]]
) -> QuerySet[Contact]:
    for params in filters:
        qs = apply_filter(qs, filter_from_params(spec, params))
    return qs


def describe_filter(spec: ListSpec, params: Mapping[str, str]) -> str:
    try:
        return filter_from_params(spec, params).describe()
    except ListQueryError:
        return _("(removed attribute)")


def describe_filters(spec: ListSpec, filters: Sequence[Mapping[str, str]]) -> str:
    """A target's criteria in one line for the Targets table's Filters column (guide §8.3), e.g.
    "Gender: f; Age from 18 to 25". Filters combine with AND; no filter selects every contact."""
    if not filters:
        return _("All contacts")
    return "; ".join(describe_filter(spec, f) for f in filters)
