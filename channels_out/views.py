"""Vendor callbacks (``/hooks/<adapter>/<connection>/``) and the per-company message log pages."""

from __future__ import annotations

import json
import logging
from uuid import UUID

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from channels_out.base import CallbackRejected
from channels_out.hooks import apply_kick, hook_target
from channels_out.kinds import ChannelKind
from channels_out.models import Connection, Message
from channels_out.selectors import message_events, message_list
from channels_out.services import callback_ingest, callback_store
from portal.accounts import permissions
from portal.core.htmx import render_page
from portal.core.list_views import list_response
from portal.core.listing import Column, Filter, Kind, ListQueryError, ListSpec, Mode, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

logger = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 1024 * 1024


@csrf_exempt
@require_POST
def callback_receive(request: HttpRequest, adapter_key: str, connection_uuid: str | UUID) -> HttpResponse:
    """Take a vendor callback: verify its signature, store it raw, answer 200; a worker applies it.

    Refusals answer 4xx and are stored with their reason (issue 5 "malformed or unsigned callbacks"): 401
    unsigned, 403 wrong signature, 400 unreadable, 413 too big. An unknown connection is a 404. Served by
    ``hooks.HookFastPathMiddleware`` without the page middleware; the URL route stays for ``reverse``.
    """
    target = hook_target(adapter_key, str(connection_uuid))
    if target is None:
        raise Http404("Unknown connection")
    body = request.body
    if len(body) > MAX_CALLBACK_BYTES:
        return JsonResponse({"status": "error", "message": "Payload too large."}, status=413)
    try:
        payload_id = callback_ingest(
            company_id=target.company_id, connection_id=target.pk, adapter=target.adapter, body=body,
            headers=request.headers, kick=apply_kick,
        )  # fmt: skip
    except CallbackRejected as exc:
        logger.warning("callback refused on connection %s: %s", target.pk, exc.reason)
        return JsonResponse({"status": "error", "code": exc.status, "message": exc.reason}, status=exc.status)
    return HttpResponse(
        b'{"status":"OK","code":200,"message":"Received.","data":{"id":%d}}' % payload_id,
        content_type="application/json",
    )


# A transparent 1x1 GIF: the answer to every open-tracking pixel request, valid token or not.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@require_GET
def email_open(request: HttpRequest, adapter_key: str, connection_uuid: str, token: str) -> HttpResponse:
    """The open-tracking pixel of e-mails (guide §14.1 "Display"): record the open, answer a 1x1 GIF.

    The open goes through the same path as a vendor callback (stored raw, applied by the worker), so it is
    checked (signed token), kept and applied like any delivery report. A bad token is recorded as rejected;
    the image is the same either way, so the pixel reveals nothing.
    """
    connection = Connection.objects.filter(
        uuid=connection_uuid, adapter_key=adapter_key, enabled=True
    ).first()
    if connection is not None:
        body = json.dumps(
            {"event": "open", "token": token, "at": timezone.now().isoformat(),
             "user_agent": request.headers.get("User-Agent", "")[:300]}
        ).encode()  # fmt: skip
        try:
            callback_store(connection=connection, body=body, headers={})
        except CallbackRejected as exc:
            logger.info("open-tracking token refused on connection %s: %s", connection.pk, exc.reason)
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
    return response


def _connection_name(message: Message) -> str:
    return message.connection.name if message.connection else ""


def _connection_filter(flt: Filter) -> Q:
    if flt.mode == Mode.EMPTY:
        return Q(connection__isnull=True)
    if flt.mode == Mode.NONEMPTY:
        return Q(connection__isnull=False)
    if not flt.q:
        raise ListQueryError(gettext("Type a value to filter by."))
    return Q(connection__name__icontains=flt.q)


MESSAGE_LIST = register_list(
    ListSpec(
        key="messages",
        columns=(
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME, required=True),
            Column("channel", gettext_lazy("Channel"), "channel", Kind.CHOICE, choices=tuple(ChannelKind.choices)),
            Column("direction", gettext_lazy("Direction"), "direction", Kind.CHOICE, choices=tuple(Message.Direction.choices)),
            Column("origin", gettext_lazy("Traffic"), "origin", Kind.CHOICE, choices=tuple(Message.Origin.choices), default=False),
            Column("sender", gettext_lazy("Sender ID"), "sender_id"),
            Column("address", gettext_lazy("Contact"), "address", required=True),
            Column("status", gettext_lazy("Status"), "status", Kind.CHOICE, choices=tuple(Message.Status.choices), required=True),
            Column("segments", gettext_lazy("Segments"), "segments", Kind.NUMBER),
            Column("error", gettext_lazy("Error"), "error_text"),
            # Filter only: a sort by a joined name could not follow an index of the message table.
            Column("connection", gettext_lazy("Connection"), None, value=_connection_name, filter_q=_connection_filter),
            Column("country", gettext_lazy("Country"), "country", default=False),
            Column("operator", gettext_lazy("Operator"), "operator", default=False),
            Column("price", gettext_lazy("Price"), "price", Kind.NUMBER, default=False),
            Column("updated", gettext_lazy("Updated"), "updated_at", Kind.DATETIME),
        ),
        default_sort="-created",
        page_size=100,
    )
)  # fmt: skip


@company_view(perm=permissions.STATISTICS_VIEW)
@require_GET
def message_log(request: PortalRequest) -> HttpResponse:
    """The company's message log: every message with channel, status, error and connection (issue 5 §7)."""
    return list_response(
        request,
        qs=message_list(company=request.company),
        spec=MESSAGE_LIST,
        template="channels_out/message_list.html",
        context={"active_menu": "statistics"},
    )


@company_view(perm=permissions.STATISTICS_VIEW)
@require_GET
def message_detail(request: PortalRequest, uuid: str) -> HttpResponse:
    """One message with its status timeline; htmx gets only the timeline fragment."""
    message = get_for_company_or_404(
        message_list(company=request.company), company=request.company, uuid=uuid
    )
    events = message_events(company=request.company, message=message)
    return render_page(
        request,
        "channels_out/message_detail.html",
        {"message": message, "events": events, "active_menu": "statistics"},
        partial="timeline",
    )
