"""The message constructor (issue 8): every editor reads back what it renders, its endpoint re-renders one editor
(format switch, list operations, preview), and its access rules."""

from __future__ import annotations

import copy
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from channels_out.constructor import EDITORS, formats_for, read_message, render_editor
from channels_out.constructor.schema import apply_op
from channels_out.formats import message_from_json
from portal.accounts.models import User

ClientFor = Callable[[User], Client]
URL_NAME = "channels_out:constructor-editor"
PREFIX = "m"

CAL = {
    "type": "calendar",
    "text": "Save",
    "title": "Launch",
    "start": "2026-05-01T09:30",
    "end": "2026-05-01T10:30",
    "description": "At the shop",
}
SUGGESTIONS = [
    {"type": "reply", "text": "Yes", "postback": "yes"},
    {"type": "url", "text": "Open", "url": "https://example.com/a", "open_mode": "webview"},
    {"type": "dial", "text": "Call", "phone": "+14155550100", "action": "phone"},
    {"type": "map", "text": "Here", "mode": "coordinates", "latitude": "55.7558", "longitude": "37.6173"},
    {"type": "map", "text": "Find", "mode": "query", "query": "coffee near me", "label": "Coffee"},
    {"type": "map", "text": "Share", "mode": "request_location"},
    CAL,
]
CARD = {
    "media": {"url": "https://example.com/a.jpg"},
    "title": "Spring",
    "text": "New collection",
    "suggestions": [{"type": "reply", "text": "More"}],
}

# One filled-in message per editor: what a user composes, as the format's JSON.
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("rcs", "text"): {"text": "Hello", "suggestions": SUGGESTIONS},
    ("rcs", "file"): {"file": {"url": "https://example.com/a.pdf"}, "suggestions": SUGGESTIONS[:1]},
    ("rcs", "rich_card"): {
        "card": CARD,
        "layout": "horizontal",
        "image_alignment": "right",
        "image_height": "tall",
        "suggestions": SUGGESTIONS[:2],
    },
    ("rcs", "carousel"): {
        "cards": [CARD, {**CARD, "title": "Summer"}],
        "card_width": "small",
        "image_height": "short",
        "suggestions": [CAL],
    },
    ("viber", "text"): {"text": "Hi"},
    ("viber", "file"): {"url": "https://example.com/price.pdf", "name": "price.pdf"},
    ("viber", "text_button"): {"text": "Hi", "button_text": "Go", "button_url": "https://example.com"},
    ("viber", "text_media_button"): {
        "text": "Hi",
        "image_url": "https://example.com/a.png",
        "button_text": "Go",
        "button_url": "https://example.com",
    },
    ("whatsapp", "text"): {"text": "Hi"},
    ("whatsapp", "card"): {
        "media_url": "https://example.com/a.png",
        "header": "Sale",
        "body": "Today only",
        "footer": "Acme",
        "buttons": [{"text": "Yes"}, {"text": "No"}],
    },
    ("whatsapp", "list"): {
        "header": "Menu",
        "body": "Pick one",
        "footer": "Acme",
        "button": "Options",
        "sections": [
            {"title": "Drinks", "options": [{"title": "Tea", "description": "Hot"}, {"title": "Coffee"}]},
            {"title": "Sweets", "options": [{"title": "Cake"}]},
        ],
    },
    ("whatsapp", "file"): {"url": "https://example.com/a.pdf", "name": "a.pdf", "caption": "The price list"},
    ("whatsapp", "request_location"): {"text": "Where are you?"},
    ("whatsapp", "send_location"): {
        "latitude": "55.7558",
        "longitude": "37.6173",
        "name": "Shop",
        "address": "Main street 1",
    },
    ("push", "push"): {"image_url": "https://example.com/a.png", "header": "Sale", "text": "Today"},
    ("tts", "tts"): {"text": "Your code is 1 2 3", "language": "es", "repeat": "3"},
    ("mobile_push", "mobile_push"): {"header": "Sale", "text": "Today"},
}


