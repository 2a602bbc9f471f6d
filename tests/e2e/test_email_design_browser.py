"""The e-mail constructor in a real browser (issue 8 item 4; inventory checks 76-77): compose a broadcast e-mail
step of three blocks (text, image, button) with a placeholder, drag a block, switch the preview between devices,
save, reopen and find the same blocks in the same order, then launch it to the simulator and find the rendered,
personalised HTML in the message's payload."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from broadcasts.models import Broadcast, BroadcastStep
from channels_out.models import Message
from channels_out.services import simulator_connection_create
from contacts.services.contacts import ContactData, contact_create
from tests.factories import PASSWORD, make_company, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = "#s-0-c-email"
F = "s-0-c-design-blocks"


def _kinds(page: Any) -> list[str]:
    kinds: list[str] = page.eval_on_selector_all(
        f"{ROOT} > .eml-columns .eml-blocks > .eml-block", "els => els.map(e => e.dataset.emlBlock)"
    )
    return kinds


def _settled(page: Any) -> None:
    """Wait until no htmx request of the editor is in flight."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def _add(page: Any, kind: str, count: int) -> None:
    page.click(f'{ROOT} [data-eml-add="{kind}"]')
    page.wait_for_function(
        f"() => document.querySelectorAll('{ROOT} .eml-blocks > .eml-block').length === {count}"
    )
    _settled(page)


def _change(page: Any, selector: str, value: str) -> None:
    page.fill(selector, value)
    page.dispatch_event(selector, "change")
    _settled(page)


def _frame_width(page: Any) -> float:
    box = page.locator(f"{ROOT} .eml-preview iframe").bounding_box()
    assert box is not None
    return float(box["width"])


def test_compose_reopen_and_send_an_email(page: Any, sign_in: Callable[[str, str], None]) -> None:
    company = make_company("Browser Mail Co")
    make_user(company, [system_role(company, "admin")], login="mail-admin")
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    contact_create(
        company=company,
        actor=None,
        data=ContactData(phone="+34612000009", first_name="Ann <3", email="ann@example.com", tags=["Letter"]),
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in("mail-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")

    page.goto("/broadcasts/new/")
    page.fill("#id_name", "Spring letter")
    page.select_option("#id_tags", label="Letter")
    page.click('[data-add-step="email"]')
    page.locator(ROOT).wait_for()
    page.fill("#s-0-sender_id", "ACME")
    page.fill("#s-0-wait_value", "10")
    page.select_option("#s-0-wait_unit", "s")

    _change(page, "#s-0-c-subject", "Spring news")
    _add(page, "text", 1)
    page.fill(f"#{F}-0-text", "Hello ")
    page.click(f'{ROOT} [data-eml-insert="{{{{first_name}}}}"]')  # the personalisation toolbar
    _settled(page)
    assert page.input_value(f"#{F}-0-text") == "Hello {{first_name}}"
    _add(page, "image", 2)
    _change(page, f'[name="{F}-1-src"]', "https://cdn.example/spring.png")
    _change(page, f"#{F}-1-alt", "Spring banner")
    _add(page, "button", 3)
    _change(page, f"#{F}-2-text", "Shop now")
    _change(page, f"#{F}-2-url", "https://shop.example/spring")
    assert _kinds(page) == ["text", "image", "button"]
    assert page.locator(f"{ROOT} .form-error").count() == 0

    # Drag the button above the image by its handle (SortableJS), then put it back with the keyboard's Up/Down.
    handle = page.locator(f"#{F}-2 .eml-handle").bounding_box()
    target = page.locator(f"#{F}-1 .eml-block-head").bounding_box()
    assert handle is not None
    assert target is not None
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["x"] + 40, target["y"] + target["height"] / 2, steps=12)
    page.mouse.move(target["x"] + 40, target["y"] + 2, steps=6)
    page.mouse.up()
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{ROOT} .eml-blocks > .eml-block')].map(e => e.dataset.emlBlock)"
        ".join() === 'text,button,image'"
    )
    _settled(page)
    assert _kinds(page) == ["text", "button", "image"]
    page.click(f'#{F}-1 button[value="down:1"]')
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{ROOT} .eml-blocks > .eml-block')].map(e => e.dataset.emlBlock)"
        ".join() === 'text,image,button'"
    )
    _settled(page)

    # The preview on three devices: the frame narrows for a phone and widens for a wide screen.
    preview = page.frame_locator(f"{ROOT} .eml-preview iframe")
    preview.locator("text=Shop now").wait_for()
    assert preview.locator("img[alt='Spring banner']").count() == 1
    desktop = _frame_width(page)
    page.click(f'{ROOT} [data-eml-device="mobile"]')
    mobile = _frame_width(page)
    page.click(f'{ROOT} [data-eml-device="wide"]')
    wide = _frame_width(page)
    assert mobile <= 380 < desktop < wide
    assert page.get_attribute(f'{ROOT} [data-eml-device="wide"]', "aria-pressed") == "true"
    page.click(f'{ROOT} [data-eml-device="desktop"]')
    assert _frame_width(page) == desktop

    page.locator("#broadcast-draft").scroll_into_view_if_needed()
    page.wait_for_timeout(200)  # let the scroll settle: the tall preview frame sits just above the buttons
    page.click("#broadcast-draft")
    page.wait_for_url("**/broadcasts/")  # a draft goes back to the list
    broadcast = Broadcast.objects.get(name="Spring letter")
    step = BroadcastStep.objects.get(broadcast=broadcast)
    email = step.content["email"]
    assert [b["type"] for b in email["design"]["blocks"]] == ["text", "image", "button"]
    assert "Hello {{first_name}}" in email["html"]

    # Reopen: the same blocks, in the same order, with their values.
    page.goto(f"/broadcasts/{broadcast.uuid}/edit/")
    page.locator(ROOT).wait_for()
    assert _kinds(page) == ["text", "image", "button"]
    assert page.input_value(f"#{F}-0-text") == "Hello {{first_name}}"
    assert page.input_value(f'[name="{F}-1-src"]') == "https://cdn.example/spring.png"
    assert page.input_value(f"#{F}-2-url") == "https://shop.example/spring"
    assert page.input_value("#s-0-c-subject") == "Spring news"

    page.click("#broadcast-launch")
    page.wait_for_url("**/broadcasts/*-*/")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not Message.objects.filter(channel="email").exists():
        page.wait_for_timeout(250)
    message = Message.objects.get(channel="email")
    assert message.address == "ann@example.com"
    html = message.payload["content"]["html"]
    assert html.startswith("<!DOCTYPE html>")
    assert "Hello Ann &lt;3</p>" in html  # the contact's value, escaped into the designed HTML
    assert 'href="https://shop.example/spring"' in html
    assert html.index("Spring banner") < html.index("Shop now")
    assert message.payload["content"]["subject"] == "Spring news"
    assert "Hello Ann <3" in message.payload["content"]["text"]
