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

        from django.db import transaction
        from django.db.models.signals import post_delete, post_save

        from channels_out.hooks import hook_targets_invalidate
        from channels_out.models import Connection, SimulatorRule

        def invalidate(**_kwargs: object) -> None:
            # Cache invalidation only (CONVENTIONS R4.5): the hook path's per-process adapters (channels_out.hooks).
            # Now for this process, and again after the commit so no process keeps a row read before it.
            hook_targets_invalidate()
            transaction.on_commit(hook_targets_invalidate)

        for model in (Connection, SimulatorRule):
            post_save.connect(
                invalidate, sender=model, weak=False, dispatch_uid=f"hooks-{model.__name__}-save"
            )
            post_delete.connect(
                invalidate, sender=model, weak=False, dispatch_uid=f"hooks-{model.__name__}-delete"
            )
