"""The Attribute manager (guide §8.2): six typed attributes stored by slot."""

from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from contacts.models import (
    MAX_ATTRIBUTES,
    Contact,
    ContactAttribute,
    Target,
    has_value,
    is_slot_key,
    key_slot,
)
from contacts.services._common import RESERVED_NAMES, _check_company, _minus_keys
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company


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
        Contact.objects.filter(has_value(attribute.key), company=company)
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


def attribute_indexes_request(*, company: Company, keys: Iterable[str]) -> list[int]:
    """Queue the per-slot index build of each attribute key in ``keys`` that has none yet, when the company is large.

    ``keys`` are the attributes a list query sorts or range-filters by (``contacts.lists.slot_indexed_keys``); the
    indexes are built on demand (decision and figures in ``contacts.indexes``). Side effects: at most one build
    task per slot is queued within ``indexes.QUEUED_TTL``. Returns the slots queued.
    """
    from contacts import indexes
    from contacts.tasks import attribute_index_ensure_task

    missing = indexes.slot_index_missing(key_slot(key) for key in keys if is_slot_key(key))
    if not missing or not indexes.company_is_large(company.pk):
        return []
    queued = [slot for slot in missing if indexes.claim_build(slot)]
    for slot in queued:
        attribute_index_ensure_task.delay(slot)
    return queued
