"""A local fake vendor server for the HTTP adapters' tests and benchmarks (issue 5 §2 "local fake vendor server").

A threaded HTTP server on 127.0.0.1 (random port) that speaks the wire formats of the adapters in
``channels_out/vendors/``: the seed 004 CPaaS API (``/api/v2/...``), Google RBM (``/rbm/v1/...``), FCM
(``/fcm/v1/...``) and an app-SDK backend (``/sdk/v1/...``). Like a real vendor it

- treats the ``Idempotency-Key`` (or RBM's ``messageId``) as the message's identity: a repeated key gets the first
  answer and sends nothing again; ``accepted`` counts each accepted client reference once, ``requests`` counts
  every try, so a test can prove "exactly once" across retries and crashes;
- follows a per-number script: accept, 4xx, 5xx (always or once), timeout (always, once, or after accepting);
- posts signed delivery reports (delivered / undelivered / read) and inbound messages back to the portal's
  ``/hooks/<adapter>/<connection>/`` URL, as configured with :meth:`FakeVendor.callback`.

Only 127.0.0.1 is used; every wait is bounded.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import requests

TOKEN = "fake-vendor-token-123"


@dataclass
class Rule:
    """What the vendor does for a matching number.

    ``submit``: ``accept``, ``4xx``, ``5xx``, ``5xx_once``, ``timeout``, ``timeout_once`` or
    ``accept_then_timeout_once`` (accepts, then answers too late; the retry must be recognised).
    ``report``: ``delivered``, ``undelivered``, ``read`` (delivered then read), ``answer``/``busy`` (voice) or
    ``none``. ``inbound``: a reply the contact sends after the report.
    """

    submit: str = "accept"
    report: str = "none"
    error_code: str = "013"
    http_status: int = 422
    inbound: str = ""


@dataclass
class Callback:
    url: str
    secret: str


@dataclass
class FakeVendor:
    sleep_seconds: float = 1.0
    rules: dict[str, Rule] = field(default_factory=dict)
    default: Rule = field(default_factory=Rule)
    callbacks: dict[str, Callback] = field(default_factory=dict)
    accepted: dict[str, str] = field(default_factory=dict)  # client reference → vendor id
    accept_counts: Counter[str] = field(default_factory=Counter)  # how often each reference was accepted
    requests: Counter[str] = field(default_factory=Counter)  # every try per reference
    bodies: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    posted: list[tuple[str, int]] = field(default_factory=list)  # callbacks sent: (event, portal's status)
    keep_bodies: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._once: set[tuple[str, str]] = set()
        self._ids = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=4)
        self._session = requests.Session()
        self._server: ThreadingHTTPServer | None = None
        self.pending_posts = 0

    # -- control ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, pattern: str, **fields: Any) -> None:
        """Script the numbers matching ``pattern`` (digits without ``+``; shell wildcards allowed)."""
        self.rules[pattern.lstrip("+")] = Rule(**fields)

    def callback(self, kind: str, url: str, secret: str) -> None:
        """Where and how to post reports for ``kind`` (``cpaas``, ``rbm``, ``appsdk``)."""
        self.callbacks[kind] = Callback(url, secret)

    def rule_for(self, number: str) -> Rule:
        number = number.lstrip("+")
        for pattern, rule in self.rules.items():
            if fnmatch.fnmatchcase(number, pattern):
                return rule
        return self.default

    def wait_posts(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled callback has been posted."""
        deadline = time.monotonic() + timeout
        while self.pending_posts and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def duplicates(self) -> int:
        """References accepted more than once (must stay 0: the vendor's side of exactly-once)."""
        return sum(1 for count in self.accept_counts.values() if count > 1)

    # -- the HTTP side -------------------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, Any]:
        route = _route(method, path)
        if route is None:
            return 404, {"status": "error", "code": 404, "message": "Not found"}
        if not _authorised(route, headers):
            return 401, {"status": "error", "code": 401, "message": "Unauthenticated"}
        if route in {"auth/me", "sdk/app"}:
            return 200, {"status": "OK", "code": 200, "message": "OK", "data": {"name": "fake"}}
        if route == "rbm/capabilities":
            number = path.split("/phones/")[1].split("/")[0]
            rule = self.rule_for(unquote(number))
            if rule.submit == "4xx":
                return 404, {
                    "error": {
                        "code": 404,
                        "status": "NOT_FOUND",
                        "message": "Requested entity was not found.",
                    }
                }
            return 200, {"features": ["RICHCARD_STANDALONE", "ACTION_OPEN_URL"]}
        number = _number(route, path, body)
        reference = headers.get("idempotency-key") or _query(path, "messageId") or str(body.get("custom", ""))
        if self.keep_bodies:
            with self._lock:
                self.bodies.append((route, body, headers))
        with self._lock:
            self.requests[reference] += 1
            known = self.accepted.get(reference)
        rule = self.rule_for(number)
        if known is not None:
            return self._accepted_answer(route, number, reference, known, duplicate=True)
        submit = rule.submit
        if submit.endswith("_once"):
            key = (submit, reference)
            with self._lock:
                first = key not in self._once
                self._once.add(key)
            submit = submit.removesuffix("_once") if first else "accept"
        if submit == "timeout":
            time.sleep(self.sleep_seconds)
            return 503, {"status": "error", "code": 503, "message": "Too late"}
        if submit == "5xx":
            return 503, {"status": "error", "code": 503, "message": "Service unavailable"}
        if submit == "4xx":
            return rule.http_status, {
                "status": "error", "code": rule.http_status, "message": "Rejected", "error_code": rule.error_code,
                "error": {"code": rule.error_code, "status": "INVALID_ARGUMENT"},
            }  # fmt: skip
        vendor_id = self._vendor_id(route, reference)
        with self._lock:
            self.accepted[reference] = vendor_id
            self.accept_counts[reference] += 1
        self._schedule_reports(route, number, vendor_id, rule, body)
        if submit == "accept_then_timeout":
            time.sleep(self.sleep_seconds)
        return self._accepted_answer(route, number, reference, vendor_id, duplicate=False)

    def _vendor_id(self, route: str, reference: str) -> str:
        n = next(self._ids)
        if route == "rbm/send":
            return reference
        if route == "fcm/send":
            return f"projects/fake/messages/{n}"
        return f"{uuid.uuid4()}:{n}"

    def _accepted_answer(
        self, route: str, number: str, reference: str, vendor_id: str, *, duplicate: bool
    ) -> tuple[int, Any]:
        if route == "rbm/send":
            if duplicate:
                return 409, {"error": {"code": 409, "status": "ALREADY_EXISTS"}}
            return 200, {"name": f"phones/{number}/agentMessages/{vendor_id}", "sendTime": _now()}
        if route == "fcm/send":
            return 200, {"name": vendor_id}
        if route == "sdk/send":
            return 200, {"id": vendor_id, "status": "accepted"}
        if route == "cpaas/sms":
            return 200, {
                "status": 200, "message": "1 numbers accepted for delivery.", "group_id": str(uuid.uuid4()),
                "data": [{"id": vendor_id, "mobile": number, "status": "AWAITING-DLR", "units": 1,
                          "charges": "0.0100", "customid": reference}],
            }  # fmt: skip
        item = {"id": vendor_id, "to": number, "status": "queued", "credits": "0.02", "foreign_id": reference}
        if route == "cpaas/viber":
            item["session_id"] = f"vs-{number}"
        message = "Calls queued successfully" if route == "cpaas/tts" else "Messages queued successfully"
        return 200, {"status": "OK", "code": 200, "message": message, "data": [item]}

    # -- reports ---------------------------------------------------------------------------------------------------

    def _schedule_reports(
        self, route: str, number: str, vendor_id: str, rule: Rule, body: dict[str, Any]
    ) -> None:
        kind = {"sdk": "appsdk"}.get(route.split("/")[0], route.split("/")[0])
        callback = self.callbacks.get(kind)
        if callback is None or (rule.report == "none" and not rule.inbound):
            return
        posts: list[tuple[str, bytes, dict[str, str]]] = []
        if rule.report != "none":
            posts.extend(self._reports(route, number, vendor_id, rule, callback))
        if rule.inbound:
            posts.append(self.inbound(route.split("/")[-1] if kind == "cpaas" else kind, number, rule.inbound,
                                      to=_sender(route, body), build_only=True))  # fmt: skip
        with self._lock:
            self.pending_posts += 1
        self._pool.submit(self._post_all, callback.url, posts)

    def _reports(
        self, route: str, number: str, vendor_id: str, rule: Rule, cb: Callback
    ) -> list[tuple[str, bytes, dict[str, str]]]:
        words: list[str]
        if route == "cpaas/sms":
            words = ["DELIVRD"] if rule.report in {"delivered", "read"} else ["UNDELIV"]
            return [
                _signed_cpaas({"event": "sms:message:status", "payload": {
                    "id": vendor_id, "mobile": number, "status": w, "units": 1, "credits": "0.0100",
                    "code": "000" if w == "DELIVRD" else rule.error_code, "deliv_at": int(time.time())}}, cb.secret)
                for w in words
            ]  # fmt: skip
        if route == "cpaas/tts":
            word = "ANSWER" if rule.report in {"delivered", "answer"} else "BUSY"
            return [_signed_cpaas({"event": "voice:message:out", "payload": {
                "mid": vendor_id, "from": "bridge", "to": number, "status": word, "duration": 12,
                "end_at": int(time.time())}}, cb.secret)]  # fmt: skip
        if route in {"cpaas/viber", "cpaas/whatsapp"}:
            product = route.split("/")[1]
            words = {"delivered": ["sent", "delivered"], "read": ["sent", "delivered", "read"]}.get(
                rule.report, ["failed"]
            )
            return [
                _signed_cpaas({"event": f"{product}:message:status", "payload": {
                    "id": vendor_id, "channel": product, "to": number, "status": w, "timestamp": int(time.time()),
                    "error_code": "" if w != "failed" else rule.error_code}}, cb.secret)
                for w in words
            ]  # fmt: skip
        if route == "rbm/send":
            types = {"delivered": ["DELIVERED"], "read": ["DELIVERED", "READ"]}.get(rule.report, [])
            return [_signed_rbm({"senderPhoneNumber": "+" + number, "eventType": t, "eventId": uuid.uuid4().hex,
                                 "messageId": vendor_id, "sendTime": _now(), "agentId": "agent"}, cb.secret)
                    for t in types]  # fmt: skip
        if route == "sdk/send":
            status = {"delivered": ["delivered"], "read": ["delivered", "opened"]}.get(
                rule.report, ["failed"]
            )
            return [_signed_sdk({"events": [{"type": "status", "message_id": vendor_id, "status": s,
                                             "timestamp": time.time(), "reason": rule.error_code}]}, cb.secret)
                    for s in status]  # fmt: skip
        return []

    def inbound(
        self, product: str, number: str, text: str, *, to: str = "", build_only: bool = False
    ) -> tuple[str, bytes, dict[str, str]]:
        """A signed inbound message from ``number``; posted now unless ``build_only``."""
        number = number.lstrip("+")
        if product == "rbm":
            built = _signed_rbm({"senderPhoneNumber": "+" + number, "messageId": f"in-{uuid.uuid4().hex}",
                                 "sendTime": _now(), "agentId": to or "agent", "text": text},
                                self.callbacks["rbm"].secret)  # fmt: skip
        else:
            event = {"sms": "vmn", "viber": "viber", "whatsapp": "whatsapp"}.get(product, product)
            built = _signed_cpaas({"event": f"{event}:message:in", "payload": {
                "id": f"in-{uuid.uuid4().hex}", "channels": [{"name": product, "to": to}],
                "recipient": {"from": number}, "message": {"type": "text", "payload": {"text": text}},
                "timestamp": int(time.time())}}, self.callbacks["cpaas"].secret)  # fmt: skip
        if not build_only:
            kind = "rbm" if product == "rbm" else "cpaas"
            self._post_all(self.callbacks[kind].url, [built], counted=False)
        return built

    def _post_all(
        self, url: str, posts: list[tuple[str, bytes, dict[str, str]]], counted: bool = True
    ) -> None:
        try:
            for event, body, headers in posts:
                response = self._session.post(
                    url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10
                )
                with self._lock:
                    self.posted.append((event, response.status_code))
        finally:
            if counted:
                with self._lock:
                    self.pending_posts -= 1

    # -- life cycle --------------------------------------------------------------------------------------------------

    def start(self) -> None:
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real vendor
            disable_nagle_algorithm = (
                True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
            )

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, answer = vendor.handle(self.command, self.path, body, headers)
                except Exception as exc:  # a bug in the fake must show, not hang the client
                    status, answer = 500, {"message": repr(exc)}
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a scripted timeout)

            do_GET = do_POST = _serve  # noqa: N815  (BaseHTTPRequestHandler's method names)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()


