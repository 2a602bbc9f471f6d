"""Input forms of the Contacts pages. They read raw input; the services validate values by type (one place)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_out.kinds import ChannelKind
from contacts.models import Contact, ContactAttribute, OptOutWord, Target
from contacts.values import display_value
from portal.core.listing import Mode
from portal.tenants.models import Company

_YES_NO = (("", "—"), ("yes", _("Yes")), ("no", _("No")))


def attribute_field(attribute: ContactAttribute, *, blank_label: str = "—") -> forms.Field:
    """The input of one attribute in the contact and mass-edit forms; its kind follows the type (guide §8.1.2)."""
    label = attribute.name
    kind = attribute.type
    if kind == ContactAttribute.Type.LIST:
        return forms.ChoiceField(
            label=label, required=False, choices=[("", blank_label), *((o, o) for o in attribute.options)]
        )
    if kind == ContactAttribute.Type.BOOL:
        return forms.ChoiceField(label=label, required=False, choices=_YES_NO)
    if kind == ContactAttribute.Type.DATE:
        return forms.CharField(
            label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}), max_length=20
        )
    if kind == ContactAttribute.Type.NUMBER:
        return forms.CharField(
            label=label, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}), max_length=40
        )
    if kind == ContactAttribute.Type.EMAIL:
        return forms.CharField(label=label, required=False, widget=forms.EmailInput(), max_length=254)
    return forms.CharField(label=label, required=False, max_length=1000)


def _initial_of(attribute: ContactAttribute, value: Any) -> Any:
    if value is None:
        return ""
    if attribute.type == ContactAttribute.Type.BOOL:
        return "yes" if value else "no"
    shown = display_value(attribute, value)
    return shown.isoformat() if hasattr(shown, "isoformat") else shown


class ContactForm(forms.Form):
    phone = forms.CharField(label=_("Phone number"), max_length=40, required=False)
    first_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Surname"), max_length=150, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False, widget=forms.EmailInput())
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=2000,
        help_text=_("Separate tags with commas; a new name creates the tag."),
        widget=forms.TextInput(attrs={"list": "contact-tag-options", "autocomplete": "off"}),
    )

    def __init__(
        self,
        data: Any = None,
        *,
        company: Company,
        attributes: Sequence[ContactAttribute],
        contact: Contact | None = None,
    ) -> None:
        initial: dict[str, Any] = {}
        if contact is not None:
            initial = {
                "phone": contact.phone,
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "email": contact.email,
                "tags": ", ".join(sorted(t.name for t in contact.tags.all())),
            }
            for attribute in attributes:
                initial[attribute.key] = _initial_of(attribute, contact.attribute(attribute))
        super().__init__(data, initial=initial)
        self.company = company
        self.attributes = list(attributes)
        # The phone number is the only required field (guide §8.1.2, L1846); the service says so per field.
        self.fields["phone"].widget.attrs["required"] = True
        for attribute in self.attributes:
            self.fields[attribute.key] = attribute_field(attribute)

    @property
    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[a.key] for a in self.attributes]

    def tag_names(self) -> list[str]:
        return split_tags(self.cleaned_data.get("tags", ""))

    def attribute_values(self) -> dict[str, Any]:
        return {a.key: self.cleaned_data.get(a.key, "") for a in self.attributes}


def split_tags(raw: str) -> list[str]:
    return [name.strip() for name in (raw or "").split(",") if name.strip()]


class OptOutForm(forms.Form):
    """Opt-out channel and Sender ID of Edit contact (guide §8.1.3)."""

    channel = forms.ChoiceField(label=_("Opt-out channel"), choices=ChannelKind.choices)
    sender_id = forms.CharField(
        label=_("Sender ID"),
        required=False,
        max_length=100,
        help_text=_("Leave empty for the whole channel."),
    )


class MassEditForm(forms.Form):
    """Edit selected items (guide §8.1.5): blank fields stay as they are; phone and opt-outs are left out (G14)."""

    add_tags = forms.CharField(label=_("Add tags"), required=False, max_length=2000)
    remove_tags = forms.CharField(label=_("Remove tags"), required=False, max_length=2000)
    first_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Surname"), max_length=150, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    clear = forms.MultipleChoiceField(
        label=_("Delete attribute values"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, data: Any = None, *, attributes: Sequence[ContactAttribute]) -> None:
        super().__init__(data)
        self.attributes = list(attributes)
        for attribute in self.attributes:
            self.fields[attribute.key] = attribute_field(attribute)
        self.fields["clear"].choices = [  # type: ignore[attr-defined]
            ("first_name", _("Name")),
            ("last_name", _("Surname")),
            ("email", _("Email")),
            *((a.key, a.name) for a in self.attributes),
        ]

    @property
    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[a.key] for a in self.attributes]


class AttributeForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    type = forms.ChoiceField(
        label=_("Type"), choices=[("", "—"), *ContactAttribute.Type.choices], required=False
    )
    show_in_profile = forms.BooleanField(label=_("Show in client's profile"), required=False)
    options = forms.CharField(
        label=_("List of values"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For “Text list of values”: one value per line."),
    )

    def __init__(self, data: Any = None, *, attribute: ContactAttribute | None = None) -> None:
        initial = {}
        if attribute is not None:
            initial = {
                "name": attribute.name,
                "type": attribute.type,
                "show_in_profile": attribute.show_in_profile,
                "options": "\n".join(attribute.options),
            }
        super().__init__(data, initial=initial)
        if attribute is not None:
            # Guide §8.2: the Edit dialog has no type; it cannot change after creation.
            self.fields["type"].disabled = True

    def option_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("options", "").splitlines() if line.strip()]


class TargetForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150, required=False)

    def __init__(self, data: Any = None, *, target: Target | None = None) -> None:
        super().__init__(data, initial={"name": target.name} if target is not None else {})


FILTER_FIELDS = ("key", "mode", "q", "from", "to")


def filters_from_post(data: Any) -> list[dict[str, str]]:
    """Read the target's filter rows (``f-<n>-key`` …); rows without a column are dropped (the remove box of a chip)."""
    rows = []
    numbers = sorted(
        {
            int(k.split("-")[1])
            for k in data
            if k.startswith("f-") and k.count("-") == 2 and k.split("-")[1].isdigit()
        }
    )
    for n in numbers:
        row = {name: str(data.get(f"f-{n}-{name}", "")).strip() for name in FILTER_FIELDS}
        if row["key"] and not data.get(f"f-{n}-remove"):
            row["mode"] = row["mode"] or Mode.VALUE
            rows.append(row)
    return rows


class OptOutWordForm(forms.Form):
    """Add / edit opt-out word (guide §8.3). Dates are read in the company's time zone (the view activates it)."""

    _formats = (
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%d %H:%M",
    )

    word = forms.CharField(label=_("Opt-out word"), max_length=100, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", "—"), *ChannelKind.choices], required=False)
    sender_id = forms.CharField(
        label=_("Sender ID"),
        max_length=100,
        required=False,
        help_text=_("Leave empty for the whole channel."),
    )
    effective_from = forms.DateTimeField(
        label=_("Effective from"),
        required=False,
        input_formats=_formats,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )
    effective_till = forms.DateTimeField(
        label=_("Effective till"),
        required=False,
        input_formats=_formats,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
    )

    def __init__(self, data: Any = None, *, word: OptOutWord | None = None) -> None:
        initial = {}
        if word is not None:
            initial = {
                "word": word.word,
                "channel": word.channel,
                "sender_id": word.sender_id,
                "effective_from": word.effective_from,
                "effective_till": word.effective_till,
            }
        super().__init__(data, initial=initial)


def channel_choices() -> Iterable[tuple[str, str]]:
    return [(str(v), str(label)) for v, label in ChannelKind.choices]
