"""/api/v1 over real HTTP (live server + requests): the four key styles, 401/403/404/405/422/429/500 envelopes,
rate limits with Retry-After, pagination, regenerate/delete revoking at once, OpenAPI schema and docs."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from django.test import override_settings

from portal.accounts.models import User
from portal.api.models import ApiAccess
from portal.api.services import IssuedKey, api_access_delete, api_access_regenerate_key
from portal.tenants.models import Company
from tests.api.conftest import MakeKey

ME = "/api/v1/auth/me"
INVALID_KEY = "The API key is not valid. Check the key or create a new one in API Accesses."
pytestmark = pytest.mark.django_db(transaction=True)


def _assert_error(
    response: requests.Response, status: int, error_type: str, message: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["status"] == "error"
    assert body["code"] == status
    assert body["data"] is None
    assert body["error"]["type"] == error_type
    assert isinstance(body["message"], str)
    assert body["message"]
    if message is not None:
        assert body["message"] == message
    return body


class TestAuthMeApi:
    @pytest.mark.parametrize("style", ["x-api-key", "bearer", "basic", "query"])
    def test_each_key_style_authenticates(
        self, live_server: Any, http: requests.Session, issued: IssuedKey, company: Company, style: str
    ) -> None:
        url = live_server.url + ME
        key = issued.key
        if style == "x-api-key":
            response = http.get(url, headers={"X-API-Key": key})
        elif style == "bearer":
            response = http.get(url, headers={"Authorization": f"Bearer {key}"})
        elif style == "basic":
            response = http.get(url, auth=(key, ""))
        else:
            response = http.get(url, params={"access_token": key})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "OK"
        assert body["code"] == 200
        assert body["message"] == "OK"
        data = body["data"]
        assert data["id"] == str(issued.access.uuid)
        assert data["name"] == "Shop backend"
        assert data["scopes"] == ["crm", "omni-api"]
        assert data["senders"] == ["ACME"]
        assert data["key_prefix"] == key[:12]
        assert data["company"] == {"id": str(company.uuid), "name": company.name}
        assert data["rate_limit"]["get_per_window"] == 1000
        assert key not in response.text
        assert response.headers["X-Portal-Company"] == str(company.uuid)
        issued.access.refresh_from_db()
        assert issued.access.last_used_at is not None

    def test_no_key_is_401_with_the_envelope(
        self, live_server: Any, http: requests.Session, db: None
    ) -> None:
        response = http.get(live_server.url + ME)
        _assert_error(response, 401, "not_authenticated", "Authentication credentials were not provided.")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'

    @pytest.mark.parametrize(
        "headers",
        [
            {"X-API-Key": "0" * 64},
            {"Authorization": "Bearer not-a-key"},
            {"Authorization": "Token " + "a" * 64},
            {"Authorization": "Basic !!!"},
        ],
    )
    def test_a_wrong_key_is_401(
        self, live_server: Any, http: requests.Session, issued: IssuedKey, headers: dict[str, str]
    ) -> None:
        _assert_error(
            http.get(live_server.url + ME, headers=headers), 401, "authentication_failed", INVALID_KEY
        )

    def test_basic_auth_with_a_wrong_user_name_is_401(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        response = http.get(live_server.url + ME, auth=("f" * 64, ""))
        _assert_error(response, 401, "authentication_failed", INVALID_KEY)

    def test_regenerating_revokes_the_old_key_at_once(
        self, live_server: Any, http: requests.Session, issued: IssuedKey, company: Company
    ) -> None:
        url = live_server.url + ME
        assert http.get(url, headers={"X-API-Key": issued.key}).status_code == 200
        new = api_access_regenerate_key(company=company, actor=None, access=issued.access)
        _assert_error(
            http.get(url, headers={"X-API-Key": issued.key}), 401, "authentication_failed", INVALID_KEY
        )
        assert http.get(url, headers={"X-API-Key": new.key}).status_code == 200

    def test_a_deleted_key_is_401_at_once(
        self, live_server: Any, http: requests.Session, issued: IssuedKey, company: Company
    ) -> None:
        url = live_server.url + ME
        assert http.get(url, params={"access_token": issued.key}).status_code == 200
        api_access_delete(company=company, actor=None, access=issued.access)
        _assert_error(http.get(url, params={"access_token": issued.key}), 401, "authentication_failed")

    def test_a_key_of_a_deactivated_company_is_401(
        self, live_server: Any, http: requests.Session, issued: IssuedKey, company: Company
    ) -> None:
        company.is_active = False
        company.save()
        _assert_error(
            http.get(live_server.url + ME, headers={"X-API-Key": issued.key}), 401, "authentication_failed"
        )

    def test_post_is_405(self, live_server: Any, http: requests.Session, issued: IssuedKey) -> None:
        response = http.post(live_server.url + ME, headers={"X-API-Key": issued.key}, json={})
        _assert_error(response, 405, "method_not_allowed", 'Method "POST" not allowed.')

    def test_a_browser_session_is_not_an_api_credential(
        self, live_server: Any, http: requests.Session, admin_user: User
    ) -> None:
        from django.test import Client

        client = Client()
        client.force_login(admin_user)
        http.cookies.set("sessionid", client.cookies["sessionid"].value)
        _assert_error(http.get(live_server.url + ME), 401, "not_authenticated")
        # The API call left the browser session alone.
        assert http.get(live_server.url + "/dashboard/", allow_redirects=False).status_code == 200


class TestUnknownPathApi:
    def test_unknown_path_is_a_json_404_for_a_valid_key(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        response = http.get(live_server.url + "/api/v1/nothing/here", headers={"X-API-Key": issued.key})
        _assert_error(response, 404, "not_found", "Not found.")

    def test_unknown_path_without_a_key_is_401(
        self, live_server: Any, http: requests.Session, db: None
    ) -> None:
        _assert_error(http.get(live_server.url + "/api/v1/nothing"), 401, "not_authenticated")


class TestRateLimit:
    # A day-long window: a fixed window that turned over in the middle of the test would reset the count.
    @override_settings(PORTAL_API_RATE_LIMIT_GET=3, PORTAL_API_RATE_WINDOW_SECONDS=86_400)
    def test_the_request_over_the_limit_gets_429_with_retry_after(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        url = live_server.url + ME
        headers = {"X-API-Key": issued.key}
        remaining = []
        for _ in range(3):
            ok = http.get(url, headers=headers)
            assert ok.status_code == 200
            assert ok.headers["X-RateLimit-Limit"] == "3"
            remaining.append(ok.headers["X-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        response = http.get(url, headers=headers)
        body = _assert_error(response, 429, "rate_limited")
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= 86_400
        assert body["message"] == f"Too many requests for this API key. Try again in {retry_after} seconds."
        assert response.headers["X-RateLimit-Remaining"] == "0"

    @override_settings(PORTAL_API_RATE_LIMIT_GET=2)
    def test_each_key_has_its_own_budget(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        first, second = make_key(company), make_key(company)
        url = live_server.url + ME
        for _ in range(2):
            assert http.get(url, headers={"X-API-Key": first.key}).status_code == 200
        assert http.get(url, headers={"X-API-Key": first.key}).status_code == 429
        assert http.get(url, headers={"X-API-Key": second.key}).status_code == 200

    @override_settings(PORTAL_API_RATE_LIMIT_GET=2)
    def test_a_raised_per_key_limit_is_honoured(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        ApiAccess.objects.filter(pk=issued.access.pk).update(rate_limit_get=4)
        url = live_server.url + ME
        statuses = [http.get(url, headers={"X-API-Key": issued.key}).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 200, 429]

    @override_settings(PORTAL_API_RATE_LIMIT_GET=1, PORTAL_API_RATE_LIMIT_WRITE=1)
    def test_writes_count_apart_from_reads(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        url = live_server.url + ME
        assert http.get(url, headers={"X-API-Key": issued.key}).status_code == 200
        assert http.get(url, headers={"X-API-Key": issued.key}).status_code == 429
        # The write budget is untouched: the POST is refused for its method (405), not for the rate.
        assert http.post(url, headers={"X-API-Key": issued.key}).status_code == 405
        assert http.post(url, headers={"X-API-Key": issued.key}).status_code == 429


@pytest.mark.urls("tests.api.probe_urls")
class TestScopeAndTenantOnProbeApi:
    def test_a_key_without_the_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        crm_only = make_key(company, scopes=("crm",))
        url = f"{live_server.url}/api/v1/_probe/accesses/{crm_only.access.uuid}"
        response = http.get(url, headers={"Authorization": f"Bearer {crm_only.key}"})
        _assert_error(
            response,
            403,
            "permission_denied",
            "This API key lacks the “omni-api” scope. Add it in API Accesses.",
        )

    def test_the_scope_lets_the_request_through(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        url = f"{live_server.url}/api/v1/_probe/accesses/{issued.access.uuid}"
        response = http.get(url, headers={"Authorization": f"Bearer {issued.key}"})
        assert response.status_code == 200
        assert response.json()["data"] == {"id": str(issued.access.uuid), "name": "Shop backend"}

    def test_another_tenants_object_is_404_like_a_missing_one(
        self,
        live_server: Any,
        http: requests.Session,
        issued: IssuedKey,
        other_company: Company,
        make_key: MakeKey,
    ) -> None:
        theirs = make_key(other_company, name="Globex key")
        headers = {"X-API-Key": issued.key}
        other = http.get(f"{live_server.url}/api/v1/_probe/accesses/{theirs.access.uuid}", headers=headers)
        missing = http.get(
            f"{live_server.url}/api/v1/_probe/accesses/00000000-0000-0000-0000-000000000000", headers=headers
        )
        assert _assert_error(other, 404, "not_found") == _assert_error(missing, 404, "not_found")
        assert "Globex" not in other.text

    def test_list_pages_in_the_seed_shape_and_only_the_own_tenant(
        self,
        live_server: Any,
        http: requests.Session,
        company: Company,
        other_company: Company,
        make_key: MakeKey,
    ) -> None:
        keys = [make_key(company, name=f"K{i:02d}", scopes=("crm",)) for i in range(17)]
        make_key(other_company, name="K00-globex", scopes=("crm",))
        url = f"{live_server.url}/api/v1/_probe/accesses"
        headers = {"X-API-Key": keys[0].key}
        first = http.get(url, headers=headers).json()
        assert first["status"] == "OK"
        assert [row["name"] for row in first["data"]] == [f"K{i:02d}" for i in range(15)]
        assert first["meta"] == {
            "current_page": 1,
            "from": 1,
            "last_page": 2,
            "path": url,
            "per_page": 15,
            "to": 15,
            "total": 17,
        }
        assert first["links"]["prev"] is None
        assert first["links"]["next"] == f"{url}?page=2"
        second = http.get(first["links"]["next"], headers=headers).json()
        assert [row["name"] for row in second["data"]] == ["K15", "K16"]
        assert second["links"]["next"] is None
        small = http.get(url, headers=headers, params={"per_page": 5, "page": 4}).json()
        assert small["meta"]["last_page"] == 4
        assert [r["name"] for r in small["data"]] == ["K15", "K16"]
        capped = http.get(url, headers=headers, params={"per_page": 500}).json()
        assert capped["meta"]["per_page"] == 100
        _assert_error(http.get(url, headers=headers, params={"page": 9}), 404, "not_found")


@pytest.mark.urls("tests.api.probe_urls")
class TestErrorEnvelopeOnProbeApi:
    def test_field_validation_is_422_with_per_field_messages(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        response = http.post(
            f"{live_server.url}/api/v1/_probe/write",
            headers={"X-API-Key": issued.key},
            json={"name": "far too long a name", "count": 0},
        )
        body = _assert_error(response, 422, "validation_error", "The request has invalid fields.")
        assert body["error"]["fields"] == {
            "name": ["Ensure this field has no more than 10 characters."],
            "count": ["Ensure this value is greater than or equal to 1."],
        }

    def test_a_missing_field_is_named(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        response = http.post(
            f"{live_server.url}/api/v1/_probe/write", headers={"X-API-Key": issued.key}, json={"name": "a"}
        )
        body = _assert_error(response, 422, "validation_error")
        assert body["error"]["fields"] == {"count": ["This field is required."]}

    def test_malformed_json_is_400(self, live_server: Any, http: requests.Session, issued: IssuedKey) -> None:
        response = http.post(
            f"{live_server.url}/api/v1/_probe/write",
            headers={"X-API-Key": issued.key, "Content-Type": "application/json"},
            data="{not json",
        )
        body = _assert_error(response, 400, "parse_error")
        assert body["message"].startswith("JSON parse error")

    def test_a_product_rule_is_422_with_its_message(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        response = http.post(
            f"{live_server.url}/api/v1/_probe/write",
            headers={"X-API-Key": issued.key},
            json={"name": "rule", "count": 1},
        )
        _assert_error(response, 422, "application_error", "The product refuses this.")

    def test_an_unexpected_error_is_500_without_details(
        self, live_server: Any, http: requests.Session, issued: IssuedKey, caplog: pytest.LogCaptureFixture
    ) -> None:
        response = http.post(
            f"{live_server.url}/api/v1/_probe/write",
            headers={"X-API-Key": issued.key},
            json={"name": "crash", "count": 1},
        )
        _assert_error(
            response, 500, "server_error", "The server failed to process the request. Try again later."
        )
        assert "boom" not in response.text
        assert any("Unhandled error in API view ProbeWriteApi" in r.getMessage() for r in caplog.records)

    def test_success_envelope_carries_the_status_code(
        self, live_server: Any, http: requests.Session, issued: IssuedKey
    ) -> None:
        response = http.post(
            f"{live_server.url}/api/v1/_probe/write",
            headers={"X-API-Key": issued.key},
            json={"name": "ok", "count": 2},
        )
        assert response.status_code == 202
        assert response.json() == {
            "status": "OK",
            "code": 202,
            "message": "Accepted",
            "data": {"name": "ok", "count": 2},
        }


class TestSchemaAndDocs:
    def test_schema_documents_auth_me_and_the_four_key_styles(
        self, live_server: Any, http: requests.Session, db: None
    ) -> None:
        response = http.get(live_server.url + "/api/v1/schema/", headers={"Accept": "application/json"})
        assert response.status_code == 200
        schema = response.json()
        assert schema["info"]["title"] == "Omnichannel portal API"
        assert "/api/v1/auth/me" in schema["paths"]
        schemes = schema["components"]["securitySchemes"]
        assert schemes["BearerKey"] == {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <API key> (preferred).",
        }
        assert schemes["HeaderKey"]["name"] == "X-API-Key"
        assert schemes["QueryKey"] == {
            "type": "apiKey",
            "in": "query",
            "name": "access_token",
            "description": "For clients that cannot set headers; masked in the server logs.",
        }
        assert schemes["BasicKey"]["scheme"] == "basic"
        me = schema["paths"]["/api/v1/auth/me"]["get"]
        assert set(me["responses"]) >= {"200", "401", "403", "429"}

    def test_docs_page_uses_the_vendored_swagger_ui(
        self, live_server: Any, http: requests.Session, db: None
    ) -> None:
        response = http.get(live_server.url + "/api/v1/docs/")
        assert response.status_code == 200
        html = response.text
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources
        assert all(src.startswith("/static/") for src in sources), sources
        assert "/api/v1/schema/" in html
