"""Every constructor format reaches its vendor in the vendor's wire shape (issue 8, guide §11-§17).

Each case sends one ``{"format", "content"}`` payload through the real adapter over HTTP to the local fake vendor,
which checks the wire shape strictly (400 for a malformed body), and asserts the exact JSON it received. Content
invalid at a boundary, or a format the connection's vendor cannot send, is refused before any HTTP call.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from channels_out.base import AdapterError, OutboundMessage
from channels_out.errors import error_describe
from channels_out.formats import FORMATS
from channels_out.kinds import ChannelKind
from channels_out.vendors.appsdk.adapter import AppSdkMobilePushAdapter
from channels_out.vendors.cpaas.adapter import CpaasAdapter
from channels_out.vendors.fcm.adapter import FcmPushAdapter
from channels_out.vendors.rbm.adapter import RbmRcsAdapter
from tests.channels_out.conftest import MOBILE
from tests.channels_out.fake_vendor import TOKEN, FakeVendor, running, wire_errors

DIGITS = MOBILE.lstrip("+")
MB = 1024 * 1024
Send = Callable[[str, str, dict[str, Any]], tuple[str, dict[str, Any]]]


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    with override_settings(PORTAL_VENDOR_HTTP_BACKOFF_MS=1), running(sleep_seconds=0.2) as fake:
        yield fake


def outbound(channel: str, key: str, content: dict[str, Any], *, to: str = MOBILE) -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        client_reference=uuid.uuid4().hex,
        channel=ChannelKind(channel),
        sender_id="ACME",
        to=to,
        payload={"format": key, "content": content},
        text="summary",
    )


def adapter_for(vendor: FakeVendor, channel: str) -> Any:
    if channel == ChannelKind.RCS:
        config = {"base_url": vendor.url + "/rbm", "agent_id": "agent", "access_token": TOKEN}
        return RbmRcsAdapter({**config, "client_token": "client-token"})
    if channel == ChannelKind.PUSH:
        return FcmPushAdapter({"base_url": vendor.url + "/fcm", "project_id": "proj", "access_token": TOKEN})
    if channel == ChannelKind.MOBILE_PUSH:
        config = {"base_url": vendor.url + "/sdk", "app_id": "app1", "api_key": TOKEN}
        return AppSdkMobilePushAdapter({**config, "webhook_secret": "s" * 20})
    return CpaasAdapter({"base_url": vendor.url + "/api/v2/", "api_token": TOKEN, "webhook_secret": "s" * 20})


@pytest.fixture
def send(vendor: FakeVendor) -> Send:
    """Send one format through its channel's adapter; the route and the body the fake vendor accepted."""

    def run(channel: str, key: str, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        to = "device-1" if channel in {ChannelKind.PUSH, ChannelKind.MOBILE_PUSH} else MOBILE
        message = outbound(channel, key, content, to=to)
        adapter_for(vendor, channel).send(message)
        assert vendor.refused == []
        [(route, body, _headers)] = vendor.bodies
        assert vendor.accept_counts[message.client_reference] == 1
        return route, body

    return run


def chat(product: str, message: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole seed 004 E075/E090 body around ``message``."""
    if meta is None:
        meta = {"category": "transactional"} if product == "viber" else {}
    return {
        "channels": [{"name": product, "from": "ACME", "meta": meta}],
        "message": message,
        "recipient": {"to": [DIGITS]},
        "custom": None,  # replaced below: the client reference
    }


def same_chat(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert body == {**expected, "custom": body["custom"]}
    assert len(body["custom"]) == 32


# -- the cases: one per format of every channel served over HTTP ---------------------------------------------------

REPLY = {"type": "reply", "text": "Yes", "postback": "yes"}
URL_CHIP = {"type": "url", "text": "Open", "url": "https://shop.test/a", "open_mode": "webview"}
DIAL = {"type": "dial", "text": "Call", "phone": "+34612345678"}
MAP_AT = {"type": "map", "text": "Shop", "latitude": "40.4168", "longitude": "-3.7038", "label": "Sol"}
MAP_QUERY = {"type": "map", "text": "Find", "mode": "query", "query": "shops near me"}
SHARE = {"type": "map", "text": "Share", "mode": "request_location"}
CALENDAR = {
    "type": "calendar",
    "text": "Save",
    "title": "Sale",
    "start": "2026-05-01T09:00:00+02:00",
    "end": "2026-05-01T10:00:00+02:00",
    "description": "Big sale",
}
IMAGE = {"url": "https://cdn.test/1.png", "type": "image/png"}


def rbm_chip(text: str, postback: str, **action: Any) -> dict[str, Any]:
    return {"action": {"text": text, "postbackData": postback, **action}}


RBM_CHIPS = [
    {"reply": {"text": "Yes", "postbackData": "yes"}},
    rbm_chip(
        "Open",
        "url:Open",
        openUrlAction={"url": "https://shop.test/a", "application": "WEBVIEW", "webviewViewMode": "FULL"},
    ),
    rbm_chip("Call", "dial:Call", dialAction={"phoneNumber": "+34612345678"}),
    rbm_chip(
        "Shop",
        "map:Shop",
        viewLocationAction={"latLong": {"latitude": 40.4168, "longitude": -3.7038}, "label": "Sol"},
    ),
    rbm_chip("Find", "map:Find", viewLocationAction={"query": "shops near me"}),
    rbm_chip("Share", "map:Share", shareLocationAction={}),
    rbm_chip(
        "Save",
        "calendar:Save",
        createCalendarEventAction={
            "startTime": "2026-05-01T07:00:00Z",
            "endTime": "2026-05-01T08:00:00Z",
            "title": "Sale",
            "description": "Big sale",
        },
    ),
]
ALL_CHIPS = [REPLY, URL_CHIP, DIAL, MAP_AT, MAP_QUERY, SHARE, CALENDAR]


def rbm_media(url: str, height: str) -> dict[str, Any]:
    return {"height": height, "contentInfo": {"fileUrl": url, "forceRefresh": False}}


CASES: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    # RCS through Google RBM: contentMessage with text / contentInfo / richCard and suggestions (guide §11).
    (
        "rcs",
        "text",
        {"text": "Hello", "suggestions": ALL_CHIPS},
        "rbm/send",
        {"contentMessage": {"text": "Hello", "suggestions": RBM_CHIPS}},
    ),
    (
        "rcs",
        "file",
        {"file": {"url": "https://cdn.test/menu.pdf"}, "suggestions": [REPLY]},
        "rbm/send",
        {
            "contentMessage": {
                "contentInfo": {"fileUrl": "https://cdn.test/menu.pdf", "forceRefresh": False},
                "suggestions": [RBM_CHIPS[0]],
            }
        },
    ),
    (
        "rcs",
        "rich_card",
        {
            "layout": "horizontal",
            "image_alignment": "right",
            "image_height": "tall",
            "card": {"media": IMAGE, "title": "Title", "text": "Text", "suggestions": [URL_CHIP, DIAL]},
            "suggestions": [REPLY],
        },
        "rbm/send",
        {
            "contentMessage": {
                "richCard": {
                    "standaloneCard": {
                        "cardOrientation": "HORIZONTAL",
                        "thumbnailImageAlignment": "RIGHT",
                        "cardContent": {
                            "title": "Title",
                            "description": "Text",
                            "media": rbm_media("https://cdn.test/1.png", "TALL_HEIGHT"),
                            "suggestions": RBM_CHIPS[1:3],
                        },
                    }
                },
                "suggestions": [RBM_CHIPS[0]],
            }
        },
    ),
    (
        "rcs",
        "carousel",
        {
            "card_width": "small",
            "image_height": "short",
            "cards": [
                {"media": IMAGE, "title": "One", "suggestions": [REPLY, MAP_AT, SHARE, CALENDAR]},
                {"text": "Two", "suggestions": [MAP_QUERY]},
            ],
            "suggestions": [URL_CHIP],
        },
        "rbm/send",
        {
            "contentMessage": {
                "richCard": {
                    "carouselCard": {
                        "cardWidth": "SMALL",
                        "cardContents": [
                            {
                                "title": "One",
                                "media": rbm_media("https://cdn.test/1.png", "SHORT_HEIGHT"),
                                "suggestions": [RBM_CHIPS[0], RBM_CHIPS[3], RBM_CHIPS[5], RBM_CHIPS[6]],
                            },
                            {"description": "Two", "suggestions": [RBM_CHIPS[4]]},
                        ],
                    }
                },
                "suggestions": [RBM_CHIPS[1]],
            }
        },
    ),
    # Viber through the CPaaS vendor (seed 004 E075, guide §12.1).
    (
        "viber",
        "text",
        {"text": "Hi"},
        "cpaas/viber",
        chat("viber", {"type": "text", "payload": {"text": "Hi"}}),
    ),
    (
        "viber",
        "file",
        {"url": "https://cdn.test/f/123", "name": "offer.xltx", "size": 200 * MB},
        "cpaas/viber",
        chat(
            "viber", {"type": "file", "payload": {"url": "https://cdn.test/f/123", "file_name": "offer.xltx"}}
        ),
    ),
    (
        "viber",
        "text_button",
        {"text": "Hi", "button_text": "Go", "button_url": "https://x.test"},
        "cpaas/viber",
        chat(
            "viber",
            {
                "type": "interactive",
                "payload": {"text": "Hi", "button": {"title": "Go", "url": "https://x.test"}},
            },
        ),
    ),
    (
        "viber",
        "text_media_button",
        {
            "text": "Hi",
            "image_url": "https://cdn.test/a.gif",
            "button_text": "Go",
            "button_url": "https://x.test",
        },
        "cpaas/viber",
        chat(
            "viber",
            {
                "type": "image",
                "payload": {
                    "text": "Hi",
                    "url": "https://cdn.test/a.gif",
                    "button": {"title": "Go", "url": "https://x.test"},
                },
            },
        ),
    ),
    # WhatsApp through the CPaaS vendor (seed 004 E090, guide §13.2-§13.3).
    (
        "whatsapp",
        "card",
        {"header": "Sale", "body": "Hi", "footer": "Bye", "buttons": [{"text": "OK"}, {"text": "No"}]},
        "cpaas/whatsapp",
        chat(
            "whatsapp",
            {
                "type": "interactive",
                "payload": {
                    "type": "button",
                    "header": {"type": "text", "text": "Sale"},
                    "body": {"text": "Hi"},
                    "footer": {"text": "Bye"},
                    "action": {
                        "buttons": [
                            {"type": "reply", "reply": {"id": "btn-0", "title": "OK"}},
                            {"type": "reply", "reply": {"id": "btn-1", "title": "No"}},
                        ]
                    },
                },
            },
        ),
    ),
    (
        "whatsapp",
        "list",
        {
            "header": "Menu",
            "body": "Pick one",
            "button": "Options",
            "sections": [
                {"title": "Food", "options": [{"title": "Pizza", "description": "Large"}]},
                {"title": "Drinks", "options": [{"title": "Water"}]},
            ],
        },
        "cpaas/whatsapp",
        chat(
            "whatsapp",
            {
                "type": "interactive",
                "payload": {
                    "type": "list",
                    "header": {"type": "text", "text": "Menu"},
                    "body": {"text": "Pick one"},
                    "action": {
                        "button": "Options",
                        "sections": [
                            {
                                "title": "Food",
                                "rows": [{"id": "opt-0", "title": "Pizza", "description": "Large"}],
                            },
                            {"title": "Drinks", "rows": [{"id": "opt-1", "title": "Water"}]},
                        ],
                    },
                },
            },
        ),
    ),
    (
        "whatsapp",
        "text",
        {"text": "Hello"},
        "cpaas/whatsapp",
        chat("whatsapp", {"type": "text", "payload": {"text": "Hello"}}),
    ),
    (
        "whatsapp",
        "file",
        {"url": "https://cdn.test/menu.pdf", "caption": "Menu", "size": 100 * MB},
        "cpaas/whatsapp",
        chat(
            "whatsapp",
            {
                "type": "document",
                "payload": {"url": "https://cdn.test/menu.pdf", "filename": "menu.pdf", "caption": "Menu"},
            },
        ),
    ),
    (
        "whatsapp",
        "request_location",
        {"text": "Where are you?"},
        "cpaas/whatsapp",
        chat(
            "whatsapp",
            {
                "type": "interactive",
                "payload": {
                    "type": "location_request_message",
                    "body": {"text": "Where are you?"},
                    "action": {"name": "send_location"},
                },
            },
        ),
    ),
    (
        "whatsapp",
        "send_location",
        {"latitude": "40.4168", "longitude": "-3.7038", "name": "Shop", "address": "Sol 1, Madrid"},
        "cpaas/whatsapp",
        chat(
            "whatsapp",
            {
                "type": "location",
                "payload": {
                    "latitude": 40.4168,
                    "longitude": -3.7038,
                    "name": "Shop",
                    "address": "Sol 1, Madrid",
                },
            },
        ),
    ),
    (
        "whatsapp",
        "template",
        {"name": "order_ready", "language": "es", "header_params": ["Ana"], "body_params": ["A-1", "12:00"]},
        "cpaas/whatsapp",
        chat(
            "whatsapp",
            {
                "type": "template",
                "payload": {
                    "name": "order_ready",
                    "language": "es",
                    "header_params": ["Ana"],
                    "body_params": ["A-1", "12:00"],
                },
            },
        ),
    ),
    # TTS through the CPaaS vendor (seed 004 E052, guide §16).
    (
        "tts",
        "tts",
        {"text": "Your code is 1 2 3", "language": "es", "repeat": 3},
        "cpaas/tts",
        {
            "bridge": "ACME",
            "to": DIGITS,
            "text": "Your code is 1 2 3",
            "options": {"language": "es", "iteration": 3},
        },
    ),
    # Push through FCM v1 (guide §15) and mobile push through the app SDK backend (guide §17).
    (
        "push",
        "push",
        {"image_url": "https://cdn.test/p.png", "header": "Sale", "text": "Today only"},
        "fcm/send",
        {
            "message": {
                "token": "device-1",
                "notification": {"title": "Sale", "body": "Today only", "image": "https://cdn.test/p.png"},
            }
        },
    ),
    (
        "mobile_push",
        "mobile_push",
        {"header": "Hi", "text": "Your order shipped"},
        "sdk/send",
        {"user_id": "device-1", "title": "Hi", "body": "Your order shipped", "data": {}},
    ),
]


def test_every_format_but_e_mail_has_a_wire_case() -> None:
    covered = {(channel, key) for channel, key, *_rest in CASES}
    assert covered == {k for k in FORMATS if k[0] != ChannelKind.EMAIL}  # e-mail: test_rich_email_smtp below


@pytest.mark.parametrize(
    ("channel", "key", "content", "route", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1]}" for c in CASES],
)
def test_the_vendor_receives_the_exact_wire_payload(
    send: Send, channel: str, key: str, content: dict[str, Any], route: str, expected: dict[str, Any]
) -> None:
    got_route, body = send(channel, key, content)
    assert got_route == route
    if route.startswith("cpaas/") and route != "cpaas/tts":
        same_chat(body, expected)
    elif route == "cpaas/tts":
        assert body == {**expected, "custom": body["custom"]}
    elif route == "fcm/send":
        data = body["message"].pop("data")
        assert body == expected
        assert set(data) == {"client_reference"}
    elif route == "sdk/send":
        assert body == {**expected, "reference": body["reference"]}
    else:
        assert body == expected


def test_viber_meta_and_session_id_travel_in_the_channel_meta(vendor: FakeVendor) -> None:
    message = OutboundMessage(
        message_id=1,
        client_reference=uuid.uuid4().hex,
        channel=ChannelKind.VIBER,
        sender_id="ACME",
        to=MOBILE,
        payload={
            "format": "text",
            "content": {"text": "Hi"},
            "category": "promotional",
            "ttl": "60",
            "session_id": "vs-1",
        },
        text="Hi",
    )
    adapter_for(vendor, "viber").send(message)
    [(_route, body, _headers)] = vendor.bodies
    assert body["channels"][0]["meta"] == {"category": "promotional", "ttl": "60", "session_id": "vs-1"}


# -- refusals before any HTTP call ---------------------------------------------------------------------------------

TOO_BIG: list[tuple[str, str, dict[str, Any], str]] = [
    ("rcs", "text", {"text": "x" * 2001}, "text"),
    ("rcs", "rich_card", {"card": {"title": "t" * 201}}, "card.title"),
    ("rcs", "rich_card", {"card": {"text": "t" * 2001}}, "card.text"),
    ("rcs", "rich_card", {"card": {"title": "T", "suggestions": [REPLY] * 5}}, "card.suggestions"),
    ("rcs", "text", {"text": "Hi", "suggestions": [REPLY] * 12}, "suggestions"),
    ("rcs", "text", {"text": "Hi", "suggestions": [{**REPLY, "text": "r" * 26}]}, "suggestions.0.text"),
    ("rcs", "carousel", {"cards": [{"title": "T"}] * 13}, "cards"),
    ("rcs", "text", {"text": "Hi", "suggestions": [{**URL_CHIP, "url": "shop.test"}]}, "suggestions.0.url"),
    (
        "rcs",
        "text",
        {"text": "Hi", "suggestions": [{**MAP_AT, "latitude": "90.1"}]},
        "suggestions.0.latitude",
    ),
    ("viber", "text", {"text": "x" * 1001}, "text"),
    ("viber", "file", {"url": "https://cdn.test/f.pdf", "size": 200 * MB + 1}, "size"),
    ("viber", "file", {"url": "https://cdn.test/f.exe"}, "name"),
    (
        "viber",
        "text_button",
        {"text": "Hi", "button_text": "b" * 31, "button_url": "https://x.test"},
        "button_text",
    ),
    ("whatsapp", "text", {"text": "x" * 4097}, "text"),
    ("whatsapp", "card", {"header": "h" * 21, "body": "B", "buttons": [{"text": "OK"}]}, "header"),
    ("whatsapp", "card", {"body": "b" * 1025, "buttons": [{"text": "OK"}]}, "body"),
    ("whatsapp", "card", {"body": "B", "footer": "f" * 61, "buttons": [{"text": "OK"}]}, "footer"),
    (
        "whatsapp",
        "list",
        {"body": "B", "button": "M", "sections": [{"options": [{"title": "o"}] * 11}]},
        "sections",
    ),
    (
        "whatsapp",
        "list",
        {"body": "B", "button": "M", "sections": [{"options": [{"title": "o" * 25}]}]},
        "sections.0.options.0.title",
    ),
    ("whatsapp", "file", {"url": "https://cdn.test/f.pdf", "size": 100 * MB + 1}, "size"),
    ("whatsapp", "file", {"url": "https://cdn.test/f.gif"}, "name"),
    ("tts", "tts", {"text": "Hi", "repeat": 4}, "repeat"),
    ("tts", "tts", {"text": "Hi", "language": "fr"}, "language"),
    ("push", "push", {}, "__all__"),
    ("mobile_push", "mobile_push", {"text": "Body only"}, "header"),
]


@pytest.mark.parametrize(
    ("channel", "key", "content", "path"), TOO_BIG, ids=[f"{c[0]}-{c[3]}" for c in TOO_BIG]
)
def test_content_over_a_limit_is_refused_before_any_call(
    vendor: FakeVendor, channel: str, key: str, content: dict[str, Any], path: str
) -> None:
    with pytest.raises(AdapterError) as info:
        adapter_for(vendor, channel).send(outbound(channel, key, content, to=MOBILE))
    assert info.value.permanent
    assert info.value.vendor_code == "INVALID-CONTENT"
    assert f"{path}: " in info.value.message if path != "__all__" else "__all__" not in info.value.message
    assert vendor.bodies == []  # nothing reached the vendor


UNSUPPORTED: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "rcs",
        "text",
        {"text": "Hi", "suggestions": [{**DIAL, "action": "enriched"}]},
        "enriched or video calls",
    ),
    ("rcs", "text", {"text": "Hi", "suggestions": [{**DIAL, "action": "video"}]}, "enriched or video calls"),
    ("rcs", "carousel", {"cards": [{"title": "T"}] * 11}, "at most 10 cards"),
    (
        "rcs",
        "carousel",
        {"card_width": "small", "image_height": "tall", "cards": [{"title": "T"}] * 2},
        "tall",
    ),
    ("whatsapp", "file", {"url": "https://cdn.test/a.webp"}, ".webp"),
    ("whatsapp", "file", {"url": "https://cdn.test/a.ogg"}, ".ogg"),
    ("whatsapp", "file", {"url": "https://cdn.test/a.jpg", "size": 5 * MB + 1}, "at most 5 MB"),
    ("whatsapp", "file", {"url": "https://cdn.test/a.mp4", "size": 16 * MB + 1}, "at most 16 MB"),
]


@pytest.mark.parametrize(
    ("channel", "key", "content", "reason"), UNSUPPORTED, ids=[f"{c[0]}-{c[3]}" for c in UNSUPPORTED]
)
def test_what_the_vendor_cannot_send_is_refused_by_its_adapter(
    vendor: FakeVendor, channel: str, key: str, content: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AdapterError, match=reason) as info:
        adapter_for(vendor, channel).send(outbound(channel, key, content))
    assert info.value.permanent
    assert info.value.vendor_code == "FORMAT-UNSUPPORTED"
    assert error_describe(channel, info.value.vendor_code).text.startswith(
        "The connection's vendor cannot send"
    )
    assert vendor.bodies == []


def test_vendor_limits_accept_at_the_boundary(send: Send) -> None:
    """N accepted where the adapter refuses N+1: 10 RBM cards, 5 MB images and 16 MB video on WhatsApp."""
    _route, body = send("rcs", "carousel", {"cards": [{"title": f"T{i}"} for i in range(10)]})
    assert len(body["contentMessage"]["richCard"]["carouselCard"]["cardContents"]) == 10


@pytest.mark.parametrize(
    ("url", "size", "kind"),
    [("https://cdn.test/a.jpg", 5 * MB, "image"), ("https://cdn.test/a.mp4", 16 * MB, "video")],
)
def test_whatsapp_media_at_the_vendor_size_limit(send: Send, url: str, size: int, kind: str) -> None:
    _route, body = send("whatsapp", "file", {"url": url, "size": size})
    assert body["message"] == {"type": kind, "payload": {"url": url}}


# -- the fake vendor itself is strict ---------------------------------------------------------------------------


def _cpaas_body(product: str, message: dict[str, Any]) -> dict[str, Any]:
    return {**chat(product, message), "custom": "ref-1"}


MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    (
        "cpaas/viber",
        _cpaas_body("viber", {"type": "text", "payload": {"text": "x" * 1001}}),
        "message.payload.text",
    ),
    ("cpaas/viber", _cpaas_body("viber", {"type": "video", "payload": {}}), "message.type"),
    (
        "cpaas/viber",
        _cpaas_body("viber", {"type": "file", "payload": {"url": "https://c.test/a", "file_name": "a.exe"}}),
        "message.payload.file_name",
    ),
    (
        "cpaas/whatsapp",
        _cpaas_body("whatsapp", {"type": "image", "payload": {"url": "https://c.test/a.webp"}}),
        "url",
    ),
    (
        "cpaas/whatsapp",
        _cpaas_body(
            "whatsapp",
            {
                "type": "interactive",
                "payload": {
                    "type": "button",
                    "body": {"text": "Hi"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "t"}}] * 4},
                },
            },
        ),
        "action.buttons",
    ),
    ("cpaas/whatsapp", {**_cpaas_body("whatsapp", {"type": "text", "payload": {"text": "Hi"}}), "x": 1}, "x"),
    (
        "cpaas/tts",
        {"bridge": "A", "to": DIGITS, "text": "Hi", "options": {"language": "fr", "iteration": 4}},
        "options",
    ),
    (
        "rbm/send",
        {"contentMessage": {"text": "Hi", "contentInfo": {"fileUrl": "https://c.test/a"}}},
        "exactly one",
    ),
    (
        "rbm/send",
        {
            "contentMessage": {
                "text": "Hi",
                "suggestions": [
                    {"action": {"text": "Call", "postbackData": "p", "dialAction": {"phoneNumber": "1"}}}
                ],
            }
        },
        "phoneNumber",
    ),
    ("fcm/send", {"message": {"token": "t", "notification": {}}}, "notification"),
    ("sdk/send", {"user_id": "u", "title": "", "body": "b", "reference": "r"}, "title"),
]


@pytest.mark.parametrize(("route", "body", "field"), MALFORMED, ids=[f"{m[0]}-{m[2]}" for m in MALFORMED])
def test_the_fake_vendor_refuses_malformed_bodies(route: str, body: dict[str, Any], field: str) -> None:
    errors = wire_errors(route, body)
    assert errors
    assert any(field in error for error in errors), errors


def test_a_malformed_body_gets_400_and_is_never_accepted(vendor: FakeVendor) -> None:
    import requests

    response = requests.post(
        vendor.url + "/api/v2/viber/message/send",
        json=_cpaas_body("viber", {"type": "text", "payload": {}}),
        headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "ref-1"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["errors"] == ["message.payload.text: is required"]
    assert vendor.accepted == {}
    assert vendor.refused == [("cpaas/viber", ["message.payload.text: is required"])]


# -- WhatsApp card with a medium header ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://cdn.test/a.png", "image"),
        ("https://cdn.test/a.mp4", "video"),
        ("https://cdn.test/a.pdf", "document"),
    ],
)
def test_whatsapp_card_media_header_and_header_text_in_bold(send: Send, url: str, kind: str) -> None:
    content = {"media_url": url, "header": "Sale", "body": "Hi", "footer": "Bye", "buttons": [{"text": "OK"}]}
    _route, body = send("whatsapp", "card", content)
    assert body["message"]["payload"] == {
        "type": "button",
        "header": {"type": kind, kind: {"link": url}},
        "body": {"text": "*Sale*\nHi"},
        "footer": {"text": "Bye"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "btn-0", "title": "OK"}}]},
    }


def test_whatsapp_card_header_and_body_share_the_limit_with_a_picture(send: Send, vendor: FakeVendor) -> None:
    fits = {
        "media_url": "https://cdn.test/a.png",
        "header": "h" * 20,
        "body": "b" * 1001,
        "buttons": [{"text": "OK"}],
    }
    _route, body = send("whatsapp", "card", fits)
    assert len(body["message"]["payload"]["body"]["text"]) == 1024
    for too_long, path in (
        ({**fits, "body": "b" * 1002}, "body"),
        ({**fits, "media_url": "https://c.test/a.mp3"}, "media_url"),
    ):
        with pytest.raises(AdapterError, match=f"{path}: ") as info:
            adapter_for(vendor, "whatsapp").send(outbound("whatsapp", "card", too_long))
        assert info.value.vendor_code == "INVALID-CONTENT"
    assert len(vendor.bodies) == 1


# -- through the channel layer: the refusal is the message's failure reason -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_vendor_refusal_fails_the_message_with_its_catalogue_reason(
    company: Any, vendor: FakeVendor
) -> None:
    from channels_out import services
    from channels_out.models import Connection

    connection = Connection(
        company=company, name="RBM", adapter_key="rbm", channels=["rcs"], sender_ids=["ACME"],
        config={"base_url": vendor.url + "/rbm", "agent_id": "agent", "access_token": TOKEN, "client_token": "c" * 24},
    )  # fmt: skip
    services.connection_save(company=company, actor=None, connection=connection)
    enriched = {"type": "dial", "text": "Call", "phone": "+34612345678", "action": "enriched"}
    message = services.message_send(
        company=company, actor=None, channel="rcs", sender_id="ACME", to=MOBILE, origin="api",
        payload={"format": "text", "content": {"text": "Hi", "suggestions": [enriched]}},
    )  # fmt: skip
    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "FORMAT-UNSUPPORTED")
    assert message.text == "Hi | Call"
    assert vendor.bodies == []
