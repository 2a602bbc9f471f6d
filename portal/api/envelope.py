"""The one response envelope of /api/v1 (seed 004 §2.5 and §5.1).

Success: ``{"status": "OK", "code": 200, "message": "OK", "data": ...}`` (+ ``links``/``meta`` on lists).
Error:   ``{"status": "error", "code": 404, "message": "...", "data": null,
           "error": {"type": "not_found", "fields": {...}}}``. ``status`` is always a string and ``code`` the HTTP
status as an integer (seed 004 §7 lists the BICS inconsistencies this avoids).
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

STATUS_OK = "OK"
STATUS_ERROR = "error"


def ok(
    data: Any,
    *,
    message: str = "OK",
    status: int = 200,
    links: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"status": STATUS_OK, "code": status, "message": message, "data": data}
    if links is not None:
        body["links"] = links
    if meta is not None:
        body["meta"] = meta
    return Response(body, status=status)


def error_body(
    *, code: int, message: str, error_type: str, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type}
    if fields:
        error["fields"] = fields
    return {"status": STATUS_ERROR, "code": code, "message": message, "data": None, "error": error}
