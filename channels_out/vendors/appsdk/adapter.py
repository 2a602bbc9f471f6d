"""The mobile push adapter: messages into a third-party app through its SDK backend (guide §17).

Guide §17: header and body are both required, and unlike push the app reports delivery, so the vendor posts
``delivered``/``opened``/``failed`` statuses and the users' in-app replies back to the portal.

Wire format (an SDK backend of the common shape; no seed gives one):

- ``POST /v1/apps/{app_id}/messages`` ``{"user_id", "title", "body", "data", "reference"}`` with ``X-Api-Key``;
  ``reference`` is the client reference and the backend's idempotency key (a repeat answers the first ``id``).
- status posts: ``{"events": [{"type": "status", "message_id", "status", "timestamp", "reason"}, {"type":
  "reply", "id", "user_id", "text", "timestamp"}]}`` signed with ``X-Timestamp`` (unix seconds) and
  ``X-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``; a timestamp more than
  ``TOLERANCE_SECONDS`` away from now is refused (replay protection, seed 004 §5.9).
"""

from __future__ import annotations

import datetime
import hmac
import json
import time
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
from channels_out.formats.simple import MobilePush
from channels_out.http import VendorHttpError, header_get, hmac_sha256_hex
from channels_out.kinds import ChannelKind
from channels_out.vendors import message_format, unsupported
from channels_out.vendors.appsdk.client import AppSdkClient
from channels_out.vendors.appsdk.forms import AppSdkConfigForm

TOLERANCE_SECONDS = 300
STATUSES = {
    "delivered": ReportStatus.DELIVERED,
    "opened": ReportStatus.DISPLAYED,
    "displayed": ReportStatus.DISPLAYED,
    "failed": ReportStatus.UNDELIVERED,
    "expired": ReportStatus.EXPIRED,
}


class AppSdkMobilePushAdapter:
    """App-SDK-shaped mobile push vendor."""

    key: ClassVar[str] = "appsdk"
    channels: ClassVar[frozenset[ChannelKind]] = frozenset({ChannelKind.MOBILE_PUSH})
    config_form: ClassVar[type[AppSdkConfigForm]] = AppSdkConfigForm
    scripted: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._client = AppSdkClient(
            base_url=str(config.get("base_url", "")),
            app_id=str(config.get("app_id", "")),
            api_key=str(config.get("api_key", "")),
        )
        self._secret = str(config.get("webhook_secret", ""))

    def check_credentials(self) -> None:
        """``GET /v1/apps/{app}``; raises AdapterError on a wrong key or no answer."""
        self._client.app()

    @staticmethod
    def body_for(message: OutboundMessage) -> dict[str, Any]:
        """The SDK backend's JSON for ``message`` (public for the serialisation tests)."""
        payload = message.payload
        push = message_format(message)  # guide §17: header and body, both required
        if push is not None and not isinstance(push, MobilePush):
            raise unsupported(f"The app SDK cannot send a {type(push).__name__} message.")
        return {
            "user_id": message.to,
            "title": push.header if push else str(payload.get("header") or ""),
            "body": push.text if push else message.text,
            "data": dict(payload.get("data") or {}),
            "reference": message.client_reference,
        }

    def send(self, message: OutboundMessage) -> SubmitResult:
        """POST the message. Raises AdapterError: permanent for 4xx (unknown user), transient otherwise."""
        try:
            response = self._client.send(self.body_for(message), reference=message.client_reference)
        except VendorHttpError as exc:
            code = exc.data.get("code") if isinstance(exc.data, Mapping) else None
            raise AdapterError(
                exc.message, permanent=exc.permanent, vendor_code=str(code or exc.vendor_code)
            ) from exc
        data = response.data if isinstance(response.data, Mapping) else {}
        vendor_id = str(data.get("id") or "")
        if not vendor_id:
            raise AdapterError("The vendor accepted the message but returned no id.", permanent=False)
        return SubmitResult(vendor_message_id=vendor_id, status=str(data.get("status") or "accepted"))

    def sign(self, timestamp: str, body: bytes) -> str:
        return "sha256=" + hmac_sha256_hex(self._secret, timestamp.encode() + b"." + body)

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Check ``X-Signature`` over ``timestamp.body`` and the timestamp's age. 401 unsigned, 403 wrong/old."""
        given = header_get(headers, "X-Signature")
        stamp = header_get(headers, "X-Timestamp")
        if not given or not stamp:
            raise CallbackRejected("The callback is not signed.", status=401)
        if not self._secret or not hmac.compare_digest(given.strip(), self.sign(stamp.strip(), body)):
            raise CallbackRejected("The callback signature does not match.", status=403)
        try:
            age = abs(time.time() - float(stamp))
        except ValueError:
            age = float("inf")
        if age > TOLERANCE_SECONDS:
            raise CallbackRejected("The callback timestamp is too old (replayed?).", status=403)

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Read ``{"events": [...]}`` into receipts and in-app replies. CallbackRejected if malformed."""
        try:
            items: list[CallbackItem] = []
            for event in json.loads(body)["events"]:
                at = datetime.datetime.fromtimestamp(float(event["timestamp"]), tz=datetime.UTC)
                if event["type"] == "status":
                    word = str(event["status"]).lower()
                    items.append(
                        DeliveryEvent(
                            vendor_message_id=str(event["message_id"]),
                            status=STATUSES[word],
                            occurred_at=at,
                            error_code=str(event.get("reason") or "") if word == "failed" else "",
                            raw_status=word,
                        )
                    )
                elif event["type"] == "reply":
                    items.append(
                        InboundMessage(
                            vendor_message_id=str(event["id"]),
                            channel=ChannelKind.MOBILE_PUSH,
                            from_address=str(event["user_id"]),
                            sender_id=str(event.get("app_id") or ""),
                            text=str(event.get("text") or ""),
                            received_at=at,
                        )
                    )
                else:
                    raise ValueError(f"unknown event type {event['type']!r}")
        except (ValueError, KeyError, TypeError) as exc:
            raise CallbackRejected(f"Malformed app SDK callback: {exc!r}") from exc
        return items
