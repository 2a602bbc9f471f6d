"""Plug the e-mail block editor into the message constructor for ``(email, "email")`` (issue 8 item 4)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from channels_out.constructor.registry import Editor, register_editor
from channels_out.email_design.editor import read
from channels_out.kinds import ChannelKind

register_editor(
    ChannelKind.EMAIL,
    "email",
    Editor(template="channels_out/constructor/email.html", read=read, label=_("E-mail")),
)