class _Fields(HTMLParser):
    """The values a browser would submit from an HTML fragment (inputs, textareas, selected options)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.errors: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and "name" in a:
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            self.values.setdefault(a["name"], "")
        elif tag == "option" and self._select and ("selected" in a or not self.values[self._select]):
            self.values[self._select] = a["value"]
        elif "data-error-for" in a:
            self._error = a["data-error-for"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif self._error is not None and tag in ("p", "li"):
            self._error = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data
        elif self._error is not None and data.strip():
            self.errors.setdefault(self._error, []).append(data.strip())


def fields_of(html: str) -> _Fields:
    parser = _Fields()
    parser.feed(html)
    return parser


def test_every_non_email_format_has_an_editor() -> None:
    assert set(SAMPLES) <= set(EDITORS)
    assert [k for k, _label in formats_for("rcs")] == ["text", "file", "rich_card", "carousel"]
    assert [k for k, _label in formats_for("viber")] == ["text", "file", "text_button", "text_media_button"]
    assert {"card", "list", "text", "file", "request_location", "send_location"} <= {
        k for k, _label in formats_for("whatsapp")
    }
    assert formats_for("sms") == []  # the SMS composer keeps its own page fields and counter


@pytest.mark.parametrize(("channel", "key"), sorted(SAMPLES))
def test_editor_reads_back_what_it_renders(channel: str, key: str) -> None:
    """Render a composed message, submit the fields as a browser would: the same JSON, valid for its format."""
    data = SAMPLES[(channel, key)]
    html = render_editor(None, prefix=PREFIX, channel=channel, format_key=key, data=data)
    assert f'id="{PREFIX}-editor"' in html
    posted = fields_of(html).values
    assert read_message(posted, PREFIX) == (key, data)
    message_from_json(channel, key, data)  # the sample itself is a valid message


@pytest.mark.parametrize(("channel", "key"), sorted(SAMPLES))
def test_stored_json_reopens_unchanged(channel: str, key: str) -> None:
    """The format's own JSON (``to_json``, what a step stores) renders into fields that read back to it."""
    stored = message_from_json(channel, key, SAMPLES[(channel, key)]).to_json()
    html = render_editor(None, prefix=PREFIX, channel=channel, format_key=key, data=stored)
    _key, read = read_message(fields_of(html).values, PREFIX)
    assert message_from_json(channel, key, read) == message_from_json(channel, key, stored)


def test_list_operations_add_remove_and_reorder_by_path() -> None:
    fields = EDITORS[("rcs", "carousel")].fields
    data = copy.deepcopy(SAMPLES[("rcs", "carousel")])
    apply_op(fields, data, "add:cards")
    assert len(data["cards"]) == 3
    assert data["cards"][2] == {}
    apply_op(fields, data, "add:cards.0.suggestions")
    assert data["cards"][0]["suggestions"][-1] == {"type": "reply"}
    apply_op(fields, data, "up:cards.1")
    assert [c.get("title") for c in data["cards"]] == ["Summer", "Spring", None]
    apply_op(fields, data, "remove:cards.2")
    apply_op(fields, data, "down:cards.0")
    assert [c.get("title") for c in data["cards"]] == ["Spring", "Summer"]
    for bad in ("add:nope", "remove:cards.9", "up:cards", "add:", "explode:cards.0"):
        before = copy.deepcopy(data)
        apply_op(fields, data, bad)
        assert data == before, bad
    card = EDITORS[("rcs", "rich_card")].fields
    single: dict[str, Any] = {}
    apply_op(card, single, "add:card.suggestions")
    assert single == {"card": {"suggestions": [{"type": "reply"}]}}


def test_add_stops_at_the_lists_maximum() -> None:
    fields = EDITORS[("rcs", "carousel")].fields
    data: dict[str, Any] = {"cards": [{} for _ in range(12)]}
    apply_op(fields, data, "add:cards")
    assert len(data["cards"]) == 12
    html = render_editor(None, prefix=PREFIX, channel="rcs", format_key="carousel", data=data)
    assert 'data-add="cards"' in html
    assert 'hx-vals=\'{"prefix": "m", "cop": "add:cards"}\'\n                disabled' in html


def test_errors_show_next_to_their_field_and_the_rest_on_top() -> None:
    errors = {
        "cards.1.title": ["At most 200 characters (it has 201)."],
        "cards": ["At most 12 cards (there are 13)."],
        "cards.0.suggestions.0.url": ["Enter a full web address starting with http:// or https://."],
        "__all__": ["Something about the whole message."],
        "somewhere.else": ["An error of a path the editor lacks."],
    }
    data = {"cards": [{"suggestions": [{"type": "url", "url": "www.example.com"}]}, {"title": "x" * 201}]}
    html = render_editor(None, prefix=PREFIX, channel="rcs", format_key="carousel", data=data, errors=errors)
    shown = fields_of(html).errors
    for path in ("cards.1.title", "cards", "cards.0.suggestions.0.url", "somewhere.else"):
        assert shown[path] == errors[path] or shown[path] == [path, *errors[path]], path
    assert shown[""] == ["Something about the whole message."]


