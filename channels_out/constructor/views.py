"""The constructor's htmx endpoint: re-render one editor, or its preview alone, from the posted fields."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from channels_out.constructor.registry import (
    EDITORS,
    PREFIX,
    formats_for,
    preview_of,
    read_message,
    render_editor,
)
from portal.accounts import permissions
from portal.core.request import PortalRequest
from portal.tenants.access import company_view

# Every section that composes messages with the constructor (broadcasts now; conversations, chatbots and
# content templates reuse it).
EDITOR_PERMS = (
    permissions.BROADCASTS_MANAGE,
    permissions.CONVERSATIONS_MANAGE,
    permissions.CHATBOTS_MANAGE,
    permissions.CONTENT_TEMPLATES_MANAGE,
)


@company_view()
@require_POST
def constructor_editor(request: PortalRequest) -> HttpResponse:
    """Re-render the editor posted under ``prefix`` (format switch, ``cop`` list operation), or with
    ``part=preview`` only its recipient preview. Nothing is stored; errors are shown when the page saves."""
    if not any(request.membership.has_perm(perm) for perm in EDITOR_PERMS):
        raise PermissionDenied("Your role does not allow this.")
    prefix = request.POST.get("prefix", "")
    channel = request.POST.get(f"{prefix}-channel", "")
    if not PREFIX.match(prefix) or not formats_for(channel):
        return HttpResponseBadRequest(_("Unknown message editor."))
    key, data = read_message(request.POST, prefix)
    if request.POST.get("part") == "preview":
        return HttpResponse(preview_of(channel, key, data))
    op = request.POST.get("cop", "")
    if op:
        data = EDITORS[(channel, key)].apply(data, op)
    return HttpResponse(render_editor(request, prefix=prefix, channel=channel, format_key=key, data=data))
