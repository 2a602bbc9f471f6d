from django.urls import path

from assets import views, views_media

app_name = "assets"

urlpatterns = [
    path("", views.index, name="index"),
    path("media/", views_media.media_list, name="media-list"),
    path("media/new/", views_media.media_upload, name="media-upload"),
    path("media/<uuid:uuid>/delete/", views_media.media_delete, name="media-delete"),
    path("media/picker/", views_media.media_picker, name="media-picker"),
    path("media/picker/upload/", views_media.media_picker_upload, name="media-picker-upload"),
    path("media/picker/<uuid:uuid>/", views_media.media_pick, name="media-pick"),
]
