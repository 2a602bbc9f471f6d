"""Root fixtures: two companies, a user per role, an outsider, clients and an htmx client (CONVENTIONS R12)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import translation

from portal.accounts import permissions
from portal.accounts.models import User
from portal.tenants.models import Company
from tests import factories


def _redis_db() -> int:
    # Each xdist worker gets its own Redis database, so cache.clear() never touches another worker's keys
    # nor the development portal's (databases 0 and 1).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(os.environ.get("TEST_REDIS_DB", "15")) - 2 * int(worker.removeprefix("gw") or 0)


def test_redis_url(db_index: int) -> str:
    return django_settings.REDIS_URL.rsplit("/", 1)[0] + f"/{db_index}"


@pytest.fixture(scope="session")
def redis_urls() -> dict[str, str]:
    """The test run's own Redis databases: one for the cache, the next one down for the Celery broker."""
    return {"cache": test_redis_url(_redis_db()), "broker": test_redis_url(_redis_db() - 1)}


@pytest.fixture(scope="session", autouse=True)
def _test_settings(tmp_path_factory: pytest.TempPathFactory, redis_urls: dict[str, str]) -> Iterator[None]:
    """Test-only values (R11): fast hasher, local Redis database, temporary media, eager Celery."""
    from portal.celery import app

    redis_url = redis_urls["cache"]
    overrides = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": "portal",  # as in settings, so a worker process reads the same keys
            }
        },
        MEDIA_ROOT=str(tmp_path_factory.mktemp("media")),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    )
    overrides.enable()
    app.conf.update(broker_url=redis_urls["broker"], result_backend=redis_urls["broker"])
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    overrides.disable()


@pytest.fixture(autouse=True)
def _clean_cache_and_language() -> Iterator[None]:
    cache.clear()
    # A request in Spanish leaves the language active in the thread; each test starts in English.
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def company(db: None) -> Company:
    return factories.make_company("Acme Test")


@pytest.fixture
def other_company(db: None) -> Company:
    return factories.make_company("Globex Test")


@pytest.fixture
def admin_user(company: Company) -> User:
    return factories.make_user(company, [factories.system_role(company, "admin")], login="owner")


@pytest.fixture
def broadcast_manager(company: Company) -> User:
    return factories.make_user(company, [factories.system_role(company, "broadcast_manager")], login="bm")


@pytest.fixture
def finance_manager(company: Company) -> User:
    return factories.make_user(company, [factories.system_role(company, "finance_manager")], login="fm")


@pytest.fixture
def noc_engineer(company: Company) -> User:
    return factories.make_user(company, [factories.system_role(company, "noc_engineer")], login="noc")


@pytest.fixture
def viewer(company: Company) -> User:
    """A read-only user: a custom role that may only view the dashboard."""
    role = factories.make_role(company, {permissions.DASHBOARD_VIEW}, name="Viewer")
    return factories.make_user(company, [role], login="viewer")


@pytest.fixture
def outsider(other_company: Company) -> User:
    return factories.make_user(
        other_company, [factories.system_role(other_company, "admin")], login="outsider"
    )


@pytest.fixture
def client_for(db: None) -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


HTMX_HEADERS: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def htmx_client_for(client_for: Callable[[User], Client]) -> Callable[[User], Client]:
    """A client whose every request carries the htmx headers."""

    def make(user: User) -> Client:
        client = client_for(user)
        client.defaults.update(HTMX_HEADERS)
        return client

    return make


@pytest.fixture
def db_worker(
    redis_urls: dict[str, str], transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A real Celery worker process on this run's test database and Redis (committed data only)."""
    from django.db import connection

    from portal.celery import app
    from tests.worker import celery_worker

    # The worker process must use this run's test database, not the development one.
    monkeypatch.setenv("DB_NAME", str(connection.settings_dict["NAME"]))
    monkeypatch.setenv("MEDIA_ROOT", str(django_settings.MEDIA_ROOT))  # files the test uploads (e.g. imports)
    app.conf.task_always_eager = False
    try:
        with celery_worker(broker_url=redis_urls["broker"], cache_url=redis_urls["cache"]) as name:
            yield name
    finally:
        app.conf.task_always_eager = True
