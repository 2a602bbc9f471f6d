from django.urls import path

from assets import views, views_content, views_media, views_whatsapp

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

urlpatterns += [
    path("content-templates/", views_content.content_list, name="content-list"),
    path("content-templates/new/", views_content.content_create, name="content-create"),
    path("content-templates/<uuid:uuid>/", views_content.content_edit, name="content-edit"),
    path("content-templates/<uuid:uuid>/rename/", views_content.content_rename, name="content-rename"),
    path("content-templates/<uuid:uuid>/delete/", views_content.content_delete, name="content-delete"),
    path(
        "content-templates/from-editor/",
        views_content.content_save_from_editor,
        name="content-save-from-editor",
    ),
    path("content-templates/pick/", views_content.content_pick_list, name="content-pick-list"),
    path("content-templates/<uuid:uuid>/apply/", views_content.content_apply, name="content-apply"),
]

urlpatterns += [
    path("whatsapp-templates/", views_whatsapp.whatsapp_list, name="whatsapp-list"),
    path("whatsapp-templates/new/", views_whatsapp.whatsapp_create, name="whatsapp-create"),
    path("whatsapp-templates/<uuid:uuid>/", views_whatsapp.whatsapp_detail, name="whatsapp-detail"),
    path("whatsapp-templates/<uuid:uuid>/submit/", views_whatsapp.whatsapp_submit, name="whatsapp-submit"),
    path("whatsapp-templates/<uuid:uuid>/delete/", views_whatsapp.whatsapp_delete, name="whatsapp-delete"),
]

urlpatterns += [
    path("content-templates/sms-counter/", views_content.content_sms_counter, name="content-sms-counter"),
]
