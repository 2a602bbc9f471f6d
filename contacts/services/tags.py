"""Tags: static marks on chosen contacts (guide §8.1)."""

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from contacts.models import (
    Contact,
    ContactTag,
    Tag,
)
from contacts.services._common import _check_company
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.tenants.models import Company


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
def tag_rename(*, company: Company, actor: User | None, tag: Tag, name: str) -> Tag:
    """Rename a tag (seed 004 E108); its contacts keep it. Side effects: audit ``tag.changed`` (old and new name).

    Raises ValidationError on ``name`` for an empty or too long name, or one another tag of the company has
    (case-insensitive, as the unique index). A change of case only ("vip" to "VIP") is allowed.
    """
    _check_company(company, tag)
    cleaned = _clean_tag_name(name)
    if Tag.objects.filter(company=company, name__iexact=cleaned).exclude(pk=tag.pk).exists():
        raise ValidationError({"name": _("The tag %(name)s already exists.") % {"name": cleaned}})
    if cleaned == tag.name:
        return tag
    old = snapshot(tag)
    tag.name = cleaned
    tag.save(update_fields=["name", "updated_at"])
    audit_record(
        company=company,
        actor=actor,
        action=actions.TAG_CHANGED,
        target=tag,
        changes=[change_of(tag, AuditDetail.Operation.UPDATE, old=old, new=snapshot(tag))],
    )
    return tag


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
