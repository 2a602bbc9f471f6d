"""The send API (/api/v1, seed 004 §1.5-§1.9, §5.6-§5.8): SMS single and bulk, Viber, WhatsApp, status lookups,
the omni-api scope, the key's allowed senders and Idempotency-Key."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client

from channels_out.models import ApiSend, Connection, Message
from portal.api.services import IssuedKey, api_access_create
from portal.tenants.models import Company
from tests.assets.factories import approved_whatsapp_template
from tests.channels_out.conftest import MOBILE

Capture = Callable[..., AbstractContextManager[Any]]
OTHER_MOBILE = "+34622334455"


@pytest.fixture
def key(company: Company, simulator: Connection) -> IssuedKey:
    return api_access_create(company=company, actor=None, name="Shop", scopes=["omni-api"], senders=["ACME"])


def _call(client: Client, method: str, path: str, key: IssuedKey, body: Any = None, **headers: str) -> Any:
    sent = {"Authorization": f"Bearer {key.key}", **headers}
    if method == "GET":
        return client.get("/api/v1/" + path, headers=sent)
    return client.post("/api/v1/" + path, json.dumps(body), content_type="application/json", headers=sent)


def _error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"], body["error"]["type"]) == ("error", status, error_type)
    return body


class TestSmsSendApi:
    def test_sends_to_each_number_with_one_group(
        self, client: Client, key: IssuedKey, django_capture_on_commit_callbacks: Capture
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = _call(
                client,
                "POST",
                "sms/send",
                key,
                {
                    "sender": "ACME",
                    "to": [MOBILE, OTHER_MOBILE],
                    "message": "Your code is 1234",
                    "custom": "order-7",
                },
            )
        assert response.status_code == 202, response.content
        body = response.json()
        assert (body["status"], body["code"], body["message"]) == (
            "OK",
            202,
            "2 numbers accepted for delivery.",
        )
        data = body["data"]
        assert [m["to"] for m in data["messages"]] == [MOBILE, OTHER_MOBILE]
        assert {m["custom"] for m in data["messages"]} == {"order-7"}
        assert data["messages"][0]["segments"] == 1
        assert data["messages"][0]["encoding"] == "gsm7"
        rows = Message.objects.order_by("id")
        assert [(m.origin, m.traffic_type, m.status) for m in rows] == [("api", "a2p", "submitted")] * 2
        assert [m.client_reference for m in rows] == ["order-7:1", "order-7:2"]
        assert {str(s.group_id) for s in ApiSend.objects.all()} == {data["group_id"]}
        assert {s.access_id for s in ApiSend.objects.all()} == {key.access.pk}

    def test_to_as_a_comma_separated_string(self, client: Client, key: IssuedKey) -> None:
        response = _call(
            client,
            "POST",
            "sms/send",
            key,
            {"sender": "ACME", "to": f"{MOBILE}, {OTHER_MOBILE}", "message": "Hi"},
        )
        assert response.status_code == 202
        assert Message.objects.count() == 2

    def test_type_n_replaces_characters_outside_gsm(self, client: Client, key: IssuedKey) -> None:
        response = _call(
            client,
            "POST",
            "sms/send",
            key,
            {"sender": "ACME", "to": [MOBILE], "message": "Привет €5", "type": "N"},
        )
        assert response.status_code == 202
        message = Message.objects.get()
        assert message.text == "?????? €5"
        assert message.encoding == "gsm7"

    def test_max_units_is_enforced_before_anything_is_queued(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(
                client,
                "POST",
                "sms/send",
                key,
                {"sender": "ACME", "to": [MOBILE], "message": "x" * 307, "max_units": 2},
            ),
            422,
            "validation_error",
        )
        assert body["error"]["fields"]["message"] == ["The text needs 3 SMS parts; max_units is 2."]
        assert not Message.objects.exists()

    def test_bad_type_and_max_units_values_are_422(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(
                client,
                "POST",
                "sms/send",
                key,
                {"sender": "ACME", "to": [MOBILE], "message": "x", "type": "Q", "max_units": 4},
            ),
            422,
            "validation_error",
        )
        assert set(body["error"]["fields"]) == {"type", "max_units"}

    def test_a_sender_outside_the_keys_senders_is_403(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(client, "POST", "sms/send", key, {"sender": "OTHER", "to": [MOBILE], "message": "Hi"}),
            403,
            "permission_denied",
        )
        assert body["message"] == "This API key may not send from sender ID OTHER. Allowed: ACME."

    def test_a_sender_without_connection_is_422(
        self, client: Client, company: Company, simulator: Connection
    ) -> None:
        issued = api_access_create(company=company, actor=None, name="Any", scopes=["omni-api"])
        body = _error(
            _call(client, "POST", "sms/send", issued, {"sender": "NOPE", "to": [MOBILE], "message": "Hi"}),
            422,
            "application_error",
        )
        assert body["message"] == "Sender ID NOPE is not set up for SMS in your company's connections."

    def test_invalid_numbers_are_named(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(client, "POST", "sms/send", key, {"sender": "ACME", "to": [MOBILE, "12"], "message": "Hi"}),
            422,
            "validation_error",
        )
        assert body["error"]["fields"] == {"1.to": ["12 is not a valid phone number."]}
        assert not Message.objects.exists()

    def test_missing_scope_is_403(self, client: Client, company: Company, simulator: Connection) -> None:
        crm = api_access_create(company=company, actor=None, name="CRM only", scopes=["crm"])
        _error(
            _call(client, "POST", "sms/send", crm, {"sender": "ACME", "to": [MOBILE], "message": "Hi"}),
            403,
            "permission_denied",
        )

    def test_idempotency_key_replays_the_first_answer(self, client: Client, key: IssuedKey) -> None:
        request = {"sender": "ACME", "to": [MOBILE], "message": "Pay 10 EUR"}
        first = _call(client, "POST", "sms/send", key, request, **{"Idempotency-Key": "k-1"})
        again = _call(client, "POST", "sms/send", key, request, **{"Idempotency-Key": "k-1"})
        assert first.status_code == again.status_code == 202
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Message.objects.count() == 1
        other = _call(
            client,
            "POST",
            "sms/send",
            key,
            {**request, "message": "Pay 99 EUR"},
            **{"Idempotency-Key": "k-1"},
        )
        body = _error(other, 422, "idempotency_key_reused")
        assert body["message"] == "This Idempotency-Key was already used with a different request."
        fresh = _call(client, "POST", "sms/send", key, request, **{"Idempotency-Key": "k-2"})
        assert fresh.status_code == 202
        assert Message.objects.count() == 2

    def test_a_refused_request_does_not_burn_its_idempotency_key(
        self, client: Client, key: IssuedKey
    ) -> None:
        _error(
            _call(
                client,
                "POST",
                "sms/send",
                key,
                {"sender": "ACME", "to": ["12"], "message": "Hi"},
                **{"Idempotency-Key": "k-3"},
            ),
            422,
            "validation_error",
        )
        fixed = _call(
            client,
            "POST",
            "sms/send",
            key,
            {"sender": "ACME", "to": [MOBILE], "message": "Hi"},
            **{"Idempotency-Key": "k-3"},
        )
        assert fixed.status_code == 202


class TestSmsBulkApi:
    def test_root_defaults_and_node_overrides(self, client: Client, key: IssuedKey) -> None:
        response = _call(client, "POST", "sms/bulk", key, {
            "root": {"sender": "ACME", "message": "Default text"},
            "nodes": [{"to": MOBILE}, {"to": OTHER_MOBILE, "message": "Just for you", "custom": "n-2"}],
        })  # fmt: skip
        assert response.status_code == 202, response.content
        texts = list(Message.objects.order_by("id").values_list("address", "text", "client_reference"))
        assert texts[0][:2] == (MOBILE, "Default text")
        assert texts[1] == (OTHER_MOBILE, "Just for you", "n-2")
        assert [m["custom"] for m in response.json()["data"]["messages"]] == ["", "n-2"]

    def test_a_node_without_text_is_named(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(client, "POST", "sms/bulk", key, {"root": {"sender": "ACME"}, "nodes": [{"to": MOBILE}]}),
            422,
            "validation_error",
        )
        assert body["error"]["fields"] == {"nodes.0.message": ["Give message in the node or in root."]}

    def test_missing_scope_is_403(self, client: Client, company: Company) -> None:
        crm = api_access_create(company=company, actor=None, name="CRM only", scopes=["crm"])
        _error(_call(client, "POST", "sms/bulk", crm, {"nodes": [{"to": MOBILE}]}), 403, "permission_denied")


def _chat(
    name: str, message: dict[str, Any], to: list[str] | None = None, sender: str = "ACME"
) -> dict[str, Any]:
    return {
        "channels": [{"name": name, "from": sender, "meta": {"category": "promotional"}}],
        "message": message,
        "recipient": {"to": to or [MOBILE]},
    }


class TestViberSendApi:
    def test_image_and_button_reach_the_payload(self, client: Client, key: IssuedKey) -> None:
        response = _call(client, "POST", "viber/message/send", key, _chat("viber", {
            "type": "image", "payload": {"text": "Sale", "url": "https://cdn.test/a.png", "button": {"title": "Shop", "url": "https://shop.test"}},
        }))  # fmt: skip
        assert response.status_code == 202, response.content
        message = Message.objects.get()
        assert message.channel == "viber"
        assert message.payload == {
            "format": "text_media_button", "category": "promotional",
            "content": {"text": "Sale", "image_url": "https://cdn.test/a.png", "button_text": "Shop",
                        "button_url": "https://shop.test"},
        }  # fmt: skip

    def test_another_channel_name_is_422(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(
                client,
                "POST",
                "viber/message/send",
                key,
                _chat("whatsapp", {"type": "text", "payload": {"text": "x"}}),
            ),
            422,
            "validation_error",
        )
        assert body["error"]["fields"] == {"channels.0.name": ["This endpoint sends viber only."]}

    def test_sender_outside_the_key_is_403(self, client: Client, key: IssuedKey) -> None:
        _error(
            _call(
                client,
                "POST",
                "viber/message/send",
                key,
                _chat("viber", {"type": "text", "payload": {"text": "x"}}, sender="ZED"),
            ),
            403,
            "permission_denied",
        )


class TestWhatsAppSendApi:
    def test_template_message(self, client: Client, key: IssuedKey) -> None:
        # Guide §12.4: only an Approved template of the company can be sent (assets.whatsapp_payload_check).
        approved_whatsapp_template(key.access.company, "order_ready", "es", body="Order {{1}} is ready.")
        response = _call(client, "POST", "whatsapp/message/send", key, _chat("whatsapp", {
            "type": "template", "payload": {"name": "order_ready", "language": "es", "body_params": ["A-1"]},
        }))  # fmt: skip
        assert response.status_code == 202, response.content
        assert Message.objects.get().payload == {
            "format": "template", "content": {"name": "order_ready", "language": "es", "body_params": ["A-1"]},
        }  # fmt: skip

    def test_text_over_the_limit_is_422(self, client: Client, key: IssuedKey) -> None:
        body = _error(
            _call(
                client,
                "POST",
                "whatsapp/message/send",
                key,
                _chat("whatsapp", {"type": "text", "payload": {"text": "x" * 4097}}),
            ),
            422,
            "validation_error",
        )
        assert body["error"]["fields"] == {
            "payload": ["The text has 4097 characters; WhatsApp allows at most 4096."]
        }


class TestMessageDetailApi:
    def test_status_with_the_vendor_word(
        self, client: Client, key: IssuedKey, script: Any, django_capture_on_commit_callbacks: Capture
    ) -> None:
        script(report="undelivered", report_error_code="013")
        with django_capture_on_commit_callbacks(execute=True):
            sent = _call(
                client,
                "POST",
                "sms/send",
                key,
                {"sender": "ACME", "to": [MOBILE], "message": "Hi", "custom": "c-1"},
            )
        message_id = sent.json()["data"]["messages"][0]["id"]
        response = _call(client, "GET", f"messages/{message_id}", key)
        assert response.status_code == 200
        data = response.json()["data"]
        assert (data["status"], data["raw_status"], data["error_code"], data["error"]) == (
            "undelivered",
            "UNDELIV",
            "013",
            "Handset switched off.",
        )
        assert (data["custom"], data["group_id"], data["to"], data["sender"]) == (
            "c-1",
            sent.json()["data"]["group_id"],
            MOBILE,
            "ACME",
        )
        assert data["submitted_at"] is not None

    def test_another_companys_message_is_404(
        self, client: Client, key: IssuedKey, other_company: Company
    ) -> None:
        sent = _call(client, "POST", "sms/send", key, {"sender": "ACME", "to": [MOBILE], "message": "Hi"})
        outsider = api_access_create(company=other_company, actor=None, name="Other", scopes=["omni-api"])
        _error(
            _call(client, "GET", f"messages/{sent.json()['data']['messages'][0]['id']}", outsider),
            404,
            "not_found",
        )

    def test_missing_scope_is_403(self, client: Client, key: IssuedKey, company: Company) -> None:
        sent = _call(client, "POST", "sms/send", key, {"sender": "ACME", "to": [MOBILE], "message": "Hi"})
        crm = api_access_create(company=company, actor=None, name="CRM only", scopes=["crm"])
        _error(
            _call(client, "GET", f"messages/{sent.json()['data']['messages'][0]['id']}", crm),
            403,
            "permission_denied",
        )


class TestMessageListApi:
    def test_a_group_pages_by_100(self, client: Client, key: IssuedKey) -> None:
        numbers = [f"+34612000{i:03d}" for i in range(250)]
        sent = _call(client, "POST", "sms/send", key, {"sender": "ACME", "to": numbers, "message": "Hi"})
        assert sent.status_code == 202, sent.content
        group = sent.json()["data"]["group_id"]
        pages = [
            _call(client, "GET", f"messages?filter[group_id]={group}&page={n}", key).json() for n in (1, 2, 3)
        ]
        assert [len(p["data"]) for p in pages] == [100, 100, 50]
        assert pages[0]["meta"]["total"] == 250
        assert pages[0]["meta"]["last_page"] == 3
        assert {m["group_id"] for p in pages for m in p["data"]} == {group}

    def test_a_filter_is_required(self, client: Client, key: IssuedKey) -> None:
        _error(_call(client, "GET", "messages", key), 422, "validation_error")

    def test_another_companys_group_is_empty(
        self, client: Client, key: IssuedKey, other_company: Company
    ) -> None:
        sent = _call(
            client,
            "POST",
            "sms/send",
            key,
            {"sender": "ACME", "to": [MOBILE], "message": "Hi", "custom": "zz"},
        )
        outsider = api_access_create(company=other_company, actor=None, name="Other", scopes=["omni-api"])
        response = _call(
            client, "GET", f"messages?filter[group_id]={sent.json()['data']['group_id']}", outsider
        )
        assert response.status_code == 200
        assert response.json()["data"] == []
        assert _call(client, "GET", "messages?filter[custom]=zz", key).json()["meta"]["total"] == 1

    def test_missing_scope_is_403(self, client: Client, company: Company) -> None:
        crm = api_access_create(company=company, actor=None, name="CRM only", scopes=["crm"])
        _error(_call(client, "GET", "messages?filter[custom]=x", crm), 403, "permission_denied")
