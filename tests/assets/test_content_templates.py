"""Content templates (guide §12.3, issue #8 item 7): services against the DB, pages and the step-editor controls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from assets import services
from assets.models import ContentTemplate
from channels_out.kinds import ChannelKind
from portal.accounts.models import User
from portal.tenants.models import Company

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]


def _template(company: Company, name: str = "Welcome", text: str = "Hello") -> ContentTemplate:
    return services.content_template_create(
        company=company,
        actor=None,
        name=name,
        channel=ChannelKind.WHATSAPP,
        format_key="text",
        content={"text": text},
    )


def test_create_validates_with_the_format_model(company: Company) -> None:
    template = _template(company)
    assert (template.channel, template.format_key, template.content) == (
        "whatsapp",
        "text",
        {"text": "Hello"},
    )
    with pytest.raises(ValidationError) as exc:
        services.content_template_create(
            company=company,
            actor=None,
            name="Long",
            channel="whatsapp",
            format_key="text",
            content={"text": "x" * 4097},
        )
    assert "text" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.content_template_create(
            company=company, actor=None, name="Bad", channel="viber", format_key="card", content={}
        )
    assert "format" in exc.value.message_dict
    assert ContentTemplate.objects.filter(company=company).count() == 1


def test_names_are_required_and_unique_per_channel(company: Company, other_company: Company) -> None:
    _template(company, "Promo")
    with pytest.raises(ValidationError, match="already has this name"):
        _template(company, "promo")
    with pytest.raises(ValidationError, match="Enter the template name"):
        _template(company, "   ")
    assert _template(other_company, "Promo").company == other_company
    services.content_template_create(
        company=company, actor=None, name="Promo", channel="viber", format_key="text", content={"text": "Hi"}
    )


def test_rename_keeps_content_and_delete(company: Company) -> None:
    template = _template(company)
    services.content_template_update(company=company, actor=None, template=template, name="Renamed")
    template.refresh_from_db()
    assert template.name == "Renamed"
    assert template.content == {"text": "Hello"}
    services.content_template_delete(company=company, actor=None, template=template)
    assert not ContentTemplate.objects.filter(pk=template.pk).exists()


def test_list_page_is_per_company(
    htmx_client_for: ClientFor, admin_user: User, company: Company, other_company: Company
) -> None:
    _template(company, "Mine")
    _template(other_company, "Theirs")
    body = htmx_client_for(admin_user).get(reverse("assets:content-list")).content.decode()
    assert "Mine" in body
    assert "Theirs" not in body


def test_create_page_with_the_constructor(
    htmx_client_for: ClientFor, admin_user: User, company: Company
) -> None:
    client = htmx_client_for(admin_user)
    url = reverse("assets:content-create") + "?channel=whatsapp"
    form = client.get(url)
    assert 'id="ct-editor"' in form.content.decode()
    bad = client.post(
        url, {"name": "Hi", "channel": "whatsapp", "ct-channel": "whatsapp", "ct-format": "text"}
    )
    assert bad.status_code == 200
    assert not ContentTemplate.objects.exists()
    ok = client.post(
        url,
        {
            "name": "Hi",
            "channel": "whatsapp",
            "ct-channel": "whatsapp",
            "ct-format": "text",
            "ct-text": "Hello",
        },
    )
    assert ok["HX-Redirect"] == reverse("assets:content-list")
    assert ContentTemplate.objects.get(company=company).content == {"text": "Hello"}


def test_edit_rename_delete_pages_and_tenant_404(
    htmx_client_for: ClientFor, admin_user: User, company: Company, other_company: Company
) -> None:
    client = htmx_client_for(admin_user)
    theirs = _template(other_company, "Theirs")
    for name in ("assets:content-edit", "assets:content-rename"):
        assert client.get(reverse(name, args=[theirs.uuid])).status_code == 404
    assert client.post(reverse("assets:content-delete", args=[theirs.uuid])).status_code == 404
    assert (
        client.get(reverse("assets:content-apply", args=[theirs.uuid]), {"prefix": "s-0-c"}).status_code
        == 404
    )
    mine = _template(company, "Mine")
    response = client.post(reverse("assets:content-rename", args=[mine.uuid]), {"name": "New name"})
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.name == "New name"
    response = client.post(
        reverse("assets:content-edit", args=[mine.uuid]),
        {"name": "New name", "ct-channel": "whatsapp", "ct-format": "text", "ct-text": "Changed"},
    )
    mine.refresh_from_db()
    assert mine.content == {"text": "Changed"}
    assert client.post(reverse("assets:content-delete", args=[mine.uuid])).status_code == 200
    assert not ContentTemplate.objects.filter(pk=mine.pk).exists()


def test_role_without_the_permission_gets_403(
    htmx_client_for: ClientFor, finance_manager: User, company: Company
) -> None:
    template = _template(company)
    client = htmx_client_for(finance_manager)
    for url in (
        reverse("assets:content-list"),
        reverse("assets:content-create"),
        reverse("assets:content-edit", args=[template.uuid]),
        reverse("assets:content-rename", args=[template.uuid]),
        reverse("assets:content-pick-list") + "?prefix=s-0-c&channel=whatsapp",
        reverse("assets:content-apply", args=[template.uuid]) + "?prefix=s-0-c",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("assets:content-delete", args=[template.uuid])).status_code == 403
    assert client.post(reverse("assets:content-save-from-editor"), {"prefix": "s-0-c"}).status_code == 403
    assert client.post(reverse("assets:content-sms-counter"), {"ct-text": "x"}).status_code == 403


def test_save_from_a_step_editor_and_pick_it_in_another_step(
    htmx_client_for: ClientFor, broadcast_manager: User, company: Company, other_company: Company
) -> None:
    client = htmx_client_for(broadcast_manager)
    saved = client.post(
        reverse("assets:content-save-from-editor"),
        {
            "prefix": "s-0-c",
            "s-0-c-channel": "whatsapp",
            "s-0-c-format": "text",
            "s-0-c-text": "Hi {{attribute.name}}",
            "s-0-c-ct-name": "Greeting",
        },
    )
    assert saved.status_code == 200
    assert "Saved as content template Greeting." in saved.content.decode()
    template = ContentTemplate.objects.get(company=company)
    assert template.content == {"text": "Hi {{attribute.name}}"}
    # Without a name: a clear error, nothing stored.
    refused = client.post(
        reverse("assets:content-save-from-editor"),
        {"prefix": "s-0-c", "s-0-c-channel": "whatsapp", "s-0-c-format": "text", "s-0-c-text": "x"},
    )
    assert "Enter the template name." in refused.content.decode()
    assert ContentTemplate.objects.filter(company=company).count() == 1
    # Pick: the list shows this company's templates of the channel only.
    _template(other_company, "Theirs")
    _template(company, "Viber one").__class__.objects.filter(name="Viber one").update(channel="viber")
    listing = client.get(reverse("assets:content-pick-list"), {"prefix": "s-1-c", "channel": "whatsapp"})
    body = listing.content.decode()
    assert "Greeting" in body
    assert "Theirs" not in body
    assert "Viber one" not in body
    applied = client.get(
        reverse("assets:content-apply", args=[template.uuid]), {"prefix": "s-1-c", "channel": "whatsapp"}
    )
    html = applied.content.decode()
    assert 'id="s-1-c-editor"' in html
    assert "Hi {{attribute.name}}" in html
    wrong = client.get(
        reverse("assets:content-apply", args=[template.uuid]), {"prefix": "s-1-c", "channel": "viber"}
    )
    assert wrong.status_code == 400


def test_tools_are_shown_only_to_roles_that_manage_content_templates(rf: Any, company: Company) -> None:
    from django.template.loader import render_to_string

    from portal.accounts import permissions
    from portal.accounts.models import Membership
    from tests.factories import make_role, make_user

    def html(codes: set[str]) -> str:
        user = make_user(company, [make_role(company, codes)])
        request = rf.get("/")
        request.user, request.company = user, company
        request.membership = Membership.objects.get(company=company, user=user)
        return render_to_string(
            "assets/_content_template_tools.html", {"prefix": "s-0-c", "channel": "viber"}, request=request
        )

    assert 'id="s-0-c-ct-save"' in html({permissions.BROADCASTS_MANAGE, permissions.CONTENT_TEMPLATES_MANAGE})
    assert "ct-tools" not in html({permissions.BROADCASTS_MANAGE})


def test_sms_templates_are_a_text_checked_like_an_sms_step(company: Company, settings: Any) -> None:
    template = services.content_template_create(
        company=company,
        actor=None,
        name="Hi",
        channel="sms",
        format_key="text",
        content={"text": "Hi {{attribute.name}}"},
    )
    assert template.content == {"text": "Hi {{attribute.name}}"}
    with pytest.raises(ValidationError) as exc:
        services.content_template_create(
            company=company, actor=None, name="Empty", channel="sms", format_key="text", content={"text": ""}
        )
    assert exc.value.message_dict["text"] == ["An SMS needs a text."]
    settings.PORTAL_SMS_MAX_SEGMENTS = 1
    services.content_template_create(
        company=company,
        actor=None,
        name="At N",
        channel="sms",
        format_key="text",
        content={"text": "x" * 160},
    )
    with pytest.raises(ValidationError, match="2 SMS parts"):
        services.content_template_create(
            company=company,
            actor=None,
            name="N+1",
            channel="sms",
            format_key="text",
            content={"text": "x" * 161},
        )


def test_sms_template_page_and_counter(
    htmx_client_for: ClientFor, admin_user: User, company: Company
) -> None:
    client = htmx_client_for(admin_user)
    assert 'value="sms"' in client.get(reverse("assets:content-create")).content.decode()
    url = reverse("assets:content-create") + "?channel=sms"
    assert 'id="ct-counter"' in client.get(url).content.decode()
    counter = client.post(reverse("assets:content-sms-counter"), {"ct-text": "x" * 161})
    assert "161 characters, 2 SMS parts (153 per part)" in counter.content.decode()
    response = client.post(url, {"name": "Hello", "channel": "sms", "ct-text": "Hi {{attribute.name}}"})
    assert response["HX-Redirect"] == reverse("assets:content-list")
    assert ContentTemplate.objects.get(company=company).content == {"text": "Hi {{attribute.name}}"}
