from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BroadcastsConfig(AppConfig):
    name = "broadcasts"
    verbose_name = _("Broadcasts")

    def ready(self) -> None:
        from broadcasts.engine import status_subscriber
        from channels_out.models import Message
        from channels_out.status_hooks import status_subscribers

        # The fallback engine's fast path: status changes of broadcast messages (channels_out/status_hooks.py).
        if Message.Origin.BROADCAST not in status_subscribers:
            status_subscribers.add(Message.Origin.BROADCAST, status_subscriber)
