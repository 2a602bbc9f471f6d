"""/api/v1/broadcasts… over real HTTP (live server + requests): create, launch (launch type API), status and
statistics; scope 403, another company's run 404, validation errors in the envelope (issue 7 item 8)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from broadcasts import services
from broadcasts.models import Broadcast
from broadcasts.services import BroadcastData
from channels_out.models import Connection
from portal.api.services import IssuedKey
from portal.tenants.models import Company
from tests.api.conftest import MakeKey
from tests.broadcasts.conftest import sms

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/broadcasts"
A, B = "+4915112345678", "+4915187654321"


@pytest.fixture
def key(company: Company, make_key: MakeKey) -> IssuedKey:
    return make_key(company, scopes=("broadcast",))


def _headers(issued: IssuedKey) -> dict[str, str]:
    return {"X-API-Key": issued.key}


def _error(response: requests.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"], body["error"]["type"]) == ("error", status, error_type)
    return body


def _body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "API run",
        "recipients": {"to": [A, B]},
        "channels": [
            {
                "name": "sms",
                "sender": "ACME",
                "wait_for": "delivery",
                "wait_seconds": 600,
                "message": {"text": "Hi"},
            }
        ],
    }
    body.update(extra)
    return body


class TestBroadcastCreateApi:
    def test_create_and_launch_runs_with_launch_type_api(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        simulator: Connection,
        script: Any,
    ) -> None:
        script(report="delivered")
        response = http.post(live_server.url + URL, headers=_headers(key), json=_body(launch=True))
        assert response.status_code == 201, response.text
        data = response.json()["data"]
        assert (data["launch_type"], data["status"], data["name"]) == ("api", "in_progress", "API run")
        assert data["channels"] == [
            {
                "order": 1,
                "name": "sms",
                "sender": "ACME",
                "wait_for": "delivery",
                "wait_seconds": 600,
                "message": {"text": "Hi"},
                "content": {"text": {"text": "Hi"}},
            }
        ]
        broadcast = Broadcast.objects.get(uuid=data["id"])
        assert broadcast.company_id == company.pk
        # Status and statistics while (or after) the engine runs in the eager worker.
        url = f"{live_server.url}{URL}/{broadcast.uuid}"
        for _attempt in range(50):
            shown = http.get(url, headers=_headers(key)).json()["data"]
            if shown["statistics"]["successful"] == 2:
                break
            time.sleep(0.1)
        stats = shown["statistics"]
        assert (stats["total"], stats["initiated"], stats["successful"], stats["unsuccessful"]) == (
            2,
            2,
            2,
            0,
        )
        assert stats["percent"]["successful"] == 100.0
        assert stats["channels"][0]["name"] == "sms"
        assert stats["channels"][0]["sent"] == 2

    def test_validation_errors_come_in_the_envelope_and_nothing_is_saved(
        self, live_server: Any, http: requests.Session, key: IssuedKey, simulator: Connection
    ) -> None:
        body = _body(
            launch=True,
            recipients={"to": []},
            channels=[{"name": "push", "sender": "", "wait_for": "delivery", "message": {"text": "x"}}],
        )
        error = _error(
            http.post(live_server.url + URL, headers=_headers(key), json=body), 422, "validation_error"
        )
        fields = error["error"]["fields"]
        assert fields["recipients"] == ["Choose at least one recipient: a target, a tag or a phone number."]
        assert fields["channels.0.from"] == ["Choose a sender ID for this step."]
        assert fields["channels.0.wait_for"] == ["Push has no Delivery status; wait for Submit."]
        malformed = http.post(live_server.url + URL, headers=_headers(key), json={"recipients": {}})
        assert "name" in _error(malformed, 422, "validation_error")["error"]["fields"]
        assert not Broadcast.objects.exists()

    def test_rich_content_is_validated_by_its_format_and_read_back(
        self, live_server: Any, http: requests.Session, key: IssuedKey, simulator: Connection
    ) -> None:
        """Issue 8 through the API: a step's constructor format (an RCS rich card) is stored as given and shown
        back; a title over the limit is refused at channels.<n>.content.<format>.<field>, nothing saved."""
        card = {"title": "Sale", "text": "Half price today", "media": {"url": "https://example.com/a.png"}}
        channel = {
            "name": "rcs",
            "sender": "ACME",
            "wait_for": "delivery",
            "content": {"rich_card": {"card": card}},
        }
        too_long = {**channel, "content": {"rich_card": {"card": {**card, "title": "x" * 201}}}}
        error = _error(
            http.post(live_server.url + URL, headers=_headers(key), json=_body(channels=[too_long])),
            422,
            "validation_error",
        )
        assert list(error["error"]["fields"]) == ["channels.0.content.rich_card.card.title"]
        assert not Broadcast.objects.exists()
        response = http.post(live_server.url + URL, headers=_headers(key), json=_body(channels=[channel]))
        assert response.status_code == 201, response.text
        shown = response.json()["data"]["channels"][0]
        assert shown["content"]["rich_card"]["card"]["title"] == "Sale"
        stored = Broadcast.objects.get(uuid=response.json()["data"]["id"]).steps.get()
        assert stored.content == shown["content"]

    def test_moderation_company_refuses_a_direct_launch(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        simulator: Connection,
    ) -> None:
        company.moderation_required = True
        company.save(update_fields=["moderation_required"])
        error = _error(
            http.post(live_server.url + URL, headers=_headers(key), json=_body(launch=True)),
            422,
            "application_error",
        )
        assert "need moderation" in error["message"]
        sent = http.post(live_server.url + URL, headers=_headers(key), json=_body(moderation=True))
        assert sent.json()["data"]["status"] == "on_moderation"

    def test_wrong_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        other = make_key(company, scopes=("recipients",))
        body = _error(
            http.post(live_server.url + URL, headers=_headers(other), json=_body()), 403, "permission_denied"
        )
        assert "broadcast" in body["message"]
        assert not Broadcast.objects.exists()


class TestBroadcastLaunchApi:
    def test_launch_a_draft_with_launch_type_api(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        simulator: Connection,
    ) -> None:
        draft = services.broadcast_save(
            company=company, actor=None, data=BroadcastData(name="Later", numbers=[A], steps=[sms()])
        )
        response = http.post(f"{live_server.url}{URL}/{draft.uuid}/launch", headers=_headers(key))
        assert response.status_code == 200, response.text
        assert response.json()["data"]["launch_type"] == "api"
        again = http.post(f"{live_server.url}{URL}/{draft.uuid}/launch", headers=_headers(key))
        assert _error(again, 422, "application_error")["message"] == "Only a Draft can be launched."

    def test_another_company_run_is_404(
        self, live_server: Any, http: requests.Session, key: IssuedKey, other_company: Company
    ) -> None:
        theirs = services.broadcast_save(
            company=other_company, actor=None, data=BroadcastData(name="Theirs", numbers=[A], steps=[sms()])
        )
        _error(
            http.post(f"{live_server.url}{URL}/{theirs.uuid}/launch", headers=_headers(key)), 404, "not_found"
        )
        assert Broadcast.objects.get(pk=theirs.pk).status == "draft"

    def test_wrong_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        draft = services.broadcast_save(
            company=company, actor=None, data=BroadcastData(name="Later", numbers=[A], steps=[sms()])
        )
        other = make_key(company, scopes=("omni-api",))
        _error(
            http.post(f"{live_server.url}{URL}/{draft.uuid}/launch", headers=_headers(other)),
            403,
            "permission_denied",
        )
        assert Broadcast.objects.get(pk=draft.pk).status == "draft"


class TestBroadcastReadApi:
    def test_list_and_show_only_the_company_runs(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        other_company: Company,
    ) -> None:
        mine = services.broadcast_save(
            company=company, actor=None, data=BroadcastData(name="Mine", numbers=[A])
        )
        theirs = services.broadcast_save(company=other_company, actor=None, data=BroadcastData(name="Theirs"))
        listed = http.get(live_server.url + URL, headers=_headers(key)).json()
        assert [b["name"] for b in listed["data"]] == ["Mine"]
        assert listed["meta"]["total"] == 1
        shown = http.get(f"{live_server.url}{URL}/{mine.uuid}", headers=_headers(key)).json()["data"]
        assert (shown["status"], shown["statistics"]["total"]) == ("draft", 0)
        _error(http.get(f"{live_server.url}{URL}/{theirs.uuid}", headers=_headers(key)), 404, "not_found")

    def test_wrong_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        other = make_key(company, scopes=("crm",))
        _error(http.get(live_server.url + URL, headers=_headers(other)), 403, "permission_denied")
