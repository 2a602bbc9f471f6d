"""Rich payloads in the channel layer (issue 8): which stored format is sent, personalisation of every text,
the send-time check with field paths and the text summary of the message log, and the file limits at their
boundaries (guide §12.1 Viber, §13.2 WhatsApp)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from broadcasts.personalize import render_tree
from channels_out.formats import FORMATS, message_from_json, sent_format_key
from channels_out.formats.viber import FILE_EXTENSIONS as VIBER_EXTENSIONS
from channels_out.formats.whatsapp import FILE_EXTENSIONS as WHATSAPP_EXTENSIONS
from channels_out.validation import payload_text

MB = 1024 * 1024

MINIMAL: dict[tuple[str, str], dict[str, Any]] = {
    ("rcs", "text"): {"text": "Hi"},
    ("rcs", "file"): {"file": {"url": "https://cdn.test/a.pdf"}},
    ("rcs", "rich_card"): {"card": {"title": "Card"}},
    ("rcs", "carousel"): {"cards": [{"title": "One"}, {"text": "Two"}]},
    ("viber", "text"): {"text": "Hi"},
    ("viber", "file"): {"url": "https://cdn.test/a.pdf"},
    ("viber", "text_button"): {"text": "Hi", "button_text": "Go", "button_url": "https://x.test"},
    ("viber", "text_media_button"): {
        "text": "Hi",
        "image_url": "https://cdn.test/a.png",
        "button_text": "Go",
        "button_url": "https://x.test",
    },
    ("whatsapp", "card"): {"body": "Hi", "buttons": [{"text": "OK"}]},
    ("whatsapp", "list"): {"body": "Pick", "button": "Menu", "sections": [{"options": [{"title": "One"}]}]},
    ("whatsapp", "text"): {"text": "Hi"},
    ("whatsapp", "file"): {"url": "https://cdn.test/a.pdf", "caption": "Menu"},
    ("whatsapp", "request_location"): {"text": "Where?"},
    ("whatsapp", "send_location"): {"latitude": "1.5", "longitude": "2", "name": "Shop"},
    ("whatsapp", "template"): {"name": "order_ready", "body_params": ["A-1"]},
    ("push", "push"): {"header": "Sale", "text": "Today"},
    ("mobile_push", "mobile_push"): {"header": "Hi", "text": "Shipped"},
    ("tts", "tts"): {"text": "Your code is 1 2 3"},
    ("email", "email"): {"subject": "Sale", "text": "Hello"},
}
SUMMARY = {
    ("rcs", "text"): "Hi",
    ("rcs", "file"): "a.pdf",
    ("rcs", "rich_card"): "Card",
    ("rcs", "carousel"): "One | Two",
    ("viber", "file"): "a.pdf",
    ("viber", "text_button"): "Hi",
    ("whatsapp", "card"): "Hi | OK",
    ("whatsapp", "list"): "Pick | Menu | One",
    ("whatsapp", "file"): "a.pdf | Menu",
    ("whatsapp", "send_location"): "Shop",
    ("whatsapp", "template"): "order_ready (en): A-1",
    ("push", "push"): "Sale | Today",
    ("mobile_push", "mobile_push"): "Hi | Shipped",
    ("email", "email"): "Sale | Hello",
}


def test_every_format_payload_is_accepted_with_a_summary() -> None:
    assert set(MINIMAL) == set(FORMATS)
    for (channel, key), content in MINIMAL.items():
        summary = payload_text(channel, {"format": key, "content": content})
        assert summary == SUMMARY.get((channel, key), summary)
        assert isinstance(summary, str)


def test_format_payload_errors_name_the_field_path() -> None:
    with pytest.raises(ValidationError) as info:
        payload_text("rcs", {"format": "carousel", "content": {"cards": [{"title": "t" * 201}, {}]}})
    assert info.value.messages == [
        "cards.0.title: At most 200 characters (it has 201).",
        "cards.1: A card needs an image, a title or a text.",
    ]
    with pytest.raises(ValidationError) as push:
        payload_text("push", {"format": "push", "content": {}})
    assert push.value.messages == ["A push needs a picture, a header or a text."]
    with pytest.raises(ValidationError) as unknown:
        payload_text("viber", {"format": "carousel", "content": {}})
    assert unknown.value.messages == ["Viber has no carousel format."]
    with pytest.raises(ValidationError, match="An SMS has no message formats"):
        payload_text("sms", {"format": "text", "content": {"text": "Hi"}})
    with pytest.raises(ValidationError, match="The message content must be an object"):
        payload_text("rcs", {"format": "text", "content": "Hi"})


def test_plain_payloads_keep_their_checks() -> None:
    assert payload_text("viber", {"text": "Hi"}) == "Hi"
    with pytest.raises(ValidationError, match="Viber allows at most 1000"):
        payload_text("viber", {"text": "x" * 1001})


@pytest.mark.parametrize(
    ("channel", "content", "expected"),
    [
        ("rcs", {"text": {"text": "Hi"}}, None),
        ("rcs", {"text": {"text": "Hi"}, "carousel": {"cards": []}}, "carousel"),
        ("rcs", {"text": {"text": "Hi", "suggestions": [{"type": "reply", "text": "Yes"}]}}, "text"),
        ("rcs", {"text": {"text": "Hi"}, "rich_card": {}, "carousel": {}}, "rich_card"),  # the guide's order
        ("viber", {"text": {"text": "Hi"}, "text_media_button": {}}, "text_media_button"),
        ("sms", {"text": {"text": "Hi"}, "carousel": {}}, None),  # not a format of the channel
        ("push", {"text": {"text": "Hi", "header": "H"}, "push": {}}, "push"),
        ("email", {"text": {"text": "Hi", "subject": "S"}}, None),
    ],
)
def test_sent_format_key(channel: str, content: dict[str, Any], expected: str | None) -> None:
    assert sent_format_key(channel, content) == expected


def test_render_tree_fills_every_string_leaf_and_keeps_the_rest() -> None:
    content = {
        "cards": [{"title": "Hi {{first_name}}", "suggestions": [{"type": "reply", "text": "{{ CITY }}"}]}],
        "repeat": 2,
        "flag": True,
        "latitude": "40.1",
    }
    assert render_tree(content, {"first_name": "Ana", "city": "Madrid"}) == {
        "cards": [{"title": "Hi Ana", "suggestions": [{"type": "reply", "text": "Madrid"}]}],
        "repeat": 2,
        "flag": True,
        "latitude": "40.1",
    }


# -- file limits at their boundaries -------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", sorted(VIBER_EXTENSIONS))
def test_viber_file_accepts_each_listed_type(ext: str) -> None:
    message_from_json("viber", "file", {"url": f"https://cdn.test/file.{ext.upper()}"})


@pytest.mark.parametrize("ext", ["exe", "webp", "mov", "zip", "html", ""])
def test_viber_file_refuses_other_types(ext: str) -> None:
    name = f"file.{ext}" if ext else "file"
    with pytest.raises(ValidationError) as info:
        message_from_json("viber", "file", {"url": f"https://cdn.test/{name}?sig=1"})
    assert list(info.value.message_dict) == ["name"]


def test_viber_file_type_comes_from_the_name_when_given() -> None:
    message_from_json("viber", "file", {"url": "https://cdn.test/f/123", "name": "report.pdf"})
    with pytest.raises(ValidationError):
        message_from_json("viber", "file", {"url": "https://cdn.test/f/123.pdf", "name": "report.exe"})


@pytest.mark.parametrize(
    ("channel", "limit"), [("viber", 200 * MB), ("whatsapp", 100 * MB)], ids=["viber-200MB", "whatsapp-100MB"]
)
def test_file_size_limit_at_its_boundary(channel: str, limit: int) -> None:
    message_from_json(channel, "file", {"url": "https://cdn.test/a.pdf", "size": limit})
    with pytest.raises(ValidationError) as info:
        message_from_json(channel, "file", {"url": "https://cdn.test/a.pdf", "size": limit + 1})
    assert info.value.message_dict == {"size": [f"The file is larger than {limit // MB} MB."]}


@pytest.mark.parametrize("ext", sorted(WHATSAPP_EXTENSIONS))
def test_whatsapp_file_accepts_each_listed_type(ext: str) -> None:
    message_from_json("whatsapp", "file", {"url": f"https://cdn.test/file.{ext}"})


@pytest.mark.parametrize("ext", ["gif", "webm", "txt", "xls", "ppt", "exe"])
def test_whatsapp_file_refuses_other_types(ext: str) -> None:
    with pytest.raises(ValidationError) as info:
        message_from_json("whatsapp", "file", {"url": f"https://cdn.test/file.{ext}"})
    assert list(info.value.message_dict) == ["name"]


def test_viber_media_button_takes_only_images() -> None:
    base = {"text": "Hi", "button_text": "Go", "button_url": "https://x.test"}
    message_from_json("viber", "text_media_button", {**base, "image_url": "https://cdn.test/a.svg"})
    with pytest.raises(ValidationError) as info:
        message_from_json("viber", "text_media_button", {**base, "image_url": "https://cdn.test/a.mp4"})
    assert list(info.value.message_dict) == ["image_url"]


def test_render_tree_percent_encodes_values_in_links() -> None:
    content = {
        "text": "Hi {{first_name}}",
        "button_url": "https://shop.test/?n={{first_name}}",
        "design": {"blocks": [{"type": "button", "text": "{{first_name}}", "url": "mailto:{{email}}"}]},
    }
    rendered = render_tree(content, {"first_name": "Ana María&co", "email": "ana@example.com"})
    assert rendered == {
        "text": "Hi Ana María&co",
        "button_url": "https://shop.test/?n=Ana%20Mar%C3%ADa%26co",
        "design": {"blocks": [{"type": "button", "text": "Ana María&co", "url": "mailto:ana@example.com"}]},
    }
    link = message_from_json("viber", "text_button", {**rendered, "button_text": "Go"})
    assert link.to_json()["button_url"] == rendered["button_url"]
