"""Assets in a real browser (issue 8 items 6 and 7): in a broadcast's WhatsApp card step, choose an image from the
media library, upload another one in place (it lands in the library), save the step's message as a content template
and pick it in a second step."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from assets.models import ContentTemplate, MediaFile
from assets.services import media_upload
from broadcasts.models import Broadcast
from tests.e2e.conftest import htmx_idle
from tests.factories import PASSWORD, make_company, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FIELD = "#mf-s-0-c-media_url"


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(out, format="PNG")
    return out.getvalue()


def test_pick_upload_save_and_reuse_a_message(
    page: Any, sign_in: Callable[[str, str], None], tmp_path: Any
) -> None:
    company = make_company("Browser Assets Co")
    make_user(company, [system_role(company, "admin")], login="assets-admin")
    stored = media_upload(
        company=company,
        actor=None,
        upload=SimpleUploadedFile("spring.png", _png((200, 0, 0))),
        channel="whatsapp",
    )
    sign_in("assets-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto("/broadcasts/new/")
    page.fill("#id_name", "Card run")
    page.click('[data-add-step="whatsapp"]')
    page.locator("#s-0-c-editor").wait_for()
    htmx_idle(page)
    page.select_option("#s-0-c-format", "card")
    page.locator(FIELD).wait_for()
    htmx_idle(page)

    # Choose from library: the picker lists the company's image; a click fills the field with its public URL.
    page.click(f"{FIELD}-choose")
    page.click(f'{FIELD}-picker [data-media="{stored.uuid}"]')
    page.wait_for_function("id => document.getElementById(id).value.includes('/m/')", arg=FIELD[1:])
    assert page.input_value(FIELD).endswith(f"/m/{stored.uuid}/spring.png")
    assert page.locator(f"{FIELD}-picker .media-picker").count() == 0  # the picker closed
    # The picked URL counts as a change of the editor: the recipient preview shows the image.
    page.locator(f'#s-0-c-preview img[src$="/m/{stored.uuid}/spring.png"]').wait_for()
    htmx_idle(page)

    # Upload from the device: checked for WhatsApp, stored in the library, and picked.
    upload = tmp_path / "summer.png"
    upload.write_bytes(_png((0, 0, 200)))
    page.click(f"{FIELD}-choose")
    page.set_input_files(f"{FIELD}-file", str(upload))
    page.click(f"{FIELD}-upload")
    page.wait_for_function("id => document.getElementById(id).value.endsWith('summer.png')", arg=FIELD[1:])
    new = MediaFile.objects.get(company=company, filename="summer.png")
    assert page.input_value(FIELD).endswith(f"/m/{new.uuid}/summer.png")
    # The public URL serves the file without the session (vendors fetch it).
    assert page.request.get(page.input_value(FIELD)).body() == _png((0, 0, 200))

    # Save the step's message as a content template.
    page.fill("#s-0-c-body", "Summer sale starts today")
    if page.locator("#s-0-c-buttons-0-text").count() == 0:
        page.click('#s-0-c-editor [data-add="buttons"]')
        page.locator("#s-0-c-buttons-0-text").wait_for()
        htmx_idle(page)
    page.fill("#s-0-c-buttons-0-text", "Shop now")
    page.fill("#s-0-c-ct-name", "Summer card")
    page.press("#s-0-c-ct-name", "Enter")  # Enter saves the template, not the broadcast form around it
    page.locator("#s-0-c-ct-saved").wait_for()
    htmx_idle(page)
    assert page.locator("#s-0-c-ct-tools .form-error").count() == 0
    template = ContentTemplate.objects.get(company=company)
    assert not Broadcast.objects.filter(company=company).exists()
    assert (template.name, template.format_key) == ("Summer card", "card")
    assert template.content["body"] == "Summer sale starts today"
    assert template.content["media_url"].endswith("summer.png")

    # A second WhatsApp step picks it: its editor is replaced with the template's message.
    page.click('[data-add-step="whatsapp"]')
    page.locator("#s-1-c-editor").wait_for()
    htmx_idle(page)
    page.click("#s-1-c-ct-pick")
    page.click(f'#s-1-c-ct-list [data-template="{template.uuid}"]')
    page.locator('#s-1-c-editor[data-format="card"]').wait_for()
    htmx_idle(page)
    assert page.input_value("#s-1-c-body") == "Summer sale starts today"
    assert page.input_value("#mf-s-1-c-media_url").endswith("summer.png")


def test_whatsapp_template_step_picks_an_approved_template_and_fills_its_parameters(
    page: Any, sign_in: Callable[[str, str], None]
) -> None:
    from tests.assets.factories import approved_whatsapp_template

    company = make_company("Browser WA Templates Co")
    make_user(company, [system_role(company, "admin")], login="wa-admin")
    approved_whatsapp_template(
        company, "order_ready", header="Hi {{1}}", body="Order {{1}} is ready at {{2}}."
    )
    sign_in("wa-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")
    page.goto("/broadcasts/new/")
    page.click('[data-add-step="whatsapp"]')
    page.locator("#s-0-c-editor").wait_for()
    htmx_idle(page)
    page.select_option("#s-0-c-format", "template")
    page.locator("#s-0-c-template").wait_for()
    htmx_idle(page)
    page.select_option("#s-0-c-template", "order_ready:en")
    # The editor re-renders with exactly the template's parameters: 1 in the header, 2 in the body.
    page.locator("#s-0-c-body_params-1").wait_for()
    htmx_idle(page)
    assert page.locator("[id^=s-0-c-header_params-]").count() == 1
    assert page.locator("input[id^=s-0-c-body_params-]").count() == 2
    page.fill("#s-0-c-header_params-0", "{{first_name}}")
    page.fill("#s-0-c-body_params-0", "A-17")
    page.fill("#s-0-c-body_params-1", "the shop")
    page.select_option("#s-0-c-template", "order_ready:en")  # a re-render keeps the values
    page.locator("#s-0-c-wa-preview").wait_for()
    htmx_idle(page)
    page.wait_for_function(
        "() => document.querySelector('#s-0-c-wa-preview').textContent.includes('Order A-17 is ready at the shop.')"
    )
    assert "Hi {{first_name}}" in page.text_content("#s-0-c-wa-preview")
