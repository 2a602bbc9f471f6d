"""The RCS adapter in the shape of Google RCS Business Messaging (inventory A §21 "Google RBM").

It owns the translation to RBM's wire format:

- capability check: ``GET /v1/phones/{E.164}/capabilities`` (200 capable, 404 not RCS-enabled; guide §6.7);
- agent messages: ``POST /v1/phones/{E.164}/agentMessages?messageId=<client reference>``. RBM's ``messageId`` is
  chosen by the sender and unique per agent, so it is the idempotency key by design: a retry of an accepted message
  answers 409 ALREADY_EXISTS, which counts as accepted. The body is a ``contentMessage`` with ``text``, a
  ``richCard`` (standalone or carousel) or ``contentInfo`` (file) and its suggestion chips, serialised from the
  constructor's RCS formats (guide §11, ``rbm_content``); a plain payload's ``suggestions`` pass through as given;
- what Google RBM cannot send is refused before any call (``FORMAT-UNSUPPORTED``): enriched and video calls
  (check 61), carousels over 10 cards, tall media on small carousel cards;
- webhook posts: the Pub/Sub push envelope ``{"message": {"data": base64(JSON event)}}``; events are
  ``DELIVERED``/``READ`` receipts and user messages (``text``, ``suggestionResponse``); ``IS_TYPING`` is ignored;
- signature: ``X-Goog-Signature`` = base64(HMAC-SHA512(client token, decoded ``message.data``)), as RBM signs.

Errors follow guide Appendix 1: 404 not RCS-enabled, 400 bad number format, 401/403 bad credentials (permanent).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, ClassVar

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
from channels_out.formats import rcs as rcs_formats
from channels_out.http import VendorHttpError, header_get
from channels_out.kinds import ChannelKind
from channels_out.vendors import message_format, unsupported
from channels_out.vendors.rbm.client import RbmClient
from channels_out.vendors.rbm.forms import RbmConfigForm

SIGNATURE_HEADER = "X-Goog-Signature"
RECEIPTS = {"DELIVERED": ReportStatus.DELIVERED, "READ": ReportStatus.DISPLAYED}


class RbmRcsAdapter:
    """Google-RBM-shaped RCS vendor."""

    key: ClassVar[str] = "rbm"
    channels: ClassVar[frozenset[ChannelKind]] = frozenset({ChannelKind.RCS})
    config_form: ClassVar[type[RbmConfigForm]] = RbmConfigForm
    scripted: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._client = RbmClient(
            base_url=str(config.get("base_url", "")),
            agent_id=str(config.get("agent_id", "")),
            access_token=str(config.get("access_token", "")),
        )
        self._client_token = str(config.get("client_token", ""))

    def check_credentials(self) -> None:
        """Ask the capabilities of a reserved test number; raises AdapterError on 401/403 or no answer."""
        self._client.capabilities("+15555550100", request_id="credentials-check")

    def check_capability(self, channel: str, address: str) -> bool:
        """Whether ``address`` can receive RCS (guide §6.7). Raises AdapterError when the vendor fails."""
        if channel != ChannelKind.RCS:
            return True
        response = self._client.capabilities(address, request_id=f"cap-{address.lstrip('+')}")
        return response.status_code == 200

    @staticmethod
    def body_for(message: OutboundMessage) -> dict[str, Any]:
        """The ``agentMessages`` JSON of ``message`` (public for the serialisation tests)."""
        payload = message.payload
        content: dict[str, Any] = {}
        fmt = message_format(message)
        if fmt is not None:
            content = rbm_content(fmt)
        elif payload.get("rich_card"):
            content["richCard"] = payload["rich_card"]
        elif payload.get("file_url"):
            content["contentInfo"] = {"fileUrl": payload["file_url"], "forceRefresh": False}
        else:
            content["text"] = message.text
        if payload.get("suggestions"):
            content["suggestions"] = list(payload["suggestions"])  # passed through as the vendor defines them
        body: dict[str, Any] = {"contentMessage": content}
        if payload.get("ttl"):
            body["ttl"] = str(payload["ttl"])
        return body

    def send(self, message: OutboundMessage) -> SubmitResult:
        """POST an agent message with the client reference as its ``messageId``.

        Side effects: one vendor call (bounded retries by channels_out.http). Raises AdapterError with the
        Appendix 1 code (404 not RCS-capable, 400 bad number, 401 credentials) as permanent; 5xx/429/timeouts
        as transient.
        """
        try:
            response = self._client.agent_message(
                message.to, self.body_for(message), message_id=message.client_reference
            )
        except VendorHttpError as exc:
            code = exc.vendor_code
            if exc.status_code == 403:
                code = "401"  # the catalogue's "vendor refused the access token" row covers both
            raise AdapterError(exc.message, permanent=exc.permanent, vendor_code=code) from exc
        return SubmitResult(
            vendor_message_id=message.client_reference,
            status="ALREADY_EXISTS" if response.status_code == 409 else "PENDING",
            raw={"http_status": response.status_code},
        )

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Check ``X-Goog-Signature`` over the decoded ``message.data``. 401 unsigned, 403 wrong or unreadable."""
        given = header_get(headers, SIGNATURE_HEADER)
        if not given:
            raise CallbackRejected("The callback is not signed.", status=401)
        try:
            data = _data_bytes(body)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise CallbackRejected(f"Malformed RBM callback: {exc!r}", status=403) from exc
        if not self._client_token or not hmac.compare_digest(given.strip(), self.sign(data)):
            raise CallbackRejected("The callback signature does not match.", status=403)

    def sign(self, data: bytes) -> str:
        digest = hmac.new(self._client_token.encode(), data, hashlib.sha512).digest()
        return base64.b64encode(digest).decode()

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Read a Pub/Sub push envelope into a receipt or an inbound message. CallbackRejected if malformed."""
        try:
            event = json.loads(_data_bytes(body))
            at = _rfc3339(str(event.get("sendTime") or event.get("eventTime") or ""))
            if "eventType" in event:
                status = RECEIPTS.get(str(event["eventType"]))
                if status is None:
                    return []  # IS_TYPING and other presence events carry no message state
                return [
                    DeliveryEvent(
                        vendor_message_id=str(event["messageId"]),
                        status=status,
                        occurred_at=at,
                        raw_status=str(event["eventType"]),
                    )
                ]
            reply = event.get("suggestionResponse") or {}
            text = str(event.get("text") or reply.get("text") or "")
            extra = {"postback_data": reply["postbackData"]} if reply.get("postbackData") else {}
            return [
                InboundMessage(
                    vendor_message_id=str(event["messageId"]),
                    channel=ChannelKind.RCS,
                    from_address=str(event["senderPhoneNumber"]),
                    sender_id=str(event.get("agentId") or ""),
                    text=text,
                    received_at=at,
                    payload=extra,
                )
            ]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise CallbackRejected(f"Malformed RBM callback: {exc!r}") from exc


# -- constructor formats (channels_out.formats.rcs) → RBM contentMessage ----------------------------------------

RBM_CAROUSEL_MAX = 10
_RBM_WIDTH = {"small": "SMALL", "medium": "MEDIUM"}
_RBM_HEIGHT = {"short": "SHORT_HEIGHT", "medium": "MEDIUM_HEIGHT", "tall": "TALL_HEIGHT"}


def rbm_suggestion(suggestion: rcs_formats.Suggestion) -> dict[str, Any]:
    """One suggestion chip in RBM's shape. Google RBM has no enriched or video call (guide §11.3, check 61)."""
    postback = f"{suggestion.kind}:{suggestion.text}"
    if isinstance(suggestion, rcs_formats.Reply):
        return {"reply": {"text": suggestion.text, "postbackData": suggestion.postback or suggestion.text}}
    action: dict[str, Any] = {"text": suggestion.text, "postbackData": postback}
    if isinstance(suggestion, rcs_formats.UrlAction):
        open_url = {"url": suggestion.url, "application": suggestion.open_mode.upper()}
        if suggestion.open_mode == "webview":
            open_url["webviewViewMode"] = (
                "FULL"  # RBM requires a view mode for WEBVIEW; the guide has one mode
            )
        action["openUrlAction"] = open_url
    elif isinstance(suggestion, rcs_formats.DialAction):
        if suggestion.action != "phone":
            raise unsupported("Google RBM does not support enriched or video calls; use Dial phone number.")
        action["dialAction"] = {"phoneNumber": suggestion.phone}
    elif isinstance(suggestion, rcs_formats.MapAction):
        if suggestion.mode == "request_location":
            action["shareLocationAction"] = {}
        else:
            location: dict[str, Any] = (
                {"query": suggestion.query}
                if suggestion.mode == "query"
                else {
                    "latLong": {
                        "latitude": float(suggestion.latitude or 0),
                        "longitude": float(suggestion.longitude or 0),
                    }
                }
            )
            if suggestion.label:
                location["label"] = suggestion.label
            action["viewLocationAction"] = location
    else:
        action["createCalendarEventAction"] = {
            "startTime": _rfc3339_utc(suggestion.start),
            "endTime": _rfc3339_utc(suggestion.end),
            "title": suggestion.title,
            "description": suggestion.description,
        }
    if getattr(suggestion, "fallback_url", ""):
        action["fallbackUrl"] = suggestion.fallback_url  # type: ignore[union-attr]
    return {"action": action}


