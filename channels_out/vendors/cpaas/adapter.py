"""The CPaaS adapter: SMS, Viber, WhatsApp and TTS voice through a vendor shaped like seed 004 (BICS CPaaS).

It owns the translation between the channel layer's dataclasses and the seed's wire format:

- sends: ``sms/send`` (E037), ``viber/message/send`` (E075), ``whatsapp/message/send`` (E090), ``outgoing/tts``
  (E052); the constructor's Viber, WhatsApp and TTS formats become the seed's ``message`` objects
  (``chat_message_of``), and what this vendor does not take (WhatsApp .webp/.ogg, images over 5 MB, audio/video
  over 16 MB) is refused before any call (``FORMAT-UNSUPPORTED``). Numbers go out as digits with the country code and no ``+`` (seed 004 §3.3). The message's client
  reference is both the seed's ``custom`` field (your own unique id, §3.2) and the ``Idempotency-Key`` header.
- callbacks: ``{"event": ..., "payload": {...}}`` bodies (§1.4) for the events of §2.9: ``sms:message:status``,
  ``whatsapp:message:status``, ``viber:message:status``, ``voice:message:out`` and the inbound
  ``whatsapp:message:in``, ``viber:message:in``, ``vmn:message:in``. A JSON list of such bodies is also read.
- signatures: seed 004 §2.8.2 names the ``Signature`` header but not its algorithm; §5.9 asks for a documented
  HMAC-SHA256 over the raw body with the webhook *secret*, which is what this adapter checks (hex digest).

It never touches the ORM and never logs its config (R6).
"""

from __future__ import annotations

import datetime
import hmac
import json
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
    ReportStatus,
    SubmitResult,
)
from channels_out.errors import DLR_ERRORS
from channels_out.formats import viber as viber_formats
from channels_out.formats import whatsapp as wa_formats
from channels_out.formats.simple import Tts
from channels_out.http import VendorHttpError, header_get, hmac_sha256_hex
from channels_out.kinds import ChannelKind
from channels_out.vendors import message_format, unsupported
from channels_out.vendors.cpaas.client import CpaasClient
from channels_out.vendors.cpaas.forms import CpaasConfigForm

SIGNATURE_HEADER = "Signature"
# Seed 004 §4.6: the status word of a DLR code, reversed so a DLR without a code still gets one.
CODE_FOR_STATUS: dict[str, str] = {}
for _code, _info in sorted(DLR_ERRORS.items(), reverse=True):
    CODE_FOR_STATUS[_info.status] = _code
# Seed 004 §2.10 WhatsApp/Viber vocabulary → the portal's report statuses (None: not a report to apply).
CHAT_STATUS: dict[str, ReportStatus | None] = {
    "queued": None,
    "dispatched": None,
    "sent": ReportStatus.SUBMITTED,
    "delivered": ReportStatus.DELIVERED,
    "read": ReportStatus.DISPLAYED,
    "seen": ReportStatus.DISPLAYED,
    "failed": ReportStatus.UNDELIVERED,
    "expired": ReportStatus.EXPIRED,
    "deleted": None,
}
# Seed 004 §2.10 call statuses: answered calls count as delivered, the rest as undelivered.
CALL_DELIVERED = frozenset({"ANSWER", "COMPLETED"})
SMS_PENDING = frozenset({"AWAITING-DLR", "ENROUTE", "ACCEPTD", "ACCEPTED", "SUBMITTED"})
INBOUND_CHANNELS = {"whatsapp": ChannelKind.WHATSAPP, "viber": ChannelKind.VIBER, "vmn": ChannelKind.SMS}


def msisdn(e164: str) -> str:
    """Seed 004 §3.3: digits only, country code included, no ``+`` or ``00``."""
    return e164.lstrip("+")


