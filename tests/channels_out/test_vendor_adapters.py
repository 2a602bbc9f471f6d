"""The HTTP vendor adapters against the local fake vendor server (issue 5 §2): wire format per channel, retries
on 5xx and timeouts with one idempotency key, no retry on 4xx, signed reports and inbound messages posted back to
the live portal, and provider failover to the next connection."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from channels_out import services
from channels_out.base import AdapterError, OutboundMessage
from channels_out.http import redact, redact_url
from channels_out.kinds import ChannelKind
from channels_out.models import CallbackPayload, Connection, Message
from channels_out.vendors.appsdk.adapter import AppSdkMobilePushAdapter
from channels_out.vendors.cpaas.adapter import CpaasAdapter
from channels_out.vendors.fcm.adapter import FcmPushAdapter
from channels_out.vendors.rbm.adapter import RbmRcsAdapter
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE
from tests.channels_out.fake_vendor import TOKEN, FakeVendor, running

DIGITS = MOBILE.lstrip("+")
SECRET = "callback-secret-0123456789"
FAST = {
    "PORTAL_VENDOR_HTTP_BACKOFF_MS": 1,
    "PORTAL_VENDOR_HTTP_READ_TIMEOUT_MS": 300,
    "PORTAL_VENDOR_HTTP_MAX_ATTEMPTS": 3,
}


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    with override_settings(**FAST), running(sleep_seconds=0.6) as fake:
        yield fake


def _outbound(channel: ChannelKind, to: str = MOBILE, text: str = "Hello", **payload: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id=1, client_reference=uuid.uuid4().hex, channel=channel, sender_id="ACME", to=to,
        payload={"text": text, **payload}, text=text, encoding="gsm7", segments=1,
    )  # fmt: skip


def _cpaas(vendor: FakeVendor, **config: Any) -> CpaasAdapter:
    return CpaasAdapter(
        {"base_url": vendor.url + "/api/v2/", "api_token": TOKEN, "webhook_secret": SECRET, **config}
    )


Make = Callable[..., Connection]


@pytest.fixture
def make_connection(company: Company) -> Make:
    def make(adapter_key: str, config: dict[str, Any], channels: list[str], **fields: Any) -> Connection:
        connection = Connection(
            company=company, name=fields.pop("name", f"{adapter_key} {uuid.uuid4().hex[:6]}"), adapter_key=adapter_key,
            channels=channels, sender_ids=fields.pop("sender_ids", ["ACME"]), config=config, **fields,
        )  # fmt: skip
        return services.connection_save(company=company, actor=None, connection=connection)

    return make


def _cpaas_connection(
    make: Make, vendor: FakeVendor, live_url: str | None = None, **fields: Any
) -> Connection:
    connection = make(
        "cpaas", {"base_url": vendor.url + "/api/v2/", "api_token": TOKEN, "webhook_secret": SECRET, "service": "ENT"},
        ["sms", "viber", "whatsapp", "tts"], **fields,
    )  # fmt: skip
    if live_url:
        vendor.callback("cpaas", f"{live_url}/hooks/cpaas/{connection.uuid}/", SECRET)
    return connection


def _wait(message: Message, *statuses: str, timeout: float = 10) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status in statuses:
            return message
        # A report racing the submit response is kept unmatched until the upkeep beat job reconciles it.
        services.unmatched_reconcile()
        time.sleep(0.05)
    raise AssertionError(f"message stayed {message.status}, wanted {statuses}")


def _send(company: Company, channel: str, to: str = MOBILE, **payload: Any) -> Message:
    payload.setdefault("text", "Hello Anna")
    return services.message_send(
        company=company, actor=None, channel=channel, sender_id="ACME", to=to, payload=payload, origin="api"
    )


# -- wire format ------------------------------------------------------------------------------------------------


def test_cpaas_sms_body_follows_seed_004_send_sms() -> None:
    """Digits without +, N/U type from the encoding, the client reference as ``custom``, options passed on."""
    adapter = CpaasAdapter({"base_url": "http://x/api/v2/", "api_token": TOKEN, "webhook_secret": SECRET})
    message = _outbound(ChannelKind.SMS, flash=1, port="3908", tags=["promo"])
    kind, body = adapter.body_for(message)
    assert kind == "sms"
    assert body == {
        "sender": "ACME", "to": [DIGITS], "message": "Hello", "service": "ENT", "type": "N",
        "custom": message.client_reference, "flash": 1, "port": "3908", "meta": {"tags": ["promo"]},
    }  # fmt: skip
    unicode = OutboundMessage(**{**message.__dict__, "encoding": "ucs2"})
    assert adapter.body_for(unicode)[1]["type"] == "U"


def test_cpaas_viber_whatsapp_and_tts_bodies() -> None:
    adapter = CpaasAdapter({"base_url": "http://x/api/v2/", "api_token": TOKEN, "webhook_secret": SECRET})
    kind, viber = adapter.body_for(
        _outbound(
            ChannelKind.VIBER,
            media_url="https://cdn.test/a.png",
            button_text="Open",
            button_url="https://a.test",
        )
    )
    assert kind == "viber"
    assert viber["channels"] == [{"name": "viber", "from": "ACME", "meta": {"category": "transactional"}}]
    assert viber["recipient"] == {"to": [DIGITS]}
    assert viber["message"] == {
        "type": "image",
        "payload": {
            "text": "Hello",
            "url": "https://cdn.test/a.png",
            "button": {"title": "Open", "url": "https://a.test"},
        },
    }
    kind, whatsapp = adapter.body_for(
        _outbound(
            ChannelKind.WHATSAPP, type="template", template="order_ready", language="es", body_params=["A1"]
        )
    )
    assert kind == "whatsapp"
    assert whatsapp["message"] == {
        "type": "template", "payload": {"name": "order_ready", "language": "es", "body_params": ["A1"]}
    }  # fmt: skip
    kind, tts = adapter.body_for(_outbound(ChannelKind.TTS, language="es", repeat=2))
    assert kind == "tts"
    assert tts["bridge"] == "ACME"
    assert tts["to"] == DIGITS
    assert tts["options"] == {"language": "es", "iteration": 2}


def test_rbm_body_passes_suggestions_through() -> None:
    suggestions = [
        {"reply": {"text": "Yes", "postbackData": "yes"}},
        {"action": {"text": "Site", "openUrlAction": {"url": "https://a.test"}}},
    ]
    body = RbmRcsAdapter.body_for(_outbound(ChannelKind.RCS, suggestions=suggestions))
    assert body == {"contentMessage": {"text": "Hello", "suggestions": suggestions}}
    card = {"standaloneCard": {"cardContent": {"title": "T"}}}
    assert RbmRcsAdapter.body_for(_outbound(ChannelKind.RCS, rich_card=card))["contentMessage"] == {
        "richCard": card
    }


def test_fcm_and_app_sdk_bodies() -> None:
    message = _outbound(
        ChannelKind.PUSH, to="device-token-1", header="Sale", image_url="https://cdn.test/p.png"
    )
    assert FcmPushAdapter.body_for(message) == {
        "message": {
            "token": "device-token-1",
            "notification": {"title": "Sale", "body": "Hello", "image": "https://cdn.test/p.png"},
            "data": {"client_reference": message.client_reference},
        }
    }
    mobile = _outbound(ChannelKind.MOBILE_PUSH, to="user-42", header="Hi")
    assert AppSdkMobilePushAdapter.body_for(mobile) == {
        "user_id": "user-42", "title": "Hi", "body": "Hello", "data": {}, "reference": mobile.client_reference,
    }  # fmt: skip


# -- transport: retries, idempotency, no retry on 4xx, redaction ------------------------------------------------------


def test_5xx_is_retried_with_the_same_idempotency_key(vendor: FakeVendor) -> None:
    vendor.script(DIGITS, submit="5xx_once")
    message = _outbound(ChannelKind.SMS)
    result = _cpaas(vendor).send(message)
    assert vendor.requests[message.client_reference] == 2
    assert vendor.accept_counts[message.client_reference] == 1
    assert result.vendor_message_id == vendor.accepted[message.client_reference]
    assert result.price == "0.0100"
    assert [h["idempotency-key"] for _r, _b, h in vendor.bodies] == [message.client_reference] * 2


def test_timeout_after_acceptance_is_recognised_on_retry(vendor: FakeVendor) -> None:
    """The vendor accepted, answered too late; the retry carries the same key and gets the first id back."""
    vendor.script(DIGITS, submit="accept_then_timeout_once")
    message = _outbound(ChannelKind.SMS)
    result = _cpaas(vendor).send(message)
    assert vendor.requests[message.client_reference] == 2
    assert vendor.accept_counts[message.client_reference] == 1
    assert result.vendor_message_id == vendor.accepted[message.client_reference]


def test_timeouts_every_try_is_a_transient_error(vendor: FakeVendor) -> None:
    vendor.script(DIGITS, submit="timeout")
    message = _outbound(ChannelKind.SMS)
    with pytest.raises(AdapterError, match="no answer in time") as info:
        _cpaas(vendor).send(message)
    assert info.value.permanent is False
    assert info.value.vendor_code == "TIMEOUT"
    assert vendor.requests[message.client_reference] == 3
    assert vendor.accept_counts[message.client_reference] == 0


def test_4xx_is_not_retried_and_keeps_the_vendor_code(vendor: FakeVendor) -> None:
    vendor.script(DIGITS, submit="4xx", error_code="456")
    message = _outbound(ChannelKind.SMS)
    with pytest.raises(AdapterError, match="HTTP 422") as info:
        _cpaas(vendor).send(message)
    assert info.value.permanent is True
    assert info.value.vendor_code == "456"
    assert vendor.requests[message.client_reference] == 1


def test_429_and_connection_errors_are_retried(vendor: FakeVendor) -> None:
    adapter = CpaasAdapter(
        {"base_url": "http://127.0.0.1:9/api/v2/", "api_token": TOKEN, "webhook_secret": SECRET}
    )
    with pytest.raises(AdapterError, match="connection failed") as info:
        adapter.send(_outbound(ChannelKind.SMS))
    assert info.value.permanent is False


def test_credentials_never_reach_the_logs(vendor: FakeVendor, caplog: pytest.LogCaptureFixture) -> None:
    vendor.script(DIGITS, submit="5xx")
    adapter = _cpaas(vendor)
    with caplog.at_level(logging.INFO, logger="channels_out.http"), pytest.raises(AdapterError) as info:
        adapter.send(_outbound(ChannelKind.SMS))
    assert len(caplog.records) >= 3, "each try is logged"
    assert TOKEN not in caplog.text
    assert TOKEN not in info.value.message


def test_redaction_of_urls_and_secrets() -> None:
    assert redact_url("https://v.test/send?access_token=abc123&api_key=k9k9&to=1") == (
        "https://v.test/send?access_token=[redacted]&api_key=[redacted]&to=1"
    )
    assert redact("refused Bearer s3cr3t-value for x", ["s3cr3t-value"]) == "refused Bearer [redacted] for x"


def test_wrong_token_is_a_permanent_credentials_error(vendor: FakeVendor) -> None:
    adapter = CpaasAdapter(
        {"base_url": vendor.url + "/api/v2/", "api_token": "wrong-token-x", "webhook_secret": SECRET}
    )
    with pytest.raises(AdapterError, match="HTTP 401") as info:
        adapter.check_credentials()
    assert info.value.permanent is True


# -- end to end: submit, reports and inbound through the live portal -------------------------------------------------

pytestmark_e2e = pytest.mark.django_db(transaction=True)


@pytestmark_e2e
@pytest.mark.parametrize(
    ("channel", "report", "final", "raw"),
    [
        ("sms", "delivered", "delivered", "DELIVRD"),
        ("sms", "undelivered", "undelivered", "UNDELIV"),
        ("viber", "read", "displayed", "read"),
        ("whatsapp", "delivered", "delivered", "delivered"),
        ("tts", "busy", "undelivered", "BUSY"),
    ],
)
def test_cpaas_report_round_trip(
    live_server: Any, vendor: FakeVendor, company: Company, make_connection: Make,
    channel: str, report: str, final: str, raw: str,
) -> None:  # fmt: skip
    connection = _cpaas_connection(make_connection, vendor, live_server.url)
    vendor.script(DIGITS, report=report, error_code="013")
    message = _wait(_send(company, channel), final)
    assert message.connection == connection
    assert message.vendor_message_id == next(iter(vendor.accepted.values()))
    assert raw in set(message.events.values_list("raw_status", flat=True))
    if final == "undelivered" and channel == "sms":
        assert message.error_code == "013"
        assert message.error_text == "Handset switched off."
    if channel == "viber":
        assert message.vendor_session_id == f"vs-{DIGITS}"
    assert all(status == 200 for _event, status in vendor.posted)


@pytestmark_e2e
def test_inbound_reply_is_stored_as_p2a(
    live_server: Any, vendor: FakeVendor, company: Company, make_connection: Make
) -> None:
    connection = _cpaas_connection(make_connection, vendor, live_server.url)
    vendor.script(DIGITS, report="delivered", inbound="STOP")
    _wait(_send(company, "whatsapp"), "delivered")
    vendor.wait_posts()
    deadline = time.monotonic() + 10
    while not Message.objects.filter(direction="mo").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    inbound = Message.objects.get(direction="mo")
    assert (inbound.channel, inbound.traffic_type, inbound.address, inbound.text) == (
        "whatsapp",
        "p2a",
        MOBILE,
        "STOP",
    )
    assert inbound.sender_id == "ACME"
    assert inbound.connection == connection


@pytestmark_e2e
def test_unsigned_and_forged_reports_are_refused(
    live_server: Any, vendor: FakeVendor, company: Company, make_connection: Make
) -> None:
    connection = _cpaas_connection(make_connection, vendor)
    url = f"{live_server.url}/hooks/cpaas/{connection.uuid}/"
    body = json.dumps({"event": "sms:message:status", "payload": {"id": "x", "status": "DELIVRD"}}).encode()
    import requests

    assert requests.post(url, data=body, timeout=5).status_code == 401
    assert requests.post(url, data=body, headers={"Signature": "00" * 32}, timeout=5).status_code == 403
    assert list(CallbackPayload.objects.values_list("state", flat=True)) == ["rejected", "rejected"]


@pytestmark_e2e
def test_failover_to_the_second_connection_when_the_first_keeps_failing(
    vendor: FakeVendor, company: Company, make_connection: Make
) -> None:
    """Connection A answers 503 on every try: B (next by priority) carries each message; after the breaker opens,
    A is no longer tried at all."""
    with running() as second, override_settings(PORTAL_BREAKER_FAILURES=2):
        vendor.script("*", submit="5xx")
        first = _cpaas_connection(make_connection, vendor, name="A", priority=1)
        other = make_connection(
            "cpaas", {"base_url": second.url + "/api/v2/", "api_token": TOKEN, "webhook_secret": SECRET, "service": "ENT"},
            ["sms"], name="B", priority=2,
        )  # fmt: skip
        messages = [_send(company, "sms") for _ in range(4)]
        for message in messages:
            message.refresh_from_db()
            assert (message.status, message.connection) == ("submitted", other)
        assert len(second.accepted) == 4
        assert second.duplicates == 0
        tried_on_a = sum(vendor.requests.values())
        assert tried_on_a == 2 * 3  # two messages x three tries, then the breaker is open
        assert first.pk != other.pk


# -- RCS, push, mobile push ------------------------------------------------------------------------------------------


def _rbm(make: Make, vendor: FakeVendor) -> Connection:
    return make(
        "rbm", {"base_url": vendor.url + "/rbm", "agent_id": "acme_agent", "access_token": TOKEN, "client_token": SECRET},
        ["rcs"],
    )  # fmt: skip


@pytestmark_e2e
def test_rbm_capability_send_and_read_receipt(
    live_server: Any, vendor: FakeVendor, company: Company, make_connection: Make
) -> None:
    connection = _rbm(make_connection, vendor)
    vendor.callback("rbm", f"{live_server.url}/hooks/rbm/{connection.uuid}/", SECRET)
    vendor.script(DIGITS, report="read")
    vendor.script("34699*", submit="4xx", http_status=404)
    assert services.rcs_capability_check(company=company, sender_id="ACME", to=MOBILE) is True
    assert services.rcs_capability_check(company=company, sender_id="ACME", to="+34699123456") is False
    message = _wait(
        _send(company, "rcs", suggestions=[{"reply": {"text": "OK", "postbackData": "ok"}}]), "displayed"
    )
    assert message.vendor_message_id == message.client_reference
    route, body, _headers = vendor.bodies[-1]
    assert route == "rbm/send"
    assert body["contentMessage"]["suggestions"] == [{"reply": {"text": "OK", "postbackData": "ok"}}]
    refused = _send(company, "rcs", to="+34699123456")
    refused.refresh_from_db()
    assert refused.status == "failed"
    assert refused.error_code == "404"
    assert "has not activated RCS" in refused.error_text


@pytest.mark.django_db
def test_rbm_retry_of_an_accepted_message_counts_as_accepted(vendor: FakeVendor) -> None:
    vendor.script(DIGITS, submit="accept_then_timeout_once")
    adapter = RbmRcsAdapter(
        {"base_url": vendor.url + "/rbm", "agent_id": "a", "access_token": TOKEN, "client_token": SECRET}
    )
    message = _outbound(ChannelKind.RCS)
    result = adapter.send(message)
    assert result.status == "ALREADY_EXISTS"
    assert vendor.accept_counts[message.client_reference] == 1


@pytestmark_e2e
def test_fcm_push_is_submitted_and_a_stale_token_fails(
    vendor: FakeVendor, company: Company, make_connection: Make
) -> None:
    make_connection(
        "fcm", {"base_url": vendor.url + "/fcm", "project_id": "proj", "access_token": TOKEN}, ["push"]
    )
    vendor.script("stale-*", submit="4xx", http_status=404)
    ok = _send(company, "push", to="device-1", header="Sale")
    ok.refresh_from_db()
    assert ok.status == "submitted"
    assert ok.vendor_message_id.startswith("projects/fake/messages/")
    stale = _send(company, "push", to="stale-2", header="Sale")
    stale.refresh_from_db()
    assert (stale.status, stale.error_code) == ("failed", "INVALID_ARGUMENT")


@pytestmark_e2e
def test_app_sdk_mobile_push_delivered_then_opened(
    live_server: Any, vendor: FakeVendor, company: Company, make_connection: Make
) -> None:
    connection = make_connection(
        "appsdk", {"base_url": vendor.url + "/sdk", "app_id": "app1", "api_key": TOKEN, "webhook_secret": SECRET},
        ["mobile_push"],
    )  # fmt: skip
    vendor.callback("appsdk", f"{live_server.url}/hooks/appsdk/{connection.uuid}/", SECRET)
    vendor.script("user-*", report="read")
    message = _wait(_send(company, "mobile_push", to="user-7", header="Hi"), "displayed")
    assert message.delivered_at is not None


@pytest.mark.django_db
def test_app_sdk_refuses_an_old_timestamp(company: Company, make_connection: Make, client: Client) -> None:
    connection = make_connection(
        "appsdk", {"base_url": "http://127.0.0.1:9/sdk", "app_id": "a", "api_key": TOKEN, "webhook_secret": SECRET},
        ["mobile_push"],
    )  # fmt: skip
    adapter = services.adapter_for(connection)
    body = b'{"events": []}'
    stamp = str(int(time.time()) - 3600)
    response = client.post(
        f"/hooks/appsdk/{connection.uuid}/", body, content_type="application/json",
        HTTP_X_TIMESTAMP=stamp, HTTP_X_SIGNATURE=adapter.sign(stamp, body),  # type: ignore[attr-defined]
    )  # fmt: skip
    assert response.status_code == 403
    assert "too old" in response.json()["message"]
