"""Render a ``Design`` to e-mail-safe HTML and to its plain-text part (guide §7.4.5.1; inventory A §14.2 output).

E-mail clients ignore most of CSS, so the HTML is the old, safe kind: nested ``role="presentation"`` tables, every
style inline, widths as attributes too, a 600 px body, a hidden preheader (the subtitle), and one media query
(clients that honour it stack wrapper columns on phones; the others keep the columns).

Every string the user typed is escaped here, once, after the text block's markup is read; placeholder values
(``{{first_name}}``, ``broadcasts.personalize``) are escaped as they are filled, and are URL-quoted inside links.
With ``values=None`` the placeholders stay as they are (the stored message; the sender fills them per contact).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote

from django.utils.html import escape

from channels_out.email_design.model import (
    FONTS,
    LINK,
    PLACEHOLDER,
    SOCIAL_NETWORKS,
    Block,
    ButtonBlock,
    Design,
    DividerBlock,
    ImageBlock,
    SocialBlock,
    SpacerBlock,
    TextBlock,
    WrapperBlock,
)

WIDTH = 600  # the body's width in px (the usual e-mail width)
GUTTER = 24  # left and right padding of a top-level block
BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])", re.S)

Values = Mapping[str, str] | None


def fill(text: str, values: Values, *, quote_values: bool = False) -> str:
    """Fill ``{{name}}`` from ``values`` (names matched lower-cased; unknown ones become ""); ``None`` keeps them."""
    if values is None or "{{" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        found = values.get(html.unescape(match.group(1)).strip().lower(), "")
        return quote(found, safe="") if quote_values else found

    return PLACEHOLDER.sub(value, text)


def _fill_escaped(escaped: str, values: Values) -> str:
    """Fill placeholders inside already escaped text, escaping each value."""
    if values is None or "{{" not in escaped:
        return escaped
    return PLACEHOLDER.sub(
        lambda m: str(escape(values.get(html.unescape(m.group(1)).strip().lower(), ""))), escaped
    )


def _url(url: str, values: Values) -> str:
    return str(escape(fill(url, values, quote_values=True)))


def _inline(segment: str, values: Values) -> str:
    out = str(escape(segment))
    out = BOLD.sub(r"<strong>\1</strong>", out)
    out = ITALIC.sub(r"<em>\1</em>", out)
    return _fill_escaped(out, values).replace("\n", "<br>")


def text_markup_html(text: str, values: Values, *, link_color: str) -> str:
    """The HTML of a text block's markup, one ``<p>`` per paragraph (blank line), every part escaped."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    out: list[str] = []
    for paragraph in paragraphs:
        parts: list[str] = []
        position = 0
        for match in LINK.finditer(paragraph):
            parts.append(_inline(paragraph[position : match.start()], values))
            parts.append(
                f'<a href="{_url(match.group(2), values)}" target="_blank" '
                f'style="color:{link_color};text-decoration:underline;">'
                f"{_inline(match.group(1), values)}</a>"
            )
            position = match.end()
        parts.append(_inline(paragraph[position:], values))
        out.append(f'<p style="margin:0 0 12px 0;">{"".join(parts)}</p>')
    return "".join(out)


def text_markup_plain(text: str, values: Values) -> str:
    """A text block as plain text: markup removed, links as ``label (address)``."""
    text = LINK.sub(lambda m: f"{m.group(1)} ({fill(m.group(2), values, quote_values=True)})", text)
    text = BOLD.sub(r"\1", text)
    text = ITALIC.sub(r"\1", text)
    return fill(text, values).strip()