class CpaasAdapter:
    """Seed-004-shaped CPaaS vendor for SMS, Viber, WhatsApp and TTS."""

    key: ClassVar[str] = "cpaas"
    channels: ClassVar[frozenset[ChannelKind]] = frozenset(
        {ChannelKind.SMS, ChannelKind.VIBER, ChannelKind.WHATSAPP, ChannelKind.TTS}
    )
    config_form: ClassVar[type[CpaasConfigForm]] = CpaasConfigForm
    scripted: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._client = CpaasClient(
            base_url=str(config.get("base_url", "")), api_token=str(config.get("api_token", ""))
        )
        self._secret = str(config.get("webhook_secret", ""))
        self._service = str(config.get("service") or "ENT")

    def check_credentials(self) -> None:
        """Call ``GET auth/me``. Raises AdapterError (permanent on 401/403)."""
        self._client.me()

    # -- sending ----------------------------------------------------------------------------------------------

    def body_for(self, message: OutboundMessage) -> tuple[str, dict[str, Any]]:
        """The endpoint kind and JSON body of ``message`` (public for the serialisation tests)."""
        payload = message.payload
        to = msisdn(message.to)
        if message.channel == ChannelKind.SMS:
            body: dict[str, Any] = {
                "sender": message.sender_id,
                "to": [to],
                "message": message.text,
                "service": self._service,
                # Seed 004 §3.1: N normal (GSM-7) or U unicode, as channels_out.sms decided.
                "type": "U" if message.encoding == "ucs2" else "N",
                "custom": message.client_reference,
            }
            for key in ("flash", "port", "max_units", "entity_id", "template_id"):
                if payload.get(key) not in (None, ""):
                    body[key] = payload[key]
            if payload.get("tags"):
                body["meta"] = {"tags": list(payload["tags"])}
            return "sms", body
        if message.channel == ChannelKind.TTS:
            # Seed 004 E052; guide §16: language EN/ES and the text read once to three times.
            tts = message_format(message)
            if tts is not None and not isinstance(tts, Tts):
                raise unsupported(f"The CPaaS vendor cannot call with a {type(tts).__name__} message.")
            options: dict[str, Any] = {
                "language": tts.language if tts else str(payload.get("language") or "en"),
                "iteration": tts.repeat if tts else int(payload.get("repeat") or 1),
            }
            if payload.get("voice"):
                options["voiceid"] = payload["voice"]
            return "tts", {
                "bridge": message.sender_id,
                "to": to,
                "text": tts.text if tts else message.text,
                "options": options,
                "custom": message.client_reference,
            }
        kind = "viber" if message.channel == ChannelKind.VIBER else "whatsapp"
        meta: dict[str, Any] = {}
        if kind == "viber":
            meta["category"] = str(payload.get("category") or "transactional")
            if payload.get("ttl"):
                meta["ttl"] = str(payload["ttl"])
            if payload.get("session_id"):
                meta["session_id"] = str(payload["session_id"])
        if payload.get("tags"):
            meta["tags"] = list(payload["tags"])
        return kind, {
            "channels": [{"name": kind, "from": message.sender_id, "meta": meta}],
            "message": self._chat_message(message),
            "recipient": {"to": [to]},
            "custom": message.client_reference,
        }

    @staticmethod
    def _chat_message(message: OutboundMessage) -> dict[str, Any]:
        payload = message.payload
        fmt = message_format(message)
        if fmt is not None:
            return chat_message_of(fmt)
        if message.channel == ChannelKind.WHATSAPP and payload.get("type") == "template":
            template: dict[str, Any] = {
                "name": payload["template"],
                "language": str(payload.get("language") or "en"),
            }
            for key in ("header_params", "body_params"):
                if payload.get(key):
                    template[key] = payload[key]
            return {"type": "template", "payload": template}
        content: dict[str, Any] = {}
        if message.text:
            content["text"] = message.text
        kind = "text"
        if payload.get("media_url"):
            kind = str(payload.get("media_type") or "image")
            content["url"] = payload["media_url"]
        if payload.get("button_text") and payload.get("button_url"):
            kind = "interactive" if kind == "text" else kind
            content["button"] = {"title": payload["button_text"], "url": payload["button_url"]}
        return {"type": kind, "payload": content}

    def send(self, message: OutboundMessage) -> SubmitResult:
        """POST the message to its channel's send endpoint.

        Side effects: one vendor call (retried by channels_out.http on transient failures with the same
        Idempotency-Key). Raises AdapterError: permanent for 4xx and per-recipient rejections (with the seed 004
        §4.6 code when the vendor gives one), transient for 5xx, 429, timeouts and connection errors.
        """
        kind, body = self.body_for(message)
        try:
            response = self._client.send(kind, body, reference=message.client_reference)
        except VendorHttpError as exc:
            raise AdapterError(
                exc.message, permanent=exc.permanent, vendor_code=_error_code(exc.data) or exc.vendor_code
            ) from exc
        data = response.data if isinstance(response.data, Mapping) else {}
        items = data.get("data")
        item: Mapping[str, Any] = (
            items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else {}
        )
        vendor_id = str(item.get("id") or "")
        if not vendor_id:
            raise AdapterError("The vendor accepted the request but returned no message id.", permanent=False)
        status = str(item.get("status") or "")
        rejected_code = CODE_FOR_STATUS.get(status.upper()) if status.upper() not in SMS_PENDING else None
        if rejected_code and status.upper() not in {"DELIVRD"}:
            raise AdapterError(
                f"The vendor rejected the recipient: {status}.", permanent=True, vendor_code=rejected_code
            )
        price = item.get("charges", item.get("credits"))
        return SubmitResult(
            vendor_message_id=vendor_id,
            status=status or "accepted",
            raw={"status": status, "units": item.get("units"), "group_id": data.get("group_id")},
            session_id=str(item.get("session_id") or ""),
            price=None if price in (None, "") else str(price),
        )

    # -- callbacks --------------------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return hmac_sha256_hex(self._secret, body)

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Check ``Signature`` = hex HMAC-SHA256(raw body, callback secret). 401 unsigned, 403 wrong."""
        given = header_get(headers, SIGNATURE_HEADER)
        if not given:
            raise CallbackRejected("The callback is not signed.", status=401)
        if not self._secret or not hmac.compare_digest(given.strip().lower(), self.sign(body)):
            raise CallbackRejected("The callback signature does not match.", status=403)

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Read one ``{event, payload}`` body (or a list of them) into events. CallbackRejected if malformed."""
        try:
            data = json.loads(body)
            bodies = data if isinstance(data, list) else [data]
            items: list[CallbackItem] = []
            for entry in bodies:
                item = self._item(str(entry["event"]), entry["payload"])
                if item is not None:
                    items.append(item)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CallbackRejected(f"Malformed CPaaS callback: {exc!r}") from exc
        return items

    def _item(self, event: str, payload: Mapping[str, Any]) -> CallbackItem | None:
        product, _sep, rest = event.partition(":")
        if rest == "message:status" and product == "sms":
            word = str(payload["status"]).upper()
            if word in SMS_PENDING:
                return None
            code = str(payload.get("code") or payload.get("error_code") or "")
            if word == "DELIVRD":
                status = ReportStatus.DELIVERED
            elif word == "EXPIRED":
                status, code = ReportStatus.EXPIRED, code or "021"
            else:
                status, code = ReportStatus.UNDELIVERED, code or CODE_FOR_STATUS.get(word, "")
            return DeliveryEvent(
                vendor_message_id=str(payload["id"]),
                status=status,
                occurred_at=_when(payload, "deliv_at", "deliv_time", "timestamp"),
                error_code=code,
                raw_status=word,
            )
        if rest == "message:status" and product in {"whatsapp", "viber", "rcs"}:
            word = str(payload["status"]).lower()
            if word not in CHAT_STATUS:
                raise ValueError(f"unknown status {word!r}")
            chat_status = CHAT_STATUS[word]
            if chat_status is None:
                return None
            return DeliveryEvent(
                vendor_message_id=str(payload["id"]),
                status=chat_status,
                occurred_at=_when(payload, "read_at", "delivered_at", "timestamp"),
                error_code=str(payload.get("error_code") or ""),
                raw_status=word,
            )
        if event == "voice:message:out":
            word = str(payload["status"]).upper()
            delivered = word in CALL_DELIVERED
            return DeliveryEvent(
                vendor_message_id=str(payload.get("mid") or payload["id"]),
                status=ReportStatus.DELIVERED if delivered else ReportStatus.UNDELIVERED,
                occurred_at=_when(payload, "end_at", "start_at", "timestamp"),
                error_code="" if delivered else word,
                raw_status=word,
            )
        if rest == "message:in" and product in INBOUND_CHANNELS:
            # Seed 004 §2.9 inbound payload: {id, channels:[{name,to}], recipient:{from}, message:{type,payload}}.
            message = payload.get("message") or {}
            content = message.get("payload") or {}
            channels = payload.get("channels") or [{}]
            return InboundMessage(
                vendor_message_id=str(payload["id"]),
                channel=INBOUND_CHANNELS[product],
                from_address="+" + str(payload["recipient"]["from"]).lstrip("+"),
                sender_id=str(channels[0].get("to") or ""),
                text=str(content.get("text") or ""),
                received_at=_when(payload, "timestamp", "created_at"),
                payload={"type": str(message.get("type") or "text"), **dict(content)},
            )
        return None  # other events (unsubscriptions, contacts) are kept raw but carry no message state


