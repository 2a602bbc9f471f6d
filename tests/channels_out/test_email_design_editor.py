"""The e-mail block editor through the Django client with htmx headers: add, reorder, remove, errors per block,
the personalisation toolbar of the user's own company, and the role check (guide §7.4.5.1, inventory check 76)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from broadcasts.models import Broadcast, BroadcastStep
from channels_out.constructor import render_editor
from channels_out.email_design.editor import preview_document, read
from contacts.models import ContactAttribute
from contacts.services.attributes import attribute_create
from portal.accounts.models import User
from portal.tenants.models import Company

ClientFor = Callable[[User], Client]
PREFIX = "s-0-c"
URL = "/constructor/email/"


class Fields(HTMLParser):
    """The values a browser would post from a rendered editor (inputs, textareas, selects; no buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type") not in ("button", "submit"):
            self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.pairs.append((a.get("name", ""), ""))
        elif tag == "select":
            self._select, self._first_option, self._chosen = a.get("name"), None, False
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a and not self._chosen:
                self._chosen = True
                self.pairs.append((self._select, a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea:
            name, value = self.pairs[-1]
            self.pairs[-1] = (name, value + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select:
            if not self._chosen:
                self.pairs.append((self._select, self._first_option or ""))
            self._select = None


def posted(html: str, **changes: str | list[str]) -> dict[str, list[str]]:
    """The editor's fields as posted, with ``changes`` (``s-0-c__subject``: ``__`` stands for ``-``)."""
    parser = Fields()
    parser.feed(html)  # attribute values and text come unescaped
    data: dict[str, list[str]] = {}
    for name, value in parser.pairs:
        data.setdefault(name, []).append(value)
    for name, change in changes.items():
        data[name.replace("__", "-")] = change if isinstance(change, list) else [change]
    data["prefix"] = [PREFIX]
    return data


def block_kinds(html: str) -> list[str]:
    """The top-level blocks in page order."""
    return re.findall(r'data-eml-block="(\w+)"\s+data-path="\d+"', html)


def send(client: Client, data: dict[str, list[str]]) -> str:
    response = client.post(URL, data)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


@pytest.fixture
def bm_client(htmx_client_for: Callable[[User], Client], broadcast_manager: User) -> Client:
    return htmx_client_for(broadcast_manager)


def test_url_name() -> None:
    assert reverse("channels_out:email-editor") == URL


def test_add_three_blocks_fill_them_and_read_the_design(bm_client: Client) -> None:
    html = send(bm_client, {"prefix": [PREFIX], f"{PREFIX}-eop": ["add:text"]})
    assert "<html" not in html  # the fragment only
    assert html.startswith('<div class="eml-editor"') or 'id="s-0-c-email"' in html
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "add:image"}))
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "add:button"}))
    assert block_kinds(html) == ["text", "image", "button"]
    # The new image and button have no address yet: each block shows its own error.
    image = html[html.index('data-eml-block="image"') : html.index('data-eml-block="button"')]
    assert "This field is required." in image
    assert "1 error" in image
    data = posted(
        html,
        **{
            f"{PREFIX}__subject": "Spring sale",
            f"{PREFIX}__design-blocks-0-text": "Hello {{first_name}} <script>x</script>",
            f"{PREFIX}__design-blocks-1-src": "https://cdn.example/banner.png",
            f"{PREFIX}__design-blocks-1-alt": "Banner",
            f"{PREFIX}__design-blocks-2-text": "Shop now",
            f"{PREFIX}__design-blocks-2-url": "https://shop.example/",
        },
    )
    html = send(bm_client, data)
    assert "form-error" not in html
    assert 'class="eml-block has-error"' not in html
    # The preview is the rendered e-mail (escaped once more inside srcdoc).
    assert "Hello {{first_name}} &amp;lt;script&amp;gt;x&amp;lt;/script&amp;gt;" in html
    query = QueryDict(mutable=True)
    for name, values in posted(html).items():
        query.setlist(name, values)
    content = read(query, PREFIX)
    assert content["subject"] == "Spring sale"
    assert [b["type"] for b in content["design"]["blocks"]] == ["text", "image", "button"]
    assert content["html"].startswith("<!DOCTYPE html>")
    assert "Hello {{first_name}} &lt;script&gt;x&lt;/script&gt;" in content["html"]
    assert "Shop now: https://shop.example/" in content["text"]


