"""POST /hooks/<adapter>/<connection>/: signatures, raw payload first, unknown ids, inbound dispatch once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from channels_out import services
from channels_out.inbound import InboundNotice, inbound_subscribers
from channels_out.kinds import ChannelKind
from channels_out.models import CallbackPayload, Connection, Message, UnmatchedEvent
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE

Capture = Callable[..., AbstractContextManager[Any]]


def _url(connection: Connection) -> str:
    return f"/hooks/{connection.adapter_key}/{connection.uuid}/"


def _body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _status(vendor_id: str, status: str, code: str = "") -> dict[str, Any]:
    return {
        "type": "status",
        "id": vendor_id,
        "status": status,
        "error_code": code,
        "at": timezone.now().isoformat(),
    }


def _inbound(vendor_id: str, text: str = "STOP") -> dict[str, Any]:
    return {
        "type": "inbound", "id": vendor_id, "channel": "sms", "from": MOBILE, "to": "ACME", "text": text,
        "at": timezone.now().isoformat(),
    }  # fmt: skip


def _post(client: Client, connection: Connection, body: bytes, *, sign: bool = True) -> Any:
    headers = {"HTTP_SIGNATURE": services.adapter_for(connection).sign(body)} if sign else {}  # type: ignore[attr-defined]
    return client.post(_url(connection), body, content_type="application/json", **headers)


@pytest.fixture
def seen() -> Iterator[list[InboundNotice]]:
    notices: list[InboundNotice] = []
    saved = dict(inbound_subscribers._items)
    inbound_subscribers._items.clear()
    inbound_subscribers.add("test", notices.append)
    yield notices
    inbound_subscribers._items.clear()
    inbound_subscribers._items.update(saved)


def test_unsigned_and_wrongly_signed_callbacks_are_refused_and_recorded(
    client: Client, simulator: Connection
) -> None:
    body = _body(_status("sim-x", "delivered"))
    unsigned = _post(client, simulator, body, sign=False)
    assert unsigned.status_code == 401
    assert unsigned.json()["message"] == "The callback is not signed."
    forged = client.post(_url(simulator), body, content_type="application/json", HTTP_SIGNATURE="0" * 64)
    assert forged.status_code == 403
    reasons = list(CallbackPayload.objects.order_by("id").values_list("state", "reason"))
    assert reasons == [
        ("rejected", "The callback is not signed."),
        ("rejected", "The callback signature does not match."),
    ]


def test_malformed_callback_is_a_400_with_its_reason(client: Client, simulator: Connection) -> None:
    response = _post(client, simulator, b'{"events": [{"type": "status"}]}')
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed simulator callback")
    assert CallbackPayload.objects.get().state == "rejected"


def test_unknown_connection_or_adapter_is_404(client: Client, simulator: Connection) -> None:
    body = _body(_status("sim-x", "delivered"))
    assert (
        client.post(f"/hooks/other/{simulator.uuid}/", body, content_type="application/json").status_code
        == 404
    )
    assert client.get(_url(simulator)).status_code == 405


def test_raw_payload_is_stored_before_it_is_applied(
    client: Client, simulator: Connection, django_capture_on_commit_callbacks: Capture
) -> None:
    body = _body(_status("sim-unknown", "delivered"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(client, simulator, body)
    assert response.status_code == 200
    stored = CallbackPayload.objects.get()
    assert (bytes(stored.body), stored.state, stored.item_count) == (body, "received", 1)
    assert not UnmatchedEvent.objects.exists()  # nothing applied yet: the worker does it
    for callback in callbacks:
        callback()
    stored.refresh_from_db()
    assert stored.state == "applied"


def test_report_for_an_unknown_id_is_kept_and_applied_when_the_message_appears(
    client: Client,
    company: Company,
    simulator: Connection,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    """A DLR that beats the submit response: kept, then applied when the submit result is recorded."""
    script(report="none")
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        message = services.message_send(
            company=company,
            actor=None,
            channel="sms",
            sender_id="ACME",
            to=MOBILE,
            payload={"text": "x"},
            origin="api",
        )
    with mock.patch("channels_out.vendors.simulator.adapter.uuid.uuid4") as fixed:
        fixed.return_value.hex = "early"
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, simulator, _body(_status("sim-early", "delivered"))).status_code == 200
        kept = UnmatchedEvent.objects.get()
        assert kept.resolved_at is None
        with django_capture_on_commit_callbacks(execute=True):
            services.messages_submit(company_id=company.pk, message_ids=[message.pk])
    message.refresh_from_db()
    assert message.vendor_message_id == "sim-early"
    assert message.status == Message.Status.DELIVERED
    assert [(e.status, e.applied) for e in message.events.order_by("id")] == [
        ("queued", True), ("submitted", True), ("delivered", True),
    ]  # fmt: skip
    kept.refresh_from_db()
    assert kept.resolved_at is not None


def test_duplicate_and_reordered_reports_end_in_the_same_state(
    client: Client,
    company: Company,
    simulator: Connection,
    script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    script(report="none")
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(
            company=company,
            actor=None,
            channel="sms",
            sender_id="ACME",
            to=MOBILE,
            payload={"text": "x"},
            origin="api",
        )
    message.refresh_from_db()
    vid = message.vendor_message_id
    with django_capture_on_commit_callbacks(execute=True):
        for status in ("displayed", "delivered", "delivered", "undelivered"):
            assert _post(client, simulator, _body(_status(vid, status, "034"))).status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DISPLAYED
    assert message.error_code == ""


def test_inbound_is_stored_as_p2a_and_dispatched_once(
    client: Client, company: Company, simulator: Connection, seen: list[InboundNotice],
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    body = _body(_inbound("sim-in-1", "STOP"))
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, simulator, body).status_code == 200
        assert _post(client, simulator, body).status_code == 200  # the vendor retried its callback
    mo = Message.objects.get()
    assert (mo.direction, mo.traffic_type, mo.origin, mo.channel) == ("mo", "p2a", "contact", ChannelKind.SMS)
    assert (mo.address, mo.sender_id, mo.text, mo.country) == (MOBILE, "ACME", "STOP", "ES")
    assert [(n.message_id, n.text, n.from_address) for n in seen] == [(mo.pk, "STOP", MOBILE)]
    assert mo.events.count() == 1
    # A repeated dispatch task (worker retry) finds it dispatched.
    assert services.messages_inbound_dispatch(company_id=company.pk, message_ids=[mo.pk]) == 0
    assert len(seen) == 1


def test_scripted_inbound_reply_arrives_through_the_callback_path(
    company: Company, simulator: Connection, script: Any, seen: list[InboundNotice],
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Inventory A check 59: a simulated reply is stored as a P2A message from that contact."""
    script(inbound_reply="Call me", inbound_delay_seconds=0)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(
            company=company,
            actor=None,
            channel="rcs",
            sender_id="ACME",
            to=MOBILE,
            payload={"text": "x"},
            origin="broadcast",
        )
    reply = Message.objects.get(direction="mo")
    assert (reply.text, reply.address, reply.channel) == ("Call me", MOBILE, "rcs")
    assert [n.text for n in seen] == ["Call me"]


