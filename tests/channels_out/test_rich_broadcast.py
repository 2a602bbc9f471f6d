"""A broadcast of rich steps launched through the engine reaches the vendors with the right payloads (issue 8).

The chain is an RCS carousel (two cards and suggestions) → Viber text + media + button → WhatsApp list → push.
Each step falls back to the next (undelivered on the simulator; no report within the wait on the fake vendor),
so one recipient walks the whole chain. Every step's content is personalised per recipient before it is checked
and sent; the simulator and the fake vendor record what they received.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from broadcasts.models import Broadcast, BroadcastAttempt, BroadcastStep
from broadcasts.services import StepData
from channels_out import services
from channels_out.models import Connection, Message
from channels_out.vendors.simulator.adapter import received
from portal.tenants.models import Company
from tests.broadcasts import conftest as broadcast_fixtures
from tests.channels_out.fake_vendor import TOKEN, FakeVendor, running
from tests.contacts.factories import make_contact

A = "+34612000001"
clock, launch, sweep = broadcast_fixtures.clock, broadcast_fixtures.launch, broadcast_fixtures.sweep
Launch = Callable[..., Broadcast]
Clock = Callable[[float], None]
Sweep = Callable[[], dict[str, int]]
Script = Callable[..., Any]

CAROUSEL: dict[str, Any] = {
    "card_width": "medium",
    "image_height": "short",
    "cards": [
        {
            "media": {"url": "https://cdn.test/shoes.png", "type": "image/png"},
            "title": "Shoes for {{first_name}}",
            "text": "Size {{ Size }}",
            "suggestions": [
                {"type": "reply", "text": "Buy", "postback": "buy-shoes"},
                {"type": "url", "text": "Open", "url": "https://shop.test/shoes", "open_mode": "browser"},
            ],
        },
        {"title": "Socks", "suggestions": [{"type": "dial", "text": "Call us", "phone": "+34912345678"}]},
    ],
    "suggestions": [
        {"type": "map", "text": "Our shop", "latitude": "40.4168", "longitude": "-3.7038"},
        {"type": "reply", "text": "Stop"},
    ],
}
VIBER = {
    "text": "Hi {{first_name}}, 20% off today",
    "image_url": "https://cdn.test/sale.jpg",
    "button_text": "Shop now",
    "button_url": "https://shop.test/sale",
}
LIST = {
    "header": "Menu",
    "body": "{{first_name}}, pick one",
    "button": "Options",
    "sections": [{"options": [{"title": "Pizza", "description": "Large"}, {"title": "Salad"}]}],
}
PUSH = {"image_url": "https://cdn.test/p.png", "header": "Sale", "text": "Hi {{first_name}}"}


def steps(wait: int = 10) -> list[StepData]:
    def step(channel: str, key: str, content: dict[str, Any], **kw: Any) -> StepData:
        return StepData(
            channel=channel, sender_id="ACME", text="Sale", formats={key: content}, wait_value=wait, **kw
        )

    return [
        step("rcs", "carousel", CAROUSEL),
        step("viber", "text_media_button", VIBER),
        step("whatsapp", "list", LIST),
        step("push", "push", PUSH, wait_for=BroadcastStep.WaitFor.SUBMIT),
    ]


def personalised_carousel(name: str, size: str) -> dict[str, Any]:
    cards: list[dict[str, Any]] = CAROUSEL["cards"]
    return {
        **CAROUSEL,
        "cards": [{**cards[0], "title": f"Shoes for {name}", "text": f"Size {size}"}, cards[1]],
    }


@pytest.fixture
def anna(company: Company) -> None:
    from tests.contacts.factories import make_attribute

    size = make_attribute(company, "Size", "text")
    token = make_attribute(company, "Push token", "text")  # broadcasts.addresses: the Push address
    make_contact(company, A, first_name="Anna", attributes={size.key: "42", token.key: "device-anna"})


def test_rich_chain_reaches_the_simulator_personalised(
    company: Company, simulator: Connection, script: Script, launch: Launch, sweep: Sweep, anna: None
) -> None:
    for channel in ("rcs", "viber", "whatsapp"):
        script(channel=channel, report="undelivered", report_error_code="013")
    launch(numbers=[A], steps=steps())
    for _ in range(4):
        sweep()
    messages = {m.channel: m for m in Message.objects.filter(company=company)}
    assert set(messages) == {"rcs", "viber", "whatsapp", "push"}

    def got(channel: str) -> dict[str, Any]:
        record = received(messages[channel].client_reference)
        assert record is not None
        return record

    rcs = got("rcs")
    assert rcs["format"] == "carousel"
    expected = personalised_carousel("Anna", "42")
    assert [card["title"] for card in rcs["content"]["cards"]] == ["Shoes for Anna", "Socks"]
    assert rcs["content"]["cards"][0]["text"] == "Size 42"
    assert rcs["content"]["cards"][0]["suggestions"] == expected["cards"][0]["suggestions"]
    assert rcs["content"]["cards"][1]["suggestions"] == [
        {"type": "dial", "text": "Call us", "phone": "+34912345678", "action": "phone"}
    ]
    assert [s["text"] for s in rcs["content"]["suggestions"]] == ["Our shop", "Stop"]
    assert got("viber")["content"] == {**VIBER, "text": "Hi Anna, 20% off today"}
    assert got("whatsapp")["content"] == {**LIST, "body": "Anna, pick one"}
    # The message log keeps a readable summary of each rich message.
    assert messages["rcs"].text.startswith("Shoes for Anna | Size 42")
    assert messages["whatsapp"].payload == {"format": "list", "content": {**LIST, "body": "Anna, pick one"}}
    # Push: the contact's "Push token" attribute is its address (broadcasts.addresses).
    assert messages["push"].address == "device-anna"
    assert (got("push")["format"], got("push")["content"]) == ("push", {**PUSH, "text": "Hi Anna"})
    assert messages["push"].text == "Sale | Hi Anna"


def test_a_step_invalid_after_personalisation_is_skipped_naming_the_field(
    company: Company, simulator: Connection, script: Script, launch: Launch, anna: None
) -> None:
    """A value can push a field over its limit: the step is skipped with the field's path, the next one sent."""
    script(report="delivered")
    make_contact(company, "+34612000002", first_name="x" * 28)  # "Go " + 28 = 31 characters, one over 30
    button = {"text": "Hi", "button_text": "Go {{first_name}}", "button_url": "https://shop.test"}
    chain = [
        StepData(channel="viber", sender_id="ACME", text="Hi", formats={"text_button": button}),
        StepData(channel="whatsapp", sender_id="ACME", text="Hi {{first_name}}"),  # the plain text form
    ]
    broadcast = launch(numbers=[A, "+34612000002"], steps=chain)
    skipped = BroadcastAttempt.objects.get(
        broadcast=broadcast, recipient__address="+34612000002", step__order=1
    )
    assert skipped.state == BroadcastAttempt.State.SKIPPED
    assert skipped.reason == "button_text: At most 30 characters (it has 31)."
    fallback = Message.objects.get(address="+34612000002")
    assert (fallback.channel, fallback.payload) == (
        "whatsapp",
        {"text": "Hi " + "x" * 28},
    )
    sent = Message.objects.get(address=A)
    assert (sent.channel, sent.payload["content"]["button_text"]) == ("viber", "Go Anna")


