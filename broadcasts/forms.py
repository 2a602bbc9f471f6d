"""Input of the New/Edit broadcast form (guide §6.6) and its steps editor (guide §6.7, inventory A §9-§10)."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Mapping
from typing import Any, TypedDict

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from broadcasts.models import NAME_MAX, Broadcast, BroadcastStep, BroadcastTemplate, QuietHours
from broadcasts.selectors import recipient_choices
from broadcasts.services import TITLE_KEY, BroadcastData, StepData, step_data_of
from broadcasts.template_services import TemplateData, template_steps
from channels_out.constructor import content_format, formats_for, read_message, text_upgrade
from channels_out.constructor.schema import item_op
from channels_out.kinds import ChannelKind
from contacts.models import Tag, Target
from portal.tenants.models import Company

STEP_FIELDS = ("channel", "sender_id", "wait_for", "wait_value", "wait_unit", "text", "title")
# A wall-clock date and time as the browser's datetime-local input sends it (read in the company's time zone).
LOCAL_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def _local_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ChainData(TypedDict):
    """The service input both forms give alike: the fields BroadcastData and TemplateData share."""

    name: str
    description: str
    type: str
    rcs_check: bool
    target_ids: list[int]
    tag_ids: list[int]
    numbers: list[str]
    steps: list[StepData]
    quiet_hours: str
    allowed_from: datetime.time | None
    allowed_till: datetime.time | None


class ChainForm(forms.Form):
    """Fields shared by the New broadcast (guide §6.6) and New template (guide §7.3) forms: name, description,
    recipients, mode and the RCS check; the chain's steps are rows ``s-<n>-<field>`` read by
    :func:`steps_from_post` and edited by :func:`steps_edit` for both forms."""

    name = forms.CharField(label=_("Broadcast name"), max_length=NAME_MAX)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    targets = forms.MultipleChoiceField(label=_("Targets"), required=False)
    tags = forms.MultipleChoiceField(label=_("Tags"), required=False)
    numbers = forms.CharField(
        label=_("Phone numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "+4915112345678, +4915187654321"}),
        help_text=_("One or several, separated by commas."),
    )
    type = forms.ChoiceField(
        label=_("Mode"),
        choices=Broadcast.Type.choices,
        initial=Broadcast.Type.FALLBACK,
        widget=forms.RadioSelect,
    )
    rcs_check = forms.BooleanField(label=_("RCS capability check before launch"), required=False)
    # Issue 7 item 5: quiet hours, the same choice on a run and on a template (whose runs keep it).
    quiet_hours = forms.ChoiceField(
        label=_("Quiet hours"), choices=QuietHours.choices, initial=QuietHours.COMPANY, required=False
    )
    allowed_from = forms.TimeField(
        label=_("Send from"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    allowed_till = forms.TimeField(
        label=_("Send until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("In each recipient's time zone; messages outside these hours wait until they open."),
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company = company
        targets, tags = recipient_choices(company=company)
        target_field, tag_field = self.fields["targets"], self.fields["tags"]
        assert isinstance(target_field, forms.MultipleChoiceField)  # noqa: S101  (declared above)
        assert isinstance(tag_field, forms.MultipleChoiceField)  # noqa: S101  (declared above)
        target_field.choices = [(str(t.uuid), t.name) for t in targets]
        tag_field.choices = [(str(t.uuid), t.name) for t in tags]

    @classmethod
    def posted_initial(cls, post: QueryDict) -> dict[str, Any]:
        """The form's fields as posted, as initial values of an unbound form: shown again after a steps-editor
        operation or while the recipients are counted, without the errors of a form not finished yet."""
        initial: dict[str, Any] = {}
        for name, field in cls.base_fields.items():
            if isinstance(field, forms.MultipleChoiceField):
                initial[name] = post.getlist(name)
            elif isinstance(field, forms.BooleanField):
                initial[name] = bool(post.get(name))
            else:
                initial[name] = post.get(name, field.initial if field.initial is not None else "")
        return initial

    def local_datetime(self, name: str) -> datetime.datetime | None:
        """A posted wall-clock time read in the company's time zone (the browser's value has none)."""
        value: datetime.datetime | None = self.cleaned_data.get(name)
        if value is None:
            return None
        return timezone.make_aware(value.replace(tzinfo=None), zoneinfo.ZoneInfo(self.company.time_zone))

    def chain_data(self, steps: list[StepData]) -> ChainData:
        """The service input of the fields both forms share, from the cleaned fields and the steps."""
        data = self.cleaned_data
        target_ids, tag_ids = self.recipient_ids()
        return {
            "name": data.get("name", ""),
            "description": data.get("description", ""),
            "type": data.get("type") or Broadcast.Type.FALLBACK,
            "rcs_check": bool(data.get("rcs_check")),
            "target_ids": target_ids,
            "tag_ids": tag_ids,
            "numbers": [data.get("numbers") or ""],
            "steps": steps,
            "quiet_hours": data.get("quiet_hours") or QuietHours.COMPANY,
            "allowed_from": data.get("allowed_from"),
            "allowed_till": data.get("allowed_till"),
        }

    def recipient_ids(self) -> tuple[list[int], list[int]]:
        """The chosen targets' and tags' primary keys, within the company."""
        data = self.cleaned_data
        target_ids = list(
            Target.objects.filter(company=self.company, uuid__in=data.get("targets") or []).values_list(
                "pk", flat=True
            )
        )
        tag_ids = list(
            Tag.objects.filter(company=self.company, uuid__in=data.get("tags") or []).values_list(
                "pk", flat=True
            )
        )
        return target_ids, tag_ids


class BroadcastForm(ChainForm):
    """The New/Edit broadcast form (guide §6.6): the shared fields plus Instantly and the launch date."""

    instantly = forms.BooleanField(label=_("Instantly"), required=False)
    scheduled_for = forms.DateTimeField(
        label=_("Schedule"), required=False, widget=_local_widget(), input_formats=LOCAL_INPUT
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, company=company, **kwargs)
        self.fields["scheduled_for"].help_text = _("In your company's time zone (%(tz)s).") % {
            "tz": company.time_zone
        }

    def clean_scheduled_for(self) -> datetime.datetime | None:
        # The browser sends a wall-clock time; it means the company's time zone, not the server's.
        return self.local_datetime("scheduled_for")

    def data_with(self, steps: list[StepData]) -> BroadcastData:
        """The service input from the cleaned fields and the steps."""
        data = self.cleaned_data
        return BroadcastData(
            **self.chain_data(steps),
            instantly=bool(data.get("instantly")),
            scheduled_for=data.get("scheduled_for"),
        )


class BroadcastSettingsForm(forms.Form):
    """The company's quiet hours (issue 7 item 5)."""

    quiet_enabled = forms.BooleanField(label=_("Keep quiet hours"), required=False)
    allowed_from = forms.TimeField(
        label=_("Send from"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    allowed_till = forms.TimeField(
        label=_("Send until"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("In each recipient's time zone. A window may pass midnight, e.g. 22:00 to 06:00."),
    )
    tz_attribute = forms.CharField(
        label=_("Time zone attribute"),
        required=False,
        max_length=100,
        help_text=_(
            "A contact attribute holding the recipient's time zone (e.g. Europe/Berlin); otherwise the time "
            "zone comes from the phone number's country, then your company's."
        ),
    )


WEEKDAYS = [
    ("1", _("Monday")),
    ("2", _("Tuesday")),
    ("3", _("Wednesday")),
    ("4", _("Thursday")),
    ("5", _("Friday")),
    ("6", _("Saturday")),
    ("7", _("Sunday")),
]


class TemplateForm(ChainForm):
    """The New/Edit template form (guide §7.3): the shared fields plus the recurring schedule; no "Instantly"."""

    recurrence = forms.ChoiceField(
        label=_("Repeat"), choices=BroadcastTemplate.Recurrence.choices, initial="none"
    )
    at_time = forms.TimeField(
        label=_("At"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    weekdays = forms.MultipleChoiceField(
        label=pgettext_lazy("weekdays a weekly schedule runs on", "On"),
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    month_day = forms.IntegerField(label=_("Day of the month"), required=False, min_value=1, max_value=31)
    effective_from = forms.DateTimeField(
        label=_("Effective from"), required=False, widget=_local_widget(), input_formats=LOCAL_INPUT
    )
    effective_till = forms.DateTimeField(
        label=_("Effective till"), required=False, widget=_local_widget(), input_formats=LOCAL_INPUT
    )

    def __init__(self, *args: Any, company: Company, **kwargs: Any) -> None:
        super().__init__(*args, company=company, **kwargs)
        self.fields["name"].label = _("Name")
        tz = {"tz": company.time_zone}
        self.fields["effective_from"].help_text = (
            _("In your company's time zone (%(tz)s). For Once, the launch time.") % tz
        )
        self.fields["at_time"].help_text = _("In your company's time zone (%(tz)s).") % tz
        self.fields["month_day"].help_text = _("Past the month's last day, the last day is used.")

    def clean_effective_from(self) -> datetime.datetime | None:
        return self.local_datetime("effective_from")

    def clean_effective_till(self) -> datetime.datetime | None:
        return self.local_datetime("effective_till")

    def data_with(self, steps: list[StepData]) -> TemplateData:
        """The service input from the cleaned fields and the steps."""
        data = self.cleaned_data
        return TemplateData(
            **self.chain_data(steps),
            recurrence=data.get("recurrence") or BroadcastTemplate.Recurrence.NONE,
            at_time=data.get("at_time"),
            weekdays=[int(d) for d in data.get("weekdays") or []],
            month_day=data.get("month_day"),
            effective_from=data.get("effective_from"),
            effective_till=data.get("effective_till"),
        )


def _chain_initial_of(obj: Broadcast | BroadcastTemplate) -> dict[str, Any]:
    """The initial values of the fields both forms share (:class:`ChainForm`), from a stored run or template."""
    return {
        "name": obj.name,
        "description": obj.description,
        "targets": [
            str(u) for u in Target.objects.filter(pk__in=obj.target_ids).values_list("uuid", flat=True)
        ],
        "tags": [str(u) for u in Tag.objects.filter(pk__in=obj.tag_ids).values_list("uuid", flat=True)],
        "numbers": ", ".join(obj.numbers),
        "type": obj.type,
        "rcs_check": obj.rcs_check,
        "quiet_hours": obj.quiet_hours,
        "allowed_from": obj.allowed_from,
        "allowed_till": obj.allowed_till,
    }


def template_initial_of(template: BroadcastTemplate) -> dict[str, Any]:
    """The template form's initial values (Edit)."""
    tz = zoneinfo.ZoneInfo(template.company.time_zone)

    def local(value: datetime.datetime | None) -> datetime.datetime | None:
        return value.astimezone(tz).replace(tzinfo=None) if value else None

    return {
        **_chain_initial_of(template),
        "recurrence": template.recurrence,
        "at_time": template.at_time,
        "weekdays": [str(d) for d in template.weekdays],
        "month_day": template.month_day,
        "effective_from": local(template.effective_from),
        "effective_till": local(template.effective_till),
    }


def template_step_rows(template: BroadcastTemplate) -> list[dict[str, Any]]:
    """The steps editor's rows for a template's stored chain."""
    return [step_row(step) for step in template_steps(template)]


def initial_of(broadcast: Broadcast) -> dict[str, Any]:
    """The form's initial values for an existing run (Edit)."""
    tz = zoneinfo.ZoneInfo(broadcast.company.time_zone)
    return {
        **_chain_initial_of(broadcast),
        "instantly": broadcast.instantly,
        "scheduled_for": broadcast.scheduled_for.astimezone(tz).replace(tzinfo=None)
        if broadcast.scheduled_for
        else None,
    }


def step_rows_of(broadcast: Broadcast) -> list[dict[str, Any]]:
    return [step_row(step_data_of(step)) for step in broadcast.steps.order_by("order", "id")]


def editor_prefix(index: int) -> str:
    """The constructor's field prefix of step ``index`` (``s-0-c-cards-1-title``)."""
    return f"s-{index}-c"


def step_row(step: StepData) -> dict[str, Any]:
    """The editor's row of a stored step: the plain fields, and the constructor's ``format`` and ``data``."""
    row: dict[str, Any] = {name: str(getattr(step, name)) for name in STEP_FIELDS}
    key, data = content_format(step.channel, step.content())
    row["format"], row["data"] = text_upgrade(step.channel, key, data)
    return row


def steps_from_post(post: QueryDict | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The step rows as posted (``s-0-channel``, ``s-0-text``, the constructor's ``s-0-c-…``), in their order."""
    rows: list[dict[str, Any]] = []
    index = 0
    while f"s-{index}-channel" in post:
        row: dict[str, Any] = {name: str(post.get(f"s-{index}-{name}", "") or "") for name in STEP_FIELDS}
        row["format"], row["data"] = "text", {}
        if formats_for(row["channel"]):
            prefix = editor_prefix(index)
            if f"{prefix}-channel" in post:
                row["format"], row["data"] = read_message(post, prefix)
            else:  # posted without its editor (a client that knows only the plain fields): they become the text
                plain = {"text": row["text"], TITLE_KEY.get(row["channel"], "title"): row["title"]}
                key, data = text_upgrade(row["channel"], "text", {k: v for k, v in plain.items() if v})
                if key not in dict(formats_for(row["channel"])):
                    key, data = formats_for(row["channel"])[0][0], {}
                row["format"], row["data"] = key, data
        rows.append(row)
        index += 1
    return rows


def new_step_row(channel: str) -> dict[str, Any]:
    """A new step of ``channel`` with the defaults (guide §6.7 item 1: the "+" control)."""
    wait_for = BroadcastStep.WaitFor.SUBMIT if channel == ChannelKind.PUSH else BroadcastStep.WaitFor.DELIVERY
    offered = formats_for(channel)
    return {
        "channel": channel,
        "sender_id": "",
        "wait_for": wait_for,
        "wait_value": "10",
        "wait_unit": BroadcastStep.Unit.MINUTES,
        "text": "",
        "title": "",
        "format": offered[0][0] if offered else "text",
        "data": {},
    }


def step_data(rows: list[dict[str, Any]]) -> list[StepData]:
    """Typed steps for the service; a waiting time that is not a number becomes 0 (the service refuses it).

    A step whose channel has constructor editors (issue 8) carries the chosen format's JSON in ``formats``; the
    SMS step (and any channel without an editor) keeps the plain text and title."""
    steps = []
    for row in rows:
        try:
            wait_value = int(row.get("wait_value") or 0)
        except ValueError:
            wait_value = 0
        channel = row.get("channel", "")
        text, title, formats = row.get("text", ""), row.get("title", ""), {}
        if formats_for(channel):
            key, data = row.get("format") or "text", row.get("data") or {}
            text, title, formats = "", "", {key: data}
            if key == "text":
                text = str(data.get("text", ""))
        steps.append(
            StepData(
                channel=channel,
                sender_id=row.get("sender_id", "").strip(),
                wait_for=row.get("wait_for", ""),
                wait_value=max(wait_value, 0),
                wait_unit=row.get("wait_unit", ""),
                text=text,
                title=title,
                formats=formats,
            )
        )
    return steps


def steps_edit(rows: list[dict[str, Any]], op: str) -> list[dict[str, Any]]:
    """Apply one steps-editor operation: ``add:<channel>``, ``remove:<n>``, ``up:<n>``, ``down:<n>``.

    Guide §6.7 item 3 / inventory check 38: removing a step keeps the others in their relative order.
    """
    verb, _sep, arg = op.partition(":")
    rows = list(rows)
    if verb == "add" and arg in ChannelKind.values and len(rows) < 8:
        rows.append(new_step_row(arg))
        return rows
    try:
        index = int(arg)
    except ValueError:
        return rows
    item_op(rows, verb, index)
    return rows
