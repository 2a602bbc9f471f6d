"""The adapter registry (CONVENTIONS R6), filled at start-up from ``settings.CHANNEL_ADAPTERS``."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.module_loading import import_string

from channels_out.base import ChannelAdapter
from portal.core.registry import Registry

adapters: Registry[type[ChannelAdapter]] = Registry()


def adapters_load(paths: Iterable[str]) -> None:
    """Import each dotted adapter class path and register it under its ``key`` (idempotent per key)."""
    for path in paths:
        adapter: type[ChannelAdapter] = import_string(path)
        if adapter.key in adapters:
            if adapters.get(adapter.key) is not adapter:
                raise ValueError(f"two adapters claim the key {adapter.key!r}")
            continue
        adapters.add(adapter.key, adapter)


def adapter_choices() -> list[tuple[str, str]]:
    return [(key, key) for key in adapters]