def test_credentials_never_reach_the_stored_headers(client: Client, simulator: Connection) -> None:
    body = _body(_status("sim-x", "delivered"))
    signature = services.adapter_for(simulator).sign(body)  # type: ignore[attr-defined]
    client.post(
        _url(simulator), body, content_type="application/json", HTTP_SIGNATURE=signature,
        HTTP_AUTHORIZATION="Bearer top-secret",
    )  # fmt: skip
    headers = CallbackPayload.objects.get().headers
    assert headers["Authorization"] == "[redacted]"
    assert "top-secret" not in json.dumps(headers)


# -- the fast path (channels_out.hooks) ----------------------------------------------------------------------------


def test_a_disabled_connection_or_a_new_secret_takes_effect_on_the_next_callback(
    client: Client, company: Company
) -> None:
    """The hook keeps built adapters per process; saving a connection invalidates them (apps.py signals)."""
    connection = services.connection_save(
        company=company, actor=None,
        connection=Connection(
            company=company, name="CPaaS", adapter_key="cpaas", channels=["sms"], sender_ids=["ACME"],
            config={"base_url": "http://127.0.0.1:9/api/v2/", "api_token": "token-123", "webhook_secret": "old-secret-0123456789", "service": "ENT"},
        ),
    )  # fmt: skip
    body = json.dumps({"event": "sms:message:status", "payload": {"id": "x:1", "status": "DELIVRD"}}).encode()

    def post() -> int:
        signature = services.adapter_for(connection).sign(body)  # type: ignore[attr-defined]
        return int(_post_signed(client, connection, body, signature).status_code)

    old_signature = services.adapter_for(connection).sign(body)  # type: ignore[attr-defined]
    assert post() == 200  # cached now
    connection.config = {**connection.config, "webhook_secret": "new-secret-0123456789"}
    services.connection_save(company=company, actor=None, connection=connection)
    assert _post_signed(client, connection, body, old_signature).status_code == 403
    assert post() == 200
    connection.enabled = False
    services.connection_save(company=company, actor=None, connection=connection)
    assert post() == 404


def _post_signed(client: Client, connection: Connection, body: bytes, signature: str) -> Any:
    return client.post(_url(connection), body, content_type="application/json", HTTP_SIGNATURE=signature)


