"""The message constructor's server-side model (issue 8 milestone 1, inventory A checks 52-75).

Every limit is tested at its boundary (N accepted, N+1 refused with its message, named by field path), and the
adapters' serialisation of each format is asserted on the JSON they build.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.test import override_settings

from broadcasts.services import BroadcastData, StepData, broadcast_save, broadcast_validate, step_data_of
from channels_out.base import AdapterError, OutboundMessage
from channels_out.formats import FORMATS, content_errors, message_from_json, payload_format
from channels_out.formats.preview import format_preview
from channels_out.formats.rcs import RcsCarousel, RcsRichCard
from channels_out.kinds import ChannelKind
from channels_out.vendors.cpaas.adapter import CpaasAdapter
from channels_out.vendors.rbm.adapter import RbmRcsAdapter
from channels_out.vendors.simulator.adapter import SimulatorAdapter
from portal.tenants.models import Company
from tests.channels_out.conftest import MOBILE
from tests.channels_out.fake_vendor import TOKEN, FakeVendor, running


@pytest.fixture
def vendor() -> Iterator[FakeVendor]:
    with override_settings(PORTAL_VENDOR_HTTP_BACKOFF_MS=1), running(sleep_seconds=0.2) as fake:
        yield fake


def errors_of(channel: str, key: str, data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        message_from_json(channel, key, data)
    return info.value.message_dict


def ok(channel: str, key: str, data: Any) -> Any:
    value = message_from_json(channel, key, data)
    assert type(value).from_json(value.to_json()) == value  # round trip
    return value


URL = {"type": "url", "text": "Open", "url": "https://www.example.com"}
REPLY = {"type": "reply", "text": "Yes"}


def card(**fields: Any) -> dict[str, Any]:
    return {"title": "Title", "text": "Text", **fields}


# -- registry --------------------------------------------------------------------------------------------------


def test_registry_covers_every_format_of_the_guide() -> None:
    assert set(FORMATS) == {
        ("rcs", "text"), ("rcs", "file"), ("rcs", "rich_card"), ("rcs", "carousel"),
        ("viber", "text"), ("viber", "file"), ("viber", "text_button"), ("viber", "text_media_button"),
        ("whatsapp", "card"), ("whatsapp", "list"), ("whatsapp", "text"), ("whatsapp", "file"),
        ("whatsapp", "request_location"), ("whatsapp", "send_location"), ("whatsapp", "template"),
        ("push", "push"), ("tts", "tts"), ("mobile_push", "mobile_push"), ("email", "email"),
    }  # fmt: skip
    assert errors_of("sms", "carousel", {}) == {"format": ["SMS has no carousel format."]}
    assert errors_of("rcs", "text", "not an object") == {
        NON_FIELD_ERRORS: ["Expected an object."],
        "text": ["This field is required."],
    }


# -- RCS (checks 52-58) ------------------------------------------------------------------------------------------


def test_rich_card_title_and_text_limits() -> None:
    ok("rcs", "rich_card", {"card": card(title="t" * 200, text="x" * 2000)})
    assert errors_of("rcs", "rich_card", {"card": card(title="t" * 201, text="x" * 2001)}) == {
        "card.title": ["At most 200 characters (it has 201)."],
        "card.text": ["At most 2000 characters (it has 2001)."],
    }


def test_rich_card_suggestion_counts() -> None:
    ok("rcs", "rich_card", {"card": card(suggestions=[REPLY] * 4), "suggestions": [URL] * 11})
    assert errors_of(
        "rcs", "rich_card", {"card": card(suggestions=[REPLY] * 5), "suggestions": [URL] * 12}
    ) == {
        "card.suggestions": ["At most 4 suggestions (there are 5)."],
        "suggestions": ["At most 11 suggestions (there are 12)."],
    }


def test_rich_card_needs_content_and_valid_options() -> None:
    assert errors_of("rcs", "rich_card", {"card": {}}) == {
        "card": ["A card needs an image, a title or a text."]
    }
    errors = errors_of("rcs", "rich_card", {"card": card(), "layout": "horizontal", "image_height": "huge"})
    assert errors == {
        "image_height": ["Choose one of: short, medium, tall."],
        "card.media": ["A horizontal card needs an image."],
    }
    media = {"url": "https://cdn.test/a.png", "type": "image/png"}
    value = ok(
        "rcs", "rich_card", {"card": card(media=media), "layout": "horizontal", "image_alignment": "right"}
    )
    assert isinstance(value, RcsRichCard)
    assert value.card.media is not None
    assert errors_of("rcs", "rich_card", {"card": card(media={"url": "cdn/a.png", "type": "png"})}) == {
        "card.media.type": ["Enter a media type such as image/jpeg."],
        "card.media.url": ["Enter a full web address starting with http:// or https://."],
    }


def test_cta_limit_25() -> None:
    ok("rcs", "text", {"text": "Hi", "suggestions": [{"type": "reply", "text": "x" * 25}]})
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{"type": "reply", "text": "x" * 26}]}) == {
        "suggestions.0.text": ["At most 25 characters (it has 26)."]
    }
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{"type": "reply"}, {"type": "poke"}]}) == {
        "suggestions.0.text": ["This field is required."],
        "suggestions.1.type": ["Choose one of: reply, url, dial, map, calendar."],
    }


@pytest.mark.parametrize("url", ["www.example.com", "ftp://example.com/a", "https://", "javascript:alert(1)"])
def test_url_action_needs_an_http_scheme(url: str) -> None:
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{**URL, "url": url}]}) == {
        "suggestions.0.url": ["Enter a full web address starting with http:// or https://."]
    }


def test_url_action_accepts_a_full_url_and_open_mode() -> None:
    ok("rcs", "text", {"text": "Hi", "suggestions": [{**URL, "open_mode": "webview"}]})
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{**URL, "open_mode": "tab"}]}) == {
        "suggestions.0.open_mode": ["Choose one of: browser, webview."]
    }


def test_dialer_action_phone_number() -> None:
    value = ok(
        "rcs",
        "text",
        {"text": "Hi", "suggestions": [{"type": "dial", "text": "Call", "phone": "+34 612 345 678"}]},
    )
    assert value.suggestions[0].phone == "+34612345678"
    assert errors_of(
        "rcs", "text", {"text": "Hi", "suggestions": [{"type": "dial", "text": "Call", "phone": "612"}]}
    ) == {"suggestions.0.phone": ["Enter a valid phone number in international format, e.g. +14155550100."]}
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{"type": "dial", "text": "Call"}]}) == {
        "suggestions.0.phone": ["This field is required."]
    }


@pytest.mark.parametrize(
    ("latitude", "longitude", "errors"),
    [
        ("55.7558", "37.6173", {}),
        (-90, 180, {}),
        ("55°45'N", "37.6173", {"suggestions.0.latitude": ["Enter the coordinate in decimal degrees, e.g. 55.7558."]}),
        ("90.0001", "0", {"suggestions.0.latitude": ["Must be between -90 and 90."]}),
        ("0", "-180.5", {"suggestions.0.longitude": ["Must be between -180 and 180."]}),
        ("", "1e3", {
            "suggestions.0.latitude": ["This field is required."],
            "suggestions.0.longitude": ["Enter the coordinate in decimal degrees, e.g. 55.7558."],
        }),
        (True, "0", {"suggestions.0.latitude": ["Enter the coordinate in decimal degrees, e.g. 55.7558."]}),
    ],
)  # fmt: skip
def test_map_action_coordinates_are_decimal_degrees(
    latitude: Any, longitude: Any, errors: dict[str, Any]
) -> None:
    data = {
        "text": "Hi",
        "suggestions": [{"type": "map", "text": "Shop", "latitude": latitude, "longitude": longitude}],
    }
    if errors:
        assert errors_of("rcs", "text", data) == errors
    else:
        ok("rcs", "text", data)


def test_map_action_by_query_and_request_location() -> None:
    ok(
        "rcs",
        "text",
        {
            "text": "Hi",
            "suggestions": [{"type": "map", "text": "Find", "mode": "query", "query": "nearest shop"}],
        },
    )
    ok(
        "rcs",
        "text",
        {"text": "Hi", "suggestions": [{"type": "map", "text": "Share", "mode": "request_location"}]},
    )
    assert errors_of(
        "rcs", "text", {"text": "Hi", "suggestions": [{"type": "map", "text": "Find", "mode": "query"}]}
    ) == {"suggestions.0.query": ["This field is required."]}


def test_calendar_action_title_and_period() -> None:
    event = {
        "type": "calendar",
        "text": "Save",
        "title": "Sale",
        "start": "2026-05-01T09:00",
        "end": "2026-05-01T10:00",
    }
    ok("rcs", "text", {"text": "Hi", "suggestions": [event]})
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{**event, "title": ""}]}) == {
        "suggestions.0.title": ["This field is required."]
    }
    assert errors_of("rcs", "text", {"text": "Hi", "suggestions": [{**event, "end": event["start"]}]}) == {
        "suggestions.0.end": ["The event must end after it starts."]
    }
    assert errors_of(
        "rcs", "text", {"text": "Hi", "suggestions": [{**event, "start": "tomorrow", "end": None}]}
    ) == {
        "suggestions.0.start": ["Enter a date and time such as 2026-05-01T09:30."],
        "suggestions.0.end": ["This field is required."],
    }


def test_carousel_card_count_and_card_paths() -> None:
    value = ok(
        "rcs", "carousel", {"cards": [card()] * 12, "card_width": "small", "suggestions": [REPLY] * 11}
    )
    assert isinstance(value, RcsCarousel)
    assert len(value.cards) == 12
    assert value.cards[0].media is None
    assert errors_of("rcs", "carousel", {"cards": [card()] * 13}) == {
        "cards": ["At most 12 cards (there are 13)."]
    }
    assert errors_of("rcs", "carousel", {"cards": [card()]}) == {"cards": ["Add at least 2 cards."]}
    errors = errors_of(
        "rcs",
        "carousel",
        {"cards": [card(), card(title="t" * 201, suggestions=[REPLY] * 5)], "card_width": "wide"},
    )
    assert errors == {
        "cards.1.title": ["At most 200 characters (it has 201)."],
        "cards.1.suggestions": ["At most 4 suggestions (there are 5)."],
        "card_width": ["Choose one of: small, medium."],
    }


def test_rcs_text_and_file() -> None:
    ok("rcs", "text", {"text": "x" * 2000})
    assert errors_of("rcs", "text", {"text": "x" * 2001}) == {
        "text": ["At most 2000 characters (it has 2001)."]
    }
    assert errors_of("rcs", "text", {"text": "   "}) == {"text": ["This field is required."]}
    ok("rcs", "file", {"file": {"url": "https://cdn.test/menu.pdf", "type": "application/pdf"}})
    assert errors_of("rcs", "file", {}) == {"file": ["Choose a file."]}


# -- Viber (checks 62-63) ----------------------------------------------------------------------------------------


def test_viber_text_limit() -> None:
    ok("viber", "text", {"text": "x" * 1000})
    assert errors_of("viber", "text", {"text": "x" * 1001}) == {
        "text": ["At most 1000 characters (it has 1001)."]
    }


def test_viber_file_type_and_size() -> None:
    mb200 = 200 * 1024 * 1024
    ok("viber", "file", {"url": "https://cdn.test/f", "name": "offer.pdf", "size": mb200})
    assert errors_of(
        "viber", "file", {"url": "https://cdn.test/f", "name": "offer.pdf", "size": mb200 + 1}
    ) == {"size": ["The file is larger than 200 MB."]}
    errors = errors_of("viber", "file", {"url": "https://cdn.test/setup.exe"})
    assert list(errors) == ["name"]
    assert errors["name"][0].startswith("Files of type .exe cannot be sent; allowed:")
    assert errors_of("viber", "file", {"url": "https://cdn.test/a.pdf", "size": "big"}) == {
        "size": ["Expected the file size in bytes."]
    }


def test_viber_buttons() -> None:
    ok("viber", "text_button", {"text": "Hi", "button_text": "b" * 30, "button_url": "https://x.test"})
    assert errors_of(
        "viber", "text_button", {"text": "Hi", "button_text": "b" * 31, "button_url": "x.test"}
    ) == {
        "button_text": ["At most 30 characters (it has 31)."],
        "button_url": ["Enter a full web address starting with http:// or https://."],
    }
    ok(
        "viber",
        "text_media_button",
        {
            "text": "Hi",
            "image_url": "https://cdn.test/a.jpg",
            "button_text": "Go",
            "button_url": "https://x.test",
        },
    )
    errors = errors_of(
        "viber",
        "text_media_button",
        {
            "text": "",
            "image_url": "https://cdn.test/a.mp4",
            "button_text": "Go",
            "button_url": "https://x.test",
        },
    )
    assert errors["text"] == ["This field is required."]
    assert errors["image_url"][0].startswith("Choose an image")


# -- WhatsApp (checks 67-72) -------------------------------------------------------------------------------------


BUTTON = {"text": "OK"}


def test_whatsapp_card_limits() -> None:
    ok(
        "whatsapp",
        "card",
        {
            "header": "h" * 20,
            "body": "b" * 1024,
            "footer": "f" * 60,
            "buttons": [{"text": c * 20} for c in "xyz"],
        },
    )
    assert errors_of(
        "whatsapp",
        "card",
        {
            "header": "h" * 21,
            "body": "b" * 1025,
            "footer": "f" * 61,
            "buttons": [{"text": c} for c in "abcd"],
        },
    ) == {
        "header": ["At most 20 characters (it has 21)."],
        "body": ["At most 1024 characters (it has 1025)."],
        "footer": ["At most 60 characters (it has 61)."],
        "buttons": ["At most 3 buttons (there are 4)."],
    }
    assert errors_of("whatsapp", "card", {"buttons": [{"text": "x" * 21}]}) == {
        "body": ["This field is required."],
        "buttons.0.text": ["At most 20 characters (it has 21)."],
    }
    assert errors_of("whatsapp", "card", {"body": "Hi"}) == {"buttons": ["Add at least 1 button."]}
    assert errors_of("whatsapp", "card", {"body": "Hi", "buttons": [BUTTON, BUTTON]}) == {
        "buttons.1.text": ["Each button needs a different text."]
    }


def options(n: int, title: str = "Option") -> list[dict[str, str]]:
    return [{"title": title} for _ in range(n)]


def test_whatsapp_list_limits() -> None:
    sections = [{"title": "A", "options": options(6)}, {"title": "B", "options": options(4, "x" * 24)}]
    ok("whatsapp", "list", {"body": "Pick", "button": "Menu", "sections": sections})
    eleven = [{"title": "A", "options": options(6)}, {"title": "B", "options": options(5)}]
    assert errors_of("whatsapp", "list", {"body": "Pick", "button": "Menu", "sections": eleven}) == {
        "sections": ["A list has at most 10 options in all (there are 11)."]
    }
    assert errors_of(
        "whatsapp", "list", {"button": "Menu", "sections": [{"options": options(1, "x" * 25)}]}
    ) == {
        "sections.0.options.0.title": ["At most 24 characters (it has 25)."],
        "body": ["This field is required."],
    }
    assert errors_of(
        "whatsapp", "list", {"body": "Pick", "button": "Menu", "sections": [{"options": [{}]}]}
    ) == {"sections.0.options.0.title": ["This field is required."]}
    untitled = [{"options": options(1)}, {"title": "B", "options": options(1)}]
    assert errors_of("whatsapp", "list", {"body": "Pick", "button": "Menu", "sections": untitled}) == {
        "sections.0.title": ["A list with several sections needs a title for each section."]
    }
    ok("whatsapp", "list", {"body": "Pick", "button": "Menu", "sections": [{"options": options(1)}]})


def test_whatsapp_text_file_and_locations() -> None:
    ok("whatsapp", "text", {"text": "x" * 4096})
    assert errors_of("whatsapp", "text", {"text": "x" * 4097}) == {
        "text": ["At most 4096 characters (it has 4097)."]
    }
    ok("whatsapp", "file", {"url": "https://cdn.test/menu.pdf"})
    assert errors_of("whatsapp", "file", {"url": "https://cdn.test/anim.gif"})["name"][0].startswith(
        "Files of type .gif cannot be sent"
    )
    ok("whatsapp", "request_location", {"text": "Where are you?"})
    assert errors_of("whatsapp", "request_location", {}) == {"text": ["This field is required."]}
    value = ok("whatsapp", "send_location", {"latitude": "40.4168", "longitude": "-3.7038", "name": "Shop"})
    assert value.latitude == Decimal("40.4168")
    assert errors_of("whatsapp", "send_location", {"latitude": "40°N", "longitude": "200"}) == {
        "latitude": ["Enter the coordinate in decimal degrees, e.g. 55.7558."],
        "longitude": ["Must be between -180 and 180."],
    }


def test_whatsapp_template_shape() -> None:
    ok("whatsapp", "template", {"name": "order_ready", "language": "pt_BR", "body_params": ["A1", "  two  "]})
    assert errors_of(
        "whatsapp",
        "template",
        {"name": "Order Ready", "language": "english", "header_params": ["a\nb", "", "x     y"]},
    ) == {
        "name": ["A template name has only lower-case letters, digits and underscores."],
        "language": ["Enter a language code such as en or pt_BR."],
        "header_params.0": [
            "A parameter cannot contain a new line, a tab or more than four spaces in a row."
        ],
        "header_params.1": ["Fill in this parameter."],
        "header_params.2": [
            "A parameter cannot contain a new line, a tab or more than four spaces in a row."
        ],
    }
    assert errors_of("whatsapp", "template", {}) == {"name": ["This field is required."]}


# -- push, TTS, mobile push, e-mail (checks 73-75) --------------------------------------------------------------


def test_push_needs_one_part() -> None:
    assert errors_of("push", "push", {}) == {
        NON_FIELD_ERRORS: ["A push needs a picture, a header or a text."]
    }
    for part in ({"image_url": "https://cdn.test/a.png"}, {"header": "Hi"}, {"text": "Hi"}):
        ok("push", "push", part)
    assert errors_of("push", "push", {"image_url": "cdn.test/a.png"}) == {
        "image_url": ["Enter a full web address starting with http:// or https://."]
    }


def test_mobile_push_needs_header_and_body() -> None:
    ok("mobile_push", "mobile_push", {"header": "Hi", "text": "Body"})
    assert errors_of("mobile_push", "mobile_push", {"header": " ", "text": ""}) == {
        "header": ["This field is required."],
        "text": ["This field is required."],
    }


def test_tts_language_and_repeats() -> None:
    value = ok("tts", "tts", {"text": "Hola", "language": "es", "repeat": 3})
    assert (value.language, value.repeat) == ("es", 3)
    assert ok("tts", "tts", {"text": "Hi", "repeat": "1"}).repeat == 1
    assert errors_of("tts", "tts", {"text": "Hi", "language": "fr", "repeat": 4}) == {
        "repeat": ["Choose once, twice or three times."],
        "language": ["Choose English or Spanish."],
    }
    assert errors_of("tts", "tts", {"text": "Hi", "repeat": 0}) == {
        "repeat": ["Choose once, twice or three times."]
    }


def test_email_subject_and_parts() -> None:
    ok(
        "email",
        "email",
        {
            "subject": "s" * 255,
            "subtitle": "Pre",
            "html": "<p>Hi</p>",
            "text": "Hi",
            "design": {"blocks": []},
        },
    )
    assert errors_of("email", "email", {"subject": "s" * 256, "html": "<p>Hi</p>"}) == {
        "subject": ["At most 255 characters (it has 256)."]
    }
    assert errors_of("email", "email", {"subject": "", "design": "x"}) == {
        "design": ["Expected an object."],
        "subject": ["This field is required."],
        "text": ["An e-mail needs an HTML part or a text part."],
    }


def test_content_errors_prefix_paths_and_skip() -> None:
    content = {
        "text": {"text": "x" * 5000},
        "carousel": {"cards": [card(), card(title="t" * 201)]},
        "nope": {},
    }
    assert content_errors("rcs", content, prefix="steps.0.content", skip=frozenset({"text"})) == {
        "steps.0.content.carousel.cards.1.title": ["At most 200 characters (it has 201)."],
        "steps.0.content.nope": ["RCS has no nope format."],
    }


# -- the broadcast step hook -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_broadcast_step_validates_its_formats_through_the_channel_layer(company: Company) -> None:
    bad = {"carousel": {"cards": [card(), card(suggestions=[{**URL, "url": "www.example.com"}])]}}
    data = BroadcastData(
        name="Rich", numbers=[MOBILE], steps=[StepData("rcs", "ACME", text="Hi", formats=bad)]
    )
    with pytest.raises(ValidationError) as info:
        broadcast_validate(company=company, data=data, launching=False)
    assert info.value.message_dict == {
        "steps.0.content.carousel.cards.1.suggestions.0.url": [
            "Enter a full web address starting with http:// or https://."
        ]
    }
    good = {"carousel": {"cards": [card(), card(suggestions=[URL])]}}
    data = BroadcastData(
        name="Rich", numbers=[MOBILE], steps=[StepData("rcs", "ACME", text="Hi", formats=good)]
    )
    broadcast = broadcast_save(company=company, actor=None, data=data)
    step = broadcast.steps.get()
    assert step.content["carousel"] == good["carousel"]
    assert step.content["text"] == {"text": "Hi"}
    assert step_data_of(step).formats == good  # reopening gives the same message


# -- serialisation by the adapters -----------------------------------------------------------------------------


def outbound(channel: str, key: str, content: dict[str, Any], text: str = "") -> OutboundMessage:
    return OutboundMessage(
        message_id=1,
        client_reference=uuid.uuid4().hex,
        channel=ChannelKind(channel),
        sender_id="ACME",
        to=MOBILE,
        payload={"format": key, "content": content, "text": text},
        text=text,
    )


def test_payload_format_reads_only_formatted_payloads() -> None:
    assert payload_format("rcs", {"text": "plain"}) is None
    with pytest.raises(ValidationError):
        payload_format("rcs", {"format": "carousel", "content": {"cards": []}})


def test_rbm_serialises_a_carousel_with_every_suggestion_type() -> None:
    suggestions = [
        {"type": "reply", "text": "Yes", "postback": "yes-1"},
        {"type": "url", "text": "Open", "url": "https://shop.test", "open_mode": "webview"},
        {"type": "dial", "text": "Call", "phone": "+34612345678", "fallback_url": "https://skype.test"},
        {"type": "map", "text": "Shop", "latitude": "55.7558", "longitude": "37.6173", "label": "Red Sq"},
        {"type": "map", "text": "Find", "mode": "query", "query": "nearest shop"},
        {"type": "map", "text": "Share", "mode": "request_location"},
        {
            "type": "calendar",
            "text": "Save",
            "title": "Sale",
            "start": "2026-05-01T09:00:00+00:00",
            "end": "2026-05-01T10:00:00+00:00",
            "description": "Big",
        },
    ]
    content = {
        "card_width": "small",
        "image_height": "short",
        "cards": [
            {
                "title": "One",
                "media": {"url": "https://cdn.test/1.png", "type": "image/png"},
                "suggestions": [REPLY],
            },
            {"text": "Two"},
        ],
        "suggestions": suggestions,
    }
    body = RbmRcsAdapter.body_for(outbound("rcs", "carousel", content, text="One, Two"))
    assert body["contentMessage"]["richCard"] == {
        "carouselCard": {
            "cardWidth": "SMALL",
            "cardContents": [
                {
                    "title": "One",
                    "media": {
                        "height": "SHORT_HEIGHT",
                        "contentInfo": {"fileUrl": "https://cdn.test/1.png", "forceRefresh": False},
                    },
                    "suggestions": [{"reply": {"text": "Yes", "postbackData": "Yes"}}],
                },
                {"description": "Two"},
            ],
        }
    }
    chips = body["contentMessage"]["suggestions"]
    assert chips[0] == {"reply": {"text": "Yes", "postbackData": "yes-1"}}
    assert chips[1]["action"]["openUrlAction"] == {
        "url": "https://shop.test",
        "application": "WEBVIEW",
        "webviewViewMode": "FULL",
    }
    assert chips[2]["action"]["dialAction"] == {"phoneNumber": "+34612345678"}
    assert chips[2]["action"]["fallbackUrl"] == "https://skype.test"
    assert chips[3]["action"]["viewLocationAction"] == {
        "latLong": {"latitude": 55.7558, "longitude": 37.6173},
        "label": "Red Sq",
    }
    assert chips[4]["action"]["viewLocationAction"] == {"query": "nearest shop"}
    assert chips[5]["action"]["shareLocationAction"] == {}
    assert chips[6]["action"]["createCalendarEventAction"] == {
        "startTime": "2026-05-01T09:00:00Z",
        "endTime": "2026-05-01T10:00:00Z",
        "title": "Sale",
        "description": "Big",
    }
    assert all(c["action"]["postbackData"] for c in chips[1:])


def test_rbm_serialises_rich_card_text_and_file() -> None:
    card_body = RbmRcsAdapter.body_for(
        outbound(
            "rcs",
            "rich_card",
            {
                "layout": "horizontal",
                "image_alignment": "right",
                "card": card(media={"url": "https://cdn.test/a.png"}),
            },
        )
    )
    assert card_body["contentMessage"]["richCard"]["standaloneCard"] == {
        "cardOrientation": "HORIZONTAL",
        "thumbnailImageAlignment": "RIGHT",
        "cardContent": {
            "title": "Title",
            "description": "Text",
            "media": {
                "height": "MEDIUM_HEIGHT",
                "contentInfo": {"fileUrl": "https://cdn.test/a.png", "forceRefresh": False},
            },
        },
    }
    assert RbmRcsAdapter.body_for(outbound("rcs", "text", {"text": "Hi"})) == {
        "contentMessage": {"text": "Hi"}
    }
    assert RbmRcsAdapter.body_for(outbound("rcs", "file", {"file": {"url": "https://cdn.test/a.pdf"}})) == {
        "contentMessage": {"contentInfo": {"fileUrl": "https://cdn.test/a.pdf", "forceRefresh": False}}
    }


def test_rbm_refuses_enriched_calls_and_invalid_formats() -> None:
    enriched = {"type": "dial", "text": "Call", "phone": "+34612345678", "action": "enriched"}
    with pytest.raises(AdapterError, match="Google RBM does not support enriched or video calls") as info:
        RbmRcsAdapter.body_for(outbound("rcs", "text", {"text": "Hi", "suggestions": [enriched]}))
    assert info.value.permanent
    assert info.value.vendor_code == "FORMAT-UNSUPPORTED"
    with pytest.raises(AdapterError, match=r"Invalid message: card\.title: At most 200") as bad:
        RbmRcsAdapter.body_for(outbound("rcs", "rich_card", {"card": {"title": "t" * 201}}))
    assert bad.value.permanent
    assert bad.value.vendor_code == "INVALID-CONTENT"


def test_rbm_sends_a_rich_card_to_the_fake_vendor(vendor: FakeVendor) -> None:
    adapter = RbmRcsAdapter(
        {
            "base_url": vendor.url + "/rbm",
            "agent_id": "agent",
            "access_token": TOKEN,
            "client_token": "client-token",
        }
    )
    adapter.send(outbound("rcs", "rich_card", {"card": card(suggestions=[URL])}))
    [(route, body, _headers)] = vendor.bodies
    assert route.startswith("rbm")
    assert body["contentMessage"]["richCard"]["standaloneCard"]["cardContent"]["suggestions"][0]["action"][
        "openUrlAction"
    ] == {"url": "https://www.example.com", "application": "BROWSER"}


CPAAS = {"base_url": "http://x/api/v2/", "api_token": TOKEN, "webhook_secret": "secret-0123456789abcdef"}


@pytest.mark.parametrize(
    ("key", "content", "expected"),
    [
        ("text", {"text": "Hi"}, {"type": "text", "payload": {"text": "Hi"}}),
        (
            "file",
            {"url": "https://cdn.test/f", "name": "offer.pdf", "size": 10},
            {"type": "file", "payload": {"url": "https://cdn.test/f", "file_name": "offer.pdf"}},
        ),
        (
            "text_button",
            {"text": "Hi", "button_text": "Go", "button_url": "https://x.test"},
            {
                "type": "interactive",
                "payload": {"text": "Hi", "button": {"title": "Go", "url": "https://x.test"}},
            },
        ),
        (
            "text_media_button",
            {
                "text": "Hi",
                "image_url": "https://cdn.test/a.jpg",
                "button_text": "Go",
                "button_url": "https://x.test",
            },
            {
                "type": "image",
                "payload": {
                    "text": "Hi",
                    "url": "https://cdn.test/a.jpg",
                    "button": {"title": "Go", "url": "https://x.test"},
                },
            },
        ),
    ],
)
def test_cpaas_serialises_viber_formats(key: str, content: dict[str, Any], expected: dict[str, Any]) -> None:
    kind, body = CpaasAdapter(CPAAS).body_for(outbound("viber", key, content))
    assert kind == "viber"
    assert body["message"] == expected


def test_cpaas_serialises_whatsapp_formats() -> None:
    adapter = CpaasAdapter(CPAAS)

    def message(key: str, content: dict[str, Any]) -> dict[str, Any]:
        kind, body = adapter.body_for(outbound("whatsapp", key, content))
        assert kind == "whatsapp"
        return dict(body["message"])

    assert message(
        "card", {"header": "Sale", "body": "Hi", "footer": "Bye", "buttons": [BUTTON, {"text": "No"}]}
    ) == {
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
    }
    with_image = message("card", {"media_url": "https://cdn.test/a.png", "body": "Hi", "buttons": [BUTTON]})
    assert with_image["payload"]["header"] == {"type": "image", "image": {"link": "https://cdn.test/a.png"}}
    sections = [
        {"title": "A", "options": [{"title": "One", "description": "1"}]},
        {"title": "B", "options": [{"title": "Two"}]},
    ]
    assert message("list", {"body": "Pick", "button": "Menu", "sections": sections})["payload"] == {
        "type": "list",
        "body": {"text": "Pick"},
        "action": {
            "button": "Menu",
            "sections": [
                {"title": "A", "rows": [{"id": "opt-0", "title": "One", "description": "1"}]},
                {"title": "B", "rows": [{"id": "opt-1", "title": "Two"}]},
            ],
        },
    }
    assert message("text", {"text": "Hi"}) == {"type": "text", "payload": {"text": "Hi"}}
    assert message("file", {"url": "https://cdn.test/menu.pdf", "caption": "Menu"}) == {
        "type": "document",
        "payload": {"url": "https://cdn.test/menu.pdf", "filename": "menu.pdf", "caption": "Menu"},
    }
    assert message("file", {"url": "https://cdn.test/a.jpg"}) == {
        "type": "image",
        "payload": {"url": "https://cdn.test/a.jpg"},
    }
    assert message("request_location", {"text": "Where?"})["payload"] == {
        "type": "location_request_message",
        "body": {"text": "Where?"},
        "action": {"name": "send_location"},
    }
    assert message("send_location", {"latitude": "40.4168", "longitude": "-3.7038", "name": "Shop"}) == {
        "type": "location",
        "payload": {"latitude": 40.4168, "longitude": -3.7038, "name": "Shop"},
    }
    assert message("template", {"name": "order_ready", "language": "es", "body_params": ["A1"]}) == {
        "type": "template",
        "payload": {"name": "order_ready", "language": "es", "body_params": ["A1"]},
    }


def test_cpaas_sends_a_whatsapp_list_to_the_fake_vendor(vendor: FakeVendor) -> None:
    adapter = CpaasAdapter({**CPAAS, "base_url": vendor.url + "/api/v2/"})
    sections = [{"options": [{"title": "One"}, {"title": "Two"}]}]
    adapter.send(
        outbound("whatsapp", "list", {"body": "Pick", "button": "Menu", "sections": sections}, "Pick")
    )
    [(route, body, _headers)] = vendor.bodies
    assert route == "cpaas/whatsapp"
    assert body["message"]["payload"]["action"]["sections"][0]["rows"][1] == {"id": "opt-1", "title": "Two"}
    with pytest.raises(AdapterError, match="Invalid message") as info:
        adapter.send(outbound("viber", "text", {"text": "x" * 1001}))
    assert info.value.permanent


def test_simulator_receives_the_validated_format() -> None:
    adapter = SimulatorAdapter({"callback_secret": "x" * 16, "script": []})
    message = outbound("whatsapp", "card", {"body": "Hi", "buttons": [BUTTON]})
    assert adapter.content_of(message) == {
        "format": "card",
        "content": {"body": "Hi", "buttons": [{"text": "OK"}]},
    }
    assert adapter.content_of(outbound("sms", "", {})) == {}
    with pytest.raises(AdapterError, match="Invalid message") as info:
        adapter.send(outbound("rcs", "carousel", {"cards": [card()] * 13}))
    assert info.value.permanent


# -- preview -----------------------------------------------------------------------------------------------------


def test_preview_of_an_rcs_carousel_and_rich_card() -> None:
    content = {
        "cards": [
            {"title": "<b>One</b>", "media": {"url": "https://cdn.test/1.png"}, "suggestions": [URL]},
            {"text": "Two\nlines"},
        ],
        "suggestions": [REPLY],
    }
    html = format_preview(message_from_json("rcs", "carousel", content))
    assert html.count('role="listitem"') == 2
    assert "&lt;b&gt;One&lt;/b&gt;" in html  # escaped
    assert 'src="https://cdn.test/1.png"' in html
    assert "Two<br>lines" in html
    assert 'msg-chip msg-chip-reply">Yes<' in html
    assert 'msg-chip-url">Open<' in html
    card_html = format_preview(message_from_json("rcs", "rich_card", {"card": card(), "layout": "vertical"}))
    assert "msg-card-vertical" in card_html
    assert '<strong class="msg-title">Title</strong>' in card_html


def test_preview_of_a_whatsapp_card() -> None:
    html = format_preview(
        message_from_json(
            "whatsapp", "card", {"header": "Sale", "body": "Hi", "footer": "Bye", "buttons": [BUTTON]}
        )
    )
    assert '<strong class="msg-title">Sale</strong>' in html
    assert '<small class="msg-footer">Bye</small>' in html
    assert 'msg-button">OK<' in html
    tts = format_preview(message_from_json("tts", "tts", {"text": "Hi"}))
    assert "🔊 Hi" in tts
    assert "Read in English, once." in tts
