"""The e-mail message constructor (guide §7.4.5.1, inventory A §14.2, acceptance checks 76-77).

- ``model``: the design (settings + Text, Image, Button, Social, Divider, Spacer and Wrapper blocks) as frozen
  dataclasses, validated with a message per field path;
- ``render``: the design as e-mail-safe HTML (tables, inline styles, every user string escaped) and plain text;
- ``editor``: the block editor's reader and view, registered with the message constructor for ``(email, "email")``.

Decision (issue 8 item 4): a small server-rendered block list with htmx, plus SortableJS (vendored from the npm
registry in ``static/vendor/``, MIT) for drag and drop, instead of a full page builder such as GrapesJS. The guide
asks for seven fixed blocks and a columns layout, not free-form HTML: a builder would store its own HTML/CSS and
component JSON, which the server would then have to trust or re-parse to keep e-mails safe, and it needs its own
asset pipeline. Here the server owns one design model, validates every field (the same rules whether the browser
is used or bypassed) and renders the HTML itself; the browser only moves elements (SortableJS) and inserts
markup at the cursor. Up/down buttons do the same as a drag for keyboard users and without JavaScript.
"""

from __future__ import annotations

from channels_out.email_design.model import BLOCK_TYPES, Design
from channels_out.email_design.render import render_html, render_text

__all__ = ["BLOCK_TYPES", "Design", "render_html", "render_text"]
