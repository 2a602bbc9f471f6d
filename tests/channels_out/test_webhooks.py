"""Customer webhooks of the send API (issue 5 §6, seed 004 §2.8): signed status callbacks to the key's webhook,
the retry schedule (t0, +10 s, +100 s), the 3 s answer limit, the attempt log, dead letters and replay pages."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from django.utils import timezone

from channels_out import webhooks
from channels_out.models import Connection, WebhookAttempt, WebhookDelivery
from channels_out.services import message_send
from channels_out.status_hooks import StatusNotice
from portal.accounts.models import User
from portal.api.models import ApiAccess
from portal.api.services import IssuedKey, api_access_create
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE

Capture = Callable[..., AbstractContextManager[Any]]
ClientFor = Callable[[User], Client]


@dataclass
class Receiver:
    """A customer's webhook endpoint on 127.0.0.1: answers ``statuses`` in turn (then 200), after ``delay``."""

    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            if state.delay:
                time.sleep(state.delay)
            status = state.statuses.pop(0) if state.statuses else 200
            answer = b'{"status":"OK"}' if status < 300 else b"boom: the receiver failed"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def key(company: Company, simulator: Connection, receiver: Receiver) -> IssuedKey:
    return api_access_create(
        company=company, actor=None, name="Shop", scopes=["omni-api"], webhook_url=receiver.url
    )


def _api_send(client: Client, key: IssuedKey, capture: Capture, **body: Any) -> dict[str, Any]:
    request = {"sender": "ACME", "to": [MOBILE], "message": "Hi", **body}
    with capture(execute=True):
        response = client.post(
            "/api/v1/sms/send", json.dumps(request), content_type="application/json",
            headers={"Authorization": f"Bearer {key.key}"},
        )  # fmt: skip
    assert response.status_code == 202, response.content
    data: dict[str, Any] = response.json()["data"]
    return data


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _headers, body in receiver.received]


def test_status_changes_reach_the_webhook_signed(
    client: Client,
    key: IssuedKey,
    receiver: Receiver,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="delivered")
    sent = _api_send(client, key, django_capture_on_commit_callbacks, custom="order-9")
    events = _events(receiver)
    assert [(e["event"], e["payload"]["status"]) for e in events] == [
        ("sms:message:status", "submitted"),
        ("sms:message:status", "delivered"),
    ]
    payload = events[1]["payload"]
    assert payload["id"] == sent["messages"][0]["id"]
    assert (payload["custom"], payload["group_id"], payload["mobile"], payload["raw_status"]) == (
        "order-9", sent["group_id"], MOBILE.lstrip("+"), "DELIVRD",
    )  # fmt: skip
    secret = webhooks.webhook_signing_secret(key.access)
    assert secret.startswith("whsec_")
    for headers, body in receiver.received:
        stamp = headers["signature-timestamp"]
        expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["signature"] == expected
        assert abs(time.time() - int(stamp)) < 60
        assert headers["x-portal-event"] == "sms:message:status"
    assert set(WebhookDelivery.objects.values_list("state", "attempts")) == {("delivered", 1)}
    attempt = WebhookAttempt.objects.first()
    assert attempt is not None
    assert (attempt.status_code, attempt.response_excerpt) == (200, '{"status":"OK"}')


def test_messages_of_a_key_without_webhook_make_no_deliveries(
    client: Client, company: Company, simulator: Connection, django_capture_on_commit_callbacks: Capture
) -> None:
    plain = api_access_create(company=company, actor=None, name="No hook", scopes=["omni-api"])
    _api_send(client, plain, django_capture_on_commit_callbacks)
    assert not WebhookDelivery.objects.exists()


