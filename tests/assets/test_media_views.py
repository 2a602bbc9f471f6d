"""Media pages and the picker through the Django client with htmx headers: tenant 404, role 403, public URL."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from assets import services
from assets.models import MediaFile
from channels_out.kinds import ChannelKind
from portal.accounts.models import User
from portal.tenants.models import Company
from tests.assets.files import PDF, png_bytes, upload

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]


def _media(company: Company, name: str = "a.png", content: bytes | None = None) -> MediaFile:
    return services.media_upload(company=company, actor=None, upload=upload(name, content or png_bytes()))


def test_media_list_shows_the_company_files_only(
    htmx_client_for: ClientFor, admin_user: User, company: Company, other_company: Company
) -> None:
    _media(company, "mine.png")
    _media(other_company, "theirs.png")
    response = htmx_client_for(admin_user).get(reverse("assets:media-list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "mine.png" in body
    assert "theirs.png" not in body
    assert "<html" not in body  # the htmx request gets the table fragment


def test_assets_menu_leads_to_media(client_for: ClientFor, admin_user: User) -> None:
    response = client_for(admin_user).get(reverse("assets:index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("assets:media-list")
    page = client_for(admin_user).get(reverse("assets:media-list"))
    assert 'data-menu="assets"' in page.content.decode()


def test_upload_page_stores_several_files(
    htmx_client_for: ClientFor, admin_user: User, company: Company
) -> None:
    response = htmx_client_for(admin_user).post(
        reverse("assets:media-upload"), {"uploads": [upload("a.png", png_bytes()), upload("b.pdf", PDF)]}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("assets:media-list")
    assert sorted(MediaFile.objects.filter(company=company).values_list("filename", flat=True)) == [
        "a.png",
        "b.pdf",
    ]


def test_upload_page_refuses_all_when_one_file_is_bad(
    htmx_client_for: ClientFor, admin_user: User, company: Company
) -> None:
    response = htmx_client_for(admin_user).post(
        reverse("assets:media-upload"), {"uploads": [upload("a.png", png_bytes()), upload("b.pdf", b"fake")]}
    )
    assert response.status_code == 200
    assert "b.pdf: The content of this file is not a .pdf file." in response.content.decode()
    assert not MediaFile.objects.filter(company=company).exists()


def test_delete_and_tenant_404(
    htmx_client_for: ClientFor, admin_user: User, company: Company, other_company: Company
) -> None:
    theirs = _media(other_company)
    client = htmx_client_for(admin_user)
    assert client.post(reverse("assets:media-delete", args=[theirs.uuid])).status_code == 404
    mine = _media(company)
    assert client.post(reverse("assets:media-delete", args=[mine.uuid])).status_code == 200
    assert not MediaFile.objects.filter(pk=mine.pk).exists()
    assert MediaFile.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    ("name", "method"),
    [("assets:media-list", "get"), ("assets:media-upload", "get"), ("assets:media-upload", "post")],
)
def test_role_without_manage_media_gets_403(
    htmx_client_for: ClientFor, finance_manager: User, name: str, method: str
) -> None:
    client = htmx_client_for(finance_manager)
    assert getattr(client, method)(reverse(name)).status_code == 403


def test_role_403_on_delete_and_picker(
    htmx_client_for: ClientFor, finance_manager: User, company: Company
) -> None:
    media = _media(company)
    client = htmx_client_for(finance_manager)
    assert client.post(reverse("assets:media-delete", args=[media.uuid])).status_code == 403
    assert client.get(reverse("assets:media-picker")).status_code == 403
    assert client.get(reverse("assets:media-pick", args=[media.uuid])).status_code == 403
    assert client.post(reverse("assets:media-picker-upload")).status_code == 403


def test_public_url_works_without_login(client: Client, company: Company) -> None:
    media = _media(company, "logo.png", png_bytes(3, 3))
    url = reverse("assets-public:media-file", args=[media.uuid, media.filename])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == png_bytes(3, 3)  # type: ignore[attr-defined]
    # The uuid alone with another name is not enough.
    assert client.get(reverse("assets-public:media-file", args=[media.uuid, "other.png"])).status_code == 404


def test_media_field_renders_input_and_picker_button() -> None:
    html = render_to_string(
        "assets/_media_field.html",
        {
            "name": "s1-card-media_url",
            "value": "https://x.test/a.png",
            "channel": "whatsapp",
            "kind": "image",
        },
    )
    assert 'name="s1-card-media_url"' in html
    assert 'value="https://x.test/a.png"' in html
    assert 'id="mf-s1-card-media_url"' in html
    assert 'id="mf-s1-card-media_url-picker"' in html
    assert "channel=whatsapp&amp;kind=image&amp;input_id=mf-s1-card-media_url" in html


def test_picker_lists_what_the_channel_accepts_and_never_another_company(
    htmx_client_for: ClientFor, broadcast_manager: User, company: Company, other_company: Company
) -> None:
    png = _media(company, "pic.png")
    _media(company, "doc.pdf", PDF)
    theirs = _media(other_company, "theirs.png")
    client = htmx_client_for(broadcast_manager)  # composes messages without Manage Media: may still pick
    response = client.get(
        reverse("assets:media-picker"), {"channel": "push", "kind": "image", "input_id": "mf-x", "name": "x"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "pic.png" in body
    assert "doc.pdf" not in body
    assert "theirs.png" not in body
    assert str(png.uuid) in body
    # Picking fills the input with the public URL and closes the picker.
    picked = client.get(
        reverse("assets:media-pick", args=[png.uuid]), {"channel": "push", "input_id": "mf-x", "name": "x"}
    )
    html = picked.content.decode()
    assert picked.status_code == 200
    assert re.search(rf'value="http://testserver/m/{png.uuid}/pic.png"', html)
    assert 'id="mf-x-picker"' in html
    assert "hx-swap-oob" in html
    # Another company's media and a media the channel does not take cannot be picked.
    assert (
        client.get(reverse("assets:media-pick", args=[theirs.uuid]), {"channel": "push"}).status_code == 404
    )
    pdf = MediaFile.objects.get(company=company, filename="doc.pdf")
    assert client.get(reverse("assets:media-pick", args=[pdf.uuid]), {"channel": "push"}).status_code == 404


def test_picker_upload_checks_the_channel_and_lands_in_the_library(
    htmx_client_for: ClientFor, broadcast_manager: User, company: Company
) -> None:
    client = htmx_client_for(broadcast_manager)
    url = (
        reverse("assets:media-picker-upload") + f"?channel={ChannelKind.PUSH}&kind=image&input_id=mf-x&name=x"
    )
    refused = client.post(url, {"mp_upload": upload("doc.pdf", PDF)})
    assert refused.status_code == 200
    assert refused["HX-Retarget"] == "#mf-x-picker"
    assert "cannot be used here" in refused.content.decode()
    ok = client.post(url, {"mp_upload": upload("pic.png", png_bytes())})
    media = MediaFile.objects.get(company=company)
    assert media.filename == "pic.png"
    assert f"/m/{media.uuid}/pic.png" in ok.content.decode()
    assert "HX-Retarget" not in ok


def test_public_url_of_a_deleted_file_is_404(client: Client, company: Company) -> None:
    media = _media(company, "gone.png")
    url = reverse("assets-public:media-file", args=[media.uuid, media.filename])
    services.media_delete(company=company, actor=None, media=media)
    assert client.get(url).status_code == 404


def test_assets_menu_sends_each_role_to_its_first_tab_or_403(
    client_for: ClientFor, finance_manager: User, company: Company
) -> None:
    from portal.accounts import permissions
    from tests.factories import make_role, make_user

    assert client_for(finance_manager).get(reverse("assets:index")).status_code == 403
    wa_only = make_user(company, [make_role(company, {permissions.WHATSAPP_TEMPLATES_MANAGE})])
    response = client_for(wa_only).get(reverse("assets:index"))
    assert response.status_code == 302, response.content[:300]
    assert response["Location"] == reverse("assets:whatsapp-list")
    page = client_for(wa_only).get(reverse("assets:whatsapp-list")).content.decode()
    assert 'id="assets-tab-whatsapp"' in page
    assert 'id="assets-tab-media"' not in page


def test_picker_search_by_file_name(htmx_client_for: ClientFor, admin_user: User, company: Company) -> None:
    _media(company, "spring.png")
    _media(company, "summer.png")
    html = (
        htmx_client_for(admin_user)
        .get(
            reverse("assets:media-picker"),
            {"channel": "viber", "input_id": "mf-x", "name": "x", "mp_q": "SUM"},
        )
        .content.decode()
    )
    assert "summer.png" in html
    assert "spring.png" not in html


def test_picker_keeps_only_a_plain_input_id(htmx_client_for: ClientFor, admin_user: User) -> None:
    html = (
        htmx_client_for(admin_user)
        .get(reverse("assets:media-picker"), {"channel": "push", "input_id": 'x"><script>', "name": "a&b=c"})
        .content.decode()
    )
    assert "<script>" not in html
    assert 'id="mf-media-panel"' in html
    assert "name=a%26b%3Dc" in html  # the picker's own parameters are URL-encoded
