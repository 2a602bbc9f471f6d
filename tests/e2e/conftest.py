"""Browser layer: Playwright drives Debian's Chromium (found with shutil.which; never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test itself are still
# synchronous, so Django's async-safety guard is lifted for the browser tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def sign_in(page: Any) -> Callable[[str, str], None]:
    def do(login: str, password: str) -> None:
        page.goto("/accounts/login/")
        page.fill("#id_login", login)
        page.fill("#id_password", password)
        page.click("button[type=submit]")

    return do


def htmx_idle(page: Any) -> None:
    """Wait until htmx has no request in flight and has settled its last swap.

    htmx attaches the listeners of swapped-in content in its settle step (20 ms after the swap), so an element can
    be visible before a change on it reaches the server; a test acting that fast would lose the event.
    """
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')"
    )
