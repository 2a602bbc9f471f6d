"""The constructor's editor of the WhatsApp ``template`` format (issue #8 item 3, guide §7.4.4 "Template", §12.4).

The user picks one of the company's **Approved** templates (the chooser lists nothing else) and fills exactly its
parameters; personalisation placeholders such as ``{{attribute.name}}`` are allowed in them. The server checks the
same in ``assets.services.whatsapp_template_check``.

Posted fields (under the editor's prefix): ``<prefix>-template`` = ``<registered name>:<language>``, and
``<prefix>-header_params-n`` / ``<prefix>-body_params-n`` with ``<prefix>-body_params-<i>`` per parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from channels_out.constructor import Editor, register_editor
from channels_out.formats.whatsapp import PARAMS_MAX
from channels_out.kinds import ChannelKind

TEMPLATE = "assets/_whatsapp_template_editor.html"
PARAM_KEYS = ("header_params", "body_params")


def _count(post: Mapping[str, Any], name: str) -> int:
    try:
        return max(0, min(int(post.get(name) or 0), PARAMS_MAX))
    except (TypeError, ValueError):
        return 0


def read_template_message(post: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The ``template`` format's JSON (name, language, header_params, body_params) from the posted fields."""
    choice = str(post.get(f"{prefix}-template", "") or "")
    name, _sep, language = choice.partition(":")
    data: dict[str, Any] = {"name": name.strip(), "language": language.strip() or "en"}
    for key in PARAM_KEYS:
        count = _count(post, f"{prefix}-{key}-n")
        data[key] = [str(post.get(f"{prefix}-{key}-{i}", "") or "") for i in range(count)]
    return data


def register() -> None:
    register_editor(
        ChannelKind.WHATSAPP,
        "template",
        Editor(template=TEMPLATE, read=read_template_message, label=_("Template")),
    )