# -- constructor formats (channels_out.formats) → seed 004 ``message`` objects ----------------------------------

_WA_MEDIA_KIND = {
    **dict.fromkeys(("jpg", "jpeg", "png", "webp"), "image"),
    **dict.fromkeys(("ogg", "amr", "aac", "mpeg", "mp3"), "audio"),
    **dict.fromkeys(("mp4", "3gp"), "video"),
}
# Seed 004 E090: what this vendor takes, narrower than the guide's §13.2 list (which marks WEBP and OGG with
# footnotes): images jpg/jpeg/png only, "the base audio/ogg type is not supported"; and its size limits.
_WA_UNSUPPORTED = frozenset({"webp", "ogg"})
_MB = 1024 * 1024
WA_SIZE_MAX = {"image": 5 * _MB, "audio": 16 * _MB, "video": 16 * _MB, "document": 100 * _MB}


def _check_wa_file(ext: str, kind: str, size: int) -> None:
    """Refuse, before any call, a WhatsApp file this vendor does not take (permanent ``FORMAT-UNSUPPORTED``)."""
    if ext in _WA_UNSUPPORTED:
        raise unsupported(f"The CPaaS vendor does not send .{ext} files on WhatsApp (seed 004 E090).")
    if size > WA_SIZE_MAX[kind]:
        raise unsupported(
            f"The CPaaS vendor sends WhatsApp {kind} files of at most {WA_SIZE_MAX[kind] // _MB} MB "
            f"(this one has {size} bytes)."
        )


