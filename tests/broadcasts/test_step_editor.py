"""The message constructor in the broadcast and template steps editor (issue 8): rich steps saved in
``BroadcastStep.content``, reopened as saved, refused on the server at each limit with the field's path, sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from broadcasts import services
from broadcasts.forms import steps_edit
from broadcasts.models import Broadcast, BroadcastStep, BroadcastTemplate
from broadcasts.services import BroadcastData, StepData
from channels_out.constructor import render_editor
from channels_out.formats import message_from_json
from channels_out.models import Connection, Message
from channels_out.vendors.simulator.adapter import received
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.broadcasts.conftest import Capture
from tests.channels_out.test_constructor import fields_of

ClientFor = Callable[[User], Client]
NUMBER = "+4915112345678"
P = "s-0-c"  # the constructor prefix of the first step


def card(n: int, **extra: Any) -> dict[str, Any]:
    return {"title": f"Card {n}", "text": "Spring collection", **extra}


def _step(channel: str, key: str, data: dict[str, Any], **row: str) -> dict[str, str]:
    """The posted fields of step 0: its plain fields and its constructor editor's, as the page renders them."""
    fields = fields_of(render_editor(None, prefix=P, channel=channel, format_key=key, data=data)).values
    return {
        "s-0-channel": channel,
        "s-0-sender_id": "ACME",
        "s-0-wait_for": "submit" if channel == "push" else "delivery",
        "s-0-wait_value": "10",
        "s-0-wait_unit": "min",
        **fields,
        **row,
    }


def _form(step: dict[str, str], **extra: str) -> dict[str, str]:
    return {"name": "Rich run", "numbers": NUMBER, "instantly": "on", "type": "fallback", **step, **extra}


def _save(client: Client, data: dict[str, str], url: str = "") -> Any:
    return client.post(url or reverse("broadcasts:broadcast-create"), {"action": "draft", **data})


def _errors(response: Any) -> dict[str, list[str]]:
    return fields_of(response.content.decode()).errors


# -- boundaries: accepted at N, refused at N+1 with the message next to the field -----------------------------

BOUNDARIES = [
    pytest.param("carousel", {"cards": [card(i) for i in range(12)]}, "cards", id="12 cards"),
    pytest.param(
        "text",
        {"text": "Hi", "suggestions": [{"type": "reply", "text": f"R{i}"} for i in range(11)]},
        "suggestions",
        id="11 message suggestions",
    ),
    pytest.param(
        "rich_card",
        {"card": card(0, suggestions=[{"type": "reply", "text": f"R{i}"} for i in range(4)])},
        "card.suggestions",
        id="4 card suggestions",
    ),
    pytest.param("rich_card", {"card": {"title": "T" * 200}}, "card.title", id="title 200"),
    pytest.param("rich_card", {"card": {"text": "x" * 2000}}, "card.text", id="card text 2000"),
    pytest.param(
        "carousel", {"cards": [card(0), card(1, title="T" * 200)]}, "cards.1.title", id="card 2 title"
    ),
]


def _one_more(data: dict[str, Any], path: str) -> dict[str, Any]:
    """``data`` with one item or one character more at ``path``."""
    import copy

    bigger = copy.deepcopy(data)
    parts = path.split(".")
    parent: Any = bigger
    for part in parts[:-1]:
        parent = parent[int(part)] if part.isdigit() else parent[part]
    last = parts[-1]
    value = parent[last]
    parent[last] = [*value, copy.deepcopy(value[-1])] if isinstance(value, list) else value + "x"
    return bigger


