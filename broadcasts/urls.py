from django.urls import path

from broadcasts import views

app_name = "broadcasts"

urlpatterns = [
    path("", views.broadcast_list, name="broadcast-list"),
    path("new/", views.broadcast_create, name="broadcast-create"),
    path("form/recipients-count/", views.recipients_count, name="recipients-count"),
    path("form/sms-counter/", views.sms_counter, name="sms-counter"),
    path("form/preview/", views.broadcast_preview, name="broadcast-preview"),
    path("settings/", views.broadcast_settings, name="broadcast-settings"),
    path("templates/", views.template_list, name="template-list"),
    path("templates/new/", views.template_create, name="template-create"),
    path("templates/<uuid:uuid>/", views.template_edit, name="template-edit"),
    path("templates/<uuid:uuid>/<slug:action>/", views.template_action, name="template-action"),
    path("<uuid:uuid>/", views.broadcast_detail, name="broadcast-detail"),
    path("<uuid:uuid>/edit/", views.broadcast_edit, name="broadcast-edit"),
    path("<uuid:uuid>/recipients/<int:pk>/", views.broadcast_recipient, name="broadcast-recipient"),
    path("<uuid:uuid>/<slug:action>/", views.broadcast_action, name="broadcast-action"),
]
