"""Routes of the API Accesses pages (``/api-accesses/``, the guide's portal path) and of ``/api/v1/``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal.api import api, views
from portal.api.base import KeepSessionUserMixin


class SchemaView(KeepSessionUserMixin, SpectacularAPIView):
    pass


class DocsView(KeepSessionUserMixin, SpectacularSwaggerView):
    pass


app_name = "api"

page_patterns = [
    path("", views.access_list, name="access-list"),
    path("new/", views.access_create, name="access-create"),
    path("<uuid:uuid>/", views.access_edit, name="access-edit"),
    path("<uuid:uuid>/regenerate/", views.access_regenerate, name="access-regenerate"),
    path("<uuid:uuid>/delete/", views.access_delete, name="access-delete"),
]

v1_patterns: list[URLPattern | URLResolver] = [
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
    path("auth/me", api.AuthMeApi.as_view(), name="auth-me"),
    path("", include("channels_out.api")),  # the send API (issue 5 §6)
    path("", include("contacts.api")),  # /api/v1/contacts… (scope recipients)
    path("", include("broadcasts.api")),  # /api/v1/broadcasts… (scope broadcast)
    # Must stay last: any other path under /api/v1/ answers with the JSON 404 envelope.
    re_path(r"^.*$", api.NotFoundApi.as_view(), name="not-found"),
]

urlpatterns = [
    path("api-accesses/", include(page_patterns)),
    path("api/v1/", include(v1_patterns)),
]