# -- the same chain through the HTTP vendors (RBM, CPaaS, FCM) and the fake vendor -----------------------------------


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    with override_settings(PORTAL_VENDOR_HTTP_BACKOFF_MS=1), running(sleep_seconds=0.2) as fake:
        yield fake


def _connection(company: Company, key: str, channels: list[str], config: dict[str, Any]) -> Connection:
    connection = Connection(
        company=company, name=f"{key} {uuid.uuid4().hex[:6]}", adapter_key=key, channels=channels,
        sender_ids=["ACME"], config=config,
    )  # fmt: skip
    return services.connection_save(company=company, actor=None, connection=connection)


def test_rich_chain_reaches_the_fake_vendor_in_wire_shape(
    company: Company, vendor: FakeVendor, launch: Launch, clock: Clock, sweep: Sweep, anna: None
) -> None:
    secret = "s" * 24
    _connection(company, "rbm", ["rcs"], {"base_url": vendor.url + "/rbm", "agent_id": "agent",
                                         "access_token": TOKEN, "client_token": secret})  # fmt: skip
    _connection(company, "cpaas", ["viber", "whatsapp"], {"base_url": vendor.url + "/api/v2/", "api_token": TOKEN,
                                                          "webhook_secret": secret, "service": "ENT"})  # fmt: skip
    launch(numbers=[A], steps=steps(wait=10)[:3])
    for _ in range(2):  # no reports: each step times out after 10 minutes and the next one goes
        clock(10 * 60 + 1)
        sweep()
    assert vendor.refused == []
    routes = [route for route, _body, _headers in vendor.bodies]
    assert routes == ["rbm/send", "cpaas/viber", "cpaas/whatsapp"]
    rbm, viber, whatsapp = (body for _route, body, _headers in vendor.bodies)
    carousel = rbm["contentMessage"]["richCard"]["carouselCard"]
    assert carousel["cardWidth"] == "MEDIUM"
    assert carousel["cardContents"][0] == {
        "title": "Shoes for Anna",
        "description": "Size 42",
        "media": {
            "height": "SHORT_HEIGHT",
            "contentInfo": {"fileUrl": "https://cdn.test/shoes.png", "forceRefresh": False},
        },
        "suggestions": [
            {"reply": {"text": "Buy", "postbackData": "buy-shoes"}},
            {
                "action": {
                    "text": "Open",
                    "postbackData": "url:Open",
                    "openUrlAction": {"url": "https://shop.test/shoes", "application": "BROWSER"},
                }
            },
        ],
    }
    assert carousel["cardContents"][1]["suggestions"] == [
        {
            "action": {
                "text": "Call us",
                "postbackData": "dial:Call us",
                "dialAction": {"phoneNumber": "+34912345678"},
            }
        }
    ]
    assert rbm["contentMessage"]["suggestions"] == [
        {
            "action": {
                "text": "Our shop",
                "postbackData": "map:Our shop",
                "viewLocationAction": {"latLong": {"latitude": 40.4168, "longitude": -3.7038}},
            }
        },
        {"reply": {"text": "Stop", "postbackData": "Stop"}},
    ]
    assert viber["message"] == {
        "type": "image",
        "payload": {
            "text": "Hi Anna, 20% off today",
            "url": "https://cdn.test/sale.jpg",
            "button": {"title": "Shop now", "url": "https://shop.test/sale"},
        },
    }
    assert whatsapp["message"] == {
        "type": "interactive",
        "payload": {
            "type": "list",
            "header": {"type": "text", "text": "Menu"},
            "body": {"text": "Anna, pick one"},
            "action": {
                "button": "Options",
                "sections": [
                    {
                        "rows": [
                            {"id": "opt-0", "title": "Pizza", "description": "Large"},
                            {"id": "opt-1", "title": "Salad"},
                        ]
                    }
                ],
            },
        },
    }


def test_push_without_a_token_is_skipped_naming_the_attribute(
    company: Company, simulator: Connection, launch: Launch, sweep: Sweep
) -> None:
    make_contact(company, A, first_name="Anna")
    broadcast = launch(numbers=[A], steps=steps()[3:])
    sweep()
    attempt = BroadcastAttempt.objects.get(broadcast=broadcast)
    assert attempt.reason == 'No Push address: the contact has no value in the "Push token" attribute.'
    assert not Message.objects.filter(channel="push").exists()
