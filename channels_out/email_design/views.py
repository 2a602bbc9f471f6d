"""The e-mail block editor's htmx endpoint: re-render one editor after a change or a block operation."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_POST

from channels_out.constructor.registry import PREFIX
from channels_out.constructor.views import EDITOR_PERMS
from channels_out.email_design.editor import editor_context, read
from channels_out.email_design.model import Design
from portal.core.request import PortalRequest
from portal.tenants.access import company_view


@company_view()
@require_POST
def email_editor(request: PortalRequest) -> HttpResponse:
    """The editor of ``prefix`` from its posted fields (the constructor's section permissions and prefixes), after its ``<prefix>-eop`` operation, with the design's
    errors by block (the subject and the other message checks are made when the message is saved)."""
    if not any(request.membership.has_perm(code) for code in EDITOR_PERMS):
        raise PermissionDenied("Your role does not allow this.")
    prefix = str(request.POST.get("prefix", ""))
    if not PREFIX.match(prefix):
        return HttpResponseBadRequest("Invalid prefix.")
    data = read(request.POST, prefix)
    errors: dict[str, list[str]] = {}
    try:
        Design.from_json(data["design"])
    except ValidationError as exc:
        errors = {f"design.{path}": messages for path, messages in exc.message_dict.items()}
    context = editor_context(request, prefix=prefix, data=data, errors=errors)
    return render(request, "channels_out/email_design/_editor.html", context)
