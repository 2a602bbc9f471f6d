"""The push adapter in the shape of Firebase Cloud Messaging HTTP v1 (inventory A §21 "FCM/APNs").

It owns the translation of a push (guide §15: picture, header, body; at least one) into an FCM
``messages:send`` body addressed to a device registration token. Push has no delivery status (guide §15:
"Delivered does not exist for Push"), so the vendor posts no callbacks: the message ends ``submitted``, and
``verify_signature`` refuses every post to this adapter's callback URL.

Exactly-once: FCM itself has no idempotency key. The client reference goes out as the ``Idempotency-Key``
header and as ``data.client_reference`` (the app can drop a repeat); a vendor-side duplicate after a read
timeout is the documented limit of this channel (channels_out/README.md).
FCM errors: 400 INVALID_ARGUMENT and 404 UNREGISTERED (stale token) are permanent; 429 and 5xx are retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from channels_out.base import (
    AdapterError,
    CallbackItem,
    CallbackRejected,
    OutboundMessage,
    SubmitResult,
)
from channels_out.formats.simple import Push
from channels_out.http import VendorHttpError
from channels_out.kinds import ChannelKind
from channels_out.vendors import message_format, unsupported
from channels_out.vendors.fcm.client import FcmClient
from channels_out.vendors.fcm.forms import FcmConfigForm


class FcmPushAdapter:
    """FCM-shaped push vendor."""

    key: ClassVar[str] = "fcm"
    channels: ClassVar[frozenset[ChannelKind]] = frozenset({ChannelKind.PUSH})
    config_form: ClassVar[type[FcmConfigForm]] = FcmConfigForm
    scripted: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._client = FcmClient(
            base_url=str(config.get("base_url", "")),
            project_id=str(config.get("project_id", "")),
            access_token=str(config.get("access_token", "")),
        )

    def check_credentials(self) -> None:
        """Send a ``validate_only`` message to a dummy token; raises AdapterError on 401/403 or no answer."""
        try:
            self._client.send(
                {"message": {"topic": "credentials-check"}}, reference="check", validate_only=True
            )
        except VendorHttpError as exc:
            if exc.status_code in (401, 403) or not exc.permanent:
                raise

    @staticmethod
    def body_for(message: OutboundMessage) -> dict[str, Any]:
        """The FCM v1 body of ``message`` (public for the serialisation tests)."""
        payload = message.payload
        push = message_format(message)  # guide §15: picture, header, body (at least one)
        if push is not None and not isinstance(push, Push):
            raise unsupported(f"FCM cannot send a {type(push).__name__} message.")
        header = push.header if push else str(payload.get("header") or "")
        body = push.text if push else message.text
        image = push.image_url if push else str(payload.get("image_url") or "")
        notification: dict[str, str] = {}
        if header:
            notification["title"] = header
        if body:
            notification["body"] = body
        if image:
            notification["image"] = image
        data = {str(k): str(v) for k, v in dict(payload.get("data") or {}).items()}
        data["client_reference"] = message.client_reference
        return {"message": {"token": message.to, "notification": notification, "data": data}}

    def send(self, message: OutboundMessage) -> SubmitResult:
        """POST ``messages:send``; the returned ``name`` is the vendor message id.

        Raises AdapterError: permanent for 4xx (invalid or unregistered token), transient for 5xx/429/timeouts.
        """
        try:
            response = self._client.send(self.body_for(message), reference=message.client_reference)
        except VendorHttpError as exc:
            error = exc.data.get("error") if isinstance(exc.data, Mapping) else None
            status = str(error.get("status")) if isinstance(error, Mapping) and error.get("status") else None
            raise AdapterError(
                exc.message, permanent=exc.permanent, vendor_code=status or exc.vendor_code
            ) from exc
        data = response.data if isinstance(response.data, Mapping) else {}
        name = str(data.get("name") or "")
        if not name:
            raise AdapterError("The vendor accepted the push but returned no message name.", permanent=False)
        return SubmitResult(vendor_message_id=name, status="accepted", raw={"name": name})

    def verify_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Refuse every post: FCM sends no callbacks (guide §15)."""
        raise CallbackRejected("This push vendor sends no callbacks.", status=403)

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[CallbackItem]:
        """Refuse every post: FCM sends no callbacks (guide §15)."""
        raise CallbackRejected("This push vendor sends no callbacks.", status=403)
