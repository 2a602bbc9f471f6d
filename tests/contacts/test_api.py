"""/api/v1/contacts… over real HTTP (live server + requests): scope, tenants, envelope, imports (issue 6 item 8)."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
import requests

from contacts.models import Contact, ContactImport, Tag
from contacts.selectors import target_list
from contacts.services import target_create
from portal.api.services import IssuedKey
from portal.audit import actions
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.api.conftest import MakeKey
from tests.contacts.factories import make_attribute, make_contact

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/contacts"


@pytest.fixture
def key(company: Company, make_key: MakeKey) -> IssuedKey:
    return make_key(company, scopes=("recipients",))


def _headers(issued: IssuedKey) -> dict[str, str]:
    return {"X-API-Key": issued.key}


def _error(response: requests.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"], body["error"]["type"]) == ("error", status, error_type)
    return body


class TestContactListApi:
    def test_lists_the_company_contacts_with_attributes_by_name(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        other_company: Company,
    ) -> None:
        city = make_attribute(company, "City", "text")
        make_contact(company, "+12015550201", first_name="Ann", attributes={city.key: "Madrid"}, tags=["VIP"])
        make_contact(other_company, "+12015550202")
        response = http.get(live_server.url + URL, headers=_headers(key))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["meta"]["total"] == 1
        item = body["data"][0]
        assert (item["phone"], item["first_name"], item["attributes"], item["tags"]) == (
            "+12015550201",
            "Ann",
            {"City": "Madrid"},
            ["VIP"],
        )

    def test_create_validates_and_answers_in_the_envelope(
        self, live_server: Any, http: requests.Session, key: IssuedKey, company: Company
    ) -> None:
        make_attribute(company, "Age", "number")
        response = http.post(
            live_server.url + URL,
            headers=_headers(key),
            json={
                "phone": "+1 201 555 0203",
                "first_name": "Bo",
                "attributes": {"Age": "41"},
                "tags": ["api"],
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["message"] == "Subscriber created successfully"
        assert (body["data"]["phone"], body["data"]["attributes"]) == ("+12015550203", {"Age": 41})
        contact = Contact.objects.get(company=company, phone="+12015550203")
        assert [t.name for t in contact.tags.all()] == ["api"]
        bad = http.post(
            live_server.url + URL,
            headers=_headers(key),
            json={"phone": "12", "attributes": {"Age": "x", "Nope": 1}},
        )
        body = _error(bad, 422, "validation_error")
        assert body["error"]["fields"] == {"attributes": ["Unknown attribute: Nope"]}
        bad = http.post(
            live_server.url + URL, headers=_headers(key), json={"phone": "12", "attributes": {"Age": "x"}}
        )
        assert _error(bad, 422, "validation_error")["error"]["fields"] == {
            "phone": ["“12” is not a valid phone number."],
            "attributes.Age": ["Age: enter a number."],
        }

    def test_a_key_without_the_recipients_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        other = make_key(company, scopes=("omni-api",))
        body = _error(http.get(live_server.url + URL, headers=_headers(other)), 403, "permission_denied")
        assert body["message"] == "This API key lacks the “recipients” scope. Add it in API Accesses."
        _error(
            http.post(live_server.url + URL, headers=_headers(other), json={"phone": "+12015550204"}),
            403,
            "permission_denied",
        )
        assert not Contact.objects.exists()


class TestContactDetailApi:
    def test_show_update_delete(
        self, live_server: Any, http: requests.Session, key: IssuedKey, company: Company
    ) -> None:
        contact = make_contact(company, "+12015550211", first_name="Old", tags=["a", "b"])
        url = f"{live_server.url}{URL}/{contact.uuid}"
        assert http.get(url, headers=_headers(key)).json()["data"]["tags"] == ["a", "b"]
        response = http.put(
            url, headers=_headers(key), json={"phone": "+12015550211", "first_name": "New", "tags": ["b"]}
        )
        assert response.status_code == 200, response.text
        assert response.json()["message"] == "Subscriber updated successfully"
        assert response.json()["data"]["tags"] == ["b"]
        contact.refresh_from_db()
        assert contact.first_name == "New"
        response = http.delete(url, headers=_headers(key))
        assert (response.status_code, response.json()["message"]) == (200, "Subscriber deleted successfully")
        assert not Contact.objects.filter(pk=contact.pk).exists()
        _error(http.get(url, headers=_headers(key)), 404, "not_found")

    def test_another_company_contact_is_404(
        self, live_server: Any, http: requests.Session, key: IssuedKey, other_company: Company
    ) -> None:
        theirs = make_contact(other_company, "+12015550212", first_name="Theirs")
        url = f"{live_server.url}{URL}/{theirs.uuid}"
        _error(http.get(url, headers=_headers(key)), 404, "not_found")
        _error(http.put(url, headers=_headers(key), json={"phone": "+12015550213"}), 404, "not_found")
        _error(http.delete(url, headers=_headers(key)), 404, "not_found")
        theirs.refresh_from_db()
        assert theirs.phone == "+12015550212"

    def test_wrong_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        contact = make_contact(company, "+12015550214")
        other = make_key(company, scopes=("crm",))
        _error(
            http.delete(f"{live_server.url}{URL}/{contact.uuid}", headers=_headers(other)),
            403,
            "permission_denied",
        )
        assert Contact.objects.filter(pk=contact.pk).exists()


class TestTagApi:
    def test_create_list_show_delete(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        other_company: Company,
    ) -> None:
        response = http.post(live_server.url + URL + "/tags", headers=_headers(key), json={"name": "Women"})
        assert (response.status_code, response.json()["message"]) == (201, "Tag created successfully")
        duplicate = http.post(live_server.url + URL + "/tags", headers=_headers(key), json={"name": "women"})
        assert _error(duplicate, 422, "validation_error")["error"]["fields"] == {
            "name": ["The tag women already exists."]
        }
        theirs = Tag.objects.create(company=other_company, name="Theirs")
        listed = http.get(live_server.url + URL + "/tags", headers=_headers(key)).json()["data"]
        assert [t["name"] for t in listed] == ["Women"]
        _error(
            http.get(f"{live_server.url}{URL}/tags/{theirs.uuid}", headers=_headers(key)), 404, "not_found"
        )
        _error(
            http.delete(f"{live_server.url}{URL}/tags/{theirs.uuid}", headers=_headers(key)), 404, "not_found"
        )
        tag = Tag.objects.get(company=company, name="Women")
        assert (
            http.delete(f"{live_server.url}{URL}/tags/{tag.uuid}", headers=_headers(key)).status_code == 200
        )
        assert not Tag.objects.filter(pk=tag.pk).exists()

    def test_rename_keeps_the_contacts_and_is_audited(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        other_company: Company,
    ) -> None:
        contact = make_contact(company, "+12015550231", tags=["vip"])
        make_contact(company, "+12015550232", tags=["promo"])
        tag = Tag.objects.get(company=company, name="vip")
        url = f"{live_server.url}{URL}/tags/{tag.uuid}"
        response = http.put(url, headers=_headers(key), json={"name": "  Very   important "})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["message"], body["data"]["name"], body["data"]["contacts"]) == (
            "Tag updated successfully",
            "Very important",
            1,
        )
        assert [t.name for t in contact.tags.all()] == ["Very important"]
        entry = AuditEntry.objects.get(company=company, action=actions.TAG_CHANGED)
        detail = entry.details.get()
        assert detail.old_value is not None
        assert detail.new_value is not None
        assert (detail.old_value["name"], detail.new_value["name"]) == ("vip", "Very important")
        # A change of case only is a rename; another tag's name (any case) is refused, nothing changed.
        assert http.put(url, headers=_headers(key), json={"name": "VERY important"}).json()["data"][
            "name"
        ] == ("VERY important")
        taken = http.put(url, headers=_headers(key), json={"name": "PROMO"})
        assert _error(taken, 422, "validation_error")["error"]["fields"] == {
            "name": ["The tag PROMO already exists."]
        }
        empty = http.put(url, headers=_headers(key), json={"name": "   "})
        assert "name" in _error(empty, 422, "validation_error")["error"]["fields"]
        tag.refresh_from_db()
        assert tag.name == "VERY important"

    def test_another_company_tag_cannot_be_renamed(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        other_company: Company,
        make_key: MakeKey,
    ) -> None:
        theirs = Tag.objects.create(company=other_company, name="Theirs")
        response = http.put(
            f"{live_server.url}{URL}/tags/{theirs.uuid}", headers=_headers(key), json={"name": "Mine"}
        )
        _error(response, 404, "not_found")
        theirs.refresh_from_db()
        assert theirs.name == "Theirs"
        # Their own key with the wrong scope is refused too.
        wrong = make_key(other_company, scopes=("broadcast",))
        response = http.put(
            f"{live_server.url}{URL}/tags/{theirs.uuid}", headers=_headers(wrong), json={"name": "Mine"}
        )
        _error(response, 403, "permission_denied")
        theirs.refresh_from_db()
        assert theirs.name == "Theirs"

    def test_wrong_scope_is_403(
        self, live_server: Any, http: requests.Session, company: Company, make_key: MakeKey
    ) -> None:
        other = make_key(company, scopes=("broadcast",))
        _error(
            http.post(live_server.url + URL + "/tags", headers=_headers(other), json={"name": "x"}),
            403,
            "permission_denied",
        )


class TestTargetApi:
    def test_targets_are_read_with_their_count(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        other_company: Company,
        make_key: MakeKey,
    ) -> None:
        make_contact(company, "+12015550221", first_name="Ann")
        make_contact(company, "+12015550222", first_name="Bob")
        target = target_create(
            company=company,
            actor=None,
            name="Anns",
            filters=[{"key": "first_name", "mode": "value", "q": "ann"}],
        )
        theirs = target_create(company=other_company, actor=None, name="Theirs", filters=[])
        listed = http.get(live_server.url + URL + "/targets", headers=_headers(key)).json()["data"]
        assert [(t["name"], t["contacts"], t["launches"]) for t in listed] == [("Anns", 1, 0)]
        shown = http.get(f"{live_server.url}{URL}/targets/{target.uuid}", headers=_headers(key)).json()[
            "data"
        ]
        assert shown["filters"] == ["Name: ann"]
        _error(
            http.get(f"{live_server.url}{URL}/targets/{theirs.uuid}", headers=_headers(key)), 404, "not_found"
        )
        _error(
            http.post(live_server.url + URL + "/targets", headers=_headers(key), json={}),
            405,
            "method_not_allowed",
        )
        other = make_key(company, scopes=("dids",))
        _error(
            http.get(live_server.url + URL + "/targets", headers=_headers(other)), 403, "permission_denied"
        )
        assert target_list(company=company).count() == 1


class TestImportApi:
    def test_import_by_header_runs_and_reports_rejected_rows(
        self,
        live_server: Any,
        http: requests.Session,
        key: IssuedKey,
        company: Company,
        other_company: Company,
    ) -> None:
        make_attribute(company, "City", "text")
        make_contact(company, "+12015550231", first_name="Stored")
        buffer = io.StringIO()
        csv.writer(buffer).writerows(
            [
                ["phoneNumber", "Name", "City"],
                ["+12015550231", "New", "Oslo"],
                ["+12015550232", "Kim", "Rome"],
                ["bad", "X", ""],
            ]
        )
        response = http.post(
            live_server.url + URL + "/imports",
            headers=_headers(key),
            files={"file": ("list.csv", buffer.getvalue().encode(), "text/csv")},
            data={"duplicates": "enrich", "tag": "api-import"},
        )
        assert response.status_code == 202, response.text
        uuid = response.json()["data"]["id"]
        deadline = time.monotonic() + 10
        while True:
            data = http.get(f"{live_server.url}{URL}/imports/{uuid}", headers=_headers(key)).json()["data"]
            if data["status"] in ("imported", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (data["status"], data["imported"], data["updated"], data["rejected"], data["progress"]) == (
            "imported",
            1,
            1,
            1,
            100,
        )
        assert data["rejected_rows"] == [{"row": 4, "phone": "bad", "reason": "“bad” is not a phone number."}]
        assert Contact.objects.get(company=company, phone="+12015550231").first_name == "Stored"  # enrich
        assert Contact.objects.get(company=company, phone="+12015550232").attributes != {}
        theirs = ContactImport.objects.create(company=other_company, file_name="x.csv", file_format="csv")
        _error(
            http.get(f"{live_server.url}{URL}/imports/{theirs.uuid}", headers=_headers(key)), 404, "not_found"
        )
        listed = http.get(live_server.url + URL + "/imports", headers=_headers(key)).json()["data"]
        assert [i["id"] for i in listed] == [uuid]

    def test_a_bad_file_is_422_and_a_wrong_scope_403(
        self, live_server: Any, http: requests.Session, key: IssuedKey, company: Company, make_key: MakeKey
    ) -> None:
        response = http.post(
            live_server.url + URL + "/imports",
            headers=_headers(key),
            files={"file": ("list.txt", b"+12015550241\n")},
        )
        assert _error(response, 422, "validation_error")["error"]["fields"] == {
            "file": ["Choose a .csv, .xls or .xlsx file."]
        }
        other = make_key(company, scopes=("omni-api",))
        response = http.post(
            live_server.url + URL + "/imports",
            headers=_headers(other),
            files={"file": ("list.csv", b"phone\n+12015550241\n")},
        )
        _error(response, 403, "permission_denied")
        assert not ContactImport.objects.exists()
