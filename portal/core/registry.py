"""A small typed registry (after Sentry's utils/registry.py), used for channel adapters and other plug-ins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class AlreadyRegisteredError(ValueError):
    pass


class NoRegistrationExistsError(KeyError):
    pass


class Registry(Generic[T]):
    def __init__(self) -> None:
        self._items: dict[str, T] = {}

    def register(self, key: str) -> Callable[[T], T]:
        def inner(item: T) -> T:
            self.add(key, item)
            return item

        return inner

    def add(self, key: str, item: T) -> None:
        if key in self._items:
            raise AlreadyRegisteredError(f"{key!r} is already registered")
        self._items[key] = item

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise NoRegistrationExistsError(f"{key!r} is not registered") from None

    def all(self) -> list[T]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
