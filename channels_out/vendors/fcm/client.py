"""HTTP calls to an FCM-shaped push API: the only module of this vendor that talks to the network."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from channels_out.http import VendorResponse, vendor_request


class FcmClient:
    def __init__(self, *, base_url: str, project_id: str, access_token: str) -> None:
        self._base = base_url.rstrip("/")
        self._project = project_id
        self._token = access_token

    def send(self, body: dict[str, Any], *, reference: str, validate_only: bool = False) -> VendorResponse:
        """``POST /v1/projects/{project}/messages:send``."""
        return vendor_request(
            "POST",
            f"{self._base}/v1/projects/{quote(self._project)}/messages:send",
            json={**body, "validate_only": validate_only} if validate_only else body,
            headers={"Authorization": f"Bearer {self._token}"},
            idempotency_key=reference,
            secrets=[self._token],
        )
