"""The one place that decides how pages and htmx fragments are rendered and how forms end (CONVENTIONS R8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def is_fragment_request(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not bool(htmx and htmx.boosted)


def render_page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the whole page, or only ``template#partial`` when htmx asked for a fragment."""
    name = f"{template}#{partial}" if partial and is_fragment_request(request) else template
    response = render(request, name, dict(context or {}), status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def next_url(request: HttpRequest, default: str) -> str:
    """The ``next`` parameter (posted, else in the query string) when it stays on this site, otherwise ``default``.

    The one check of every "go back to" link: a crafted ``next`` must not send the user to another site (open
    redirect), including the forms a browser reads as another host (``//evil``, ``/\\evil``, ``https://evil``).
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def redirect_after_form(request: HttpRequest, url: str) -> HttpResponse:
    """Finish a successful form: htmx gets HX-Redirect, a plain browser a 303 See Other."""
    if is_fragment_request(request):
        return HttpResponseClientRedirect(url)
    response = HttpResponse(status=303)
    response["Location"] = url
    return response
