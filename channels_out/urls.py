from django.urls import path

from channels_out import views

app_name = "channels_out"

urlpatterns = [
    path("hooks/<slug:adapter_key>/<uuid:connection_uuid>/", views.callback_receive, name="callback"),
    path(
        "hooks/<slug:adapter_key>/<uuid:connection_uuid>/open/<str:token>.gif",
        views.email_open,
        name="email-open",
    ),
    path("messages/", views.message_log, name="message-list"),
    path("messages/<uuid:uuid>/", views.message_detail, name="message-detail"),
]