class _Html:
    def __init__(self, design: Design, values: Values) -> None:
        self.design = design
        self.values = values
        self.font = FONTS[design.settings.font]

    def block(self, block: Block, width: int, *, nested: bool = False) -> str:
        """One block as the content of a ``<td>`` row for an area ``width`` px wide."""
        side = 0 if nested else GUTTER
        render: Callable[..., str] = getattr(self, block.kind)
        return render(block, width - 2 * side, side)

    def _cell(self, content: str, pad: str, style: str = "", align: str = "") -> str:
        attr = f' align="{align}"' if align else ""
        return f'<td{attr} style="padding:{pad};{style}">{content}</td>'

    def text(self, block: TextBlock, inner: int, side: int) -> str:
        style = (
            f"font-family:{escape(self.font)};font-size:{block.size}px;line-height:1.5;"
            f"color:{block.color};text-align:{block.align};"
        )
        body = text_markup_html(block.text, self.values, link_color=self.design.settings.link_color)
        return self._cell(body, f"8px {side}px", style, block.align)

    def image(self, block: ImageBlock, inner: int, side: int) -> str:
        px = max(1, inner * block.width // 100)
        img = (
            f'<img src="{_url(block.src, self.values)}" alt="{_inline_attr(block.alt, self.values)}" '
            f'width="{px}" style="display:block;width:100%;max-width:{px}px;height:auto;border:0;'
            f'outline:none;text-decoration:none;">'
        )
        if block.href:
            img = (
                f'<a href="{_url(block.href, self.values)}" target="_blank" '
                f'style="text-decoration:none;">{img}</a>'
            )
        table = (
            f'<table role="presentation" cellpadding="0" cellspacing="0" border="0" align="{block.align}" '
            f'width="{px}" style="width:100%;max-width:{px}px;"><tr><td>{img}</td></tr></table>'
        )
        return self._cell(table, f"8px {side}px", align=block.align)

    def button(self, block: ButtonBlock, inner: int, side: int) -> str:
        link = (
            f'<a href="{_url(block.url, self.values)}" target="_blank" style="display:inline-block;'
            f"padding:12px 24px;font-family:{escape(self.font)};font-size:16px;font-weight:bold;"
            f'line-height:1.2;color:{block.color};text-decoration:none;">'
            f"{_inline_attr(block.text, self.values)}</a>"
        )
        table = (
            f'<table role="presentation" cellpadding="0" cellspacing="0" border="0" align="{block.align}">'
            f'<tr><td bgcolor="{block.background}" style="border-radius:4px;'
            f'background-color:{block.background};">{link}</td></tr></table>'
        )
        return self._cell(table, f"12px {side}px", align=block.align)

    def social(self, block: SocialBlock, inner: int, side: int) -> str:
        links = " &nbsp;&middot;&nbsp; ".join(
            f'<a href="{_url(link.url, self.values)}" target="_blank" style="color:'
            f'{self.design.settings.link_color};text-decoration:none;font-weight:bold;">'
            f"{escape(str(SOCIAL_NETWORKS[link.network]))}</a>"
            for link in block.links
        )
        style = f"font-family:{escape(self.font)};font-size:14px;line-height:1.5;text-align:{block.align};"
        return self._cell(links, f"8px {side}px", style, block.align)

    def divider(self, block: DividerBlock, inner: int, side: int) -> str:
        line = (
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
            f'<tr><td style="border-top:{block.thickness}px solid {block.color};font-size:0;'
            'line-height:0;height:0;">&nbsp;</td></tr></table>'
        )
        return self._cell(line, f"8px {side}px")

    def spacer(self, block: SpacerBlock, inner: int, side: int) -> str:
        return (
            f'<td height="{block.height}" style="height:{block.height}px;font-size:0;line-height:0;">'
            "&nbsp;</td>"
        )

    def wrapper(self, block: WrapperBlock, inner: int, side: int) -> str:
        area = inner - 2 * block.padding
        cell_width = area // block.columns
        rows: list[str] = []
        for row in block.rows():
            cells = "".join(
                f'<td class="eml-col" valign="top" width="{cell_width}" style="width:{cell_width}px;'
                f'vertical-align:top;"><table role="presentation" width="100%" cellpadding="0" '
                f'cellspacing="0" border="0"><tr>{self.block(child, cell_width, nested=True)}</tr>'
                "</table></td>"
                for child in row
            )
            cells += "<td></td>" * (block.columns - len(row))
            rows.append(f"<tr>{cells}</tr>")
        table = (
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
            f"{''.join(rows)}</table>"
        )
        style = f"padding:{block.padding}px;background-color:{block.background};"
        return (
            f'<td style="padding:8px {side}px;"><table role="presentation" '
            f'width="100%" cellpadding="0" cellspacing="0" border="0"><tr><td bgcolor="{block.background}" '
            f'style="{style}">{table}</td></tr></table></td>'
        )


def _inline_attr(text: str, values: Values) -> str:
    """A one-line user string (alt text, button label), escaped with its placeholders filled."""
    return _fill_escaped(str(escape(text)), values)


def render_body(design: Design, values: Values = None) -> str:
    """The 600 px content table alone (what the editor's preview and the full document share)."""
    out = _Html(design, values)
    rows = "".join(f"<tr>{out.block(block, WIDTH)}</tr>" for block in design.blocks)
    return (
        f'<table role="presentation" class="eml-container" width="{WIDTH}" cellpadding="0" '
        f'cellspacing="0" border="0" bgcolor="{design.settings.content_background}" '
        f'style="width:{WIDTH}px;max-width:{WIDTH}px;background-color:'
        f'{design.settings.content_background};">{rows}</table>'
    )


def render_html(
    design: Design, values: Values = None, *, subject: str = "", subtitle: str = "", lang: str = "en"
) -> str:
    """The whole HTML document of the e-mail: table layout, inline styles, the subtitle as a hidden preheader."""
    preheader = ""
    if subtitle:
        preheader = (
            '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;font-size:1px;'
            f'line-height:1px;color:{design.settings.background};">'
            f"{_inline_attr(subtitle, values)}</div>"
        )
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge">'
        f"<title>{_inline_attr(subject, values)}</title>"
        "<style>@media only screen and (max-width:620px){.eml-container{width:100%!important;}"
        ".eml-col{display:block!important;width:100%!important;}}</style></head>"
        f'<body style="margin:0;padding:0;background-color:{design.settings.background};">'
        f"{preheader}"
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'bgcolor="{design.settings.background}" style="background-color:{design.settings.background};">'
        f'<tr><td align="center" style="padding:24px 8px;">{render_body(design, values)}</td></tr>'
        "</table></body></html>"
    )


def render_text(design: Design, values: Values = None) -> str:
    """The plain-text part: each block on its own lines, links spelled out, blocks apart by a blank line."""
    parts = [p for p in (_plain(block, values) for block in design.blocks) if p]
    return "\n\n".join(parts).strip() + "\n"


def _plain(block: Block, values: Values) -> str:
    if isinstance(block, TextBlock):
        return text_markup_plain(block.text, values)
    if isinstance(block, ImageBlock):
        alt = fill(block.alt, values)
        if block.href:
            return f"{alt} ({fill(block.href, values, quote_values=True)})" if alt else ""
        return f"[{alt}]" if alt else ""
    if isinstance(block, ButtonBlock):
        return f"{fill(block.text, values)}: {fill(block.url, values, quote_values=True)}"
    if isinstance(block, SocialBlock):
        return "\n".join(
            f"{SOCIAL_NETWORKS[link.network]}: {fill(link.url, values, quote_values=True)}"
            for link in block.links
        )
    if isinstance(block, DividerBlock):
        return "-" * 40
    if isinstance(block, WrapperBlock):
        return "\n\n".join(p for p in (_plain(child, values) for child in block.blocks) if p)
    return ""  # a spacer has no text
