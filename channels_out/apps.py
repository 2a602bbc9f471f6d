from django.apps import AppConfig


class ChannelsOutConfig(AppConfig):
    name = "channels_out"
    verbose_name = "Channels and messages"

    def ready(self) -> None:
        # CONVENTIONS R6: settings are read here, never at import time.
        from django.conf import settings

        from channels_out.registry import adapters_load

        adapters_load(settings.CHANNEL_ADAPTERS)
