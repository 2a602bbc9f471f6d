"""Public, login-free URLs of Assets: the media files vendors download (guide §12.1 "public/shareable URL")."""

from django.urls import path

from assets import views_media

app_name = "assets-public"

urlpatterns = [
    path("<uuid:uuid>/<str:filename>", views_media.media_public, name="media-file"),
]