def test_the_hook_skips_the_page_middleware(client: Client, simulator: Connection) -> None:
    """No session, company or locale work for a vendor: the answer carries none of the page headers."""
    response = _post(client, simulator, _body(_status("sim-x", "delivered")))
    assert response.status_code == 200
    assert "X-Portal-Company" not in response.headers
    assert "Content-Language" not in response.headers
    assert "sessionid" not in response.cookies
    page = client.get("/messages/")
    assert page.status_code in {302, 403}  # a page still goes through the login middleware


@pytest.mark.django_db(transaction=True)
def test_an_answered_report_is_committed_before_the_answer(client: Client, company: Company) -> None:
    """Durability: when the 200 leaves, the raw payload is visible to another connection (it survives kill -9)."""
    import psycopg
    from django.db import connection as db

    simulator = services.simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    with mock.patch("channels_out.views.apply_kick"):  # no apply yet: the row must still be "received"
        response = _post(client, simulator, _body(_status("sim-x", "delivered")))
    assert response.status_code == 200
    payload_id = response.json()["data"]["id"]
    params = db.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
        row = other.execute(
            "SELECT state FROM channels_out_callbackpayload WHERE id = %s", [payload_id]
        ).fetchone()
    assert row == ("received",)


# -- RCS suggestion replies (issue 5: a tapped reply or action chip) ---------------------------------------------


def test_scripted_suggestion_reply_is_stored_with_its_postback_and_original_message(
    company: Company, simulator: Connection, script: Any, seen: list[InboundNotice],
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    script(channel="rcs", inbound_reply="Yes", inbound_postback="confirm:order-42", inbound_delay_seconds=0)
    with django_capture_on_commit_callbacks(execute=True):
        original = services.message_send(
            company=company, actor=None, channel="rcs", sender_id="ACME", to=MOBILE,
            payload={"text": "Confirm your order?", "suggestions": [{"reply": {"text": "Yes", "postbackData": "confirm:order-42"}}]},
            origin="chatbot",
        )  # fmt: skip
    reply = Message.objects.get(direction="mo")
    assert (reply.traffic_type, reply.origin, reply.text) == ("p2a", "contact", "Yes")
    assert reply.payload["postback_data"] == "confirm:order-42"
    assert reply.in_reply_to_id == original.pk
    assert [(n.postback_data, n.in_reply_to_id) for n in seen] == [("confirm:order-42", original.pk)]


def test_suggestion_reply_without_a_vendor_link_answers_the_latest_rcs_message(
    company: Company, simulator: Connection, seen: list[InboundNotice],
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """Google RBM names no original message: the latest RCS message our sender sent the contact is linked."""
    with mock.patch("channels_out.services.sending.messages_submit_realtime_task"):
        older = services.message_send(company=company, actor=None, channel="rcs", sender_id="ACME", to=MOBILE,
                                       payload={"text": "a"}, origin="broadcast")  # fmt: skip
        newer = services.message_send(company=company, actor=None, channel="rcs", sender_id="ACME", to=MOBILE,
                                       payload={"text": "b"}, origin="broadcast")  # fmt: skip
    assert older.pk < newer.pk
    event = {**_inbound("sim-in-tap", "Open map"), "channel": "rcs", "postback": "action:map"}
    body = _body(event)
    with django_capture_on_commit_callbacks(execute=True):
        services.callback_store(
            connection=simulator,
            body=body,
            headers={"Signature": services.adapter_for(simulator).sign(body)},  # type: ignore[attr-defined]
        )
    reply = Message.objects.get(direction="mo")
    assert (reply.payload["postback_data"], reply.in_reply_to_id) == ("action:map", newer.pk)
    typed = Message.objects.filter(direction="mo", in_reply_to__isnull=False).count()
    assert typed == 1


def test_a_worker_killed_while_applying_loses_no_answered_report(
    client: Client, company: Company, simulator: Connection, script: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    """kill -9 of the worker mid-apply: its transaction never commits, the raw report stays received, and the
    next apply run (the restarted worker, or the upkeep beat's kick) brings the message to the same end state."""
    script(report="none")
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(company=company, actor=None, channel="sms", sender_id="ACME", to=MOBILE,
                                         payload={"text": "x"}, origin="api")  # fmt: skip
    message.refresh_from_db()
    with mock.patch("channels_out.views.apply_kick"):  # the answer is sent, the worker has not run yet
        assert (
            _post(client, simulator, _body(_status(message.vendor_message_id, "delivered"))).status_code
            == 200
        )
    with (
        mock.patch("channels_out.services.reports._messages_write", side_effect=SystemExit("worker killed")),
        pytest.raises(SystemExit),
    ):
        services.delivery_events_apply()
    assert CallbackPayload.objects.get().state == "received"
    message.refresh_from_db()
    assert message.status == Message.Status.SUBMITTED
    assert services.callbacks_pending_kick() is True  # the beat job finds it and the worker applies it
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert CallbackPayload.objects.get().state == "applied"
