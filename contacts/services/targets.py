"""Targets (guide §8.3): named, dynamic sets of filters."""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from contacts.lists import contacts_spec, describe_filter, filter_from_params
from contacts.models import (
    Contact,
    ContactAttribute,
    Target,
)
from contacts.services._common import _check_company
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.core.listing import ListQueryError, apply_filter
from portal.tenants.models import Company


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
