"""Writes audit entries. Domain services call ``audit_record`` inside their own transaction (CONVENTIONS R10)."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile

from portal.audit.context import current_ip
from portal.audit.models import AuditDetail, AuditEntry
from portal.tenants.models import Company

# Values that must never reach the log (guide §15: keys never appear in audit values).
REDACTED_FIELDS = frozenset({"password", "key_hash", "secret", "totp_secret", "api_key"})


@dataclass(frozen=True)
class Change:
    table: str
    operation: str
    object_id: str
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None


def _json_value(value: Any) -> Any:
    if isinstance(value, FieldFile):  # file and image fields: the stored name, not the file object
        return value.name or ""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """Return the concrete field values of ``instance`` as JSON-ready data, secrets left out."""
    names = set(fields) if fields is not None else None
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in REDACTED_FIELDS or (names is not None and field.name not in names):
            continue
        data[field.attname] = _json_value(getattr(instance, field.attname))
    return data


def change_of(
    instance: models.Model,
    operation: str,
    *,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
) -> Change:
    """Build a detail row for ``instance``: insert takes its new values, delete its old ones."""
    if operation == AuditDetail.Operation.INSERT and new is None:
        new = snapshot(instance)
    if operation == AuditDetail.Operation.DELETE and old is None:
        old = snapshot(instance)
    return Change(
        table=instance._meta.db_table, operation=operation, object_id=str(instance.pk), old=old, new=new
    )


def audit_record(
    *,
    company: Company,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    changes: Iterable[Change] = (),
    ip: str | None = None,
    actor_login: str | None = None,
) -> AuditEntry:
    """Write one audit entry with its detail rows.

    Side effects: inserts an AuditEntry and one AuditDetail per change. Call it inside the caller's transaction so
    that the log and the change commit or roll back together.
    """
    user = actor if getattr(actor, "is_authenticated", False) else None
    entry = AuditEntry.objects.create(
        company=company,
        actor=user,
        actor_login=actor_login or (user.get_username() if user is not None else "system"),
        ip=ip if ip is not None else current_ip.get(),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
    )
    AuditDetail.objects.bulk_create(
        [
            AuditDetail(
                company=company,
                entry=entry,
                table=c.table,
                operation=c.operation,
                object_id=c.object_id,
                old_value=_json_value(dict(c.old)) if c.old is not None else None,
                new_value=_json_value(dict(c.new)) if c.new is not None else None,
            )
            for c in changes
        ]
    )
    return entry
