from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from portal.core import views as core_views

admin.site.site_header = "Portal back office"
admin.site.site_title = "Portal back office"

urlpatterns = [
    path("", include("portal.core.urls")),
    path("accounts/", include("portal.accounts.urls")),
    path("dashboard/", include("portal.dashboard.urls")),
    path("", include("portal.api.urls")),  # /api-accesses/ pages and /api/v1/
    path("users/", include("portal.accounts.users_urls")),
    path("audit/", include("portal.audit.urls")),
    path("contacts/", include("contacts.urls")),
    path("broadcasts/", include("broadcasts.urls")),
    path("assets/", include("assets.urls")),
    path("m/", include("assets.public_urls")),  # public media files for vendors (no login)
    path("", include("channels_out.urls")),  # /hooks/<adapter>/<connection>/ and /messages/
    path("admin/", admin.site.urls),
    path("healthz", core_views.healthz, name="healthz"),
]

if settings.DEBUG:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))
