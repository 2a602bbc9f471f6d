"""Page-number pagination in the seed 004 §2.7 shape (Laravel paginator): ``data``, ``links``, ``meta``.

Decision: page numbers, not cursors, for /api/v1 lists. BICS clients page with ``?page=N`` and read
``meta.total``/``last_page``; API lists are per tenant and filtered, so OFFSET cost stays small. Endpoints over
huge tables (message status, seed 004 §5.8) may switch to a keyset paginator with the same envelope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import Page
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from portal.api.envelope import ok


class PortalPagination(PageNumberPagination):
    page_size = 15  # seed 004 §2.7 default per_page
    page_size_query_param = "per_page"
    max_page_size = 100  # seed 004 §5.5
    page: Page[Any]

    def get_paginated_response(self, data: Sequence[Any] | Any) -> Response:
        page = self.page
        paginator = page.paginator
        request = self.request
        assert request is not None  # noqa: S101  (paginate_queryset ran first and set it)
        current = request.build_absolute_uri()

        def url(number: int | None) -> str | None:
            return None if number is None else replace_query_param(current, self.page_query_param, number)

        return ok(
            list(data),
            links={
                "first": url(1),
                "last": url(paginator.num_pages),
                "prev": url(page.previous_page_number() if page.has_previous() else None),
                "next": url(page.next_page_number() if page.has_next() else None),
            },
            meta={
                "current_page": page.number,
                "from": page.start_index() if paginator.count else None,
                "last_page": paginator.num_pages,
                "path": request.build_absolute_uri(request.path),
                "per_page": paginator.per_page,
                "to": page.end_index() if paginator.count else None,
                "total": paginator.count,
            },
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        nullable_url = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["status", "code", "message", "data", "links", "meta"],
            "properties": {
                "status": {"type": "string", "example": "OK"},
                "code": {"type": "integer", "example": 200},
                "message": {"type": "string", "example": "OK"},
                "data": schema,
                "links": {
                    "type": "object",
                    "properties": dict.fromkeys(("first", "last", "prev", "next"), nullable_url),
                },
                "meta": {
                    "type": "object",
                    "properties": {
                        "current_page": {"type": "integer"},
                        "from": {"type": "integer", "nullable": True},
                        "last_page": {"type": "integer"},
                        "path": {"type": "string", "format": "uri"},
                        "per_page": {"type": "integer"},
                        "to": {"type": "integer", "nullable": True},
                        "total": {"type": "integer"},
                    },
                },
            },
        }
