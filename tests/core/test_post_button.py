"""The {% post_button %} component (portal_tags): one row action, a POST form with a small submit button."""

from __future__ import annotations

import re
import uuid

from django.middleware.csrf import get_token
from django.template import engines
from django.test import RequestFactory
from django.utils import translation

ROW = uuid.uuid4()


def render(tag: str, **context: object) -> str:
    request = RequestFactory().get("/")
    get_token(request)  # as CsrfViewMiddleware does: the page's context then holds a csrf_token
    template = engines["django"].from_string("{% load i18n portal_tags %}" + tag)
    return template.render(context, request)


def test_renders_a_post_form_with_the_csrf_token() -> None:
    html = render("{% post_button _('Copy') 'broadcasts:broadcast-action' row 'copy' %}", row=ROW)
    assert f'<form method="post" action="/broadcasts/{ROW}/copy/">' in html
    assert re.search(r'<input type="hidden" name="csrfmiddlewaretoken" value="\w{64}">', html)
    assert '<button type="submit" class="btn btn-small">Copy</button>' in html
    assert "data-confirm" not in html
    assert "btn-danger" not in html


def test_confirm_and_danger_only_when_asked() -> None:
    html = render(
        "{% post_button _('Abort') 'broadcasts:broadcast-action' row 'abort' confirm=_('Abort this broadcast? "
        "Nothing more will be sent.') danger=True %}",
        row=ROW,
    )
    assert 'data-confirm="Abort this broadcast? Nothing more will be sent."' in html
    assert '<button type="submit" class="btn btn-small btn-danger">Abort</button>' in html


def test_texts_are_translated_and_a_blocktranslate_confirm_is_escaped_once() -> None:
    """Labels given as _("...") follow the active language; a confirm built with blocktranslate ... asvar keeps
    the escaping of the name it carries (no double escaping)."""
    tag = (
        "{% blocktranslate with name=name asvar confirm %}Delete target {{ name }}?{% endblocktranslate %}"
        "{% post_button _('Delete') 'contacts:target-delete' row confirm=confirm danger=True %}"
    )
    with translation.override("es"):
        html = render(tag, row=ROW, name='A & "B"')
    assert 'data-confirm="¿Eliminar el segmento A &amp; &quot;B&quot;?"' in html
    assert ">Eliminar</button>" in html
