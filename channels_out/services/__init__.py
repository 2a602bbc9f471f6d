"""Writes and workflows of the channel layer: connections, sending, submitting, reports and inbound messages.

This package owns the message pipeline of issue 5 (guide §6.7, inventory A §9-§21, seed 004), one module per
concern:

- ``connections``: ``adapter_for`` (adapters are built here from a Connection's config; they never touch the
  ORM, R6), the back office's connection and simulator writes, ``rcs_capability_check``.
- ``sending``: ``message_send`` / ``message_send_batch``, the public entry point of every sending feature (the
  ``queued`` rows are the transactional outbox; one submit task per batch on commit), ``api_messages_send``, and
  ``messages_submit``, the worker side (claim with a lease, submit through the connections in priority order,
  record through the state machine of ``channels_out.states``).
- ``reports``: ``callback_store`` / ``callback_ingest`` / ``delivery_events_apply``: raw callbacks stored first,
  then applied in batches; unknown vendor ids are kept (``UnmatchedEvent``) and applied when the message appears;
  the simulator's scheduled reports.
- ``inbound``: ``messages_inbound_dispatch``: every stored inbound message reaches ``channels_out.inbound`` once.
- ``upkeep``: the beat job's sweeps (lost submits, expiry, waiting callbacks).
- ``_common``: status changes through the state machine and the one-statement write of many messages.

Imports between the modules go one way: ``sending`` and ``upkeep`` use ``reports``, which uses ``inbound`` and
``connections``; ``_common`` uses none of them.
The package re-exports every public name, so ``from channels_out import services; services.message_send(...)``
keeps working whatever module a service lives in; a test that patches a name patches it in the module that looks
it up (``channels_out.services.sending.messages_submit_realtime_task``).
"""

from channels_out.services.connections import (
    UnknownSenderError,
    adapter_for,
    connection_config_clean,
    connection_save,
    rcs_capability_check,
    simulator_connection_create,
    simulator_rule_save,
    simulator_script,
)
from channels_out.services.inbound import messages_inbound_dispatch
from channels_out.services.reports import (
    APPLY_SCHEDULED_KEY,
    SECRET_HEADERS,
    callback_ingest,
    callback_store,
    delivery_events_apply,
    simulated_reports_deliver,
    unmatched_reconcile,
)
from channels_out.services.sending import (
    OutgoingItem,
    SubmitSummary,
    api_messages_send,
    message_send,
    message_send_batch,
    messages_submit,
)
from channels_out.services.upkeep import callbacks_pending_kick, messages_expire, outbox_sweep

__all__ = [
    "APPLY_SCHEDULED_KEY",
    "SECRET_HEADERS",
    "OutgoingItem",
    "SubmitSummary",
    "UnknownSenderError",
    "adapter_for",
    "api_messages_send",
    "callback_ingest",
    "callback_store",
    "callbacks_pending_kick",
    "connection_config_clean",
    "connection_save",
    "delivery_events_apply",
    "message_send",
    "message_send_batch",
    "messages_expire",
    "messages_inbound_dispatch",
    "messages_submit",
    "outbox_sweep",
    "rcs_capability_check",
    "simulated_reports_deliver",
    "simulator_connection_create",
    "simulator_rule_save",
    "simulator_script",
    "unmatched_reconcile",
]