@pytest.mark.parametrize(("key", "data", "path"), BOUNDARIES)
def test_rcs_limits_accepted_at_n_refused_at_n_plus_one(
    key: str, data: dict[str, Any], path: str, company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    client = htmx_client_for(admin_user)
    refused = _save(client, _form(_step("rcs", key, _one_more(data, path))))
    assert refused.status_code == 200
    assert list(_errors(refused)) == [path]
    assert "Check the steps of the chain." in refused.content.decode()
    assert not Broadcast.objects.exists()  # nothing half written
    accepted = _save(client, _form(_step("rcs", key, data)))
    assert accepted.status_code == 200
    assert accepted["HX-Redirect"] == reverse("broadcasts:broadcast-list")
    (stored,) = BroadcastStep.objects.get().content.items()
    assert stored[0] == key
    assert message_from_json("rcs", key, stored[1]) == message_from_json("rcs", key, data)


@pytest.mark.parametrize(
    ("channel", "key", "data", "path", "message"),
    [
        ("rcs", "text", {"text": "Hi", "suggestions": [{"type": "url", "text": "Go", "url": "www.example.com"}]},
         "suggestions.0.url", "Enter a full web address starting with http:// or https://."),
        ("rcs", "text", {"text": "Hi", "suggestions": [
            {"type": "map", "text": "Here", "mode": "coordinates", "latitude": "55°45'", "longitude": "37.6"}]},
         "suggestions.0.latitude", "Enter the coordinate in decimal degrees, e.g. 55.7558."),
        ("rcs", "text", {"text": "Hi", "suggestions": [{"type": "calendar", "text": "Save", "title": "A",
                                                       "start": "2026-05-01T10:00", "end": "2026-05-01T09:00"}]},
         "suggestions.0.end", "The event must end after it starts."),
        ("viber", "text_button", {"text": "Hi", "button_text": "Go", "button_url": "example"},
         "button_url", "Enter a full web address starting with http:// or https://."),
        ("whatsapp", "card", {"body": "Hi"}, "buttons", "Add at least 1 button."),
        ("whatsapp", "list", {"body": "Hi", "button": "Pick", "sections": [
            {"title": "A", "options": [{"title": f"O{i}"} for i in range(11)]}]},
         "sections.0.options", "At most 10 options (there are 11)."),
        ("tts", "tts", {"text": "Hi", "repeat": "4"}, "repeat", "Choose once, twice or three times."),
        ("mobile_push", "mobile_push", {"text": "Hi"}, "header", "This field is required."),
    ],
)  # fmt: skip
def test_bad_content_is_refused_on_the_server_by_field_path(
    channel: str,
    key: str,
    data: dict[str, Any],
    path: str,
    message: str,
    company: Company,
    admin_user: User,
    htmx_client_for: ClientFor,
) -> None:
    """Posted as a client bypassing the browser would (e.g. a repeat of 4 that no option offers)."""
    step = _step(channel, key, data)
    if key == "tts":
        step[f"{P}-repeat"] = "4"
    response = _save(htmx_client_for(admin_user), _form(step))
    assert message in _errors(response)[path]
    assert not Broadcast.objects.exists()


def test_push_steps_cannot_wait_for_delivery(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    step = _step("push", "push", {"header": "Sale"}, **{"s-0-wait_for": "delivery"})
    response = _save(htmx_client_for(admin_user), _form(step))
    assert "Push has no Delivery status; wait for Submit." in response.content.decode()
    assert not Broadcast.objects.exists()


# -- saved, reopened, copied into templates ---------------------------------------------------------------------


def test_draft_reopens_with_the_same_content(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    client = htmx_client_for(admin_user)
    data = {
        "cards": [
            card(
                0, media={"url": "https://example.com/a.jpg"}, suggestions=[{"type": "reply", "text": "Yes"}]
            ),
            card(
                1,
                suggestions=[
                    {"type": "url", "text": "Open", "url": "https://example.com", "open_mode": "webview"}
                ],
            ),
        ],
        "card_width": "small",
        "image_height": "medium",
        "suggestions": [{"type": "dial", "text": "Call", "phone": "+14155550100", "action": "phone"}],
    }
    _save(client, _form(_step("rcs", "carousel", data)))
    broadcast = Broadcast.objects.get()
    assert broadcast.steps.get().content == {"carousel": data}
    page = client.get(reverse("broadcasts:broadcast-edit", args=[broadcast.uuid])).content.decode()
    values = fields_of(page).values
    assert values[f"{P}-format"] == "carousel"
    # Saving the reopened page unchanged keeps the same message.
    resaved = {k: v for k, v in values.items() if k.startswith("s-0-")}
    response = _save(client, _form(resaved), reverse("broadcasts:broadcast-edit", args=[broadcast.uuid]))
    assert response["HX-Redirect"] == reverse("broadcasts:broadcast-list")
    assert broadcast.steps.get().content == {"carousel": data}


def test_steps_editor_keeps_each_steps_message_when_reordered(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """Up / down / remove renumber the steps; each step's constructor fields follow their step."""
    first = _step("rcs", "rich_card", {"card": {"title": "Rich"}})
    second = {
        k.replace("s-0-", "s-1-"): v for k, v in _step("viber", "text", {"text": "Plain Viber"}).items()
    }
    body = (
        htmx_client_for(admin_user)
        .post(reverse("broadcasts:broadcast-create"), _form({**first, **second}, op="up:1"))
        .content.decode()
    )
    values = fields_of(body).values
    assert values["s-0-channel"] == "viber"
    assert values["s-0-c-text"] == "Plain Viber"
    assert values["s-1-c-format"] == "rich_card"
    assert values["s-1-c-card-title"] == "Rich"


def test_new_step_gets_its_channels_first_format_and_sms_keeps_its_counter(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    client = htmx_client_for(admin_user)
    body = client.post(reverse("broadcasts:broadcast-create"), _form({}, op="add:whatsapp")).content.decode()
    assert 'id="s-0-c-editor"' in body
    assert fields_of(body).values["s-0-c-format"] == "text"
    body = client.post(reverse("broadcasts:broadcast-create"), _form({}, op="add:sms")).content.decode()
    assert 'id="s-0-c-editor"' not in body
    assert 'id="step-0-counter"' in body
    assert 'name="s-0-text"' in body


def test_plain_push_step_reopens_in_the_push_editor(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    """A push step saved as plain text before the constructor (or through the API) opens as its one format."""
    data = BroadcastData(
        name="Old",
        numbers=[NUMBER],
        steps=[StepData("push", "ACME", wait_for="submit", text="Body", title="Head")],
    )
    broadcast = services.broadcast_save(company=company, actor=None, data=data)
    page = htmx_client_for(admin_user).get(reverse("broadcasts:broadcast-edit", args=[broadcast.uuid]))
    values = fields_of(page.content.decode()).values
    assert values["s-0-c-format"] == "push"
    assert values["s-0-c-header"] == "Head"
    assert values["s-0-c-text"] == "Body"


def test_blank_rich_step_may_be_a_draft_but_not_launched(
    company: Company, simulator: Connection, admin_user: User, htmx_client_for: ClientFor
) -> None:
    client = htmx_client_for(admin_user)
    step = _step("rcs", "carousel", {})
    assert _save(client, _form(step))["HX-Redirect"] == reverse("broadcasts:broadcast-list")
    response = client.post(reverse("broadcasts:broadcast-create"), {"action": "launch", **_form(step)})
    assert _errors(response) == {"cards": ["Add at least 2 cards."]}


def test_template_form_saves_a_constructor_step(
    company: Company, admin_user: User, htmx_client_for: ClientFor
) -> None:
    client = htmx_client_for(admin_user)
    data = {"text": "Hi", "button_text": "Shop", "button_url": "https://example.com/shop"}
    form = {**_form(_step("viber", "text_button", data)), "name": "Weekly", "recurrence": "none"}
    form.pop("instantly")
    response = client.post(reverse("broadcasts:template-create"), {"action": "save", **form})
    assert response.status_code == 200
    template = BroadcastTemplate.objects.get()
    assert template.steps[0]["formats"] == {"text_button": data}
    page = client.get(reverse("broadcasts:template-edit", args=[template.uuid])).content.decode()
    values = fields_of(page).values
    assert values["s-0-c-format"] == "text_button"
    assert values["s-0-c-button_url"] == "https://example.com/shop"


# -- access and sending ------------------------------------------------------------------------------------------


def test_other_companys_broadcast_is_404_and_role_without_permission_403(
    company: Company,
    other_company: Company,
    viewer: User,
    outsider: User,
    htmx_client_for: ClientFor,
) -> None:
    data = BroadcastData(
        name="Mine", numbers=[NUMBER], steps=[StepData("rcs", "ACME", formats={"text": {"text": "Hi"}})]
    )
    broadcast = services.broadcast_save(company=company, actor=None, data=data)
    url = reverse("broadcasts:broadcast-edit", args=[broadcast.uuid])
    step = _step("rcs", "text", {"text": "Changed"})
    assert htmx_client_for(outsider).post(url, _form(step, op="add:sms")).status_code == 404
    assert htmx_client_for(viewer).post(url, _form(step, op="add:sms")).status_code == 403
    assert (
        htmx_client_for(viewer).post(reverse("broadcasts:broadcast-create"), _form(step)).status_code == 403
    )
    assert broadcast.steps.get().content == {"text": {"text": "Hi"}}


def test_launched_carousel_reaches_the_simulator_with_both_cards(
    company: Company,
    simulator: Connection,
    admin_user: User,
    htmx_client_for: ClientFor,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    data = {
        "cards": [card(0, suggestions=[{"type": "reply", "text": "Yes"}]), card(1)],
        "suggestions": [{"type": "url", "text": "Shop", "url": "https://example.com/shop"}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = htmx_client_for(admin_user).post(
            reverse("broadcasts:broadcast-create"),
            {"action": "launch", **_form(_step("rcs", "carousel", data))},
        )
    assert "HX-Redirect" in response
    message = Message.objects.get(channel="rcs")
    assert message.payload["format"] == "carousel"
    assert [c["title"] for c in message.payload["content"]["cards"]] == ["Card 0", "Card 1"]
    got = received(message.client_reference)
    assert got is not None
    assert got["format"] == "carousel"
    assert len(got["content"]["cards"]) == 2


def test_steps_edit_moves_and_removes_keeping_the_order() -> None:
    """Guide §6.7 item 3: up / down / remove keep the other steps in order; out-of-range ops change nothing."""
    rows = [{"channel": c} for c in ("sms", "viber", "rcs")]

    def channels(op: str) -> list[str]:
        return [r["channel"] for r in steps_edit(rows, op)]

    assert channels("down:0") == ["viber", "sms", "rcs"]
    assert channels("up:2") == ["sms", "rcs", "viber"]
    assert channels("remove:1") == ["sms", "rcs"]
    for unchanged in ("up:0", "down:2", "remove:3", "remove:-1", "up:x", "add:fax", "swap:1"):
        assert channels(unchanged) == ["sms", "viber", "rcs"], unchanged
    assert channels("add:email")[-1] == "email"
    assert [r["channel"] for r in rows] == ["sms", "viber", "rcs"]  # the posted rows are not changed in place
