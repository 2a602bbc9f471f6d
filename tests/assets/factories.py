"""Assets rows for tests of other areas (e.g. the send API needs an Approved WhatsApp template)."""

from __future__ import annotations

from assets.models import WhatsAppTemplate, placeholders
from assets.services import WhatsAppTemplateData, whatsapp_template_create, whatsapp_template_moderate
from portal.tenants.models import Company


def approved_whatsapp_template(
    company: Company, name: str, language: str = "en", *, body: str, header: str = ""
) -> WhatsAppTemplate:
    """A WhatsApp template submitted and approved (as the back office would), with sample values filled in."""
    data = WhatsAppTemplateData(
        registered_name=name,
        category=WhatsAppTemplate.Category.UTILITY,
        language=language,
        body=body,
        body_examples=[f"sample {n}" for n in sorted(set(placeholders(body)))],
        header_type=WhatsAppTemplate.HeaderType.TEXT if header else WhatsAppTemplate.HeaderType.NONE,
        header_text=header,
        header_examples=[f"sample {n}" for n in sorted(set(placeholders(header)))],
    )
    template = whatsapp_template_create(company=company, actor=None, data=data, submit=True)
    return whatsapp_template_moderate(template=template, actor=None, approve=True)
