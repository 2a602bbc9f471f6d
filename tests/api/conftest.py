"""Fixtures of the API tests: issued keys of both companies and a real HTTP client against the live server."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from portal.accounts.models import User
from portal.api.services import IssuedKey, api_access_create
from portal.tenants.models import Company

MakeKey = Callable[..., IssuedKey]


@pytest.fixture
def make_key(db: None) -> MakeKey:
    """Create an API access through the service and return it with its one-time key."""

    def make(
        company: Company,
        *,
        name: str | None = None,
        scopes: tuple[str, ...] = ("omni-api",),
        actor: User | None = None,
        **fields: Any,
    ) -> IssuedKey:
        return api_access_create(
            company=company, actor=actor, name=name or f"Key {next(seq)}", scopes=list(scopes), **fields
        )

    seq = itertools.count(1)
    return make


@pytest.fixture
def issued(company: Company, make_key: MakeKey) -> IssuedKey:
    return make_key(company, name="Shop backend", scopes=("omni-api", "crm"), senders=["ACME"])


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A real HTTP client; every call has a timeout so a hung server fails the test instead of the run."""
    session = requests.Session()
    original = session.request

    def request(method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return original(method, url, **kwargs)

    session.request = request  # type: ignore[method-assign,assignment]
    yield session
    session.close()
