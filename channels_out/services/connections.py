"""Connections: building adapters, the back office's connection and simulator writes, RCS capability checks.

Adapters never touch the ORM (R6); they are built here with ``adapter_for`` from a Connection's config (plus the
simulator's script for scripted adapters).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from channels_out.base import ChannelAdapter
from channels_out.kinds import ChannelKind
from channels_out.models import Connection, SimulatorRule
from channels_out.registry import adapters
from channels_out.validation import address_normalize
from portal.audit import actions
from portal.audit.services import audit_record
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company


class UnknownSenderError(ApplicationError):
    """No enabled connection of the company serves this sender ID on this channel."""


def adapter_for(connection: Connection) -> ChannelAdapter:
    """Build the connection's adapter from its stored config (plus the simulator script for scripted adapters)."""
    adapter_cls = adapters.get(connection.adapter_key)
    config: dict[str, Any] = dict(connection.config)
    if getattr(adapter_cls, "scripted", False):
        config["script"] = simulator_script(connection=connection)
    # Adapters that put links to the portal into messages (the e-mail open pixel) need their public hook URL.
    config["callback_url"] = settings.PORTAL_PUBLIC_URL.rstrip("/") + reverse(
        "channels_out:callback", args=[connection.adapter_key, connection.uuid]
    )
    return adapter_cls(config)


def simulator_script(*, connection: Connection) -> list[dict[str, Any]]:
    """The enabled simulator rules of the connection's company that apply to ``connection``, as plain data."""
    rules = SimulatorRule.objects.filter(company_id=connection.company_id, enabled=True).filter(
        Q(connection__isnull=True) | Q(connection=connection)
    )
    fields = [
        f.name for f in SimulatorRule._meta.concrete_fields if f.name not in {"id", "company", "connection"}
    ]
    return list(rules.order_by("order", "id").values(*fields))


def connection_config_clean(
    *, adapter_key: str, config: Mapping[str, Any], channels: Iterable[str]
) -> dict[str, Any]:
    """Validate ``config`` with the adapter's config_form and ``channels`` against what the adapter serves.

    Raises ValidationError (field ``config`` or ``channels``) with the form's messages.
    """
    if adapter_key not in adapters:
        raise ValidationError({"adapter_key": _("Unknown adapter %(key)s.") % {"key": adapter_key}})
    adapter_cls = adapters.get(adapter_key)
    unsupported = sorted(set(channels) - {str(c) for c in adapter_cls.channels})
    if unsupported:
        raise ValidationError(
            {
                "channels": _("The %(key)s adapter cannot carry: %(list)s.")
                % {"key": adapter_key, "list": ", ".join(unsupported)}
            }
        )
    form = adapter_cls.config_form(data=dict(config))
    if not form.is_valid():
        raise ValidationError(
            {
                "config": [
                    f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
                ]
            }
        )
    return dict(form.cleaned_data)


@transaction.atomic
def connection_save(*, company: Company, actor: Any, connection: Connection) -> Connection:
    """Validate and store a connection (back office).

    Side effects: writes the Connection, an audit entry ``connection.created``/``connection.changed`` that names
    the changed config keys but never their values (credentials). Raises ValidationError.
    """
    if not connection._state.adding and connection.company_id != company.pk:
        raise ValidationError(_("The connection belongs to another company."))
    connection.company = company
    connection.config = connection_config_clean(
        adapter_key=connection.adapter_key, config=connection.config, channels=connection.channels
    )
    is_new = connection.pk is None
    old = None if is_new else Connection.objects.filter(pk=connection.pk).first()
    connection.full_clean()
    connection.save()
    public = {
        "name": connection.name,
        "adapter_key": connection.adapter_key,
        "channels": list(connection.channels),
        "sender_ids": list(connection.sender_ids),
        "priority": connection.priority,
        "rate_limit": connection.rate_limit,
        "enabled": connection.enabled,
    }
    changed_keys = sorted(
        k for k in set(connection.config) | set(old.config if old else {})
        if old is None or old.config.get(k) != connection.config.get(k)
    )  # fmt: skip
    from portal.audit.services import Change

    audit_record(
        company=company,
        actor=actor,
        action=actions.CONNECTION_CREATED if is_new else actions.CONNECTION_CHANGED,
        target=connection,
        changes=[
            Change(
                table=Connection._meta.db_table,
                operation="insert" if is_new else "update",
                object_id=str(connection.pk),
                new={**public, "config_keys_changed": changed_keys},
            )
        ],
    )
    return connection


def _connections_for(company_id: int, channel: str, sender_id: str) -> list[Connection]:
    return list(
        Connection.objects.filter(
            company_id=company_id,
            enabled=True,
            channels__contains=[channel],
            sender_ids__contains=[sender_id],
        ).order_by("priority", "id")
    )


def rcs_capability_check(*, company: Company, sender_id: str, to: str) -> bool:
    """Ask the RCS connection of ``sender_id`` whether ``to`` can receive RCS (guide §6.7 capability check).

    Returns True when the adapter cannot tell. Raises UnknownSenderError or ValidationError (bad number).
    """
    address = address_normalize(ChannelKind.RCS, to, default_country=company.default_country)
    candidates = _connections_for(company.pk, ChannelKind.RCS, sender_id)
    if not candidates:
        raise UnknownSenderError(_("Sender ID %(sender)s is not set up for RCS.") % {"sender": sender_id})
    adapter = adapter_for(candidates[0])
    check = getattr(adapter, "check_capability", None)
    return True if check is None else bool(check(ChannelKind.RCS, address.value))


def simulator_rule_save(*, company: Company, actor: Any, rule: SimulatorRule) -> SimulatorRule:
    """Validate and store one line of the simulator's script (back office).

    Side effects: writes the SimulatorRule; the next submit to a matching recipient follows it. Raises
    ValidationError when the rule's connection belongs to another company.
    """
    rule.company = company
    if rule.connection is not None and rule.connection.company_id != company.pk:
        raise ValidationError(_("The connection belongs to another company."))
    rule.full_clean()
    rule.save()
    return rule


def simulator_connection_create(
    *,
    company: Company,
    actor: Any,
    name: str = "Simulator",
    channels: Sequence[str] = tuple(ChannelKind.values),
    sender_ids: Sequence[str] = ("ACME",),
    priority: int = 100,
    rate_limit: int = 0,
) -> Connection:
    """Create a simulator connection with a fresh callback secret (development, tests, demos).

    Side effects: as ``connection_save``.
    """
    connection = Connection(
        company=company, name=name, adapter_key="simulator", channels=list(channels), sender_ids=list(sender_ids),
        priority=priority, rate_limit=rate_limit, config={"callback_secret": uuid.uuid4().hex},
    )  # fmt: skip
    return connection_save(company=company, actor=actor, connection=connection)
