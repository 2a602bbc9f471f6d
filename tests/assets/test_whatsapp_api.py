"""The send API refuses a WhatsApp template message whose template is not Approved or has the wrong parameter
count (guide §12.4; seed 004 E090), naming the field; nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from assets import services
from assets.models import WhatsAppTemplate
from channels_out.models import Message
from channels_out.services import simulator_connection_create
from portal.api.services import IssuedKey, api_access_create
from portal.tenants.models import Company
from tests.assets.factories import approved_whatsapp_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(company: Company) -> IssuedKey:
    simulator_connection_create(company=company, actor=None, sender_ids=["ACME"])
    return api_access_create(company=company, actor=None, name="Shop", scopes=["omni-api"], senders=["ACME"])


def _send(client: Client, key: IssuedKey, payload: dict[str, Any]) -> Any:
    body = {
        "channels": [{"name": "whatsapp", "from": "ACME", "meta": {}}],
        "message": {"type": "template", "payload": payload},
        "recipient": {"to": ["+34600000001"]},
    }
    return client.post(
        "/api/v1/whatsapp/message/send",
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key.key}"},
    )


def test_approved_template_with_the_right_count_is_queued(
    client: Client, key: IssuedKey, company: Company
) -> None:
    approved_whatsapp_template(company, "order_ready", body="Order {{1}} is ready, {{2}}.")
    response = _send(client, key, {"name": "order_ready", "language": "en", "body_params": ["A-1", "Ana"]})
    assert response.status_code == 202, response.content
    assert Message.objects.count() == 1


def test_wrong_count_unapproved_or_unknown_is_422(client: Client, key: IssuedKey, company: Company) -> None:
    approved_whatsapp_template(company, "order_ready", body="Order {{1}} is ready, {{2}}.")
    wrong = _send(client, key, {"name": "order_ready", "language": "en", "body_params": ["A-1"]})
    assert wrong.status_code == 422
    assert "exactly 2 parameters" in wrong.json()["error"]["fields"]["message.payload.body_params"][0]
    WhatsAppTemplate.objects.filter(company=company).update(status=WhatsAppTemplate.Status.PAUSED)
    paused = _send(client, key, {"name": "order_ready", "language": "en", "body_params": ["A-1", "Ana"]})
    assert paused.status_code == 422
    assert "only Approved" in paused.json()["error"]["fields"]["message.payload.name"][0]
    unknown = _send(client, key, {"name": "nothing_here", "body_params": ["x"]})
    assert unknown.status_code == 422
    assert not Message.objects.exists()


def test_another_companys_approved_template_is_refused(
    client: Client, key: IssuedKey, other_company: Company
) -> None:
    approved_whatsapp_template(other_company, "order_ready", body="Order {{1}}")
    response = _send(client, key, {"name": "order_ready", "language": "en", "body_params": ["A-1"]})
    assert response.status_code == 422
    assert (
        services.whatsapp_template_check(
            company=other_company, data={"name": "order_ready", "body_params": ["a"]}
        )
        == {}
    )