def test_reorder_by_drag_order_and_by_buttons_then_remove(bm_client: Client) -> None:
    html = ""
    data: dict[str, list[str]] = {"prefix": [PREFIX]}
    for kind in ("text", "divider", "spacer"):
        data[f"{PREFIX}-eop"] = [f"add:{kind}"]
        html = send(bm_client, data)
        data = posted(html)
    assert block_kinds(html) == ["text", "divider", "spacer"]
    # A drag moves the elements, so the order inputs arrive in the new page order.
    html = send(bm_client, posted(html, **{f"{PREFIX}__design-blocks-order": ["2", "0", "1"]}))
    assert block_kinds(html) == ["spacer", "text", "divider"]
    # The keyboard's way: Up on the last block, Down on the first.
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "up:2"}))
    assert block_kinds(html) == ["spacer", "divider", "text"]
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "down:0"}))
    assert block_kinds(html) == ["divider", "spacer", "text"]
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "remove:1"}))
    assert block_kinds(html) == ["divider", "text"]
    # Impossible operations change nothing.
    for op in ("up:0", "down:1", "remove:7", "add:video", "add:text:0", "bogus"):
        assert block_kinds(send(bm_client, posted(html, **{f"{PREFIX}__eop": op}))) == ["divider", "text"]


def test_wrapper_holds_blocks_in_columns_and_reports_their_errors(bm_client: Client) -> None:
    html = send(bm_client, {"prefix": [PREFIX], f"{PREFIX}-eop": ["add:wrapper"]})
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "add:button:0"}))
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "add:wrapper:0"}))  # no wrapper in a wrapper
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "add:text:0"}))
    assert re.findall(r'data-eml-block="(\w+)"\s+data-path="0\.\d"', html) == ["button", "text"]
    html = send(
        bm_client,
        posted(
            html,
            **{
                f"{PREFIX}__design-blocks-0-columns": "2",
                f"{PREFIX}__design-blocks-0-blocks-0-url": "javascript:alert(1)",
            },
        ),
    )
    button = html[html.index('data-path="0.0"') : html.index('data-path="0.1"')]
    assert "Enter an e-mail link such as" not in button
    assert "Enter a full web address starting with http:// or https://." in button
    html = send(bm_client, posted(html, **{f"{PREFIX}__eop": "remove:0.0"}))
    assert re.findall(r'data-eml-block="(\w+)"\s+data-path="0\.\d"', html) == ["text"]
    assert "form-error" not in html


def test_placeholders_are_the_users_company_attributes(
    htmx_client_for: ClientFor,
    broadcast_manager: User,
    outsider: User,
    company: Company,
    other_company: Company,
) -> None:
    attribute_create(company=company, actor=None, name="LoyaltyTier", type=ContactAttribute.Type.TEXT)
    attribute_create(company=other_company, actor=None, name="GlobexSecret", type=ContactAttribute.Type.TEXT)
    ours = send(htmx_client_for(broadcast_manager), {"prefix": [PREFIX]})
    theirs = send(htmx_client_for(outsider), {"prefix": [PREFIX]})
    assert 'data-eml-insert="{{LoyaltyTier}}"' in ours
    assert "GlobexSecret" not in ours
    assert 'data-eml-insert="{{GlobexSecret}}"' in theirs
    assert "LoyaltyTier" not in theirs
    assert 'data-eml-insert="{{first_name}}"' in ours


def test_role_without_message_editing_gets_403(htmx_client_for: ClientFor, viewer: User) -> None:
    assert htmx_client_for(viewer).post(URL, {"prefix": PREFIX}).status_code == 403


def test_bad_prefix_and_get_are_refused(bm_client: Client) -> None:
    assert bm_client.post(URL, {"prefix": "<x>"}).status_code == 400
    assert bm_client.get(URL, {"prefix": PREFIX}).status_code == 405


def test_anonymous_is_sent_to_login(client: Client) -> None:
    response = client.post(URL, {"prefix": PREFIX})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# -- inside the message constructor (the broadcast step editor) ------------------------------------------------

DESIGN = {
    "blocks": [
        {"type": "text", "text": "Hello {{first_name}}"},
        {"type": "image", "src": "https://cdn.example/a.png", "alt": "Banner"},
        {"type": "button", "text": "Shop", "url": "https://shop.example/"},
    ]
}


def _step_fields(data: dict[str, object]) -> dict[str, list[str]]:
    editor = render_editor(None, prefix=PREFIX, channel="email", format_key="email", data=data)
    fields = posted(str(editor))
    fields.pop("prefix")
    return {
        "name": ["Letter"],
        "numbers": ["+34612345678"],
        "instantly": ["on"],
        "type": ["fallback"],
        "s-0-channel": ["email"],
        "s-0-sender_id": ["ACME"],
        "s-0-wait_for": ["delivery"],
        "s-0-wait_value": ["10"],
        "s-0-wait_unit": ["min"],
        "action": ["draft"],
        **fields,
    }


