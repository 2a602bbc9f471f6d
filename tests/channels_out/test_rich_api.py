"""The send API's rich Viber and WhatsApp shapes (seed 004 E075/E090) over HTTP (issue 8).

Each shape becomes its constructor format (stored as ``{"format", "content"}``, logged with a text summary),
reaches the simulated vendor as that format, and, through a CPaaS connection, the fake vendor in the seed's wire
shape. Content over a limit is a 422 naming the field; nothing is stored.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client, override_settings

from channels_out import services
from channels_out.models import Connection, Message
from channels_out.vendors.simulator.adapter import received
from portal.api.services import IssuedKey, api_access_create
from portal.tenants.models import Company
from tests.assets.factories import approved_whatsapp_template
from tests.channels_out.conftest import MOBILE
from tests.channels_out.fake_vendor import TOKEN, FakeVendor, running

Capture = Callable[..., AbstractContextManager[Any]]
DIGITS = MOBILE.lstrip("+")


@pytest.fixture
def key(company: Company, simulator: Connection) -> IssuedKey:
    return api_access_create(company=company, actor=None, name="Shop", scopes=["omni-api"], senders=["ACME"])


def post(client: Client, path: str, key: IssuedKey, body: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/" + path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key.key}"},
    )


def chat(name: str, message: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "channels": [{"name": name, "from": "ACME", "meta": meta or {}}],
        "message": message,
        "recipient": {"to": [MOBILE]},
    }


BUTTON = {"title": "Shop", "url": "https://shop.test"}
VIBER: list[tuple[dict[str, Any], str, dict[str, Any], str]] = [
    (
        {"type": "interactive", "payload": {"text": "Sale", "button": BUTTON}},
        "text_button",
        {"text": "Sale", "button_text": "Shop", "button_url": "https://shop.test"},
        "Sale",
    ),
    (
        {"type": "image", "payload": {"text": "Sale", "url": "https://cdn.test/a.png", "button": BUTTON}},
        "text_media_button",
        {
            "text": "Sale",
            "image_url": "https://cdn.test/a.png",
            "button_text": "Shop",
            "button_url": "https://shop.test",
        },
        "Sale",
    ),
    (
        {"type": "file", "payload": {"url": "https://cdn.test/f/9", "file_name": "price.xlsx"}},
        "file",
        {"url": "https://cdn.test/f/9", "name": "price.xlsx", "size": 0},
        "price.xlsx",
    ),
    (
        {"type": "image", "payload": {"url": "https://cdn.test/photo.jpg"}},
        "file",
        {"url": "https://cdn.test/photo.jpg", "name": "photo.jpg", "size": 0},
        "photo.jpg",
    ),
]

LIST: dict[str, Any] = {
    "type": "interactive",
    "payload": {
        "type": "list",
        "header": {"type": "text", "text": "Menu"},
        "body": {"text": "Pick one"},
        "footer": {"text": "Thanks"},
        "action": {
            "button": "Options",
            "sections": [
                {"title": "Food", "rows": [{"id": "a", "title": "Pizza", "description": "Large"}]},
                {"title": "Drinks", "rows": [{"id": "b", "title": "Water"}]},
            ],
        },
    },
}
WHATSAPP: list[tuple[dict[str, Any], str, dict[str, Any], str]] = [
    (
        {
            "type": "interactive",
            "payload": {
                "type": "button",
                "header": {"type": "image", "image": {"link": "https://cdn.test/h.png"}},
                "body": {"text": "Ready?"},
                "footer": {"text": "Acme"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "y", "title": "Yes"}},
                        {"type": "reply", "reply": {"id": "n", "title": "No"}},
                    ]
                },
            },
        },
        "card",
        {
            "media_url": "https://cdn.test/h.png",
            "body": "Ready?",
            "footer": "Acme",
            "buttons": [{"text": "Yes"}, {"text": "No"}],
        },
        "Ready? | Acme | Yes | No",
    ),
    (
        LIST,
        "list",
        {
            "header": "Menu",
            "body": "Pick one",
            "footer": "Thanks",
            "button": "Options",
            "sections": [
                {"title": "Food", "options": [{"title": "Pizza", "description": "Large"}]},
                {"title": "Drinks", "options": [{"title": "Water"}]},
            ],
        },
        "Pick one | Options | Food | Pizza | Large | Drinks | Water | Menu | Thanks",
    ),
    (
        {
            "type": "document",
            "payload": {"url": "https://cdn.test/m.pdf", "filename": "menu.pdf", "caption": "Menu"},
        },
        "file",
        {"url": "https://cdn.test/m.pdf", "name": "menu.pdf", "size": 0, "caption": "Menu"},
        "menu.pdf | Menu",
    ),
    (
        {"type": "image", "payload": {"url": "https://cdn.test/a.jpg"}},
        "file",
        {"url": "https://cdn.test/a.jpg", "name": "a.jpg", "size": 0},
        "a.jpg",
    ),
    (
        {"type": "location", "payload": {"latitude": 40.4168, "longitude": -3.7038, "name": "Shop"}},
        "send_location",
        {"latitude": "40.4168", "longitude": "-3.7038", "name": "Shop"},
        "Shop",
    ),
    (
        {"type": "interactive", "payload": {"type": "location_request_message", "body": {"text": "Where?"}}},
        "request_location",
        {"text": "Where?"},
        "Where?",
    ),
    (
        {
            "type": "template",
            "payload": {
                "name": "order_ready",
                "language": "es",
                "header_params": {"1": "Ana"},
                "body_params": ["A-1"],
            },
        },
        "template",
        {"name": "order_ready", "language": "es", "header_params": ["Ana"], "body_params": ["A-1"]},
        "order_ready (es): Ana, A-1",
    ),
]


def _sent(
    client: Client,
    key: IssuedKey,
    capture: Capture,
    product: str,
    message: dict[str, Any],
    meta: dict[str, Any],
) -> Message:
    with capture(execute=True):
        response = post(client, f"{product}/message/send", key, chat(product, message, meta))
    assert response.status_code == 202, response.content
    stored = Message.objects.get()
    stored.refresh_from_db()
    return stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("product", "message", "fmt", "content", "summary"),
    [("viber", *case) for case in VIBER] + [("whatsapp", *case) for case in WHATSAPP],
    ids=[f"viber-{c[1]}-{i}" for i, c in enumerate(VIBER)] + [f"whatsapp-{c[1]}" for c in WHATSAPP],
)
def test_rich_shape_is_stored_and_sent_as_its_format(
    client: Client,
    key: IssuedKey,
    django_capture_on_commit_callbacks: Capture,
    product: str,
    message: dict[str, Any],
    fmt: str,
    content: dict[str, Any],
    summary: str,
) -> None:
    meta = {"category": "promotional"} if product == "viber" else {}
    if fmt == "template":  # guide §12.4: only an Approved template of the company can be sent (assets)
        approved_whatsapp_template(
            key.access.company, "order_ready", "es", header="Hi {{1}}", body="Order {{1}}"
        )
    stored = _sent(client, key, django_capture_on_commit_callbacks, product, message, meta)
    assert stored.payload["format"] == fmt
    assert stored.text == summary  # the message log's and search's text
    assert stored.status == "submitted"
    got = received(stored.client_reference)
    assert got is not None
    assert (got["channel"], got["to"], got["format"]) == (product, MOBILE, fmt)
    assert got["content"] == content  # the validated format, as the simulated vendor received it
    if product == "viber":
        assert stored.payload["category"] == "promotional"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("product", "message", "field", "error"),
    [
        (
            "viber",
            {
                "type": "interactive",
                "payload": {"text": "Hi", "button": {"title": "b" * 31, "url": "https://x.test"}},
            },
            "payload",
            "button_text: At most 30 characters (it has 31).",
        ),
        (
            "viber",
            {"type": "file", "payload": {"url": "https://cdn.test/a.exe"}},
            "payload",
            "name: Files of type .exe cannot be sent;",
        ),
        (
            "viber",
            {"type": "video", "payload": {"url": "https://cdn.test/a.mp4"}},
            "message.type",
            "Choose one of",
        ),
        (
            "viber",
            {"type": "interactive", "payload": {"text": "Hi"}},
            "message.payload.button",
            "Add a button",
        ),
        (
            "whatsapp",
            {**LIST, "payload": {**LIST["payload"], "body": {"text": "b" * 1025}}},
            "payload",
            "body: At most 1024 characters (it has 1025).",
        ),
        (
            "whatsapp",
            {
                "type": "interactive",
                "payload": {
                    "type": "button",
                    "body": {"text": "Hi"},
                    "action": {"buttons": [{"type": "reply", "reply": {"title": t}} for t in "abcd"]},
                },
            },
            "payload",
            "buttons: At most 3 buttons (there are 4).",
        ),
        (
            "whatsapp",
            {"type": "location", "payload": {"latitude": 91, "longitude": 0}},
            "payload",
            "latitude: Must be between -90 and 90.",
        ),
        (
            "whatsapp",
            {"type": "template", "payload": {"name": "Order Ready"}},
            "payload",
            "name: A template name has only lower-case letters, digits and underscores.",
        ),
        ("whatsapp", {"type": "sticker", "payload": {}}, "message.type", "Choose one of"),
    ],
)
def test_bad_rich_content_is_422_naming_the_field(
    client: Client, key: IssuedKey, product: str, message: dict[str, Any], field: str, error: str
) -> None:
    response = post(client, f"{product}/message/send", key, chat(product, message))
    assert response.status_code == 422, response.content
    fields = response.json()["error"]["fields"]
    assert any(error in text for text in fields[field]), fields
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_key_without_the_omni_scope_is_403(client: Client, company: Company, simulator: Connection) -> None:
    crm = api_access_create(company=company, actor=None, name="CRM", scopes=["crm"])
    response = post(client, "whatsapp/message/send", crm, chat("whatsapp", LIST))
    assert response.status_code == 403
    assert not Message.objects.exists()


# -- through a CPaaS connection to the fake vendor -------------------------------------------------------------


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    with override_settings(PORTAL_VENDOR_HTTP_BACKOFF_MS=1), running(sleep_seconds=0.2) as fake:
        yield fake


@pytest.mark.django_db(transaction=True)
def test_api_rich_messages_reach_the_vendor_in_its_wire_shape(
    client: Client, company: Company, vendor: FakeVendor
) -> None:
    connection = Connection(
        company=company, name=f"cpaas {uuid.uuid4().hex[:6]}", adapter_key="cpaas", channels=["viber", "whatsapp"],
        sender_ids=["ACME"], config={"base_url": vendor.url + "/api/v2/", "api_token": TOKEN,
                                     "webhook_secret": "s" * 24, "service": "ENT"},
    )  # fmt: skip
    services.connection_save(company=company, actor=None, connection=connection)
    key = api_access_create(company=company, actor=None, name="Shop", scopes=["omni-api"], senders=["ACME"])
    viber = {"type": "image", "payload": {"text": "Sale", "url": "https://cdn.test/a.png", "button": BUTTON}}
    assert (
        post(client, "viber/message/send", key, chat("viber", viber, {"category": "promotional"})).status_code
        == 202
    )
    assert post(client, "whatsapp/message/send", key, chat("whatsapp", LIST)).status_code == 202
    assert vendor.refused == []
    (viber_route, viber_body, _h1), (wa_route, wa_body, _h2) = vendor.bodies
    assert (viber_route, wa_route) == ("cpaas/viber", "cpaas/whatsapp")
    assert viber_body["channels"] == [{"name": "viber", "from": "ACME", "meta": {"category": "promotional"}}]
    assert viber_body["recipient"] == {"to": [DIGITS]}
    assert viber_body["message"] == {
        "type": "image",
        "payload": {"text": "Sale", "url": "https://cdn.test/a.png", "button": BUTTON},
    }
    assert wa_body["message"] == {
        "type": "interactive",
        "payload": {
            "type": "list",
            "header": {"type": "text", "text": "Menu"},
            "body": {"text": "Pick one"},
            "footer": {"text": "Thanks"},
            "action": {
                "button": "Options",
                "sections": [
                    {"title": "Food", "rows": [{"id": "opt-0", "title": "Pizza", "description": "Large"}]},
                    {"title": "Drinks", "rows": [{"id": "opt-1", "title": "Water"}]},
                ],
            },
        },
    }
    assert set(Message.objects.values_list("status", flat=True)) == {"submitted"}