def _interactive(header: str, body: str, footer: str, action: dict[str, Any], kind: str) -> dict[str, Any]:
    value: dict[str, Any] = {"type": kind, "body": {"text": body}, "action": action}
    if header:
        value["header"] = {"type": "text", "text": header}
    if footer:
        value["footer"] = {"text": footer}
    return value


def chat_message_of(fmt: object) -> dict[str, Any]:
    """The seed 004 ``message`` object (E075 Viber, E090 WhatsApp) of a constructor format."""
    if isinstance(fmt, viber_formats.ViberText | wa_formats.WhatsAppText):
        return {"type": "text", "payload": {"text": fmt.text}}
    if isinstance(fmt, viber_formats.ViberFile):
        return {"type": "file", "payload": {"url": fmt.url, "file_name": fmt.name}}
    if isinstance(fmt, viber_formats.ViberTextButton):
        button = {"title": fmt.button_text, "url": fmt.button_url}
        return {"type": "interactive", "payload": {"text": fmt.text, "button": button}}
    if isinstance(fmt, viber_formats.ViberTextMediaButton):
        button = {"title": fmt.button_text, "url": fmt.button_url}
        return {"type": "image", "payload": {"text": fmt.text, "url": fmt.image_url, "button": button}}
    if isinstance(fmt, wa_formats.WhatsAppCard):
        buttons = [
            {"type": "reply", "reply": {"id": f"btn-{i}", "title": b.text}} for i, b in enumerate(fmt.buttons)
        ]
        if not fmt.media_url:
            card = _interactive(fmt.header, fmt.body, fmt.footer, {"buttons": buttons}, "button")
            return {"type": "interactive", "payload": card}
        # A header is a text or a medium: with a picture, the header text goes in bold above the body.
        body = f"*{fmt.header}*\n{fmt.body}" if fmt.header else fmt.body
        card = _interactive("", body, fmt.footer, {"buttons": buttons}, "button")
        ext = viber_formats.extension(fmt.media_url)
        kind = _WA_MEDIA_KIND.get(ext, "document")
        _check_wa_file(ext, kind, 0)
        card["header"] = {"type": kind, kind: {"link": fmt.media_url}}
        return {"type": "interactive", "payload": card}
    if isinstance(fmt, wa_formats.WhatsAppList):
        sections = []
        n = 0
        for section in fmt.sections:
            rows = []
            for option in section.options:
                row = {"id": f"opt-{n}", "title": option.title}
                if option.description:
                    row["description"] = option.description
                rows.append(row)
                n += 1
            sections.append({"title": section.title, "rows": rows} if section.title else {"rows": rows})
        action = {"button": fmt.button, "sections": sections}
        return {
            "type": "interactive",
            "payload": _interactive(fmt.header, fmt.body, fmt.footer, action, "list"),
        }
    if isinstance(fmt, wa_formats.WhatsAppFile):
        ext = viber_formats.extension(fmt.name)
        kind = _WA_MEDIA_KIND.get(ext, "document")
        _check_wa_file(ext, kind, fmt.size)
        media: dict[str, Any] = {"url": fmt.url}
        if kind == "document":
            media["filename"] = fmt.name
        if fmt.caption:
            media["caption"] = fmt.caption
        return {"type": kind, "payload": media}
    if isinstance(fmt, wa_formats.WhatsAppRequestLocation):
        action = {"name": "send_location"}
        request = _interactive("", fmt.text, "", action, "location_request_message")
        return {"type": "interactive", "payload": request}
    if isinstance(fmt, wa_formats.WhatsAppSendLocation):
        location: dict[str, Any] = {"latitude": float(fmt.latitude), "longitude": float(fmt.longitude)}
        if fmt.name:
            location["name"] = fmt.name
        if fmt.address:
            location["address"] = fmt.address
        return {"type": "location", "payload": location}
    if isinstance(fmt, wa_formats.WhatsAppTemplate):
        template: dict[str, Any] = {"name": fmt.name, "language": fmt.language}
        if fmt.header_params:
            template["header_params"] = list(fmt.header_params)
        if fmt.body_params:
            template["body_params"] = list(fmt.body_params)
        return {"type": "template", "payload": template}
    raise unsupported(f"The CPaaS vendor cannot send a {type(fmt).__name__} message.")


def _error_code(data: Any) -> str | None:
    if isinstance(data, Mapping):
        error = data.get("error")
        code = data.get("error_code") or (error.get("code") if isinstance(error, Mapping) else None)
        return str(code) if code else None
    return None


def _when(payload: Mapping[str, Any], *keys: str) -> datetime.datetime:
    """The first usable time among ``keys``: unix seconds, ISO 8601 or the seed's ``yyyy-mm-dd H:i:s`` (UTC)."""
    for key in keys:
        value = payload.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            return datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC)
        parsed = datetime.datetime.fromisoformat(str(value))
        return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=datetime.UTC)
    return timezone.now()
