"""The API Accesses pages (guide §15) through the Django client: list, panel, key shown once, htmx fragments."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.api.models import ApiAccess
from portal.api.selectors import api_access_for_key
from portal.api.services import IssuedKey
from portal.audit import actions
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.api.conftest import MakeKey

ClientFor = Callable[[User], Client]
LIST_URL = "/api-accesses/"
CREATE_URL = "/api-accesses/new/"


def _shown_key(html: str) -> str:
    match = re.search(r'id="access-key-value"[^>]*value="([0-9a-f]{64})"', html, re.S) or re.search(
        r'value="([0-9a-f]{64})"[^>]*id="access-key-value"', html, re.S
    )
    assert match, "the new key is not on the page"
    return match.group(1)


class TestList:
    def test_shows_the_guides_columns_and_only_the_key_prefix(
        self, client_for: ClientFor, admin_user: User, issued: IssuedKey
    ) -> None:
        response = client_for(admin_user).get(LIST_URL)
        html = response.content.decode()
        assert response.status_code == 200
        headers = re.findall(r"<th(?:\s[^>]*)?>\s*(?:<a[^>]*>)?\s*([^<]+?)\s*<", html)
        assert headers == ["ID", "Name", "API key", "Scopes", "Webhook", "Last used", "Actions"]
        assert "Shop backend" in html
        assert f"{issued.key[:12]}…" in html
        assert issued.key not in html
        assert issued.access.key_hash not in html
        assert 'class="app-menu-link active"' in html
        assert 'data-menu="api"' in html

    def test_lists_only_the_companys_own_accesses(
        self, client_for: ClientFor, admin_user: User, other_company: Company, make_key: MakeKey
    ) -> None:
        make_key(other_company, name="Globex secret integration")
        html = client_for(admin_user).get(LIST_URL).content.decode()
        assert "Globex secret integration" not in html
        assert "No API accesses yet." in html

    def test_filter_and_sort(
        self, client_for: ClientFor, admin_user: User, company: Company, make_key: MakeKey
    ) -> None:
        make_key(company, name="Alpha")
        make_key(company, name="Beta")
        client = client_for(admin_user)
        html = client.get(LIST_URL, {"filter": "name", "q": "alp"}).content.decode()
        assert "Alpha" in html
        assert "Beta" not in html
        html = client.get(LIST_URL, {"sort": "name"}).content.decode()
        assert html.index("Alpha") < html.index("Beta")
        html = client.get(LIST_URL, {"sort": "-name"}).content.decode()
        assert html.index("Beta") < html.index("Alpha")
        assert (
            "Nothing matches the filter."
            in client.get(LIST_URL, {"filter": "webhook", "q": "zzz"}).content.decode()
        )

    def test_htmx_request_gets_only_the_table_fragment(
        self, htmx_client_for: ClientFor, admin_user: User, issued: IssuedKey
    ) -> None:
        response = htmx_client_for(admin_user).get(LIST_URL, {"filter": "name", "q": "shop"})
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<div id="access-table"')
        assert "Shop backend" in html
        assert "<html" not in html
        assert "app-menu" not in html
        assert "HX-Request" in response["Vary"]

    def test_menu_leads_to_the_list(self, client_for: ClientFor, admin_user: User) -> None:
        html = client_for(admin_user).get("/dashboard/").content.decode()
        assert f'href="{LIST_URL}"' in html

    def test_anonymous_visitor_is_sent_to_sign_in(self, db: None) -> None:
        response = Client().get(LIST_URL)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


class TestCreate:
    def test_create_shows_the_key_once_with_a_copy_button(
        self, client_for: ClientFor, admin_user: User, company: Company
    ) -> None:
        client = client_for(admin_user)
        response = client.post(
            CREATE_URL,
            {
                "name": "Shop",
                "webhook_url": "https://shop.example/hook",
                "scopes": ["omni-api", "crm"],
                "senders": "ACME\nShop, ACME",
            },
        )
        html = response.content.decode()
        assert response.status_code == 200
        key = _shown_key(html)
        assert 'data-copy-target="access-key-value"' in html
        assert "js/api_access.js" in html
        assert "it is shown only this once" in html
        assert "no-store" in response["Cache-Control"]
        access = ApiAccess.objects.get(company=company, name="Shop")
        assert api_access_for_key(key=key) == access
        assert access.scopes == ["crm", "omni-api"]
        assert access.senders == ["ACME", "Shop"]
        assert access.webhook_url == "https://shop.example/hook"
        assert AuditEntry.objects.filter(company=company, action=actions.API_KEY_CREATED).count() == 1
        # Never again: the edit page and the list show only the prefix.
        assert key not in client.get(f"/api-accesses/{access.uuid}/").content.decode()
        assert key not in client.get(LIST_URL).content.decode()

    def test_bad_input_is_shown_on_its_fields(self, client_for: ClientFor, admin_user: User) -> None:
        response = client_for(admin_user).post(
            CREATE_URL, {"name": "", "webhook_url": "gmail.com", "scopes": []}
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "Enter a name for the API access." in html
        assert "Choose at least one scope." in html
        assert "Enter a full webhook URL starting with http:// or https://" in html
        assert not ApiAccess.objects.exists()

    def test_unknown_scope_value_is_refused(self, client_for: ClientFor, admin_user: User) -> None:
        html = client_for(admin_user).post(CREATE_URL, {"name": "K", "scopes": ["root"]}).content.decode()
        assert "Select a valid choice. root is not one of the available choices." in html
        assert not ApiAccess.objects.exists()

    def test_form_offers_exactly_the_five_scopes(self, client_for: ClientFor, admin_user: User) -> None:
        html = client_for(admin_user).get(CREATE_URL).content.decode()
        values = re.findall(r'name="scopes" value="([^"]+)"', html)
        assert values == ["recipients", "broadcast", "crm", "omni-api", "dids"]

    def test_htmx_create_returns_the_panel_with_the_key(
        self, htmx_client_for: ClientFor, admin_user: User, company: Company
    ) -> None:
        response = htmx_client_for(admin_user).post(CREATE_URL, {"name": "Hx", "scopes": ["dids"]})
        html = response.content.decode()
        access = ApiAccess.objects.get(company=company, name="Hx")
        assert html.lstrip().startswith('<section id="access-panel"')
        assert "<html" not in html
        assert api_access_for_key(key=_shown_key(html)) == access
        assert response["HX-Replace-Url"] == f"/api-accesses/{access.uuid}/"

    def test_htmx_validation_error_rerenders_the_panel_with_200(
        self, htmx_client_for: ClientFor, admin_user: User
    ) -> None:
        response = htmx_client_for(admin_user).post(CREATE_URL, {"name": "", "scopes": ["crm"]})
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="access-panel"')
        assert "Enter a name for the API access." in html


class TestEdit:
    def test_save_changes_and_return_to_the_list(
        self, client_for: ClientFor, admin_user: User, issued: IssuedKey
    ) -> None:
        client = client_for(admin_user)
        url = f"/api-accesses/{issued.access.uuid}/"
        form = client.get(url).content.decode()
        assert 'value="Shop backend"' in form
        assert f"{issued.key[:12]}…" in form
        response = client.post(url, {"name": "Shop v2", "scopes": ["broadcast"], "senders": ""})
        assert response.status_code == 303
        assert response["Location"] == LIST_URL
        issued.access.refresh_from_db()
        assert issued.access.name == "Shop v2"
        assert issued.access.scopes == ["broadcast"]
        assert issued.access.senders == []
        assert "API access “Shop v2” saved." in client.get(LIST_URL).content.decode()
        assert api_access_for_key(key=issued.key) == issued.access  # editing keeps the key

    def test_htmx_save_redirects_the_client(
        self, htmx_client_for: ClientFor, admin_user: User, issued: IssuedKey
    ) -> None:
        response = htmx_client_for(admin_user).post(
            f"/api-accesses/{issued.access.uuid}/", {"name": "X", "scopes": ["crm"]}
        )
        assert response["HX-Redirect"] == LIST_URL

    def test_regenerate_shows_a_new_key_and_the_old_one_stops_working(
        self, client_for: ClientFor, admin_user: User, issued: IssuedKey
    ) -> None:
        response = client_for(admin_user).post(f"/api-accesses/{issued.access.uuid}/regenerate/")
        new_key = _shown_key(response.content.decode())
        assert new_key != issued.key
        assert "no-store" in response["Cache-Control"]
        assert api_access_for_key(key=issued.key) is None
        assert api_access_for_key(key=new_key) == issued.access

    def test_regenerate_needs_post(self, client_for: ClientFor, admin_user: User, issued: IssuedKey) -> None:
        assert (
            client_for(admin_user).get(f"/api-accesses/{issued.access.uuid}/regenerate/").status_code == 405
        )
        assert api_access_for_key(key=issued.key) == issued.access


class TestDelete:
    def test_asks_for_confirmation_then_deletes(
        self, client_for: ClientFor, admin_user: User, issued: IssuedKey
    ) -> None:
        client = client_for(admin_user)
        url = f"/api-accesses/{issued.access.uuid}/delete/"
        page = client.get(url).content.decode()
        assert "Delete “Shop backend”" in page
        assert ApiAccess.objects.filter(pk=issued.access.pk).exists()
        response = client.post(url)
        assert response.status_code == 303
        assert response["Location"] == LIST_URL
        assert not ApiAccess.objects.filter(pk=issued.access.pk).exists()
        assert api_access_for_key(key=issued.key) is None
        assert (
            "API access “Shop backend” deleted. Its key no longer works."
            in client.get(LIST_URL).content.decode()
        )


class TestAccessRules:
    @pytest.mark.parametrize(
        ("method", "suffix"),
        [("get", ""), ("post", ""), ("post", "regenerate/"), ("get", "delete/"), ("post", "delete/")],
    )
    def test_another_companys_access_is_404(
        self, client_for: ClientFor, outsider: User, issued: IssuedKey, method: str, suffix: str
    ) -> None:
        url = f"/api-accesses/{issued.access.uuid}/{suffix}"
        response = getattr(client_for(outsider), method)(url, {"name": "Hijack", "scopes": ["crm"]})
        assert response.status_code == 404
        issued.access.refresh_from_db()
        assert issued.access.name == "Shop backend"
        assert api_access_for_key(key=issued.key) == issued.access

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", LIST_URL),
            ("get", CREATE_URL),
            ("post", CREATE_URL),
            ("get", "{uuid}/"),
            ("post", "{uuid}/"),
            ("post", "{uuid}/regenerate/"),
            ("post", "{uuid}/delete/"),
        ],
    )
    def test_a_role_without_manage_api_accesses_gets_403(
        self, client_for: ClientFor, finance_manager: User, issued: IssuedKey, method: str, path: str
    ) -> None:
        url = path if path.startswith("/") else f"/api-accesses/{path.format(uuid=issued.access.uuid)}"
        response = getattr(client_for(finance_manager), method)(url, {"name": "X", "scopes": ["crm"]})
        assert response.status_code == 403
        assert ApiAccess.objects.count() == 1
        assert api_access_for_key(key=issued.key) == issued.access

    def test_noc_engineer_role_may_manage_keys(self, client_for: ClientFor, noc_engineer: User) -> None:
        """Guide §13.4: NOC engineer holds "Manage API Accesses"."""
        assert client_for(noc_engineer).get(LIST_URL).status_code == 200


def test_list_links_each_access_to_its_webhook_deliveries(
    client_for: ClientFor, admin_user: User, issued: IssuedKey
) -> None:
    html = client_for(admin_user).get(LIST_URL).content.decode()
    assert f'href="/api-accesses/{issued.access.uuid}/webhooks/"' in html
