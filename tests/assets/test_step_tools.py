"""The broadcast steps editor carries the content-template controls under each constructor step (issue #8 item 7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from broadcasts.models import Broadcast
from portal.accounts.models import User
from portal.tenants.models import Company

pytestmark = pytest.mark.django_db


def test_step_editor_shows_save_and_pick_template(
    client_for: Callable[[User], Client], admin_user: User, company: Company
) -> None:
    client = client_for(admin_user)
    data = {
        "name": "Run",
        "numbers": "+4915112345678",
        "instantly": "on",
        "type": "fallback",
        "s-0-channel": "whatsapp",
        "s-0-sender_id": "ACME",
        "s-0-wait_for": "delivery",
        "s-0-wait_value": "10",
        "s-0-wait_unit": "min",
        "s-0-c-channel": "whatsapp",
        "s-0-c-format": "text",
        "s-0-c-text": "Hi",
        "action": "draft",
    }
    client.post(reverse("broadcasts:broadcast-create"), data)
    broadcast = Broadcast.objects.get(company=company)
    html = client.get(reverse("broadcasts:broadcast-edit", args=[broadcast.uuid])).content.decode()
    assert 'id="s-0-c-editor"' in html
    assert 'id="s-0-c-ct-save"' in html
    assert "channel=whatsapp" in html
    assert 'hx-include="#s-0-c-editor, #s-0-c-ct-name"' in html