@contextmanager
def running(**kwargs: Any) -> Iterator[FakeVendor]:
    vendor = FakeVendor(**kwargs)
    vendor.start()
    try:
        yield vendor
    finally:
        vendor.stop()


# -- wire helpers -----------------------------------------------------------------------------------------------

_ROUTES = [
    ("GET", r"^/api/v2/auth/me$", "auth/me"),
    ("POST", r"^/api/v2/sms/send$", "cpaas/sms"),
    ("POST", r"^/api/v2/viber/message/send$", "cpaas/viber"),
    ("POST", r"^/api/v2/whatsapp/message/send$", "cpaas/whatsapp"),
    ("POST", r"^/api/v2/outgoing/tts$", "cpaas/tts"),
    ("GET", r"^/rbm/v1/phones/[^/]+/capabilities(\?.*)?$", "rbm/capabilities"),
    ("POST", r"^/rbm/v1/phones/[^/]+/agentMessages(\?.*)?$", "rbm/send"),
    ("POST", r"^/fcm/v1/projects/[^/]+/messages:send$", "fcm/send"),
    ("GET", r"^/sdk/v1/apps/[^/]+$", "sdk/app"),
    ("POST", r"^/sdk/v1/apps/[^/]+/messages$", "sdk/send"),
]


def _route(method: str, path: str) -> str | None:
    return next((name for m, pattern, name in _ROUTES if m == method and re.match(pattern, path)), None)


