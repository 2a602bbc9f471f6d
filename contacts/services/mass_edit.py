"""Mass edit (guide §8.1.5): set-based updates and deletes of a selection."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, QuerySet, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from contacts.models import (
    Contact,
    ContactOptOut,
    ContactTag,
    Tag,
)
from contacts.services._common import _attribute_values, _minus_keys, _name_email_errors
from contacts.services.tags import _tags_by_name, _tags_named
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import Change, audit_record
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company


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
    by_key, cleaned, errors = _attribute_values(company, edit.attributes)
    values = {key: value for key, value in cleaned.items() if value is not None}
    clear_keys = [k for k in edit.clear if k in by_key]
    clear_fields = [k for k in edit.clear if k in CLEARABLE_FIELDS]
    unknown = [k for k in edit.clear if k not in by_key and k not in CLEARABLE_FIELDS]
    if unknown:
        errors["clear"] = _("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)}
    errors.update(_name_email_errors(first_name=edit.first_name, last_name=edit.last_name, email=edit.email))
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
