"""Input forms of the Assets pages (guide §12)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files at once (guide §12.1: drag and drop files or *Select a file*)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class MediaUploadForm(forms.Form):
    uploads = MultipleFileField(label=_("Files"))


VALIDITY_CHOICES = (
    (30, _("30 seconds")),
    (3600, _("1 hour")),
    (12 * 3600, _("12 hours")),
    (24 * 3600, _("1 day")),
    (7 * 24 * 3600, _("7 days")),
    (30 * 24 * 3600, _("30 days")),
)  # guide §12.4: default 30 days; the other options are [INF]


class WhatsAppTemplateForm(forms.Form):
    """Guide §12.4.1 *Add template* (the Card type of §12.4.1.1): the rules are checked by the service."""

    sender_id = forms.CharField(label=_("Sender ID"), max_length=64, required=False)
    registered_name = forms.CharField(
        label=_("Registered name"),
        max_length=512,
        help_text=_("Only lower-case letters, digits and underscores, e.g. order_shipped."),
    )
    category = forms.ChoiceField(label=_("Service category"), choices=())
    language = forms.CharField(
        label=_("Language"), max_length=10, initial="en", help_text=_("e.g. en, es, pt_BR")
    )
    validity_seconds = forms.TypedChoiceField(
        label=_("Message validity period"), choices=VALIDITY_CHOICES, coerce=int, initial=30 * 24 * 3600
    )
    header_type = forms.ChoiceField(label=_("Header"), choices=())
    header_text = forms.CharField(label=_("Header text"), max_length=60, required=False)
    header_example = forms.CharField(
        label=_("Sample value of the header variable"), max_length=200, required=False
    )
    header_media_url = forms.URLField(
        label=_("Header media (example)"), max_length=1000, required=False, assume_scheme="https"
    )
    body = forms.CharField(label=_("Body"), widget=forms.Textarea(attrs={"rows": 5}), max_length=2000)
    body_examples = forms.CharField(
        label=_("Sample values of the body variables"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("One per line, in the order {{1}}, {{2}} and so on."),
    )
    footer = forms.CharField(label=_("Footer"), max_length=200, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from assets.models import WhatsAppTemplate

        super().__init__(*args, **kwargs)
        self.fields["category"].choices = WhatsAppTemplate.Category.choices  # type: ignore[attr-defined]
        self.fields["header_type"].choices = WhatsAppTemplate.HeaderType.choices  # type: ignore[attr-defined]


BUTTON_ROWS = 10  # guide §12.4.1.1: up to 10 buttons


def buttons_from_post(post: Any) -> list[dict[str, str]]:
    """The filled button rows ``button-<n>-type|text|url`` of the form, in order."""
    rows: list[dict[str, str]] = []
    for n in range(BUTTON_ROWS):
        kind = str(post.get(f"button-{n}-type", "") or "")
        text = str(post.get(f"button-{n}-text", "") or "").strip()
        url = str(post.get(f"button-{n}-url", "") or "").strip()
        if not text and not url:
            continue
        row = {"type": kind, "text": text}
        if kind == "url":
            row["url"] = url
        rows.append(row)
    return rows
