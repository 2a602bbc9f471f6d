"""HTTP calls to a seed-004-shaped CPaaS API: the only module of this vendor that talks to the network."""

from __future__ import annotations

from typing import Any

from channels_out.http import VendorResponse, vendor_request

# Seed 004 §1.5-§1.9 send endpoints, relative to the base URL.
PATHS = {
    "sms": "sms/send",  # E037
    "viber": "viber/message/send",  # E075
    "whatsapp": "whatsapp/message/send",  # E090
    "tts": "outgoing/tts",  # E052
}


class CpaasClient:
    def __init__(self, *, base_url: str, api_token: str) -> None:
        self._base = base_url if base_url.endswith("/") else base_url + "/"
        self._token = api_token

    def _headers(self) -> dict[str, str]:
        # Seed 004 §2.2: the bearer form is preferred over ?access_token=.
        return {"Authorization": f"Bearer {self._token}"}

    def me(self) -> VendorResponse:
        """``GET auth/me`` (E001): checks the token."""
        return vendor_request(
            "GET", self._base + "auth/me", headers=self._headers(), secrets=[self._token], max_attempts=1
        )

    def send(self, kind: str, body: dict[str, Any], *, reference: str) -> VendorResponse:
        """POST one send request; ``reference`` travels as the Idempotency-Key of every try."""
        return vendor_request(
            "POST",
            self._base + PATHS[kind],
            json=body,
            headers=self._headers(),
            idempotency_key=reference,
            secrets=[self._token],
        )
