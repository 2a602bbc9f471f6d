"""The webhook delivery log of an API access (under the API Accesses section): every try, the dead-letter list,
replay of one or all failed deliveries (issue 5 §6). Permission API_ACCESS_MANAGE; another company's access is a
404 like a missing one."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from channels_out.models import WebhookDelivery
from channels_out.webhooks import (
    webhook_counts,
    webhook_deliveries_replay_dead,
    webhook_delivery_list,
    webhook_delivery_replay,
    webhook_signing_secret,
)
from portal.accounts import permissions
from portal.api import selectors as api_selectors
from portal.core.htmx import is_fragment_request, render_page
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

PAGE_SIZE = 50
LIST_TEMPLATE = "channels_out/webhook_list.html"


def _list_context(request: PortalRequest, access_uuid: UUID) -> dict[str, object]:
    access = api_selectors.api_access_get(company=request.company, uuid=access_uuid)
    state = request.GET.get("state", "")
    if state not in WebhookDelivery.State.values:
        state = ""
    page = Paginator(
        webhook_delivery_list(company=request.company, access=access, state=state), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    counts = webhook_counts(company=request.company, access=access)
    return {
        "access": access,
        "page": page,
        "state": state,
        "states": [(value, label, counts[value]) for value, label in WebhookDelivery.State.choices],
        "counts": counts,
        "signing_secret": webhook_signing_secret(access),
        "active_menu": "api",
    }


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_GET
def webhook_list(request: PortalRequest, uuid: UUID) -> HttpResponse:
    """The access's deliveries, newest first, filterable by state; htmx gets only the table."""
    return render_page(request, LIST_TEMPLATE, _list_context(request, uuid), partial="table")


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_GET
def webhook_detail(request: PortalRequest, uuid: UUID, delivery: UUID) -> HttpResponse:
    """One delivery: its body and every try (status, latency, response excerpt); htmx gets the attempt log."""
    access = api_selectors.api_access_get(company=request.company, uuid=uuid)
    item = get_for_company_or_404(
        WebhookDelivery.objects.filter(access=access), company=request.company, uuid=delivery
    )
    attempts = item.attempt_log.order_by("number")
    context = {"access": access, "delivery": item, "attempts": attempts, "active_menu": "api"}
    return render_page(request, "channels_out/webhook_detail.html", context, partial="attempts")


def _after_replay(request: PortalRequest, uuid: UUID) -> HttpResponse:
    if is_fragment_request(request):
        return render_page(request, LIST_TEMPLATE, _list_context(request, uuid), partial="table")
    response = HttpResponse(status=303)
    response["Location"] = reverse("channels_out:webhook-list", args=[uuid])
    return response


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_POST
def webhook_replay(request: PortalRequest, uuid: UUID, delivery: UUID) -> HttpResponse:
    """Send one delivery again (a fresh retry cycle)."""
    access = api_selectors.api_access_get(company=request.company, uuid=uuid)
    item = get_for_company_or_404(
        WebhookDelivery.objects.filter(access=access), company=request.company, uuid=delivery
    )
    webhook_delivery_replay(company=request.company, actor=request.user, delivery=item)
    messages.success(request, _("The delivery will be sent again now."))
    return _after_replay(request, uuid)


@company_view(perm=permissions.API_ACCESS_MANAGE)
@require_POST
def webhook_replay_dead(request: PortalRequest, uuid: UUID) -> HttpResponse:
    """Send every dead delivery of the access again."""
    access = api_selectors.api_access_get(company=request.company, uuid=uuid)
    count = webhook_deliveries_replay_dead(company=request.company, actor=request.user, access=access)
    messages.success(request, _("%(n)d failed deliveries will be sent again now.") % {"n": count})
    return _after_replay(request, uuid)
