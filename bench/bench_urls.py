"""URLconf of the callback benchmark: the portal's routes plus ``/bench/trivial/`` (the baseline view)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def trivial(request: HttpRequest) -> HttpResponse:
    """Read the body and answer 200: the least a webhook endpoint can do."""
    request.body  # noqa: B018  (read like the callback view does)
    return HttpResponse(b'{"status":"OK"}', content_type="application/json")


urlpatterns = [path("bench/trivial/", trivial), path("", include("portal.urls"))]
