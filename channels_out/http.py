"""The one HTTP transport of the vendor adapters (CONVENTIONS R6 "one shared wrapper").

Every ``vendors/*/client.py`` calls :func:`vendor_request`. It owns the rules no client should re-implement:

- **One shared ``requests.Session``** per process (connection pooling, keep-alive to each vendor).
- **Timeouts on every call**: connect and read, from ``PORTAL_VENDOR_HTTP_CONNECT_TIMEOUT_MS`` and
  ``PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS``.
- **Bounded retries with exponential back-off** on transient failures only: connection errors, timeouts, 5xx and
  429 (whose ``Retry-After`` is honoured up to the back-off cap). A 4xx other than 429 is the request's fault and
  is never retried (``VendorHttpError.permanent``). At most ``PORTAL_VENDOR_HTTP_MAX_ATTEMPTS`` tries in total.
- **Idempotency**: ``idempotency_key`` (the message's client reference) goes out as ``Idempotency-Key`` on every
  try, so a retry after a read timeout, when the vendor had in fact accepted the first try, is recognised by the
  vendor instead of being sent twice (issue 5 §4 exactly-once submit).
- **No secrets in logs**: headers are never logged; query values of credential-looking parameters and every
  string in ``secrets`` are replaced by ``[redacted]`` in log lines and in error messages.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings

from channels_out.base import AdapterError

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REDACTED = "[redacted]"
# Query parameters whose values are credentials (seed 004 §2.2 ``access_token``, API keys, passwords).
SECRET_PARAMS = re.compile(r"(token|key|secret|password|passwd|signature|auth)", re.IGNORECASE)
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 5.0
EXCERPT_CHARS = 300

_local = threading.local()


def http_session() -> requests.Session:
    """The process's shared session (one per thread: ``requests.Session`` is not guaranteed thread-safe)."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=20, pool_maxsize=20, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every non-empty secret in ``text``, and credential query values of URLs, by ``[redacted]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return re.sub(
        r"([?&][^=&\s]*(?:token|key|secret|password|signature|auth)[^=&\s]*=)[^&\s]+",
        lambda m: m.group(1) + REDACTED,
        text,
        flags=re.IGNORECASE,
    )


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    parts = urlsplit(url)
    query = urlencode(
        [
            (k, REDACTED if SECRET_PARAMS.search(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="[]",
    )
    return redact(urlunsplit(parts._replace(query=query)), secrets)


class VendorHttpError(AdapterError):
    """The vendor answered with an error status, or could not be reached after the allowed tries.

    ``status_code`` is None for connection errors and timeouts; ``body`` is the vendor's (redacted) answer.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        body: str = "",
        vendor_code: str | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(message, permanent=permanent, vendor_code=vendor_code)
        self.status_code = status_code
        self.body = body
        self.data = data


@dataclass(frozen=True)
class VendorResponse:
    status_code: int
    data: Any  # the decoded JSON body, or None
    text: str
    attempts: int
    elapsed_ms: float


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _backoff(attempt: int, base: float) -> float:
    # Full jitter: many workers retrying the same vendor must not retry in lock-step.
    return float(min(MAX_BACKOFF_SECONDS, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))  # noqa: S311  (jitter, not cryptography)


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def vendor_request(
    method: str,
    url: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    secrets: Iterable[str] = (),
    max_attempts: int | None = None,
    read_timeout: float | None = None,
    ok_statuses: frozenset[int] = frozenset(),
) -> VendorResponse:
    """Call a vendor with timeouts and bounded retries; return the 2xx (or ``ok_statuses``) response.

    Side effects: HTTP calls (at most ``max_attempts``), sleeps between retries, one log line per try with the
    URL redacted. Raises VendorHttpError: ``permanent=True`` for a 4xx other than 429, ``permanent=False`` when
    every try failed transiently (5xx, 429, timeout, connection error).
    """
    secrets = [s for s in secrets if s]
    attempts = max_attempts or settings.PORTAL_VENDOR_HTTP_MAX_ATTEMPTS
    timeout = (
        settings.PORTAL_VENDOR_HTTP_CONNECT_TIMEOUT_MS / 1000,
        read_timeout or settings.PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS / 1000,
    )
    base = settings.PORTAL_VENDOR_HTTP_BACKOFF_MS / 1000
    all_headers = {"Accept": "application/json", **(headers or {})}
    if idempotency_key:
        all_headers[IDEMPOTENCY_HEADER] = idempotency_key
    shown_url = redact_url(url, secrets)
    started = time.monotonic()
    last: VendorHttpError | None = None
    for attempt in range(1, attempts + 1):
        response: requests.Response | None = None
        try:
            response = http_session().request(
                method, url, json=json, data=data, params=params, headers=all_headers, timeout=timeout
            )
        except requests.Timeout:
            last = VendorHttpError(
                f"{method} {shown_url}: no answer in time", permanent=False, vendor_code="TIMEOUT"
            )
        except requests.ConnectionError as exc:
            last = VendorHttpError(
                f"{method} {shown_url}: connection failed ({redact(type(exc).__name__, secrets)})",
                permanent=False,
            )
        else:
            elapsed_ms = (time.monotonic() - started) * 1000
            logger.info(
                "vendor %s %s -> %s (try %d/%d, %.0f ms)", method, shown_url, response.status_code, attempt, attempts,
                elapsed_ms,
            )  # fmt: skip
            if 200 <= response.status_code < 300 or response.status_code in ok_statuses:
                return VendorResponse(
                    response.status_code, _decode(response), response.text, attempt, elapsed_ms
                )
            body = redact(response.text[:EXCERPT_CHARS], secrets)
            permanent = response.status_code not in TRANSIENT_STATUSES and response.status_code < 500
            last = VendorHttpError(
                f"{method} {shown_url}: HTTP {response.status_code}: {body}",
                permanent=permanent,
                status_code=response.status_code,
                body=body,
                vendor_code=str(response.status_code),
                data=_decode(response),
            )
            if permanent:
                raise last
        logger.warning(
            "vendor %s %s failed (try %d/%d): %s", method, shown_url, attempt, attempts, last.message
        )
        if attempt < attempts:
            wait = _backoff(attempt, base)
            retry_after = _retry_after(response)
            if retry_after is not None:
                wait = min(MAX_BACKOFF_SECONDS, max(wait, retry_after))
            time.sleep(wait)
    assert last is not None  # noqa: S101  (the loop ran at least once)
    raise last


def header_get(headers: Mapping[str, str], name: str) -> str:
    """A header's value by case-insensitive name ('' when absent); callbacks arrive with any spelling."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` under ``secret`` (seed 004 §2.8.2 ``Signature`` header)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
