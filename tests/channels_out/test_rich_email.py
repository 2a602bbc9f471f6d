"""The e-mail format (guide §14) over real SMTP: subject, subtitle, HTML and plain-text parts, open tracking.

The constructor's e-mail reaches the relay as multipart/alternative; an HTML-only design still gets a readable
plain-text part; the open pixel is kept; personalised values are escaped in the HTML part only.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from broadcasts.personalize import render_tree
from channels_out import services
from channels_out.models import Connection, Message
from channels_out.vendors.smtp.adapter import plain_text_of
from portal.tenants.models import Company
from tests.broadcasts import conftest as broadcast_fixtures
from tests.channels_out import test_email
from tests.channels_out.test_email import Capture, Inbox
from tests.contacts.factories import make_contact

inbox, smtp = test_email.inbox, test_email.smtp  # the SMTP server and connection fixtures
launch = broadcast_fixtures.launch

HTML = (
    "<html><body><table role='presentation'><tr><td><h1>Spring sale</h1></td></tr>"
    "<tr><td><p>Hello <b>Anna</b>,<br>20% off &amp; free shipping.</p></td></tr></table></body></html>"
)


def _send(company: Company, capture: Capture, content: dict[str, Any]) -> Message:
    with capture(execute=True):
        message = services.message_send(
            company=company,
            actor=None,
            channel="email",
            sender_id="news@acme.test",
            to="anna@example.com",
            payload={"format": "email", "content": content},
            origin="api",
        )
    message.refresh_from_db()
    return message


@pytest.mark.django_db
def test_email_format_goes_out_multipart_with_tracking(
    company: Company, smtp: Connection, inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    content = {"subject": "Spring sale", "subtitle": "20% off", "html": HTML, "text": "Hello Anna, 20% off."}
    message = _send(company, django_capture_on_commit_callbacks, content)
    assert message.status == "submitted"
    assert message.text == "Spring sale | 20% off | Hello Anna, 20% off."
    [got] = inbox.messages
    assert (got["Subject"], got["X-Preheader"]) == ("Spring sale", "20% off")
    assert got.get_content_type() == "multipart/alternative"
    text, html = got.get_body(("plain",)), got.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Hello Anna, 20% off."
    assert "<b>Anna</b>" in html.get_content()
    assert re.search(
        rf'<img src="http://testserver/hooks/smtp/{smtp.uuid}/open/[^"]+\.gif"', html.get_content()
    )


@pytest.mark.django_db
def test_html_only_email_gets_a_plain_text_part(
    company: Company, smtp: Connection, inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    _send(company, django_capture_on_commit_callbacks, {"subject": "Spring sale", "html": HTML})
    text = inbox.messages[0].get_body(("plain",))
    assert text is not None
    assert text.get_content().strip().splitlines() == [
        "Spring sale",
        "",
        "Hello Anna,",
        "20% off & free shipping.",
    ]


@pytest.mark.django_db
def test_email_without_subject_is_refused_before_sending(
    company: Company, smtp: Connection, inbox: Inbox
) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        services.message_send(
            company=company, actor=None, channel="email", sender_id="news@acme.test", to="anna@example.com",
            payload={"format": "email", "content": {"subject": "", "text": "Hi"}}, origin="api",
        )  # fmt: skip
    assert info.value.messages == ["subject: This field is required."]
    assert inbox.messages == []
    assert not Message.objects.exists()


def test_plain_text_of_html() -> None:
    assert plain_text_of("<p>A</p><p>B &lt;C&gt;</p>") == "A\nB <C>"
    assert plain_text_of("<div>One<br/>Two</div>\n\n\n<div>Three</div>") == "One\nTwo\n\nThree"


def test_personalised_values_are_escaped_in_the_html_part_only() -> None:
    content = {
        "subject": "Hi {{first_name}}",
        "html": "<p>Hi {{first_name}}</p>",
        "text": "Hi {{first_name}}",
    }
    assert render_tree(content, {"first_name": "<Ann & Bo>"}) == {
        "subject": "Hi <Ann & Bo>",
        "html": "<p>Hi &lt;Ann &amp; Bo&gt;</p>",
        "text": "Hi <Ann & Bo>",
    }


@pytest.mark.django_db
def test_broadcast_email_design_is_personalised_and_rendered_per_recipient(
    company: Company, smtp: Connection, inbox: Inbox, launch: Any
) -> None:
    """An e-mail step stored as a design only: the engine personalises its leaves (escaped in the HTML, encoded
    in links), the format renders HTML and text, and SMTP carries both to each contact."""
    from broadcasts.services import StepData

    make_contact(company, "+34612000001", first_name="Ana <b>", email="ana@example.com")
    design = {
        "blocks": [
            {"type": "text", "text": "Hello {{first_name}}"},
            {"type": "button", "text": "Buy now", "url": "https://shop.example/?c={{first_name}}"},
        ]
    }
    step = StepData(
        channel="email", sender_id="news@acme.test", text="Hello", title="Sale",
        formats={"email": {"subject": "Sale for {{first_name}}", "design": design}},
    )  # fmt: skip
    launch(numbers=["+34612000001"], steps=[step])
    [got] = inbox.messages
    assert got["Subject"] == "Sale for Ana <b>"
    html, text = got.get_body(("html",)), got.get_body(("plain",))
    assert html is not None
    assert text is not None
    assert "Hello Ana &lt;b&gt;" in html.get_content()
    assert "<b>" not in html.get_content().split("Hello Ana", 1)[1][:20]
    assert 'href="https://shop.example/?c=Ana%20%3Cb%3E"' in html.get_content()
    assert "Hello Ana <b>" in text.get_content()
    sent = Message.objects.get(channel="email")
    assert sent.payload["format"] == "email"
    assert sent.text.startswith("Sale for Ana <b> | Hello Ana <b>")
