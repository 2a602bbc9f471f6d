"""The simulator adapter: a fake vendor for every channel, driven by the back office's script.

It owns nothing but the translation of a script into vendor behaviour: submit ok / error (permanent or
transient, with a catalogue code) / timeout, then delivered / displayed / undelivered / expired / no report after
chosen delays, inbound replies, RCS capability, WhatsApp opt-in and verified flags and Viber session ids
(inventory A §21). Its "vendor side" state (references already accepted, the count of real submissions) lives in
Redis, as a real vendor's would live on its servers; it never touches the ORM.

Reports are not sent by the adapter itself: ``send`` returns them as ``PendingCallback`` bodies with their delay,
and the services store and post them through the same callback path as a real vendor's.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils import timezone

from channels_out.base import (
    AdapterError,
    CallbackItem,
    CallbackRejected,
    DeliveryEvent,
    InboundMessage,
    OutboundMessage,
    PendingCallback,
    ReportStatus,
    SubmitResult,
)
from channels_out.kinds import ChannelKind
from channels_out.vendors import message_format
from channels_out.vendors.simulator.forms import SimulatorConfigForm
from portal.core.redis import redis_client

SIGNATURE_HEADER = "Signature"  # seed 004 §2.8.2
REFERENCE_TTL = 7 * 24 * 3600
SUBMIT_COUNTER = "channels_out:sim:submits"

# Defaults of a recipient no rule matches: accepted, delivered a second later.
DEFAULT_RULE: dict[str, Any] = {
    "pattern": "*",
    "channel": "",
    "submit": "ok",
    "error_code": "",
    "error_permanent": True,
    "report": "delivered",
    "report_delay_seconds": 1,
    "display_delay_seconds": 5,
    "report_error_code": "",
    "inbound_reply": "",
    "inbound_delay_seconds": 10,
    "inbound_postback": "",
    "rcs_capable": True,
    "whatsapp_opted_in": True,
    "whatsapp_verified": True,
    "viber_session_id": "",
}
# Seed 004 §4.6 words for the reports, so the timeline reads like a real DLR.
RAW_STATUS = {
    ReportStatus.DELIVERED: "DELIVRD",
    ReportStatus.DISPLAYED: "READ",
    ReportStatus.UNDELIVERED: "UNDELIV",
    ReportStatus.EXPIRED: "EXPIRED",
}


RECEIVED_KEY = "channels_out:sim:received:{reference}"


def received(client_reference: str) -> dict[str, Any] | None:
    """What the simulated vendor received for ``client_reference`` (channel, to, sender, text and the validated
    ``{"format", "content"}`` or the plain payload), kept as long as the reference; ``None`` if nothing was."""
    raw = redis_client().get(RECEIVED_KEY.format(reference=client_reference))
    if raw is None:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def submit_count() -> int:
    """How many messages the simulated vendor really accepted (duplicates by reference excluded)."""
    return int(redis_client().get(SUBMIT_COUNTER) or 0)


class SimulatorAdapter:
    key: ClassVar[str] = "simulator"
    channels: ClassVar[frozenset[ChannelKind]] = frozenset(ChannelKind)
    config_form: ClassVar[type[SimulatorConfigForm]] = SimulatorConfigForm
    scripted: ClassVar[bool] = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._secret = str(config.get("callback_secret", ""))
        self._script: list[Mapping[str, Any]] = list(config.get("script", []))

    # -- the script -------------------------------------------------------------------------------------------

    def rule_for(self, channel: str, address: str) -> Mapping[str, Any]:
        """The first script rule matching ``channel`` and ``address``, else the defaults."""
        for rule in self._script:
            if rule.get("channel") and rule["channel"] != channel:
                continue
            if fnmatch.fnmatchcase(address, str(rule.get("pattern") or "*")):
                return {**DEFAULT_RULE, **rule}
        return DEFAULT_RULE

    def check_capability(self, channel: str, address: str) -> bool:
        """Whether ``address`` can receive ``channel`` (RCS capability check, guide §6.7)."""
        if channel == ChannelKind.RCS:
            return bool(self.rule_for(channel, address)["rcs_capable"])
        return True

    # -- the Protocol -----------------------------------------------------------------------------------------

    def check_credentials(self) -> None:
        """Raise AdapterError when the callback secret is missing (the simulator has nothing else to check)."""
        if len(self._secret) < 16:
            raise AdapterError(
                "The simulator needs a callback secret of at least 16 characters.", permanent=True
            )

    def send(self, message: OutboundMessage) -> SubmitResult:
        """Play the script for ``message``.

        Side effects: records the client reference in Redis (a repeated reference returns the first vendor id
        and schedules nothing again) and counts the accepted submission. Raises AdapterError as scripted.
        """
        rule = self.rule_for(message.channel, message.to)
        received_content = self.content_of(message)
        content = {k: v for k, v in received_content.items() if k == "format"}  # raw stays small
        self._refuse_if_scripted(message, rule)
        client = redis_client()
        vendor_id = f"sim-{uuid.uuid4().hex}"
        ref_key = f"channels_out:sim:ref:{message.client_reference}"
        if not client.set(ref_key, vendor_id, nx=True, ex=REFERENCE_TTL):
            # Seen before (a worker died after we accepted it): the same answer and nothing sent again; the
            # reports are repeated, as a vendor whose DLRs went unanswered repeats them.
            existing = client.get(ref_key)
            known_id = existing.decode() if isinstance(existing, bytes) else str(existing)
            return SubmitResult(
                vendor_message_id=known_id,
                raw={"duplicate": True},
                session_id=str(rule["viber_session_id"]) if message.channel == ChannelKind.VIBER else "",
                pending_callbacks=self._callbacks(message, rule, known_id),
            )
        # Like a vendor's message log: what reached the simulated vendor, for the tests and the back office
        # (one round trip with the counter).
        record = {
            "channel": str(message.channel),
            "to": message.to,
            "sender_id": message.sender_id,
            "text": message.text,
            **(received_content or {"payload": dict(message.payload)}),
        }
        pipe = client.pipeline(transaction=False)
        pipe.incr(SUBMIT_COUNTER)
        pipe.set(
            RECEIVED_KEY.format(reference=message.client_reference),
            json.dumps(record, default=str),
            ex=REFERENCE_TTL,
        )
        pipe.execute()
        return SubmitResult(
            vendor_message_id=vendor_id,
            raw={"status": "AWAITING-DLR", "units": message.segments, **content},
            session_id=str(rule["viber_session_id"]) if message.channel == ChannelKind.VIBER else "",
            pending_callbacks=self._callbacks(message, rule, vendor_id),
        )

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Check the HMAC-SHA256 hex ``Signature`` header over the raw body (seed 004 §2.8.2)."""
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            raise CallbackRejected("The callback is not signed.", status=401)
        if not hmac.compare_digest(given, self.sign(body)):
            raise CallbackRejected("The callback signature does not match.", status=403)

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Read ``{"events": [...]}`` into DeliveryEvent and InboundMessage items."""
        try:
            data = json.loads(body)
            items: list[CallbackItem] = []
            for event in data["events"]:
                at = datetime.datetime.fromisoformat(event["at"])
                if timezone.is_naive(at):
                    raise ValueError("naive time")
                if event["type"] == "status":
                    items.append(
                        DeliveryEvent(
                            vendor_message_id=str(event["id"]),
                            status=ReportStatus(event["status"]),
                            occurred_at=at,
                            error_code=str(event.get("error_code", "")),
                            raw_status=str(event.get("raw", "")),
                        )
                    )
                elif event["type"] == "inbound":
                    items.append(
                        InboundMessage(
                            vendor_message_id=str(event["id"]),
                            channel=ChannelKind(event["channel"]),
                            from_address=str(event["from"]),
                            sender_id=str(event["to"]),
                            text=str(event.get("text", "")),
                            received_at=at,
                            payload=_tap(event),
                        )
                    )
                else:
                    raise ValueError(f"unknown event type {event['type']!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(f"Malformed simulator callback: {exc}") from exc
        return items

    # -- helpers ----------------------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()

    @staticmethod
    def content_of(message: OutboundMessage) -> dict[str, Any]:
        """What the simulated vendor received of a constructor format: its key and its validated JSON.

        A payload without ``format`` gives ``{}``; an invalid one is refused as a real vendor would (permanent).
        """
        fmt = message_format(message)
        if fmt is None:
            return {}
        return {"format": fmt.key, "content": fmt.to_json()}

    def _refuse_if_scripted(self, message: OutboundMessage, rule: Mapping[str, Any]) -> None:
        channel = message.channel
        if channel == ChannelKind.RCS and not rule["rcs_capable"]:
            raise AdapterError("The recipient has not activated RCS.", permanent=True, vendor_code="404")
        if channel == ChannelKind.WHATSAPP:
            if not rule["whatsapp_opted_in"]:
                raise AdapterError("The recipient has not opted in.", permanent=True, vendor_code="455")
            # Guide §13.1: only a Verified company may open with a free (non-template) message.
            is_template = "template" in (message.payload.get("type"), message.payload.get("format"))
            if not rule["whatsapp_verified"] and not is_template:
                raise AdapterError(
                    "Only a verified company may send a free WhatsApp message.",
                    permanent=True,
                    vendor_code="WA-NOT-VERIFIED",
                )
        if rule["submit"] == "timeout":
            raise AdapterError("The simulated vendor timed out.", permanent=False, vendor_code="TIMEOUT")
        if rule["submit"] == "error":
            raise AdapterError(
                "The simulated vendor refused the message.",
                permanent=bool(rule["error_permanent"]),
                vendor_code=str(rule["error_code"] or "458"),
            )

    def _callbacks(
        self, message: OutboundMessage, rule: Mapping[str, Any], vendor_id: str
    ) -> tuple[PendingCallback, ...]:
        now = timezone.now()
        planned: list[tuple[float, dict[str, Any]]] = []
        report = str(rule["report"])
        delay = float(rule["report_delay_seconds"])
        # Guide §15: push has no delivery status at all.
        if message.channel != ChannelKind.PUSH and report != "none":
            first = ReportStatus.DELIVERED if report == "displayed" else ReportStatus(report)
            code = ""
            if first == ReportStatus.UNDELIVERED:
                code = str(rule["report_error_code"] or "034")
            elif first == ReportStatus.EXPIRED:
                code = "021"
            planned.append((delay, self._status(vendor_id, first, now + _secs(delay), code)))
            if report == "displayed":
                later = delay + float(rule["display_delay_seconds"])
                planned.append(
                    (later, self._status(vendor_id, ReportStatus.DISPLAYED, now + _secs(later), ""))
                )
        if rule["inbound_reply"]:
            later = float(rule["inbound_delay_seconds"])
            planned.append(
                (
                    later,
                    {
                        "type": "inbound",
                        "id": f"sim-in-{uuid.uuid4().hex}",
                        "channel": str(message.channel),
                        "from": message.to,
                        "to": message.sender_id,
                        "text": str(rule["inbound_reply"]),
                        "at": (now + _secs(later)).isoformat(),
                        # RCS: a tap on a suggestion chip of the message just sent.
                        **(
                            {"postback": str(rule["inbound_postback"]), "reply_to": vendor_id}
                            if rule.get("inbound_postback") and message.channel == ChannelKind.RCS
                            else {}
                        ),
                    },
                )
            )
        return tuple(self.callback(delay_s, [event]) for delay_s, event in planned)

    def callback(self, delay_seconds: float, events: list[dict[str, Any]]) -> PendingCallback:
        """A signed callback body carrying ``events``, as the simulated vendor would post it."""
        body = json.dumps({"events": events}, separators=(",", ":")).encode()
        return PendingCallback(delay_seconds, body, {SIGNATURE_HEADER: self.sign(body)})

    @staticmethod
    def _status(vendor_id: str, status: ReportStatus, at: datetime.datetime, code: str) -> dict[str, Any]:
        return {
            "type": "status",
            "id": vendor_id,
            "status": str(status),
            "raw": RAW_STATUS.get(status, ""),
            "error_code": code,
            "at": at.isoformat(),
        }


def _tap(event: Mapping[str, Any]) -> dict[str, str]:
    """An RCS chip tap's postback data and the vendor id of the message it answers (empty for typed text)."""
    pairs = (("postback_data", "postback"), ("reply_to", "reply_to"))
    return {key: str(event[name]) for key, name in pairs if event.get(name)}


def _secs(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")