def _authorised(route: str, headers: dict[str, str]) -> bool:
    if route.startswith("sdk"):
        return headers.get("x-api-key") == TOKEN
    return headers.get("authorization") == f"Bearer {TOKEN}"


def _query(path: str, name: str) -> str:
    match = re.search(rf"[?&]{name}=([^&]+)", path)
    return unquote(match.group(1)) if match else ""


def _number(route: str, path: str, body: dict[str, Any]) -> str:
    if route == "cpaas/sms":
        return str(body["to"][0])
    if route in {"cpaas/viber", "cpaas/whatsapp"}:
        return str(body["recipient"]["to"][0])
    if route == "cpaas/tts":
        return str(body["to"])
    if route == "rbm/send":
        return unquote(path.split("/phones/")[1].split("/")[0]).lstrip("+")
    if route == "fcm/send":
        return str(body["message"]["token"])
    return str(body.get("user_id", ""))


def _sender(route: str, body: dict[str, Any]) -> str:
    if route == "cpaas/sms":
        return str(body.get("sender", ""))
    if route == "cpaas/tts":
        return str(body.get("bridge", ""))
    channels = body.get("channels") or [{}]
    return str(channels[0].get("from", ""))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"


def _signed_cpaas(data: dict[str, Any], secret: str) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(data).encode()
    return (
        str(data["event"]),
        body,
        {"Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()},
    )


def _signed_rbm(event: dict[str, Any], secret: str) -> tuple[str, bytes, dict[str, str]]:
    data = json.dumps(event).encode()
    envelope = {"message": {"data": base64.b64encode(data).decode(), "messageId": uuid.uuid4().hex,
                            "publishTime": _now()}, "subscription": "projects/fake/subscriptions/rbm"}  # fmt: skip
    signature = base64.b64encode(hmac.new(secret.encode(), data, hashlib.sha512).digest()).decode()
    return (
        str(event.get("eventType", "message")),
        json.dumps(envelope).encode(),
        {"X-Goog-Signature": signature},
    )


def _signed_sdk(data: dict[str, Any], secret: str) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(data).encode()
    stamp = str(int(time.time()))
    signature = (
        "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    return "sdk:" + str(data["events"][0]["status"]), body, {"X-Signature": signature, "X-Timestamp": stamp}
