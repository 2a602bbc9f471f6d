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


def test_a_step_with_an_unapproved_whatsapp_template_is_refused(
    client_for: Callable[[User], Client], admin_user: User, company: Company
) -> None:
    from assets import services
    from assets.models import WhatsAppTemplate
    from tests.assets.factories import approved_whatsapp_template

    template = approved_whatsapp_template(company, "order_ready", body="Order {{1}} is ready.")
    WhatsAppTemplate.objects.filter(pk=template.pk).update(status=WhatsAppTemplate.Status.REJECTED)
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
        "s-0-c-format": "template",
        "s-0-c-template": "order_ready:en",
        "s-0-c-header_params-n": "0",
        "s-0-c-body_params-n": "1",
        "s-0-c-body_params-0": "A-1",
        "action": "draft",
    }
    refused = client.post(reverse("broadcasts:broadcast-create"), data)
    assert "only Approved templates can be sent" in refused.content.decode()
    assert not Broadcast.objects.filter(company=company).exists()
    WhatsAppTemplate.objects.filter(pk=template.pk).update(status=WhatsAppTemplate.Status.APPROVED)
    too_many = client.post(
        reverse("broadcasts:broadcast-create"),
        {**data, "s-0-c-body_params-n": "2", "s-0-c-body_params-1": "x"},
    )
    assert "exactly 1 parameter here (2 given)" in too_many.content.decode()
    assert not Broadcast.objects.filter(company=company).exists()
    client.post(reverse("broadcasts:broadcast-create"), data)
    step = Broadcast.objects.get(company=company).steps.get()
    assert services.whatsapp_template_check(company=company, data=step.content["template"]) == {}
