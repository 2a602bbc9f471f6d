from django.urls import path

from channels_out import views, webhooks_views
from channels_out.constructor import views as constructor_views
from channels_out.email_design import views as email_design_views

app_name = "channels_out"

urlpatterns = [
    path("hooks/<slug:adapter_key>/<uuid:connection_uuid>/", views.callback_receive, name="callback"),
    path(
        "hooks/<slug:adapter_key>/<uuid:connection_uuid>/open/<str:token>.gif",
        views.email_open,
        name="email-open",
    ),
    path("messages/", views.message_log, name="message-list"),
    path("constructor/email/", email_design_views.email_editor, name="email-editor"),
    # The send API's webhook log, under the API Accesses section (issue 5 §6).
    path("api-accesses/<uuid:uuid>/webhooks/", webhooks_views.webhook_list, name="webhook-list"),
    path(
        "api-accesses/<uuid:uuid>/webhooks/replay-dead/",
        webhooks_views.webhook_replay_dead,
        name="webhook-replay-dead",
    ),
    path(
        "api-accesses/<uuid:uuid>/webhooks/<uuid:delivery>/",
        webhooks_views.webhook_detail,
        name="webhook-detail",
    ),
    path(
        "api-accesses/<uuid:uuid>/webhooks/<uuid:delivery>/replay/",
        webhooks_views.webhook_replay,
        name="webhook-replay",
    ),
    path("messages/<uuid:uuid>/", views.message_detail, name="message-detail"),
    path("constructor/editor/", constructor_views.constructor_editor, name="constructor-editor"),
]
