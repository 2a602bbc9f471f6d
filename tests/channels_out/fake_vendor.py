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
    refused: list[tuple[str, list[str]]] = field(default_factory=list)  # malformed bodies: (route, errors)
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
        errors = wire_errors(route, body)
        if errors:  # a malformed body is refused like the real API does, and never accepted
            with self._lock:
                self.refused.append((route, errors))
            return _malformed(route, errors)
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


# -- strict wire-shape checks (issue 8) ---------------------------------------------------------------------------
#
# Each vendor refuses a malformed body with 400 and names the fields, as the real APIs do. The shapes are written
# out here from the vendors' documents (seed 004 E037/E052/E075/E090 with the upstream [UP] details, Google RBM
# agentMessages, FCM v1), not imported from the adapters, so that an adapter bug shows as a 400.

_DIGITS = re.compile(r"^\d{6,15}$")
_E164 = re.compile(r"^\+\d{6,15}$")
_HTTP_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
_VIBER_FILES = frozenset(
    [
        "jpg",
        "jpeg",
        "png",
        "bmp",
        "gif",
        "svg",
        "mp4",
        "csv",
        "doc",
        "docx",
        "dot",
        "dotx",
        "eps",
        "fods",
        "fodt",
        "info",
        "odf",
        "ods",
        "odt",
        "pdax",
        "pdf",
        "rtf",
        "txt",
        "xls",
        "xlsx",
        "xltx",
        "xps",
    ]
)
_VIBER_IMAGES = frozenset(["jpg", "jpeg", "png", "bmp", "gif", "svg"])
_WA_MEDIA = {  # seed 004 E090
    "image": frozenset({"jpg", "jpeg", "png"}),
    "audio": frozenset({"aac", "mp4", "amr", "mpeg", "mp3", "opus"}),
    "video": frozenset({"mp4", "3gp", "3gpp"}),
}


