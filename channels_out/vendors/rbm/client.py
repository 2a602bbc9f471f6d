"""HTTP calls to an RBM-shaped RCS API: the only module of this vendor that talks to the network."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from channels_out.http import VendorResponse, vendor_request


class RbmClient:
    def __init__(self, *, base_url: str, agent_id: str, access_token: str) -> None:
        self._base = base_url.rstrip("/")
        self._agent = agent_id
        self._token = access_token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def capabilities(self, phone: str, *, request_id: str) -> VendorResponse:
        """``GET /v1/phones/{phone}/capabilities``: 200 with ``features`` when RCS-capable, 404 when not."""
        return vendor_request(
            "GET",
            f"{self._base}/v1/phones/{quote(phone)}/capabilities",
            params={"requestId": request_id, "agentId": self._agent},
            headers=self._headers(),
            secrets=[self._token],
            ok_statuses=frozenset({404}),
        )

    def agent_message(self, phone: str, body: dict[str, Any], *, message_id: str) -> VendorResponse:
        """``POST /v1/phones/{phone}/agentMessages?messageId=…``; 409 (the id exists) is a success too."""
        return vendor_request(
            "POST",
            f"{self._base}/v1/phones/{quote(phone)}/agentMessages",
            params={"messageId": message_id, "agentId": self._agent},
            json=body,
            headers=self._headers(),
            idempotency_key=message_id,
            secrets=[self._token],
            ok_statuses=frozenset({409}),
        )
