"""The e-mail design model at its boundaries and its renderers (guide §7.4.5.1; inventory A checks 76-77)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from channels_out.email_design import model
from channels_out.email_design.model import Design
from channels_out.email_design.render import render_html, render_text
from channels_out.formats import message_from_json
from channels_out.formats.simple import Email


def errors_of(data: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        Design.from_json(data)
    return info.value.message_dict


def one(block: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": [block]}


SEVEN = [
    {"type": "text", "text": "Hello {{first_name}}", "align": "center", "color": "#333", "size": 18},
    {"type": "image", "src": "https://cdn.example/logo.png", "alt": "Logo", "href": "https://example.com"},
    {"type": "button", "text": "Buy now", "url": "https://shop.example/?c={{first_name}}"},
    {"type": "social", "links": [{"network": "facebook", "url": "https://facebook.com/acme"}]},
    {"type": "divider", "color": "#cccccc", "thickness": 2},
    {"type": "spacer", "height": 40},
    {
        "type": "wrapper",
        "columns": 2,
        "background": "#f0f0f0",
        "blocks": [{"type": "text", "text": "Left"}, {"type": "text", "text": "Right"}],
    },
]


def test_every_block_type_round_trips() -> None:
    """The seven elements validate, and the stored JSON reads back to the same design."""
    design = Design.from_json({"settings": {"font": "georgia"}, "blocks": SEVEN})
    assert [b.kind for b in design.blocks] == [
        "text",
        "image",
        "button",
        "social",
        "divider",
        "spacer",
        "wrapper",
    ]
    assert Design.from_json(design.to_json()) == design
    assert design.to_json()["blocks"][6]["blocks"][1] == {
        "type": "text",
        "text": "Right",
        "align": "left",
        "color": "#222222",
        "size": 16,
    }


def test_empty_design_and_unknown_types_are_refused() -> None:
    assert errors_of({"blocks": []}) == {"blocks": ["Add at least one block to the e-mail."]}
    assert "Choose one of" in errors_of(one({"type": "video"}))["blocks.0.type"][0]
    assert errors_of(one({"type": "wrapper", "blocks": [{"type": "wrapper"}]})) == {
        "blocks.0.blocks.0.type": ["A wrapper cannot hold another wrapper."]
    }
    assert errors_of("nope")["__all__"] == ["Expected an object."]


def test_block_count_limits() -> None:
    text = {"type": "text", "text": "x"}
    Design.from_json({"blocks": [text] * model.MAX_BLOCKS})
    assert errors_of({"blocks": [text] * (model.MAX_BLOCKS + 1)}) == {
        "blocks": ["At most 50 blocks (there are 51)."]
    }
    Design.from_json(one({"type": "wrapper", "blocks": [text] * model.MAX_CHILDREN}))
    assert errors_of(one({"type": "wrapper", "blocks": [text] * (model.MAX_CHILDREN + 1)})) == {
        "blocks.0.blocks": ["At most 20 blocks (there are 21)."]
    }


def test_text_limits_at_the_boundary() -> None:
    Design.from_json(one({"type": "text", "text": "a" * model.TEXT_MAX}))
    assert errors_of(one({"type": "text", "text": "a" * (model.TEXT_MAX + 1)})) == {
        "blocks.0.text": ["At most 10000 characters (it has 10001)."]
    }
    assert errors_of(one({"type": "text", "text": "  "})) == {"blocks.0.text": ["This field is required."]}
    Design.from_json(one({"type": "button", "text": "b" * model.LABEL_MAX, "url": "https://a.example"}))
    assert errors_of(
        one({"type": "button", "text": "b" * (model.LABEL_MAX + 1), "url": "https://a.example"})
    ) == {"blocks.0.text": ["At most 100 characters (it has 101)."]}
    assert errors_of(one({"type": "image", "src": "https://a.example/i.png", "alt": "a" * 256})) == {
        "blocks.0.alt": ["At most 255 characters (it has 256)."]
    }


@pytest.mark.parametrize(
    ("key", "low", "high", "block"),
    [
        ("size", 10, 48, {"type": "text", "text": "x"}),
        ("width", 10, 100, {"type": "image", "src": "https://a.example/i.png"}),
        ("thickness", 1, 10, {"type": "divider"}),
        ("height", 4, 200, {"type": "spacer"}),
        ("padding", 0, 64, {"type": "wrapper"}),
        ("columns", 1, 3, {"type": "wrapper"}),
    ],
)
def test_number_ranges_at_the_boundary(key: str, low: int, high: int, block: dict[str, Any]) -> None:
    for ok in (low, high, str(high)):
        Design.from_json(one({**block, key: ok}))
    message = f"Enter a number from {low} to {high}."
    assert errors_of(one({**block, key: low - 1})) == {f"blocks.0.{key}": [message]}
    assert errors_of(one({**block, key: high + 1})) == {f"blocks.0.{key}": [message]}
    assert errors_of(one({**block, key: "12px"})) == {f"blocks.0.{key}": ["Enter a whole number."]}


@pytest.mark.parametrize(
    "url",
    [
        "www.example.com",
        "javascript:alert(1)",
        "ftp://example.com/x",
        "https://",
        "{{site}}/offer",
        "https://{{host}}.example/offer",
        "https://exa mple.com",
    ],
)
def test_broken_links_are_refused(url: str) -> None:
    assert errors_of(one({"type": "button", "text": "Go", "url": url})) == {
        "blocks.0.url": ["Enter a full web address starting with http:// or https://."]
    }


def test_links_take_placeholders_after_the_host_and_mailto_on_buttons() -> None:
    Design.from_json(one({"type": "button", "text": "Go", "url": "https://a.example/p?id={{ID}}"}))
    Design.from_json(one({"type": "button", "text": "Write", "url": "mailto:info@example.com"}))
    assert errors_of(one({"type": "image", "src": "mailto:info@example.com"})) == {
        "blocks.0.src": ["Enter a full web address starting with http:// or https://."]
    }
    assert errors_of(one({"type": "text", "text": "See [our shop](shop.example)"})) == {
        "blocks.0.text": ["The link “our shop”: Enter a full web address starting with http:// or https://."]
    }


def test_colours_choices_and_social_links() -> None:
    Design.from_json(one({"type": "divider", "color": "#ABC"}))
    assert errors_of(one({"type": "divider", "color": "red"})) == {
        "blocks.0.color": ["Enter a colour such as #1a73e8."]
    }
    assert errors_of({"settings": {"background": "#12345"}, "blocks": SEVEN[:1]}) == {
        "settings.background": ["Enter a colour such as #1a73e8."]
    }
    assert (
        "Choose one of"
        in errors_of(one({"type": "text", "text": "x", "align": "justify"}))["blocks.0.align"][0]
    )
    assert errors_of(one({"type": "social", "links": []})) == {
        "blocks.0.links": ["Add at least one social network link."]
    }
    links = [{"network": "x", "url": "https://x.com/acme"}]
    Design.from_json(one({"type": "social", "links": links * model.MAX_SOCIAL_LINKS}))
    assert errors_of(one({"type": "social", "links": links * (model.MAX_SOCIAL_LINKS + 1)})) == {
        "blocks.0.links": ["At most 8 links (there are 9)."]
    }
    assert errors_of(one({"type": "social", "links": [{"network": "myspace", "url": "https://m.example"}]}))[
        "blocks.0.links.0.network"
    ]


def test_html_is_table_layout_with_inline_styles() -> None:
    design = Design.from_json({"blocks": SEVEN})
    html = render_html(design, subject="Spring sale", subtitle="Up to 50 % off")
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>Spring sale</title>" in html
    assert re.search(r'<div style="display:none;[^"]*">Up to 50 % off</div>', html)
    assert html.count('role="presentation"') >= 8
    assert '<table role="presentation" class="eml-container" width="600"' in html
    # No block relies on a stylesheet: every cell and link carries its own style attribute.
    for tag in re.findall(r"<(?:td|a|img|p)\b[^>]*>", html):
        assert "style=" in tag or tag == "<td>", tag
    assert "<div" not in html.replace('<div style="display:none;', "")  # tables only, except the preheader
    assert 'bgcolor="#1a73e8"' in html
    assert "Buy now</a>" in html
    assert '<img src="https://cdn.example/logo.png" alt="Logo" width="552"' in html
    assert "border-top:2px solid #cccccc" in html
    assert 'height="40"' in html
    assert html.count('class="eml-col"') == 2  # the wrapper's two columns


def test_every_user_string_is_escaped() -> None:
    design = Design.from_json(
        {
            "blocks": [
                {
                    "type": "text",
                    "text": "<script>alert('x')</script> **bold** & [go](https://a.example/?a=1&b=2)",
                },
                {"type": "image", "src": "https://a.example/i.png", "alt": '"><script>'},
                {"type": "button", "text": "<b>Buy</b>", "url": 'https://a.example/"onclick'},
            ]
        }
    )
    html = render_html(design, subject="<Hi>", subtitle="<pre>")
    assert "<script>" not in html
    assert "<b>" not in html
    assert "onclick=" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; <strong>bold</strong> &amp;" in html
    assert 'href="https://a.example/?a=1&amp;b=2"' in html
    assert 'alt="&quot;&gt;&lt;script&gt;"' in html
    assert "&lt;b&gt;Buy&lt;/b&gt;</a>" in html
    assert "<title>&lt;Hi&gt;</title>" in html


def test_placeholders_are_filled_escaped_and_url_quoted() -> None:
    design = Design.from_json(
        {
            "blocks": [
                {"type": "text", "text": "Dear {{ First_Name }} from {{City}}{{missing}}!"},
                {"type": "button", "text": "Hi {{first_name}}", "url": "https://a.example/?n={{first_name}}"},
            ]
        }
    )
    values = {"first_name": "Ann <b>&", "city": "Madrid"}
    html = render_html(design, values, subject="For {{first_name}}")
    assert "Dear Ann &lt;b&gt;&amp; from Madrid!" in html
    assert 'href="https://a.example/?n=Ann%20%3Cb%3E%26"' in html
    assert "Hi Ann &lt;b&gt;&amp;</a>" in html
    assert "<title>For Ann &lt;b&gt;&amp;</title>" in html
    # Without values (the stored message) the placeholders stay for the sender to fill per contact.
    assert "Dear {{ First_Name }} from {{City}}{{missing}}!" in render_html(design)


def test_plain_text_part() -> None:
    design = Design.from_json(
        {"blocks": [*SEVEN, {"type": "text", "text": "See **[shop](https://s.example)**"}]}
    )
    text = render_text(design, {"first_name": "Ann"})
    assert text == (
        "Hello Ann\n\n"
        "Logo (https://example.com)\n\n"
        "Buy now: https://shop.example/?c=Ann\n\n"
        "Facebook: https://facebook.com/acme\n\n" + "-" * 40 + "\n\nLeft\n\nRight\n\n"
        "See shop (https://s.example)\n"
    )
    assert "<" not in render_text(Design.from_json(one({"type": "text", "text": "*hi*"})))


def test_email_format_validates_its_design_and_renders_missing_parts() -> None:
    """The e-mail format checks its design with this model (paths under ``design``) and, given a design without
    HTML, renders the HTML and text parts from it."""
    with pytest.raises(ValidationError) as info:
        message_from_json("email", "email", {"subject": "S", "design": one({"type": "spacer", "height": 1})})
    assert info.value.message_dict == {"design.blocks.0.height": ["Enter a number from 4 to 200."]}
    email = message_from_json("email", "email", {"subject": "S", "design": {"blocks": SEVEN}})
    assert isinstance(email, Email)
    assert email.html.startswith("<!DOCTYPE html>")
    assert "Buy now</a>" in email.html
    assert email.text.startswith("Hello {{first_name}}")
    assert Design.from_json(email.design) == Design.from_json({"blocks": SEVEN})
