"""WhatsApp templates (guide §12.4, issue #8 item 3): rules, moderation, the Approved-only check, pages, admin and
the constructor's template editor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from assets import selectors, services
from assets.editors import read_template_message
from assets.models import WhatsAppTemplate
from channels_out.constructor import EDITORS, render_editor
from portal.accounts.models import User
from portal.tenants.models import Company

pytestmark = pytest.mark.django_db
ClientFor = Callable[[User], Client]


def _data(**changes: Any) -> services.WhatsAppTemplateData:
    values: dict[str, Any] = {
        "registered_name": "order_shipped",
        "category": WhatsAppTemplate.Category.UTILITY,
        "language": "en",
        "body": "Hello {{1}}, your order {{2}} is on its way.",
        "body_examples": ["Ann", "A-1"],
    }
    values.update(changes)
    return services.WhatsAppTemplateData(**values)


def _approved(company: Company, **changes: Any) -> WhatsAppTemplate:
    template = services.whatsapp_template_create(
        company=company, actor=None, data=_data(**changes), submit=True
    )
    return services.whatsapp_template_moderate(template=template, actor=None, approve=True)


def test_create_draft_or_submitted(company: Company) -> None:
    draft = services.whatsapp_template_create(company=company, actor=None, data=_data(), submit=False)
    assert draft.status == WhatsAppTemplate.Status.DRAFT
    assert draft.body_param_count == 2
    assert draft.header_param_count == 0
    submitted = services.whatsapp_template_create(
        company=company, actor=None, data=_data(language="es"), submit=True
    )
    assert submitted.status == WhatsAppTemplate.Status.SUBMITTED
    assert submitted.submitted_at is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"registered_name": "Order Shipped"}, "registered_name"),
        ({"category": "OTHER"}, "category"),
        ({"language": "english"}, "language"),
        ({"body": ""}, "body"),
        ({"body": "x" * 551}, "body"),
        ({"body": "🎉" * 11}, "body"),
        ({"body_examples": ["Ann"]}, "body_examples"),  # every variable needs a sample
        ({"body": "Hi {{1}} and {{1}}", "body_examples": ["a"]}, "body"),  # unique keys
        ({"body": "Hi {{2}}", "body_examples": ["a"]}, "body"),  # numbered without gaps
        ({"footer": "f" * 61}, "footer"),
        ({"header_type": "text", "header_text": "h" * 51}, "header_text"),
        ({"header_type": "text", "header_text": "{{1}} {{2}}", "header_examples": ["a", "b"]}, "header_text"),
        ({"header_type": "text", "header_text": "Hi {{1}}"}, "header_examples"),
        ({"header_type": "image"}, "header_media_url"),
        (
            {"buttons": [{"type": "url", "text": f"B{n}", "url": f"https://x.test/{n}"} for n in range(3)]},
            "buttons",
        ),
        ({"buttons": [{"type": "reply", "text": "Yes"}, {"type": "reply", "text": "yes"}]}, "buttons"),
        ({"buttons": [{"type": "reply", "text": f"B{n}"} for n in range(11)]}, "buttons"),
        ({"buttons": [{"type": "url", "text": "Go", "url": "ftp://x"}]}, "buttons"),
    ],
)
def test_guide_rules_refuse(company: Company, changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        services.whatsapp_template_create(company=company, actor=None, data=_data(**changes), submit=True)
    assert field in exc.value.message_dict
    assert not WhatsAppTemplate.objects.exists()


def test_limits_accepted_at_n(company: Company) -> None:
    template = services.whatsapp_template_create(
        company=company,
        actor=None,
        data=_data(
            body="b" * 550,
            body_examples=[],
            footer="f" * 60,
            header_type="text",
            header_text="h" * 44 + " {{1}}",  # 50 characters
            header_examples=["x"],
            buttons=[{"type": "url", "text": f"B{n}", "url": f"https://x.test/{n}"} for n in range(2)]
            + [{"type": "reply", "text": f"R{n}"} for n in range(8)],
        ),
        submit=False,
    )
    assert template.header_param_count == 1
    assert len(template.buttons) == 10


def test_moderation_and_approved_selector(company: Company, other_company: Company) -> None:
    approved = _approved(company)
    pending = services.whatsapp_template_create(
        company=company, actor=None, data=_data(language="es"), submit=True
    )
    rejected = services.whatsapp_template_create(
        company=company, actor=None, data=_data(language="fr"), submit=True
    )
    with pytest.raises(ValidationError, match="reason"):
        services.whatsapp_template_moderate(template=rejected, actor=None, approve=False)
    services.whatsapp_template_moderate(template=rejected, actor=None, approve=False, reason="Wrong category")
    rejected.refresh_from_db()
    assert rejected.status == WhatsAppTemplate.Status.REJECTED
    assert rejected.rejection_reason == "Wrong category"
    draft = services.whatsapp_template_create(
        company=company, actor=None, data=_data(language="de"), submit=False
    )
    with pytest.raises(ValidationError, match="only a submitted"):
        services.whatsapp_template_moderate(template=draft, actor=None, approve=True)
    _approved(other_company)
    assert list(selectors.whatsapp_template_approved(company=company)) == [approved]
    assert pending.status == WhatsAppTemplate.Status.SUBMITTED


def test_check_refuses_unapproved_unknown_and_wrong_count(company: Company, other_company: Company) -> None:
    _approved(company)
    services.whatsapp_template_create(company=company, actor=None, data=_data(language="es"), submit=True)
    ok = {"name": "order_shipped", "language": "en", "body_params": ["Ann", "{{attribute.order}}"]}
    assert services.whatsapp_template_check(company=company, data=ok) == {}
    assert "body_params" in services.whatsapp_template_check(
        company=company, data={**ok, "body_params": ["Ann"]}
    )
    assert "body_params" in services.whatsapp_template_check(
        company=company, data={**ok, "body_params": ["a", "b", "c"]}
    )
    assert "header_params" in services.whatsapp_template_check(
        company=company, data={**ok, "header_params": ["x"]}
    )
    not_approved = services.whatsapp_template_check(company=company, data={**ok, "language": "es"})
    assert "only Approved templates" in not_approved["name"][0]
    assert (
        "no WhatsApp template"
        in services.whatsapp_template_check(company=company, data={**ok, "name": "nope"})["name"][0]
    )
    # Another company's Approved template is not this company's.
    assert "name" in services.whatsapp_template_check(company=other_company, data=ok)


def test_content_template_refuses_an_unapproved_template(company: Company) -> None:
    services.whatsapp_template_create(company=company, actor=None, data=_data(), submit=True)
    message = {"name": "order_shipped", "language": "en", "body_params": ["Ann", "A-1"]}
    with pytest.raises(ValidationError) as exc:
        services.content_template_create(
            company=company, actor=None, name="T", channel="whatsapp", format_key="template", content=message
        )
    assert "name" in exc.value.message_dict
    WhatsAppTemplate.objects.update(status=WhatsAppTemplate.Status.APPROVED)
    saved = services.content_template_create(
        company=company, actor=None, name="T", channel="whatsapp", format_key="template", content=message
    )
    assert saved.format_key == "template"


def test_delete_both_or_whatsapp_only(company: Company) -> None:
    template = _approved(company)
    services.whatsapp_template_delete(company=company, actor=None, template=template, whatsapp_only=True)
    template.refresh_from_db()
    assert template.status == WhatsAppTemplate.Status.DELETED
    services.whatsapp_template_delete(company=company, actor=None, template=template, whatsapp_only=False)
    assert not WhatsAppTemplate.objects.filter(pk=template.pk).exists()


# -- pages --------------------------------------------------------------------------------------------------------


def test_pages_create_view_submit_delete(
    htmx_client_for: ClientFor, admin_user: User, company: Company
) -> None:
    client = htmx_client_for(admin_user)
    assert client.get(reverse("assets:whatsapp-create")).status_code == 200
    post = {
        "registered_name": "promo_code",
        "category": "MARKETING",
        "language": "en",
        "validity_seconds": "2592000",
        "header_type": "none",
        "body": "Use {{1}} today",
        "body_examples": "SAVE10",
        "button-0-type": "url",
        "button-0-text": "Shop",
        "button-0-url": "https://shop.test",
        "action": "draft",
    }
    bad = client.post(reverse("assets:whatsapp-create"), {**post, "body_examples": ""})
    assert "Give a sample value" in bad.content.decode()
    response = client.post(reverse("assets:whatsapp-create"), post)
    template = WhatsAppTemplate.objects.get(company=company)
    assert response["HX-Redirect"] == reverse("assets:whatsapp-detail", args=[template.uuid])
    assert template.status == WhatsAppTemplate.Status.DRAFT
    assert template.buttons == [{"type": "url", "text": "Shop", "url": "https://shop.test"}]
    detail = client.get(reverse("assets:whatsapp-detail", args=[template.uuid])).content.decode()
    assert "Use {{1}} today" in detail
    client.post(reverse("assets:whatsapp-submit", args=[template.uuid]))
    template.refresh_from_db()
    assert template.status == WhatsAppTemplate.Status.SUBMITTED
    listing = client.get(reverse("assets:whatsapp-list")).content.decode()
    assert "promo_code" in listing
    assert (
        client.post(reverse("assets:whatsapp-delete", args=[template.uuid]), {"scope": "both"}).status_code
        == 200
    )
    assert not WhatsAppTemplate.objects.exists()


def test_pages_tenant_404_and_role_403(
    htmx_client_for: ClientFor,
    admin_user: User,
    finance_manager: User,
    company: Company,
    other_company: Company,
) -> None:
    theirs = _approved(other_company)
    client = htmx_client_for(admin_user)
    assert client.get(reverse("assets:whatsapp-detail", args=[theirs.uuid])).status_code == 404
    assert client.post(reverse("assets:whatsapp-submit", args=[theirs.uuid])).status_code == 404
    assert client.post(reverse("assets:whatsapp-delete", args=[theirs.uuid])).status_code == 404
    assert "order_shipped" not in client.get(reverse("assets:whatsapp-list")).content.decode()
    mine = _approved(company)
    denied = htmx_client_for(finance_manager)
    for url in (
        reverse("assets:whatsapp-list"),
        reverse("assets:whatsapp-create"),
        reverse("assets:whatsapp-detail", args=[mine.uuid]),
    ):
        assert denied.get(url).status_code == 403
    assert denied.post(reverse("assets:whatsapp-submit", args=[mine.uuid])).status_code == 403
    assert denied.post(reverse("assets:whatsapp-delete", args=[mine.uuid])).status_code == 403


def test_back_office_approves_and_rejects_with_a_reason(company: Company, client: Client) -> None:
    staff = User.objects.create_superuser("root-wa", "root-wa@example.com", "Root-pass-1")
    client.force_login(staff)
    one = services.whatsapp_template_create(company=company, actor=None, data=_data(), submit=True)
    two = services.whatsapp_template_create(
        company=company, actor=None, data=_data(language="es"), submit=True
    )
    url = reverse("admin:assets_whatsapptemplate_changelist")
    client.post(url, {"action": "approve", "_selected_action": [one.pk]})
    one.refresh_from_db()
    assert one.status == WhatsAppTemplate.Status.APPROVED
    page = client.post(url, {"action": "reject", "_selected_action": [two.pk]})
    assert 'name="reason"' in page.content.decode()
    client.post(url, {"action": "reject", "_selected_action": [two.pk], "apply": "1", "reason": "Bad name"})
    two.refresh_from_db()
    assert two.status == WhatsAppTemplate.Status.REJECTED
    assert two.rejection_reason == "Bad name"


# -- the constructor editor ---------------------------------------------------------------------------------------


def test_editor_is_registered_and_reads_the_posted_fields() -> None:
    assert ("whatsapp", "template") in EDITORS
    post = {
        "p-template": "order_shipped:en",
        "p-header_params-n": "0",
        "p-body_params-n": "2",
        "p-body_params-0": "Ann",
        "p-body_params-1": "{{attribute.order}}",
    }
    assert read_template_message(post, "p") == {
        "name": "order_shipped",
        "language": "en",
        "header_params": [],
        "body_params": ["Ann", "{{attribute.order}}"],
    }


def test_editor_lists_only_approved_templates_and_their_parameters(
    htmx_client_for: ClientFor, broadcast_manager: User, company: Company, other_company: Company
) -> None:
    _approved(company)
    services.whatsapp_template_create(
        company=company, actor=None, data=_data(registered_name="pending_one"), submit=True
    )
    _approved(other_company, registered_name="their_template")
    client = htmx_client_for(broadcast_manager)
    response = client.post(
        reverse("channels_out:constructor-editor"),
        {
            "prefix": "s-0-c",
            "s-0-c-channel": "whatsapp",
            "s-0-c-format": "template",
            "s-0-c-template": "order_shipped:en",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'value="order_shipped:en" selected' in html
    assert "pending_one" not in html
    assert "their_template" not in html
    assert 'name="s-0-c-body_params-1"' in html
    assert 'name="s-0-c-body_params-2"' not in html
    assert "Hello {{1}}, your order {{2}} is on its way." in html


def test_editor_shows_the_preview_with_values(rf: Any, company: Company) -> None:
    _approved(company)
    request = rf.get("/")
    request.company = company
    html = render_editor(
        request,
        prefix="p",
        channel="whatsapp",
        format_key="template",
        data={"name": "order_shipped", "language": "en", "body_params": ["Ann", "A-7"]},
    )
    assert "Hello Ann, your order A-7 is on its way." in html


def test_a_step_keeping_a_template_that_is_no_longer_approved_says_so(rf: Any, company: Company) -> None:
    template = _approved(company)
    WhatsAppTemplate.objects.filter(pk=template.pk).update(status=WhatsAppTemplate.Status.PAUSED)
    request = rf.get("/")
    request.company = company
    html = render_editor(
        request,
        prefix="p",
        channel="whatsapp",
        format_key="template",
        data={"name": "order_shipped", "language": "en", "body_params": ["Ann", "A-7"]},
    )
    assert 'value="order_shipped:en" selected' in html
    assert "not an Approved template of your company" in html


def test_detail_shows_the_rejection_reason(
    htmx_client_for: ClientFor, admin_user: User, company: Company
) -> None:
    template = services.whatsapp_template_create(company=company, actor=None, data=_data(), submit=True)
    services.whatsapp_template_moderate(
        template=template, actor=None, approve=False, reason="Misleading text"
    )
    html = (
        htmx_client_for(admin_user)
        .get(reverse("assets:whatsapp-detail", args=[template.uuid]))
        .content.decode()
    )
    assert 'data-status="rejected"' in html
    assert "Misleading text" in html
