"""The message constructor's editor: one reusable, server-rendered component for every rich format (issue 8, §9-§17).

Contract (for the broadcast steps, conversations, chatbots, notification and content templates):

- ``EDITORS[(channel, format_key)] = Editor(template=..., read=callable(post, prefix) -> dict, label=...)``, the
  registry of editors; ``register_editor(channel, key, editor)`` adds one (the e-mail block editor and the WhatsApp
  template picker plug in here; ``formats_for(channel)`` lists a channel's editors in registration order).
  ``Editor.template`` is rendered with the context ``prefix``, ``channel``, ``format_key``, ``data`` (the format's
  JSON as read), ``errors`` (``{path: [messages]}``, paths as ``channels_out.formats`` names them: ``cards.1.title``,
  ``__all__`` for the whole message), ``editor`` and, for schema editors, ``fields`` (bound fields, see
  ``schema.bind``). ``Editor.read(post, prefix)`` returns the format's JSON from the posted fields.
- Posted field names nest under the editor's prefix with ``-``: ``<prefix>-format``, ``<prefix>-channel``, then
  the format's fields by path, e.g. ``s-0-c-cards-1-title``, ``s-0-c-suggestions-0-type``; a list ``cards`` posts its
  length as ``<prefix>-cards-n``.
- ``read_message(post, prefix) -> (format_key, data)`` reads one editor's message (channel and format from the
  posted ``<prefix>-channel`` / ``<prefix>-format``); validate it with ``channels_out.formats.message_from_json``.
- ``render_editor(request, *, prefix, channel, format_key, data, errors) -> SafeString``: the editor block (format
  chooser, the format's fields with their errors, the live recipient preview). Its root element has the id
  ``<prefix>-editor``; the preview is ``<prefix>-preview``.
- The htmx endpoint ``channels_out:constructor-editor`` (POST, ``prefix`` + the editor's fields) re-renders one
  editor: format switch, ``cop=add:<list path>`` / ``remove:<item path>`` / ``up:<item path>`` /
  ``down:<item path>`` (cards, suggestions, buttons, sections, options), and ``part=preview`` for the preview alone.
- A stored message is ``{format_key: data}``; ``content_format(channel, content)`` gives the one format it sends
  (the engine's rule, ``formats.sent_format_key``), ``text_upgrade`` turns a plain-text message of a
  one-format channel (push, TTS, mobile push, e-mail) into that format's JSON.
- Media URL fields include ``assets/_media_field.html`` (``name``, ``value``, ``channel``, ``kind``) once that
  template exists, a plain URL input until then.
"""

from __future__ import annotations

from channels_out.constructor.registry import (
    EDITORS,
    Editor,
    content_format,
    formats_for,
    message_blank,
    read_message,
    register_editor,
    render_editor,
    text_upgrade,
)

__all__ = [
    "EDITORS",
    "Editor",
    "content_format",
    "formats_for",
    "message_blank",
    "read_message",
    "register_editor",
    "render_editor",
    "text_upgrade",
]

# The built-in editors register on import (after the registry they fill).
from channels_out.constructor import editors  # noqa: F401
from channels_out.email_design import constructor as _email_editor  # noqa: F401  (registers (email, "email"))
