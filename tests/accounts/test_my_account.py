"""My account (guide §17, §17.1; acceptance checks 80, 81): user menu, Account settings, avatar, theme, language."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from PIL import Image

from portal.accounts import services
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail, AuditEntry
from portal.tenants.models import Company

SETTINGS_URL = "/accounts/me/"


def _png(size: tuple[int, int] = (40, 30), color: str = "red", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def member(company: Company) -> User:
    from tests.factories import make_user, system_role

    user = make_user(
        company,
        [system_role(company, "broadcast_manager"), system_role(company, "finance_manager")],
        login="mara",
        first_name="Mara",
        last_name="Quint",
        email="mara@example.com",
    )
    return user


# --- user menu (check 80) -----------------------------------------------------------------------------------


def test_user_menu_has_the_guide_items_in_order(client_for: Callable[[User], Client], member: User) -> None:
    html = client_for(member).get("/dashboard/").content.decode()
    panel = html[html.index('class="user-menu-panel"') :]
    labels = [
        "Account settings",
        "Privacy and Security",
        "Appearance",
        "Light theme",
        "Dark theme",
        "System settings",
        "Language",
        "English",
        "Español",
        "About the App",
        "Log out",
    ]
    positions = [panel.index(label) for label in labels]
    assert positions == sorted(positions)
    assert 'id="logout-button"' in panel
    assert "Version 0.1.0" in panel


def test_menu_item_account_leads_to_account_settings(
    client_for: Callable[[User], Client], member: User
) -> None:
    html = client_for(member).get("/dashboard/").content.decode()
    assert re.search(r'href="/accounts/me/"[^>]*data-menu="account"', html)


def test_about_shows_the_version(client_for: Callable[[User], Client], member: User) -> None:
    with override_settings(PORTAL_VERSION="9.8.7"):
        html = client_for(member).get("/accounts/about/").content.decode()
    assert '<dd id="about-version">9.8.7</dd>' in html
    assert "Django 5.2" in html


def test_about_htmx_returns_only_the_fragment(
    htmx_client_for: Callable[[User], Client], member: User
) -> None:
    response = htmx_client_for(member).get("/accounts/about/")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="about-app"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


# --- Account settings (check 81) -----------------------------------------------------------------------------


def test_account_settings_shows_every_field(
    client_for: Callable[[User], Client], member: User, company: Company
) -> None:
    User.objects.filter(pk=member.pk).update(phone="+14155550123")
    html = client_for(member).get(SETTINGS_URL).content.decode()
    assert f"Account ID: {member.pk}" in html
    assert '<dd id="account-full-name">Mara Quint</dd>' in html
    assert '<dd id="account-login">mara</dd>' in html
    assert '<dd id="account-email">mara@example.com</dd>' in html
    assert '<dd id="account-roles">Broadcast manager, Finance manager</dd>' in html
    assert f'<dd id="account-company">{company.name}</dd>' in html
    assert '<dd id="account-department">First line support</dd>' in html
    assert '<dd id="account-phone">+14155550123</dd>' in html
    # No avatar yet: the initials show, here and in the shell.
    assert html.count('data-avatar="initials">MQ</span>') == 2


def test_user_without_company_gets_403(client: Client, db: None) -> None:
    loner = User.objects.create_user(username="loner", password="Xx-12345678")
    client.force_login(loner)
    for url in (SETTINGS_URL, "/accounts/security/", "/accounts/about/", "/accounts/two-factor/enrol/"):
        assert client.get(url).status_code == 403, url
    assert (
        client.post("/accounts/me/basic/", {"first_name": "A", "email": "a@example.com"}).status_code == 403
    )


def test_anonymous_is_sent_to_login(client: Client, db: None) -> None:
    response = client.get(SETTINGS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_edit_basic_information_via_htmx(
    htmx_client_for: Callable[[User], Client], member: User, company: Company
) -> None:
    client = htmx_client_for(member)
    form_html = client.get(SETTINGS_URL + "?edit=basic&block=basic").content.decode()
    assert form_html.lstrip().startswith('<section id="account-basic"')
    for text in ('name="first_name"', 'name="email"', "Save", "Cancel"):
        assert text in form_html
    assert 'name="username"' not in form_html  # the login is read-only

    response = client.post(
        "/accounts/me/basic/", {"first_name": "Marta", "last_name": "Quintana", "email": "marta@example.com"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="account-basic"')
    assert "Basic information saved." in html
    assert '<dd id="account-full-name">Marta Quintana</dd>' in html
    member.refresh_from_db()
    assert (member.first_name, member.email) == ("Marta", "marta@example.com")
    entry = AuditEntry.objects.get(company=company, action=actions.USER_CHANGED, target_id=str(member.pk))
    detail = AuditDetail.objects.get(entry=entry)
    assert detail.old_value == {"first_name": "Mara", "last_name": "Quint", "email": "mara@example.com"}
    assert detail.new_value == {"first_name": "Marta", "last_name": "Quintana", "email": "marta@example.com"}


def test_bad_email_is_refused_and_nothing_changes(
    htmx_client_for: Callable[[User], Client], member: User
) -> None:
    response = htmx_client_for(member).post(
        "/accounts/me/basic/", {"first_name": "Marta", "last_name": "", "email": "not-an-email"}
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    member.refresh_from_db()
    assert (member.first_name, member.email) == ("Mara", "mara@example.com")


def test_plain_post_redirects_with_a_message(client_for: Callable[[User], Client], member: User) -> None:
    client = client_for(member)
    response = client.post("/accounts/me/contact/", {"phone": "+1 415 555 0199"})
    assert response.status_code == 303
    assert response["Location"] == SETTINGS_URL
    html = client.get(SETTINGS_URL).content.decode()
    assert "Contact information saved." in html
    assert '<dd id="account-phone">+14155550199</dd>' in html


def test_bad_phone_is_refused(htmx_client_for: Callable[[User], Client], member: User) -> None:
    html = htmx_client_for(member).post("/accounts/me/contact/", {"phone": "12"}).content.decode()
    assert "Enter a valid phone number" in html
    member.refresh_from_db()
    assert member.phone == ""


def test_phone_without_plus_is_read_in_the_company_country(member: User, company: Company) -> None:
    company.default_country = "ES"
    services.user_contact_update(user=member, actor=member, company=company, phone="612 345 678")
    assert member.phone == "+34612345678"


def test_every_post_needs_csrf(member: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    for url in (
        "/accounts/me/basic/",
        "/accounts/me/contact/",
        "/accounts/me/avatar/",
        "/accounts/me/theme/",
        "/accounts/security/password/",
        "/accounts/security/delete/",
        "/accounts/security/delete/confirm/",
        "/accounts/security/sessions/end-others/",
        "/accounts/two-factor/sms/",
        "/accounts/two-factor/app/",
        "/accounts/two-factor/disable/",
    ):
        assert client.post(url, {}).status_code == 403, url


# --- avatar ---------------------------------------------------------------------------------------------------


def test_avatar_upload_replaces_the_initials(
    client_for: Callable[[User], Client], member: User, company: Company
) -> None:
    client = client_for(member)
    upload = SimpleUploadedFile("me.jpg", _png(fmt="JPEG"), content_type="image/jpeg")
    response = client.post("/accounts/me/avatar/", {"avatar": upload})
    assert response.status_code == 303
    member.refresh_from_db()
    assert member.avatar.name.startswith(f"avatars/{member.uuid}/")
    html = client.get(SETTINGS_URL).content.decode()
    assert "Your picture has been updated." in html
    assert html.count('data-avatar="picture"') == 2  # the page and the shell's user menu
    assert 'data-avatar="initials"' not in html
    image = client.get(f"/accounts/avatar/{member.uuid}/")
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    picture = Image.open(io.BytesIO(image.content))
    assert picture.size == (256, 256)  # re-encoded to one square size
    assert AuditEntry.objects.filter(company=company, action=actions.USER_CHANGED).exists()


def test_avatar_rejects_a_non_image(htmx_client_for: Callable[[User], Client], member: User) -> None:
    upload = SimpleUploadedFile("evil.png", b"<?php echo 1; ?>", content_type="image/png")
    response = htmx_client_for(member).post("/accounts/me/avatar/", {"avatar": upload})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="account-profile"')
    assert "Upload a JPEG, PNG, GIF or WebP picture." in html
    member.refresh_from_db()
    assert not member.avatar


def test_avatar_rejects_a_too_large_file(htmx_client_for: Callable[[User], Client], member: User) -> None:
    with override_settings(PORTAL_AVATAR_MAX_BYTES=1000):
        upload = SimpleUploadedFile("big.png", _png(size=(400, 400), color="blue") + b"\0" * 2000)
        html = htmx_client_for(member).post("/accounts/me/avatar/", {"avatar": upload}).content.decode()
    assert "The picture is larger than 1000\xa0bytes." in html
    member.refresh_from_db()
    assert not member.avatar


def test_avatar_service_rejects_other_formats(member: User, company: Company) -> None:
    bmp = io.BytesIO()
    Image.new("RGB", (10, 10)).save(bmp, format="BMP")
    upload = SimpleUploadedFile("x.bmp", bmp.getvalue())
    with pytest.raises(ValidationError, match=r"Upload a JPEG, PNG, GIF or WebP picture\."):
        services.user_avatar_set(user=member, company=company, upload=upload)


def test_avatar_remove_brings_back_the_initials(
    client_for: Callable[[User], Client], member: User, company: Company
) -> None:
    services.user_avatar_set(user=member, company=company, upload=SimpleUploadedFile("a.png", _png()))
    client = client_for(member)
    assert client.post("/accounts/me/avatar/remove/").status_code == 303
    member.refresh_from_db()
    assert not member.avatar
    assert 'data-avatar="initials">MQ</span>' in client.get(SETTINGS_URL).content.decode()


def test_avatar_of_another_company_is_404(
    client_for: Callable[[User], Client], member: User, outsider: User, other_company: Company
) -> None:
    services.user_avatar_set(user=outsider, company=other_company, upload=SimpleUploadedFile("a.png", _png()))
    assert client_for(member).get(f"/accounts/avatar/{outsider.uuid}/").status_code == 404
    assert client_for(outsider).get(f"/accounts/avatar/{outsider.uuid}/").status_code == 200


# --- theme and language (check 80) -----------------------------------------------------------------------------


def test_dark_theme_persists_across_reload(client_for: Callable[[User], Client], member: User) -> None:
    client = client_for(member)
    assert 'data-theme="system"' in client.get("/dashboard/").content.decode()
    response = client.post("/accounts/me/theme/", {"theme": "dark", "next": "/accounts/me/"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/me/"
    assert 'data-theme="dark"' in client.get("/dashboard/").content.decode()
    assert (
        client.post("/accounts/me/theme/", {"theme": "light"}, HTTP_X_REQUESTED_WITH="fetch").status_code
        == 204
    )
    member.refresh_from_db()
    assert member.theme == "light"


def test_unknown_theme_is_400(client_for: Callable[[User], Client], member: User) -> None:
    response = client_for(member).post("/accounts/me/theme/", {"theme": "neon"})
    assert response.status_code == 400
    assert response.content.decode() == "Unknown theme."


def test_theme_redirect_refuses_other_hosts(client_for: Callable[[User], Client], member: User) -> None:
    response = client_for(member).post(
        "/accounts/me/theme/", {"theme": "dark", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_spanish_is_kept_on_the_account(client_for: Callable[[User], Client], member: User) -> None:
    client = client_for(member)
    response = client.post("/accounts/language/", {"language": "es", "next": "/accounts/me/"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.language == "es"
    assert '<html lang="es"' in client.get("/accounts/me/").content.decode()
