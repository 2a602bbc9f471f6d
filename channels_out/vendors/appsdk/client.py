"""HTTP calls to an app-SDK-shaped mobile push backend: the only module of this vendor that talks to the network."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from channels_out.http import VendorResponse, vendor_request


class AppSdkClient:
    def __init__(self, *, base_url: str, app_id: str, api_key: str) -> None:
        self._base = base_url.rstrip("/")
        self._app = app_id
        self._key = api_key

    def _headers(self) -> dict[str, str]:
        return {"X-Api-Key": self._key}

    def app(self) -> VendorResponse:
        """``GET /v1/apps/{app}``: checks the key."""
        return vendor_request(
            "GET",
            f"{self._base}/v1/apps/{quote(self._app)}",
            headers=self._headers(),
            secrets=[self._key],
            max_attempts=1,
        )

    def send(self, body: dict[str, Any], *, reference: str) -> VendorResponse:
        """``POST /v1/apps/{app}/messages``."""
        return vendor_request(
            "POST",
            f"{self._base}/v1/apps/{quote(self._app)}/messages",
            json=body,
            headers=self._headers(),
            idempotency_key=reference,
            secrets=[self._key],
        )
