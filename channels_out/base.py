"""The adapter contract of the channel layer (CONVENTIONS R6): errors, the dataclasses adapters take and return,
and the ``ChannelAdapter`` Protocol every vendor implements.

Adapters are stateless translators between these dataclasses and one vendor's API. They never touch the ORM:
persistence, the message state machine, failover and audit live in ``channels_out.services``. Credentials reach
an adapter only through ``config`` and must never be logged or put into ``SubmitResult.raw``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from django import forms
from django.db import models

from channels_out.kinds import ChannelKind


class AdapterError(Exception):
    """Vendor call failed. ``permanent=True`` means retrying cannot help (bad credentials, invalid number).

    ``vendor_code`` is the vendor's own code (an SMPP/DLR code of seed 004 §4.5-§4.6, an HTTP status, …); the
    services map it to the delivery error catalogue (``channels_out.errors``).
    """

    def __init__(self, message: str, *, permanent: bool = False, vendor_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.vendor_code = vendor_code


class CallbackRejected(Exception):  # noqa: N818  (a refusal, not a failure of ours)
    """A callback failed its signature check or could not be read; ``reason`` is recorded with the payload."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ReportStatus(models.TextChoices):
    """What a delivery report says, in the portal's words (seed 004 §2.10 vocabularies map onto these)."""

    SUBMITTED = "submitted", "Submitted"  # accepted by the network (WhatsApp "sent", SMPP ENROUTE)
    DELIVERED = "delivered", "Delivered"
    DISPLAYED = "displayed", "Displayed"  # seen / read / opened (guide §9.1 "Display")
    UNDELIVERED = "undelivered", "Undelivered"
    EXPIRED = "expired", "Expired"


@dataclass(frozen=True)
class OutboundMessage:
    """One message to submit: our ids, the channel, our sender ID, the recipient and the typed payload.

    ``client_reference`` is unique per message and is sent to the vendor as its idempotency key, so that a
    repeated submit after a worker crash is recognised by the vendor instead of sent twice.
    """

    message_id: int
    client_reference: str
    channel: ChannelKind
    sender_id: str
    to: str  # E.164 number, e-mail address or app/device id, as the channel needs
    payload: Mapping[str, Any]
    text: str = ""  # the body text, already rendered (SMS, Viber, WhatsApp text, TTS, push body)
    encoding: str = ""  # SMS only: "gsm7" or "ucs2" (channels_out.sms)
    segments: int = 1


@dataclass(frozen=True)
class PendingCallback:
    """A callback the vendor will post later. Only the simulator returns these (it has no HTTP server side)."""

    delay_seconds: float
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True)
class SubmitResult:
    """The vendor accepted the message: its id, the accepted status and the (redacted) raw response."""

    vendor_message_id: str
    status: str = "accepted"
    raw: Mapping[str, Any] = field(default_factory=dict)
    session_id: str = ""  # Viber session id (guide §12.2), when the vendor issues one
    price: str | None = None  # the vendor's charge, when it tells us (seed 004 "charges")
    pending_callbacks: tuple[PendingCallback, ...] = ()


@dataclass(frozen=True)
class DeliveryEvent:
    """A delivery report for one message we sent."""

    vendor_message_id: str
    status: ReportStatus
    occurred_at: datetime.datetime
    error_code: str = ""  # the vendor's code (seed 004 §4.6), mapped by the services
    raw_status: str = ""  # the vendor's own status word, kept for the timeline (e.g. "DELIVRD")


@dataclass(frozen=True)
class InboundMessage:
    """A message a contact sent to one of our sender IDs (P2A)."""

    vendor_message_id: str
    channel: ChannelKind
    from_address: str
    sender_id: str  # ours: the number / sender ID the contact wrote to
    text: str
    received_at: datetime.datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


CallbackItem = DeliveryEvent | InboundMessage


@runtime_checkable
class ChannelAdapter(Protocol):
    """A vendor adapter. Instances are built per use from a Connection's validated config."""

    key: ClassVar[str]  # "simulator", "bics_sms", … (stored on the Connection row)
    channels: ClassVar[frozenset[ChannelKind]]
    config_form: ClassVar[type[forms.Form]]  # typed, validated credentials/config
    # True when the adapter wants the back office's simulator script in ``config["script"]`` (simulator only).
    scripted: ClassVar[bool]

    def __init__(self, config: Mapping[str, Any]) -> None: ...

    def check_credentials(self) -> None:
        """Raise AdapterError when the config cannot reach the vendor (wrong credentials, URL)."""

    def send(self, message: OutboundMessage) -> SubmitResult:
        """Submit one message. Raises AdapterError; ``permanent`` tells whether another try can help."""

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raise CallbackRejected when the callback is unsigned or its signature is wrong."""

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Read a callback body into events. Raises CallbackRejected when it is malformed."""