def test_constructor_offers_the_block_editor_for_email(bm_client: Client) -> None:
    """The constructor's own endpoint re-renders the e-mail step with this editor inside its block."""
    data = posted(str(render_editor(None, prefix=PREFIX, channel="email", format_key="email", data={})))
    response = bm_client.post(reverse("channels_out:constructor-editor"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="s-0-c-editor"' in html
    assert 'id="s-0-c-email"' in html
    assert 'data-eml-add="wrapper"' in html


def test_broadcast_step_saves_the_design_and_reopens_it(
    client_for: ClientFor, broadcast_manager: User, company: Company
) -> None:
    client = client_for(broadcast_manager)
    data = _step_fields({"subject": "Spring", "design": DESIGN})
    response = client.post(reverse("broadcasts:broadcast-create"), data)
    assert response.status_code in (302, 303), response.content.decode()[:2000]
    step = BroadcastStep.objects.get(broadcast__company=company)
    email = step.content["email"]
    assert email["subject"] == "Spring"
    assert [b["type"] for b in email["design"]["blocks"]] == ["text", "image", "button"]
    assert email["html"].startswith("<!DOCTYPE html>")
    assert "Shop: https://shop.example/" in email["text"]
    page = client.get(reverse("broadcasts:broadcast-edit", args=[step.broadcast.uuid])).content.decode()
    assert block_kinds(page) == ["text", "image", "button"]
    assert "Hello {{first_name}}</textarea>" in page


def test_broadcast_step_shows_each_error_in_its_block(
    htmx_client_for: ClientFor, broadcast_manager: User, company: Company
) -> None:
    """Refused on the server even when the browser is bypassed: nothing saved, the message in its block."""
    bad = {
        "blocks": [
            {"type": "text", "text": "Hi"},
            {"type": "button", "text": "Shop", "url": "shop.example"},
            {"type": "spacer", "height": "201"},
        ]
    }
    data = _step_fields({"subject": "Spring", "design": bad})
    response = htmx_client_for(broadcast_manager).post(reverse("broadcasts:broadcast-create"), data)
    assert response.status_code == 200
    html = response.content.decode()
    button = html[html.index('data-path="1"') : html.index('data-path="2"')]
    spacer = html[html.index('data-path="2"') :]
    assert "Enter a full web address starting with http:// or https://." in button
    assert "Enter a number from 4 to 200." in spacer
    assert "Enter a number" not in button
    assert not Broadcast.objects.filter(company=company).exists()


def test_preview_follows_the_typing_leaving_out_blocks_not_valid_yet() -> None:
    design = {
        "settings": {"background": "not a colour"},
        "blocks": [
            {"type": "text", "text": "Visible"},
            {"type": "image", "src": ""},
            {
                "type": "wrapper",
                "blocks": [{"type": "button", "text": "Half", "url": "x"}, {"type": "spacer"}],
            },
        ],
    }
    html = preview_document(design, subject="S")
    assert "Visible" in html
    assert "<img" not in html
    assert "Half" not in html
    assert 'height="24"' in html  # the wrapper's valid spacer stays
    assert "background-color:#f4f4f4" in html  # an invalid colour falls back to its default


def test_social_links_carry_their_own_errors(bm_client: Client) -> None:
    html = send(bm_client, {"prefix": [PREFIX], f"{PREFIX}-eop": ["add:social"]})
    assert "Add at least one social network link." in html
    html = send(
        bm_client,
        posted(
            html,
            **{
                f"{PREFIX}__design-blocks-0-links-facebook": "https://facebook.com/acme",
                f"{PREFIX}__design-blocks-0-links-x": "x.com/acme",
            },
        ),
    )
    assert re.search(
        r'name="s-0-c-design-blocks-0-links-x"[^>]*value="x.com/acme"[^>]*>\s*'
        r'<span class="form-error" data-error-for="links-x">Enter a full web address',
        html,
    )
    assert 'data-error-for="links-facebook"' not in html
    assert "1 error" in html
    query = QueryDict(mutable=True)
    for name, values in posted(html, **{f"{PREFIX}__design-blocks-0-links-x": ""}).items():
        query.setlist(name, values)
    content = read(query, PREFIX)
    assert content["design"]["blocks"][0]["links"] == [
        {"network": "facebook", "url": "https://facebook.com/acme"}
    ]
    assert "Facebook: https://facebook.com/acme" in content["text"]
