from django.apps import AppConfig


class ChannelsOutConfig(AppConfig):
    name = "channels_out"
    verbose_name = "Channels and messages"

    def ready(self) -> None:
        # CONVENTIONS R6: settings are read here, never at import time.
        from django.conf import settings

        from channels_out.registry import adapters_load

        adapters_load(settings.CHANNEL_ADAPTERS)

        from channels_out.status_hooks import status_subscribers
        from channels_out.webhooks import api_status_subscriber

        # Messages sent through the send API report their status changes to the key's webhook (issue 5 §6).
        if "api" not in status_subscribers:
            status_subscribers.add("api", api_status_subscriber)