def test_messages_not_sent_through_the_api_make_no_deliveries(
    company: Company, key: IssuedKey, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        message_send(
            company=company,
            actor=None,
            channel="sms",
            sender_id="ACME",
            to=MOBILE,
            payload={"text": "x"},
            origin="api",
        )
    assert not WebhookDelivery.objects.exists()


def test_a_repeated_notice_is_delivered_once(
    client: Client,
    key: IssuedKey,
    receiver: Receiver,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="none")
    sent = _api_send(client, key, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    notice = StatusNotice(key.access.company_id, delivery.message_id or 0, "api", "submitted", timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.api_status_subscriber([notice, notice])
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.received) == 1
    assert sent["messages"][0]["id"] == _events(receiver)[0]["payload"]["id"]


@override_settings(PORTAL_WEBHOOK_RETRY_DELAYS=["10", "100"])
def test_failures_follow_the_schedule_then_go_to_the_dead_letters(
    client: Client,
    key: IssuedKey,
    receiver: Receiver,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="none")
    receiver.statuses = [500, 503, 500, 500]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        _api_send(client, key, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
            "pending",
            1,
            start + datetime.timedelta(seconds=10),
        )
        clock.shift(9)
        assert webhooks.webhook_deliveries_send() == 0  # not due yet
        clock.shift(1)
        assert webhooks.webhook_deliveries_send() == 1
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == start + datetime.timedelta(seconds=110)
        clock.shift(100)
        assert webhooks.webhook_deliveries_send() == 1
        clock.shift(100_000)
        assert webhooks.webhook_deliveries_send() == 0
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("dead", 3, 500)
    assert delivery.dead_at is not None
    log = list(
        delivery.attempt_log.order_by("number").values_list("number", "status_code", "response_excerpt")
    )
    assert log == [
        (1, 500, "boom: the receiver failed"),
        (2, 503, "boom: the receiver failed"),
        (3, 500, "boom: the receiver failed"),
    ]
    assert len(receiver.received) == 3


def test_a_2xx_on_the_second_try_stops_the_retries(
    client: Client,
    key: IssuedKey,
    receiver: Receiver,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="none")
    receiver.statuses = [500]
    with time_machine.travel(timezone.now(), tick=False) as clock:
        _api_send(client, key, django_capture_on_commit_callbacks)
        clock.shift(10)
        webhooks.webhook_deliveries_send()
        clock.shift(1000)
        assert webhooks.webhook_deliveries_send() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert list(delivery.attempt_log.order_by("number").values_list("status_code", flat=True)) == [500, 200]
    assert all(latency >= 0 for latency in delivery.attempt_log.values_list("latency_ms", flat=True))


@override_settings(PORTAL_WEBHOOK_TIMEOUT_MS=200)
def test_a_slow_answer_counts_as_a_failure(
    client: Client,
    key: IssuedKey,
    receiver: Receiver,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="none")
    receiver.delay = 0.5
    _api_send(client, key, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    attempt = delivery.attempt_log.get()
    assert attempt.error == "No answer within 200 ms."
    assert attempt.latency_ms >= 200


# -- pages ------------------------------------------------------------------------------------------------------------


@pytest.fixture
def dead(company: Company, key: IssuedKey) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        company=company, access=key.access, event="sms:message:status", url=key.access.webhook_url,
        body='{"event":"sms:message:status","payload":{}}', dedupe_key="1:delivered", state="dead", attempts=3,
        last_status_code=500, dead_at=timezone.now(),
    )  # fmt: skip


def _list_url(access: ApiAccess) -> str:
    return f"/api-accesses/{access.uuid}/webhooks/"


def test_webhook_page_lists_deliveries_and_the_signing_secret(
    client_for: ClientFor, admin_user: User, key: IssuedKey, dead: WebhookDelivery
) -> None:
    response = client_for(admin_user).get(_list_url(key.access))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Webhook deliveries of “Shop”" in html
    assert webhooks.webhook_signing_secret(key.access) in html
    assert "Failed (dead letter) (1)" in html
    assert f"/webhooks/{dead.uuid}/replay/" in html


def test_webhook_page_htmx_gets_only_the_table(
    client_for: ClientFor, admin_user: User, key: IssuedKey, dead: WebhookDelivery
) -> None:
    response = client_for(admin_user).get(_list_url(key.access) + "?state=dead", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="webhook-table"' in html
    assert "<html" not in html
    assert "Signing secret" not in html


def test_outsider_gets_404_and_a_role_without_permission_403(
    client_for: ClientFor, outsider: User, viewer: User, key: IssuedKey, dead: WebhookDelivery
) -> None:
    assert client_for(outsider).get(_list_url(key.access)).status_code == 404
    assert client_for(outsider).post(_list_url(key.access) + f"{dead.uuid}/replay/").status_code == 404
    assert client_for(viewer).get(_list_url(key.access)).status_code == 403
    assert client_for(viewer).post(_list_url(key.access) + "replay-dead/").status_code == 403
    dead.refresh_from_db()
    assert dead.state == "dead"


def test_replay_one_sends_it_again(
    client_for: ClientFor, admin_user: User, key: IssuedKey, dead: WebhookDelivery, receiver: Receiver,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(
            _list_url(key.access) + f"{dead.uuid}/replay/", HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert 'id="webhook-table"' in response.content.decode()
    dead.refresh_from_db()
    assert (dead.state, dead.attempts) == ("delivered", 1)
    attempt = dead.attempt_log.get()
    assert attempt.replay is True
    assert len(receiver.received) == 1
    assert AuditEntry.objects.filter(action="webhook.replayed").count() == 1


def test_replay_all_failed(
    client_for: ClientFor, admin_user: User, key: IssuedKey, dead: WebhookDelivery, company: Company,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    second = WebhookDelivery.objects.create(
        company=company, access=key.access, event="sms:message:status", url=key.access.webhook_url, body="{}",
        dedupe_key="2:delivered", state="dead", attempts=3, dead_at=timezone.now(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(_list_url(key.access) + "replay-dead/")
    assert response.status_code == 303
    assert response["Location"] == _list_url(key.access)
    assert set(
        WebhookDelivery.objects.filter(pk__in=[dead.pk, second.pk]).values_list("state", flat=True)
    ) == {"delivered"}


def test_detail_page_shows_every_attempt(
    client_for: ClientFor, admin_user: User, key: IssuedKey, dead: WebhookDelivery
) -> None:
    WebhookAttempt.objects.create(
        company=dead.company, delivery=dead, number=1, status_code=500, latency_ms=42, response_excerpt="boom"
    )
    url = _list_url(key.access) + f"{dead.uuid}/"
    html = client_for(admin_user).get(url).content.decode()
    assert "boom" in html
    assert ">42<" in html
    fragment = client_for(admin_user).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="webhook-attempts"' in fragment
    assert "<html" not in fragment


# -- inbound messages (seed 004 §2.9 "<product>:message:in") ------------------------------------------------------


def _customer_writes(simulator: Connection, capture: Capture, *, channel: str = "whatsapp", to: str = "ACME",
                     postback: str = "") -> None:  # fmt: skip
    from channels_out import services

    event = {"type": "inbound", "id": f"mo-{channel}-{to}", "channel": channel, "from": MOBILE, "to": to,
             "text": "Where is my order?", "at": timezone.now().isoformat(), **({"postback": postback} if postback else {})}  # fmt: skip
    body = json.dumps({"events": [event]}).encode()
    signature = services.adapter_for(simulator).sign(body)  # type: ignore[attr-defined]
    with capture(execute=True):
        services.callback_store(connection=simulator, body=body, headers={"Signature": signature})


def test_an_inbound_message_reaches_the_webhook_of_accesses_allowed_on_its_sender(
    company: Company, simulator: Connection, key: IssuedKey, receiver: Receiver,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    other = api_access_create(
        company=company, actor=None, name="Other sender", scopes=["omni-api"], webhook_url=receiver.url,
        senders=["OTHER"],
    )  # fmt: skip
    _customer_writes(simulator, django_capture_on_commit_callbacks)
    events = _events(receiver)
    assert [e["event"] for e in events] == ["whatsapp:message:in"]  # not to the key limited to OTHER
    payload = events[0]["payload"]
    assert (payload["recipient"]["from"], payload["channels"], payload["message"]) == (
        MOBILE, [{"name": "whatsapp", "to": "ACME"}], {"type": "text", "payload": {"text": "Where is my order?"}},
    )  # fmt: skip
    headers = receiver.received[0][0]
    secret = webhooks.webhook_signing_secret(key.access)
    expected = hmac.new(secret.encode(), headers["signature-timestamp"].encode() + b"." + receiver.received[0][1],
                        hashlib.sha256).hexdigest()  # fmt: skip
    assert headers["signature"] == expected
    delivery = WebhookDelivery.objects.get()
    assert (delivery.access_id, delivery.state, delivery.event) == (
        key.access.pk,
        "delivered",
        "whatsapp:message:in",
    )
    assert not WebhookDelivery.objects.filter(access=other.access).exists()


def test_an_inbound_message_whose_webhook_fails_goes_to_the_dead_letters(
    company: Company, simulator: Connection, key: IssuedKey, receiver: Receiver,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    receiver.statuses = [500, 500, 500]
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _customer_writes(simulator, django_capture_on_commit_callbacks, channel="sms")
        for delay in (10, 100):
            traveller.shift(datetime.timedelta(seconds=delay))
            webhooks.webhook_deliveries_send()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.state, delivery.attempts) == ("vmn:message:in", "dead", 3)
    assert [e["event"] for e in _events(receiver)] == ["vmn:message:in"] * 3
