"""API accesses (guide §15) in a real browser: create a key, copy it to the clipboard, call the API with it,
regenerate it and see the old key refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.factories import PASSWORD, make_company, make_user, system_role

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_create_copy_use_and_regenerate_a_key(
    page: Any,
    sign_in: Callable[[str, str], None],
    live_server: Any,
) -> None:
    company = make_company("Browser API Co")
    make_user(company, [system_role(company, "admin")], login="api-admin")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in("api-admin", PASSWORD)
    page.wait_for_url("**/dashboard/")

    page.click('a[data-menu="api"]')
    page.wait_for_url("**/api-accesses/")
    assert "No API accesses yet." in page.locator("#access-table").inner_text()
    page.click("#access-create")
    page.fill("#id_name", "Shop backend")
    page.fill("#id_webhook_url", "https://shop.example/hook")
    page.check('input[name="scopes"][value="omni-api"]')
    page.click("#access-save")

    key_field = page.locator("#access-key-value")
    key_field.wait_for()
    key = key_field.input_value()
    assert len(key) == 64
    # HX-Replace-Url: the address bar now shows the edit page of the new access, not /new/.
    assert re.search(r"/api-accesses/[0-9a-f-]{36}/$", page.url), page.url
    page.click("#access-key-copy")
    page.wait_for_function("document.getElementById('access-key-copy').textContent.trim() === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == key

    me = requests.get(live_server.url + "/api/v1/auth/me", headers={"X-API-Key": key}, timeout=10)
    assert me.status_code == 200
    assert me.json()["data"]["name"] == "Shop backend"

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#access-regenerate")
    page.wait_for_function(f"document.getElementById('access-key-value').value !== '{key}'")
    new_key = page.locator("#access-key-value").input_value()
    old = requests.get(live_server.url + "/api/v1/auth/me", headers={"X-API-Key": key}, timeout=10)
    assert old.status_code == 401
    new = requests.get(
        live_server.url + "/api/v1/auth/me", headers={"Authorization": f"Bearer {new_key}"}, timeout=10
    )
    assert new.status_code == 200
