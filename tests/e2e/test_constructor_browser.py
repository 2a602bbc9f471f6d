"""The message constructor in a real browser (issue 8): compose an RCS carousel of two cards with suggestions in a
new broadcast, watch the live preview, save it as a draft, reopen it and find the same content, then launch it to
a number scripted in the simulator and find both cards in what the simulator received."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from broadcasts.models import Broadcast, BroadcastStep
from channels_out.models import Message, SimulatorRule
from channels_out.services import simulator_connection_create
from channels_out.vendors.simulator.adapter import received
from tests.e2e.conftest import htmx_idle
from tests.factories import PASSWORD, make_company, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NUMBER = "+34612000011"
E = "#s-0-c-editor"


def _add(page: Any, path: str, then: str) -> None:
    """Click the constructor's add button of list ``path`` and wait for the field ``then`` it brings."""
    page.click(f'{E} [data-add="{path}"]')
    page.locator(then).wait_for()
    htmx_idle(page)


def test_rcs_carousel_composed_saved_reopened_and_sent(
    page: Any, sign_in: Callable[[str, str], None]
) -> None:
    company = make_company("Browser Constructor Co")
    make_user(company, [system_role(company, "admin")], login="ctor-admin")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    SimulatorRule.objects.create(
        company=company, pattern=NUMBER, channel="rcs", report="delivered", report_delay_seconds=0
    )
    sign_in("ctor-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto("/broadcasts/new/")
    page.fill("#id_name", "Carousel run")
    page.fill("#id_numbers", NUMBER)
    page.click('[data-add-step="rcs"]')
    page.locator(E).wait_for()
    htmx_idle(page)
    page.fill("#s-0-sender_id", "ACME")

    # Format switch re-renders the editor through htmx.
    page.select_option("#s-0-c-format", "carousel")
    page.locator(f'{E}[data-format="carousel"]').wait_for()
    htmx_idle(page)
    _add(page, "cards", "#s-0-c-cards-0-title")
    _add(page, "cards", "#s-0-c-cards-1-title")
    page.fill("#s-0-c-cards-0-title", "Spring")
    page.fill("#s-0-c-cards-0-text", "New collection for ")
    # The personalisation buttons insert into the editor's field last focused.
    page.focus("#s-0-c-cards-0-text")
    page.click('[data-placeholders-for="s-0-c-editor"] [data-insert="{{first_name}}"]')
    assert page.input_value("#s-0-c-cards-0-text") == "New collection for {{first_name}}"
    page.fill("#s-0-c-cards-1-title", "Summer")
    page.fill("#s-0-c-cards-1-text", "Beach wear")
    _add(page, "cards.0.suggestions", "#s-0-c-cards-0-suggestions-0-text")
    page.fill("#s-0-c-cards-0-suggestions-0-text", "Yes")
    _add(page, "suggestions", "#s-0-c-suggestions-0-type")
    page.select_option("#s-0-c-suggestions-0-type", "url")  # shows the URL fields
    page.locator("#s-0-c-suggestions-0-url").wait_for()
    htmx_idle(page)
    page.fill("#s-0-c-suggestions-0-text", "Shop")
    page.fill("#s-0-c-suggestions-0-url", "https://example.com/shop")
    # The recipient's preview follows the typing.
    preview = page.locator("#s-0-c-preview")
    preview.locator(".msg-chip", has_text="Shop").wait_for()
    htmx_idle(page)
    assert preview.locator('[role="listitem"]').count() == 2
    assert "Summer" in preview.inner_text()

    page.click("#broadcast-draft")
    page.wait_for_url("**/broadcasts/")
    broadcast = Broadcast.objects.get(company=company)
    content = BroadcastStep.objects.get(broadcast=broadcast).content
    assert list(content) == ["carousel"]
    assert [c["title"] for c in content["carousel"]["cards"]] == ["Spring", "Summer"]
    assert content["carousel"]["cards"][0]["text"] == "New collection for {{first_name}}"

    # Reopen: the same content in the same fields.
    page.goto(f"/broadcasts/{broadcast.uuid}/edit/")
    page.locator(f'{E}[data-format="carousel"]').wait_for()
    htmx_idle(page)
    assert page.input_value("#s-0-c-cards-0-title") == "Spring"
    assert page.input_value("#s-0-c-cards-1-text") == "Beach wear"
    assert page.input_value("#s-0-c-cards-0-suggestions-0-text") == "Yes"
    assert page.input_value("#s-0-c-suggestions-0-type") == "url"
    assert page.input_value("#s-0-c-suggestions-0-url") == "https://example.com/shop"
    assert page.locator("#s-0-c-preview .msg-card").count() == 2

    page.click("#broadcast-launch")
    page.wait_for_url(f"**/broadcasts/{broadcast.uuid}/")
    message = Message.objects.get(company=company, channel="rcs")
    assert message.payload["format"] == "carousel"
    got = received(message.client_reference)
    assert got is not None
    assert [c["title"] for c in got["content"]["cards"]] == ["Spring", "Summer"]
    assert (
        got["content"]["cards"][0]["text"] == "New collection for"
    )  # personalised (no contact name), stripped
    assert got["content"]["suggestions"][0]["url"] == "https://example.com/shop"