def _card_content(card: rcs_formats.Card, height: str) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if card.title:
        content["title"] = card.title
    if card.text:
        content["description"] = card.text
    if card.media:
        content["media"] = {
            "height": _RBM_HEIGHT[height],
            "contentInfo": {"fileUrl": card.media.url, "forceRefresh": False},
        }
    if card.suggestions:
        content["suggestions"] = [rbm_suggestion(s) for s in card.suggestions]
    return content


def rbm_content(fmt: object) -> dict[str, Any]:
    """The ``contentMessage`` of a constructor format. Formatting is kept in the model; RBM shows plain text."""
    content: dict[str, Any]
    if isinstance(fmt, rcs_formats.RcsText):
        content = {"text": fmt.text}
    elif isinstance(fmt, rcs_formats.RcsFile):
        content = {"contentInfo": {"fileUrl": fmt.file.url, "forceRefresh": False}}
    elif isinstance(fmt, rcs_formats.RcsRichCard):
        card: dict[str, Any] = {
            "cardOrientation": fmt.layout.upper(),
            "cardContent": _card_content(fmt.card, fmt.image_height),
        }
        if fmt.layout == "horizontal":
            card["thumbnailImageAlignment"] = fmt.image_alignment.upper()
        content = {"richCard": {"standaloneCard": card}}
    elif isinstance(fmt, rcs_formats.RcsCarousel):
        # Google RBM takes 2-10 cards (the guide's carousel has up to 12) and no tall media on small cards.
        if len(fmt.cards) > RBM_CAROUSEL_MAX:
            raise unsupported(
                f"Google RBM sends at most {RBM_CAROUSEL_MAX} cards in a carousel (this one has {len(fmt.cards)})."
            )
        if fmt.card_width == "small" and fmt.image_height == "tall":
            raise unsupported("Google RBM has no tall media on small carousel cards; choose a medium width.")
        content = {
            "richCard": {
                "carouselCard": {
                    "cardWidth": _RBM_WIDTH[fmt.card_width],
                    "cardContents": [_card_content(c, fmt.image_height) for c in fmt.cards],
                }
            }
        }
    else:
        raise unsupported(f"RBM cannot send a {type(fmt).__name__} message.")
    if fmt.suggestions:
        content["suggestions"] = [rbm_suggestion(s) for s in fmt.suggestions]
    return content


def _data_bytes(body: bytes) -> bytes:
    envelope = json.loads(body)
    return base64.b64decode(envelope["message"]["data"], validate=True)


def _rfc3339(value: str) -> datetime.datetime:
    if not value:
        raise ValueError("the event has no time")
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("naive time")
    return parsed


def _rfc3339_utc(moment: datetime.datetime) -> str:
    """RBM's timestamp form (``2026-05-01T09:30:00Z``). A time without an offset is read as UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    return aware.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