class WireCheck:
    """Collects every error of one body as ``path: message``."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path or '<body>'}: {message}")

    def obj(
        self, value: Any, path: str, required: set[str], optional: frozenset[str] | set[str] = frozenset()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "must be an object")
            return {}
        for key in sorted(required - value.keys()):
            self.fail(f"{path}.{key}".lstrip("."), "is required")
        for key in sorted(value.keys() - required - set(optional)):
            self.fail(f"{path}.{key}".lstrip("."), "is not a known field")
        return value

    def text(self, value: Any, path: str, *, max_len: int, min_len: int = 1) -> str:
        if value is None:
            return ""  # a missing required field is reported once, by obj()
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return ""
        if not min_len <= len(value) <= max_len:
            self.fail(path, f"must have {min_len}-{max_len} characters (has {len(value)})")
        return value

    def url(self, value: Any, path: str, *, extensions: frozenset[str] | None = None) -> str:
        url = self.text(value, path, max_len=2048)
        if url and not _HTTP_URL.match(url):
            self.fail(path, "must be an http(s) URL")
        if url and extensions is not None and _extension(url) not in extensions:
            self.fail(path, f"file type .{_extension(url)} is not accepted")
        return url

    def one_of(self, value: Any, path: str, choices: set[str] | frozenset[str]) -> str:
        if value not in choices:
            self.fail(path, f"must be one of {sorted(choices)}")
            return ""
        return str(value)

    def array(self, value: Any, path: str, *, min_len: int, max_len: int) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, "must be an array")
            return []
        if not min_len <= len(value) <= max_len:
            self.fail(path, f"must have {min_len}-{max_len} items (has {len(value)})")
        return value

    def number(self, value: Any, path: str, *, limit: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, "must be a number")
        elif abs(value) > limit:
            self.fail(path, f"must be within ±{limit}")

    def exactly_one(self, value: dict[str, Any], path: str, keys: set[str]) -> str:
        present = sorted(keys & value.keys())
        if len(present) != 1:
            self.fail(path, f"must have exactly one of {sorted(keys)} (has {present})")
            return ""
        return present[0]


def _extension(url: str) -> str:
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def wire_errors(route: str, body: Any) -> list[str]:
    """The errors of ``body`` posted to ``route`` (``[]``: well formed)."""
    c = WireCheck()
    checker = _CHECKS.get(route)
    if checker is not None:
        checker(c, body)
    return c.errors


def _check_sms(c: WireCheck, body: Any) -> None:
    optional = {"service", "type", "custom", "flash", "port", "max_units", "entity_id", "template_id", "meta"}
    b = c.obj(body, "", {"sender", "to", "message"}, optional)
    for i, number in enumerate(c.array(b.get("to"), "to", min_len=1, max_len=1000)):
        if not (isinstance(number, str) and _DIGITS.match(number)):
            c.fail(f"to.{i}", "must be digits with the country code")
    c.text(b.get("message"), "message", max_len=10_000)
    if "type" in b:
        c.one_of(b["type"], "type", {"N", "U"})


def _check_chat(c: WireCheck, body: Any, product: str) -> dict[str, Any]:
    b = c.obj(body, "", {"channels", "message", "recipient"}, {"custom"})
    channels = c.array(b.get("channels"), "channels", min_len=1, max_len=1)
    for i, channel in enumerate(channels):
        ch = c.obj(channel, f"channels.{i}", {"name", "from"}, {"meta"})
        c.one_of(ch.get("name"), f"channels.{i}.name", {product})
        c.text(ch.get("from"), f"channels.{i}.from", max_len=64)
        meta_keys = {"category", "ttl", "session_id", "tags"} if product == "viber" else {"tags"}
        meta = c.obj(ch.get("meta", {}), f"channels.{i}.meta", set(), meta_keys)
        if "category" in meta:
            c.one_of(
                meta["category"], f"channels.{i}.meta.category", {"transactional", "promotional", "session"}
            )
    recipient = c.obj(b.get("recipient"), "recipient", {"to"})
    for i, number in enumerate(c.array(recipient.get("to"), "recipient.to", min_len=1, max_len=1000)):
        if not (isinstance(number, str) and _DIGITS.match(number)):
            c.fail(f"recipient.to.{i}", "must be digits with the country code")
    return c.obj(b.get("message"), "message", {"type", "payload"})


def _check_viber(c: WireCheck, body: Any) -> None:
    message = _check_chat(c, body, "viber")
    kind = c.one_of(message.get("type"), "message.type", {"text", "file", "interactive", "image"})
    raw = message.get("payload")
    if kind == "text":
        p = c.obj(raw, "message.payload", {"text"})
        c.text(p.get("text"), "message.payload.text", max_len=1000)
    elif kind == "file":
        p = c.obj(raw, "message.payload", {"url", "file_name"})
        c.url(p.get("url"), "message.payload.url")
        name = c.text(p.get("file_name"), "message.payload.file_name", max_len=255)
        if name and _extension(name) not in _VIBER_FILES:
            c.fail("message.payload.file_name", f"file type .{_extension(name)} is not accepted")
    elif kind in {"interactive", "image"}:
        required = {"text", "button"} if kind == "interactive" else {"url"}
        p = c.obj(raw, "message.payload", required, {"text", "button", "url"})
        if kind == "image":
            c.url(p.get("url"), "message.payload.url", extensions=_VIBER_IMAGES)
            if "button" in p and "text" not in p:
                c.fail("message.payload.text", "is required with a button")
        if "text" in p:
            c.text(p["text"], "message.payload.text", max_len=1000)
        if "button" in p:
            button = c.obj(p["button"], "message.payload.button", {"title", "url"})
            c.text(button.get("title"), "message.payload.button.title", max_len=30)
            c.url(button.get("url"), "message.payload.button.url")


def _check_whatsapp(c: WireCheck, body: Any) -> None:
    message = _check_chat(c, body, "whatsapp")
    kinds = {"text", "template", "interactive", "location", "document", *_WA_MEDIA}
    kind = c.one_of(message.get("type"), "message.type", kinds)
    raw, at = message.get("payload"), "message.payload"
    if kind == "text":
        c.text(c.obj(raw, at, {"text"}).get("text"), f"{at}.text", max_len=4096)
    elif kind == "template":
        p = c.obj(raw, at, {"name", "language"}, {"header_params", "body_params"})
        name = c.text(p.get("name"), f"{at}.name", max_len=512)
        if name and not re.match(r"^[a-z0-9_]+$", name):
            c.fail(f"{at}.name", "must be lower-case letters, digits and underscores")
        c.text(p.get("language"), f"{at}.language", max_len=10)
        for key in ("header_params", "body_params"):
            for i, value in enumerate(c.array(p.get(key, []), f"{at}.{key}", min_len=0, max_len=100)):
                c.text(value, f"{at}.{key}.{i}", max_len=1024)
    elif kind == "location":
        p = c.obj(raw, at, {"latitude", "longitude"}, {"name", "address"})
        c.number(p.get("latitude"), f"{at}.latitude", limit=90)
        c.number(p.get("longitude"), f"{at}.longitude", limit=180)
    elif kind == "document":
        p = c.obj(raw, at, {"url", "filename"}, {"caption"})
        c.url(p.get("url"), f"{at}.url")
        c.text(p.get("filename"), f"{at}.filename", max_len=255)
        if "caption" in p:
            c.text(p["caption"], f"{at}.caption", max_len=1024)
    elif kind in _WA_MEDIA:
        p = c.obj(raw, at, {"url"}, set() if kind == "audio" else {"caption"})
        c.url(p.get("url"), f"{at}.url", extensions=_WA_MEDIA[kind])
        if "caption" in p:
            c.text(p["caption"], f"{at}.caption", max_len=1024)
    elif kind == "interactive":
        _check_wa_interactive(c, raw, at)


def _check_wa_interactive(c: WireCheck, raw: Any, at: str) -> None:
    p = c.obj(raw, at, {"type", "body", "action"}, {"header", "footer"})
    kind = c.one_of(p.get("type"), f"{at}.type", {"button", "list", "location_request_message"})
    c.text(c.obj(p.get("body"), f"{at}.body", {"text"}).get("text"), f"{at}.body.text", max_len=1024)
    if "footer" in p:
        c.text(c.obj(p["footer"], f"{at}.footer", {"text"}).get("text"), f"{at}.footer.text", max_len=60)
    if "header" in p:
        media = {"image", "video", "document"}
        header = c.obj(p["header"], f"{at}.header", {"type"}, {"text", *media})
        types = {"text", *media} if kind == "button" else {"text"}
        header_type = c.one_of(header.get("type"), f"{at}.header.type", types)
        if header_type == "text":
            c.text(header.get("text"), f"{at}.header.text", max_len=20 if kind == "button" else 60)
        elif header_type:
            where = f"{at}.header.{header_type}"
            link = c.obj(header.get(header_type), where, {"link"}).get("link")
            c.url(link, f"{where}.link", extensions=_WA_MEDIA.get(header_type))
    if kind == "location_request_message":
        if "header" in p or "footer" in p:
            c.fail(at, "a location request has a body only")
        action = c.obj(p.get("action"), f"{at}.action", {"name"})
        c.one_of(action.get("name"), f"{at}.action.name", {"send_location"})
    elif kind == "button":
        action = c.obj(p.get("action"), f"{at}.action", {"buttons"})
        seen: set[str] = set()
        for i, raw_button in enumerate(
            c.array(action.get("buttons"), f"{at}.action.buttons", min_len=1, max_len=3)
        ):
            where = f"{at}.action.buttons.{i}"
            button = c.obj(raw_button, where, {"type", "reply"})
            c.one_of(button.get("type"), f"{where}.type", {"reply"})
            reply = c.obj(button.get("reply"), f"{where}.reply", {"id", "title"})
            c.text(reply.get("id"), f"{where}.reply.id", max_len=256)
            title = c.text(reply.get("title"), f"{where}.reply.title", max_len=20)
            if title in seen:
                c.fail(f"{where}.reply.title", "button titles must be unique")
            seen.add(title)
    elif kind == "list":
        action = c.obj(p.get("action"), f"{at}.action", {"button", "sections"})
        c.text(action.get("button"), f"{at}.action.button", max_len=20)
        sections = c.array(action.get("sections"), f"{at}.action.sections", min_len=1, max_len=10)
        ids: set[str] = set()
        for i, raw_section in enumerate(sections):
            where = f"{at}.action.sections.{i}"
            section = c.obj(raw_section, where, {"rows"}, {"title"})
            if len(sections) > 1 or "title" in section:
                c.text(section.get("title"), f"{where}.title", max_len=24)
            for j, raw_row in enumerate(c.array(section.get("rows"), f"{where}.rows", min_len=1, max_len=10)):
                row = c.obj(raw_row, f"{where}.rows.{j}", {"id", "title"}, {"description"})
                row_id = c.text(row.get("id"), f"{where}.rows.{j}.id", max_len=200)
                if row_id in ids:
                    c.fail(f"{where}.rows.{j}.id", "row ids must be unique")
                ids.add(row_id)
                c.text(row.get("title"), f"{where}.rows.{j}.title", max_len=24)
                if "description" in row:
                    c.text(row["description"], f"{where}.rows.{j}.description", max_len=72)
        if len(ids) > 10:
            c.fail(f"{at}.action.sections", f"at most 10 rows in all (has {len(ids)})")


def _check_tts(c: WireCheck, body: Any) -> None:
    b = c.obj(body, "", {"bridge", "to", "text", "options"}, {"custom"})
    c.text(b.get("bridge"), "bridge", max_len=64)
    if not (isinstance(b.get("to"), str) and _DIGITS.match(b["to"])):
        c.fail("to", "must be digits with the country code")
    c.text(b.get("text"), "text", max_len=1000)
    options = c.obj(b.get("options"), "options", {"language", "iteration"}, {"voiceid"})
    c.one_of(options.get("language"), "options.language", {"en", "es"})
    if options.get("iteration") not in (1, 2, 3) or isinstance(options.get("iteration"), bool):
        c.fail("options.iteration", "must be 1, 2 or 3")


def _check_rbm(c: WireCheck, body: Any) -> None:
    b = c.obj(body, "", {"contentMessage"}, {"ttl", "expireTime"})
    at = "contentMessage"
    content = c.obj(b.get(at), at, set(), {"text", "richCard", "contentInfo", "suggestions"})
    kind = c.exactly_one(content, at, {"text", "richCard", "contentInfo"})
    if kind == "text":
        c.text(content["text"], f"{at}.text", max_len=3072)
    elif kind == "contentInfo":
        _rbm_content_info(c, content["contentInfo"], f"{at}.contentInfo")
    elif kind == "richCard":
        card = c.obj(content["richCard"], f"{at}.richCard", set(), {"standaloneCard", "carouselCard"})
        which = c.exactly_one(card, f"{at}.richCard", {"standaloneCard", "carouselCard"})
        where = f"{at}.richCard.{which}"
        if which == "standaloneCard":
            s = c.obj(card[which], where, {"cardOrientation", "cardContent"}, {"thumbnailImageAlignment"})
            orientation = c.one_of(
                s.get("cardOrientation"), f"{where}.cardOrientation", {"VERTICAL", "HORIZONTAL"}
            )
            if orientation == "HORIZONTAL":
                c.one_of(
                    s.get("thumbnailImageAlignment"), f"{where}.thumbnailImageAlignment", {"LEFT", "RIGHT"}
                )
                if not isinstance(s.get("cardContent"), dict) or "media" not in s["cardContent"]:
                    c.fail(f"{where}.cardContent.media", "a horizontal card needs media")
            _rbm_card(c, s.get("cardContent"), f"{where}.cardContent", small=False)
        elif which == "carouselCard":
            s = c.obj(card[which], where, {"cardWidth", "cardContents"})
            width = c.one_of(s.get("cardWidth"), f"{where}.cardWidth", {"SMALL", "MEDIUM"})
            cards = c.array(s.get("cardContents"), f"{where}.cardContents", min_len=2, max_len=10)
            for i, one in enumerate(cards):
                _rbm_card(c, one, f"{where}.cardContents.{i}", small=width == "SMALL")
    for i, chip in enumerate(
        c.array(content.get("suggestions", []), f"{at}.suggestions", min_len=0, max_len=11)
    ):
        _rbm_suggestion(c, chip, f"{at}.suggestions.{i}")


def _rbm_content_info(c: WireCheck, raw: Any, at: str) -> None:
    info = c.obj(raw, at, {"fileUrl"}, {"forceRefresh", "thumbnailUrl"})
    c.url(info.get("fileUrl"), f"{at}.fileUrl")
    if not isinstance(info.get("forceRefresh", False), bool):
        c.fail(f"{at}.forceRefresh", "must be a boolean")


def _rbm_card(c: WireCheck, raw: Any, at: str, *, small: bool) -> None:
    card = c.obj(raw, at, set(), {"title", "description", "media", "suggestions"})
    if not card.keys() & {"title", "description", "media"}:
        c.fail(at, "a card needs a title, a description or media")
    if "title" in card:
        c.text(card["title"], f"{at}.title", max_len=200)
    if "description" in card:
        c.text(card["description"], f"{at}.description", max_len=2000)
    if "media" in card:
        media = c.obj(card["media"], f"{at}.media", {"height", "contentInfo"})
        heights = (
            {"SHORT_HEIGHT", "MEDIUM_HEIGHT"} if small else {"SHORT_HEIGHT", "MEDIUM_HEIGHT", "TALL_HEIGHT"}
        )
        c.one_of(media.get("height"), f"{at}.media.height", heights)
        _rbm_content_info(c, media.get("contentInfo"), f"{at}.media.contentInfo")
    for i, chip in enumerate(c.array(card.get("suggestions", []), f"{at}.suggestions", min_len=0, max_len=4)):
        _rbm_suggestion(c, chip, f"{at}.suggestions.{i}")


_RBM_ACTIONS = {
    "openUrlAction",
    "dialAction",
    "viewLocationAction",
    "shareLocationAction",
    "createCalendarEventAction",
}


def _rbm_suggestion(c: WireCheck, raw: Any, at: str) -> None:
    chip = c.obj(raw, at, set(), {"reply", "action"})
    kind = c.exactly_one(chip, at, {"reply", "action"})
    if kind == "reply":
        reply = c.obj(chip["reply"], f"{at}.reply", {"text", "postbackData"})
        c.text(reply.get("text"), f"{at}.reply.text", max_len=25)
        c.text(reply.get("postbackData"), f"{at}.reply.postbackData", max_len=2048)
        return
    if kind != "action":
        return
    where = f"{at}.action"
    action = c.obj(chip["action"], where, {"text", "postbackData"}, {"fallbackUrl", *_RBM_ACTIONS})
    c.text(action.get("text"), f"{where}.text", max_len=25)
    c.text(action.get("postbackData"), f"{where}.postbackData", max_len=2048)
    if "fallbackUrl" in action:
        c.url(action["fallbackUrl"], f"{where}.fallbackUrl")
    which = c.exactly_one(action, where, _RBM_ACTIONS)
    value, at2 = action.get(which), f"{where}.{which}"
    if which == "openUrlAction":
        url = c.obj(value, at2, {"url"}, {"application", "webviewViewMode"})
        c.url(url.get("url"), f"{at2}.url")
        if (
            c.one_of(url.get("application", "BROWSER"), f"{at2}.application", {"BROWSER", "WEBVIEW"})
            == "WEBVIEW"
        ):
            c.one_of(url.get("webviewViewMode"), f"{at2}.webviewViewMode", {"FULL", "HALF", "TALL"})
    elif which == "dialAction":
        number = c.obj(value, at2, {"phoneNumber"}).get("phoneNumber")
        if not (isinstance(number, str) and _E164.match(number)):
            c.fail(f"{at2}.phoneNumber", "must be an E.164 number")
    elif which == "viewLocationAction":
        location = c.obj(value, at2, set(), {"latLong", "query", "label"})
        if c.exactly_one(location, at2, {"latLong", "query"}) == "latLong":
            lat_long = c.obj(location["latLong"], f"{at2}.latLong", {"latitude", "longitude"})
            c.number(lat_long.get("latitude"), f"{at2}.latLong.latitude", limit=90)
            c.number(lat_long.get("longitude"), f"{at2}.latLong.longitude", limit=180)
        elif "query" in location:
            c.text(location["query"], f"{at2}.query", max_len=200)
    elif which == "shareLocationAction":
        c.obj(value, at2, set())
    elif which == "createCalendarEventAction":
        event = c.obj(value, at2, {"startTime", "endTime", "title", "description"})
        for key in ("startTime", "endTime"):
            if not (isinstance(event.get(key), str) and _RFC3339_UTC.match(event[key])):
                c.fail(f"{at2}.{key}", "must be an RFC 3339 UTC time such as 2026-05-01T09:30:00Z")
        c.text(event.get("title"), f"{at2}.title", max_len=100)
        c.text(event.get("description"), f"{at2}.description", max_len=500, min_len=0)


def _check_fcm(c: WireCheck, body: Any) -> None:
    message = c.obj(
        c.obj(body, "", {"message"}).get("message"), "message", {"token", "notification"}, {"data"}
    )
    c.text(message.get("token"), "message.token", max_len=4096)
    notification = c.obj(
        message.get("notification"), "message.notification", set(), {"title", "body", "image"}
    )
    if not notification:
        c.fail("message.notification", "needs a title, a body or an image")
    for key in ("title", "body"):
        if key in notification:
            c.text(notification[key], f"message.notification.{key}", max_len=4000)
    if "image" in notification:
        c.url(notification["image"], "message.notification.image")
    data = c.obj(message.get("data", {}), "message.data", set(), set(message.get("data", {}) or {}))
    for key, value in data.items():
        if not isinstance(value, str):
            c.fail(f"message.data.{key}", "must be a string")


def _check_sdk(c: WireCheck, body: Any) -> None:
    b = c.obj(body, "", {"user_id", "title", "body", "reference"}, {"data"})
    c.text(b.get("user_id"), "user_id", max_len=254)
    c.text(b.get("title"), "title", max_len=200)
    c.text(b.get("body"), "body", max_len=1000)
    c.obj(b.get("data", {}), "data", set(), set(b.get("data", {}) or {}))


_CHECKS = {
    "cpaas/sms": _check_sms,
    "cpaas/viber": _check_viber,
    "cpaas/whatsapp": _check_whatsapp,
    "cpaas/tts": _check_tts,
    "rbm/send": _check_rbm,
    "fcm/send": _check_fcm,
    "sdk/send": _check_sdk,
}


def _malformed(route: str, errors: list[str]) -> tuple[int, Any]:
    """The vendor's 400 answer naming ``errors``, in its own error shape."""
    message = "; ".join(errors)
    if route in {"rbm/send", "fcm/send"}:
        return 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": message}}
    if route == "sdk/send":
        return 400, {"code": "invalid_payload", "message": message}
    return 400, {"status": "error", "code": 400, "message": "The given data was invalid.", "errors": errors}