# -- the endpoint ----------------------------------------------------------------------------------------------


def _post(client: Client, data: dict[str, str], **extra: str) -> Any:
    return client.post(reverse(URL_NAME), {"prefix": PREFIX, **data, **extra})


def _editor_fields(channel: str, key: str, data: dict[str, Any]) -> dict[str, str]:
    html = render_editor(None, prefix=PREFIX, channel=channel, format_key=key, data=data)
    return fields_of(html).values


def test_endpoint_switches_format_and_keeps_what_fits(admin_user: User, htmx_client_for: ClientFor) -> None:
    client = htmx_client_for(admin_user)
    posted = _editor_fields("rcs", "text", {"text": "Hello"})
    posted[f"{PREFIX}-format"] = "carousel"
    response = _post(client, posted)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="constructor"')
    assert f'id="{PREFIX}-editor"' in body
    assert fields_of(body).values[f"{PREFIX}-format"] == "carousel"
    assert f'name="{PREFIX}-cards-n" value="0"' in body
    assert response["X-Portal-Company"]  # the layout checks the company of every fragment
    # Back to text: the text typed before is still there.
    again = fields_of(_post(client, {**posted, f"{PREFIX}-format": "text"}).content.decode()).values
    assert again[f"{PREFIX}-text"] == "Hello"


def test_endpoint_adds_cards_and_suggestions(admin_user: User, htmx_client_for: ClientFor) -> None:
    client = htmx_client_for(admin_user)
    posted = _editor_fields("rcs", "carousel", {"cards": [{"title": "One"}]})
    body = _post(client, posted, cop="add:cards").content.decode()
    values = fields_of(body).values
    assert values[f"{PREFIX}-cards-n"] == "2"
    assert values[f"{PREFIX}-cards-0-title"] == "One"
    assert values[f"{PREFIX}-cards-1-title"] == ""
    body = _post(client, values, cop="add:cards.1.suggestions").content.decode()
    values = fields_of(body).values
    assert values[f"{PREFIX}-cards-1-suggestions-0-type"] == "reply"
    # Choosing a map suggestion shows its location fields (the type select re-renders the editor).
    values[f"{PREFIX}-cards-1-suggestions-0-type"] = "map"
    values = fields_of(_post(client, values).content.decode()).values
    assert f"{PREFIX}-cards-1-suggestions-0-latitude" in values
    values = fields_of(_post(client, values, cop="remove:cards.0").content.decode()).values
    assert values[f"{PREFIX}-cards-n"] == "1"
    assert values[f"{PREFIX}-cards-0-suggestions-0-type"] == "map"


def test_endpoint_preview_follows_the_fields(admin_user: User, htmx_client_for: ClientFor) -> None:
    client = htmx_client_for(admin_user)
    posted = _editor_fields("rcs", "carousel", SAMPLES[("rcs", "carousel")])
    posted[f"{PREFIX}-cards-1-title"] = "Autumn"
    body = _post(client, posted, part="preview").content.decode()
    assert 'class="msg-preview msg-preview-rcs"' in body
    assert "Autumn" in body
    assert "Spring" in body
    assert 'role="listitem"' in body
    assert body.count('role="listitem"') == 2
    assert "<input" not in body  # the preview alone
    tts = _post(
        client, _editor_fields("tts", "tts", SAMPLES[("tts", "tts")]), part="preview"
    ).content.decode()
    assert "Read in Spanish, 3 times." in tts


def test_endpoint_refuses_unknown_editors(admin_user: User, htmx_client_for: ClientFor) -> None:
    client = htmx_client_for(admin_user)
    assert _post(client, {f"{PREFIX}-channel": "sms"}).status_code == 400
    assert client.post(reverse(URL_NAME), {"prefix": '"><script>', "x-channel": "rcs"}).status_code == 400


def test_endpoint_role_without_a_composing_permission_gets_403(
    viewer: User, htmx_client_for: ClientFor
) -> None:
    response = _post(htmx_client_for(viewer), _editor_fields("rcs", "text", {"text": "Hi"}))
    assert response.status_code == 403


def test_endpoint_needs_a_signed_in_member(client: Client) -> None:
    response = client.post(reverse(URL_NAME), {"prefix": PREFIX, f"{PREFIX}-channel": "rcs"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_endpoint_only_accepts_post(admin_user: User, htmx_client_for: ClientFor) -> None:
    assert htmx_client_for(admin_user).get(reverse(URL_NAME)).status_code == 405
