"""Writes of the Broadcasts section (guide §6): create and edit runs, launch, moderation, pause/resume/abort, copy,
relaunch for failed.

The runtime side (fan-out, the fallback engine, timers, completion) lives in ``broadcasts.engine``; this module
only moves a run between the states of ``Broadcast.Status`` and enqueues the engine's tasks on commit.
Every public service is one transaction with an audit entry (CONVENTIONS R4, R10).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from assets.services import whatsapp_template_check
from broadcasts.models import (
    NAME_MAX,
    Broadcast,
    BroadcastAttempt,
    BroadcastRecipient,
    BroadcastSettings,
    BroadcastStep,
    QuietHours,
)
from broadcasts.tasks import broadcast_advance_task, broadcast_fan_out_task
from channels_out.constructor import message_blank
from channels_out.formats import FORMATS, content_errors, sent_format_key
from channels_out.kinds import ChannelKind
from channels_out.models import Connection
from channels_out.sessions import whatsapp_sender_unverified
from channels_out.validation import address_normalize, payload_text
from contacts.models import Tag, Target
from contacts.services import target_launches_add
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company

Status = Broadcast.Status

# Guide §6.7 / inventory A §18: which "wait for" each channel accepts.
# §15: Push has no delivery report, so only Submit. §20.12 [GAP] decision: TTS has no "displayed" (a call is
# answered = Delivery), so Display is refused there; every other channel accepts all three.
WAIT_FOR_ALLOWED: dict[str, frozenset[str]] = {
    ChannelKind.PUSH: frozenset({BroadcastStep.WaitFor.SUBMIT}),
    ChannelKind.TTS: frozenset({BroadcastStep.WaitFor.SUBMIT, BroadcastStep.WaitFor.DELIVERY}),
}
# The name of the second text field of the plain-text format, per channel (subject, header, title).
TITLE_KEY: dict[str, str] = {
    ChannelKind.EMAIL: "subject",
    ChannelKind.PUSH: "header",
    ChannelKind.MOBILE_PUSH: "header",
    ChannelKind.RCS: "title",
}
MAX_STEPS = 8  # one per channel of the guide's chain (§6.7 item 1 lists 8)
MAX_NUMBERS = 10_000  # typed numbers per broadcast; bigger lists belong in a contacts import + tag


class BroadcastStateError(ApplicationError):
    """The action is not allowed in the broadcast's current status (guide §6.3 actions by status)."""


class ModerationRequiredError(ApplicationError):
    """The company's broadcasts go through moderation; a direct launch is refused (guide §6.6 item 7)."""


@dataclass(frozen=True)
class StepData:
    """One step of the chain as the form or the API gives it."""

    channel: str
    sender_id: str = ""
    wait_for: str = BroadcastStep.WaitFor.DELIVERY
    wait_value: int = 10
    wait_unit: str = BroadcastStep.Unit.MINUTES
    text: str = ""
    title: str = ""  # e-mail subject, push / mobile push header, RCS title
    # Issue 8: the constructor's other formats of this step, keyed by format ({"rich_card": {...}}).
    formats: Mapping[str, Any] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """The step's message keyed by format: the constructor's format (issue 8) and/or the plain text.

        A constructor format alone (``formats={"carousel": {...}}``, no text) is stored alone; the plain entry
        keeps the text and title, plus what the constructor's ``text`` format adds (RCS suggestion chips)."""
        rich = {k: v for k, v in self.formats.items() if k != "text"}
        if rich and not (self.text or self.title):
            return rich
        extra = self.formats.get("text")
        body: dict[str, Any] = {**(extra if isinstance(extra, Mapping) else {})}
        if self.text or "text" not in body:
            body["text"] = self.text
        key = TITLE_KEY.get(self.channel)
        if key and self.title:
            body[key] = self.title
        return {**rich, "text": body}

    @property
    def constructed(self) -> bool:
        """The message comes from the constructor (a rich format, or a channel format's ``text``)."""
        return bool(self.formats)


@dataclass(frozen=True)
class BroadcastData:
    """The fields of the New broadcast form (guide §6.6)."""

    name: str
    description: str = ""
    type: str = Broadcast.Type.FALLBACK
    instantly: bool = True
    scheduled_for: datetime.datetime | None = None
    rcs_check: bool = False
    target_ids: Sequence[int] = ()
    tag_ids: Sequence[int] = ()
    numbers: Sequence[str] = ()
    steps: Sequence[StepData] = field(default_factory=tuple)
    # Quiet hours (issue 7 item 5): "company", "off" or "custom" with this run's own allowed hours.
    quiet_hours: str = QuietHours.COMPANY
    allowed_from: datetime.time | None = None
    allowed_till: datetime.time | None = None


# -- validation ----------------------------------------------------------------------------------------------


def numbers_clean(*, company: Company, raw: Iterable[str]) -> list[str]:
    """Read typed numbers (each entry may hold several separated by ","), as E.164 with the company's country.

    Inventory A §6.6 [GAP] decision: empty entries are ignored, an invalid number is an error naming it, and
    duplicates are dropped (first one kept). Raises ValidationError on the ``numbers`` field.
    """
    seen: dict[str, None] = {}
    errors: list[str] = []
    for entry in raw:
        for part in str(entry).replace(";", ",").replace("\n", ",").split(","):
            value = part.strip()
            if not value:
                continue
            try:
                # SMS rules (a mobile line) would refuse a landline that a TTS step could call; the typed number
                # only has to be a valid phone number here, and each step checks its own channel at send time.
                address = address_normalize(ChannelKind.TTS, value, default_country=company.default_country)
            except ValidationError as exc:
                errors.extend(exc.messages)
                continue
            seen.setdefault(address.value, None)
    if errors:
        raise ValidationError({"numbers": errors})
    if len(seen) > MAX_NUMBERS:
        raise ValidationError(
            {
                "numbers": _("At most %(max)d typed numbers; import bigger lists as contacts.")
                % {"max": MAX_NUMBERS}
            }
        )
    return list(seen)


def _sender_served(company: Company, channel: str, sender_id: str) -> bool:
    return Connection.objects.filter(
        company=company,
        enabled=True,
        channels__contains=[channel],
        sender_ids__contains=[sender_id],
    ).exists()


def _step_errors(company: Company, index: int, step: StepData, *, launching: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(f"steps.{index}.{name}", []).append(message)

    if step.channel not in ChannelKind.values:
        add("channel", _("Choose a channel."))
        return errors
    label = ChannelKind(step.channel).label
    if step.wait_for not in BroadcastStep.WaitFor.values:
        add("wait_for", _("Choose what to wait for."))
    elif step.wait_for not in WAIT_FOR_ALLOWED.get(step.channel, frozenset(BroadcastStep.WaitFor.values)):
        allowed = ", ".join(
            str(BroadcastStep.WaitFor(v).label) for v in sorted(WAIT_FOR_ALLOWED[step.channel])
        )
        add(
            "wait_for",
            _("%(channel)s has no %(status)s status; wait for %(allowed)s.")
            % {"channel": label, "status": BroadcastStep.WaitFor(step.wait_for).label, "allowed": allowed},
        )
    if step.wait_unit not in BroadcastStep.Unit.values:
        add("wait_unit", _("Choose a unit."))
    else:
        seconds = step.wait_value * BroadcastStep.UNIT_SECONDS[step.wait_unit]
        if not BroadcastStep.WAIT_MIN <= seconds <= BroadcastStep.WAIT_MAX:
            add("wait_value", _("The waiting time must be between 10 seconds and 72 hours."))
    if len(step.sender_id) > 64:
        add("sender_id", _("At most 64 characters."))
    if launching:
        # Guide §9.1: the Sender ID is mandatory for a broadcast that is run or scheduled.
        if not step.sender_id.strip():
            add("sender_id", _("Choose a sender ID for this step."))
        elif not _sender_served(company, step.channel, step.sender_id.strip()):
            add(
                "sender_id",
                _("Sender ID %(sender)s is not set up for %(channel)s in your company's connections.")
                % {"sender": step.sender_id, "channel": label},
            )
    content = step.content()
    sender = step.sender_id.strip()
    if (
        index == 0
        and step.channel == ChannelKind.WHATSAPP
        and sender
        and sent_format_key(step.channel, content) != "template"
        and whatsapp_sender_unverified(company.pk, sender)
    ):
        # Guide §13.1 / inventory A acceptance 71: only a company verified by WhatsApp may open a conversation with
        # a free message, and a broadcast's first step opens one. Later steps stay allowed: they reach the contact
        # only after an earlier channel, and the channel layer still refuses a free message outside the 24 h window.
        add(
            "sender_id",
            _(
                "Sender ID %(sender)s is not verified by WhatsApp, so a broadcast cannot open with a free WhatsApp "
                "message. Choose an Approved WhatsApp template or put another channel first."
            )
            % {"sender": sender},
        )
    if "text" in content and (step.text or step.title or launching):
        try:
            payload_text(step.channel, content["text"])
        except ValidationError as exc:
            for message in exc.messages:
                add("text", message)
    # Issue 8: every constructor format through the channel layer's one model per format (the plain text above
    # keeps payload_text); paths read steps.<n>.content.<format>.<field>. A draft may keep a step's message
    # blank (only the chooser's defaults): it is checked when it has content, and always at launch.
    rich = {k: v for k, v in content.items() if k != "text"}
    if (step.channel, "text") in FORMATS and isinstance(step.formats.get("text"), Mapping):
        rich["text"] = content["text"]  # the channel's text format (RCS chips): checked by its model too
    for key, data in rich.items():
        if not launching and message_blank(step.channel, key, data):
            continue
        for path, messages in content_errors(
            step.channel, {key: data}, prefix=f"steps.{index}.content"
        ).items():
            if path == f"steps.{index}.content.text.text" and f"steps.{index}.text" in errors:
                continue  # the text's limit was already named by payload_text
            errors.setdefault(path, []).extend(messages)
        if (
            step.channel == ChannelKind.WHATSAPP
            and key == "template"
            and not any(p.startswith(f"steps.{index}.content.template") for p in errors)
        ):  # guide §12.4: only an Approved template of the company, with its exact parameter counts (assets)
            for path, messages in whatsapp_template_check(company=company, data=data).items():
                errors.setdefault(f"steps.{index}.content.template.{path}", []).extend(messages)
    return errors


def broadcast_validate(
    *, company: Company, data: BroadcastData, launching: bool, has_source_run: bool = False
) -> None:
    """Check ``data`` for a draft (``launching=False``: a name, valid values) or for a launch (everything).

    Launch rules (guide §6.6 validation, inventory A checks 21-37): recipients, at least one step in Fallback mode,
    a sender ID served by a connection on every step, a text within the channel's limit, a future schedule when not
    Instantly, "wait for" allowed by the channel. Raises one ValidationError naming every failing field; step
    fields are named ``steps.<n>.<field>``.
    """
    errors: dict[str, list[str]] = {}
    numbers: list[str] = []
    try:
        numbers = numbers_clean(company=company, raw=data.numbers)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = [_("Enter the broadcast name.")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("At most %(max)d characters.") % {"max": NAME_MAX}]
    if data.type not in Broadcast.Type.values:
        errors["type"] = [_("Choose a mode.")]
    elif data.type == Broadcast.Type.CHATBOT:
        # TODO(conversations): wire the Chatbot mode when chatbots exist (#7 milestone 2 / chatbots issue).
        errors["type"] = [_("Chatbot broadcasts become available when chatbots are set up.")]
    if data.quiet_hours not in QuietHours.values:
        errors["quiet_hours"] = [_("Choose the quiet hours.")]
    elif data.quiet_hours == QuietHours.CUSTOM and (data.allowed_from is None or data.allowed_till is None):
        errors["allowed_till" if data.allowed_from else "allowed_from"] = [
            _("Choose the hours between which messages may be sent.")
        ]
    if len(data.steps) > MAX_STEPS:
        errors["steps"] = [_("A chain has at most %(max)d steps.") % {"max": MAX_STEPS}]
    for index, step in enumerate(data.steps):
        errors.update(_step_errors(company, index, step, launching=launching))
    if launching:
        if not (data.target_ids or data.tag_ids or numbers or has_source_run):
            errors["recipients"] = [_("Choose at least one recipient: a target, a tag or a phone number.")]
        if data.type == Broadcast.Type.FALLBACK and not data.steps:
            errors["steps"] = [_("Add at least one step to the chain.")]
        if not data.instantly:
            if data.scheduled_for is None:
                errors["scheduled_for"] = [_("Choose the launch date and time, or Instantly.")]
            elif data.scheduled_for <= timezone.now():
                errors["scheduled_for"] = [_("The scheduled time has passed; choose a time in the future.")]
    if errors:
        raise ValidationError(errors)


def _data_of(broadcast: Broadcast) -> BroadcastData:
    return BroadcastData(
        name=broadcast.name,
        description=broadcast.description,
        type=broadcast.type,
        instantly=broadcast.instantly,
        scheduled_for=broadcast.scheduled_for,
        rcs_check=broadcast.rcs_check,
        target_ids=list(broadcast.target_ids),
        tag_ids=list(broadcast.tag_ids),
        numbers=list(broadcast.numbers),
        steps=[step_data_of(s) for s in broadcast.steps.order_by("order", "id")],
        quiet_hours=broadcast.quiet_hours,
        allowed_from=broadcast.allowed_from,
        allowed_till=broadcast.allowed_till,
    )


def step_payload(step: StepData) -> dict[str, Any]:
    """The payload ``step`` sends before personalisation: its constructor format as ``{"format", "content"}``
    (issue 8, the engine's rule ``sent_format_key``) or the plain text form."""
    content = step.content()
    key = sent_format_key(step.channel, content)
    if key is not None:
        return {"format": key, "content": content[key]}
    plain = content.get("text")
    return dict(plain) if isinstance(plain, Mapping) else {}


def step_data_of(step: BroadcastStep) -> StepData:
    text = step.text_content
    content = step.content or {}
    formats = {k: v for k, v in content.items() if k != "text"}
    plain = content.get("text")
    if isinstance(plain, Mapping) and set(plain) - {"text", *TITLE_KEY.values()}:
        formats["text"] = dict(plain)  # the constructor's text format (RCS chips): reopened as it was saved
    return StepData(
        channel=step.channel,
        sender_id=step.sender_id,
        wait_for=step.wait_for,
        wait_value=step.wait_value,
        wait_unit=step.wait_unit,
        text=text.get("text", ""),
        title=text.get(TITLE_KEY.get(step.channel, "title"), ""),
        formats=formats,
    )


# -- saving ----------------------------------------------------------------------------------------------------


def _write(company: Company, actor: Any, data: BroadcastData, broadcast: Broadcast | None) -> Broadcast:
    is_new = broadcast is None
    old = None if broadcast is None else snapshot(broadcast)
    if broadcast is None:
        broadcast = Broadcast(company=company, created_by=actor if getattr(actor, "pk", None) else None)
    elif not broadcast.can_edit:
        raise BroadcastStateError(
            _("Only Draft and Scheduled broadcasts can be edited; this one is %(status)s.")
            % {"status": broadcast.get_status_display()}
        )
    has_rcs = any(s.channel == ChannelKind.RCS for s in data.steps)
    broadcast.name = " ".join(data.name.split())
    broadcast.description = data.description.strip()
    broadcast.type = data.type
    broadcast.instantly = data.instantly
    broadcast.scheduled_for = None if data.instantly else data.scheduled_for
    # Guide §6.7 item 4: the toggle exists only with an RCS step in the chain.
    broadcast.rcs_check = bool(data.rcs_check and has_rcs)
    broadcast.target_ids = sorted(
        set(Target.objects.filter(company=company, pk__in=list(data.target_ids)).values_list("pk", flat=True))
    )
    broadcast.tag_ids = sorted(
        set(Tag.objects.filter(company=company, pk__in=list(data.tag_ids)).values_list("pk", flat=True))
    )
    broadcast.numbers = numbers_clean(company=company, raw=data.numbers)
    broadcast.quiet_hours = data.quiet_hours
    custom = data.quiet_hours == QuietHours.CUSTOM
    broadcast.allowed_from = data.allowed_from if custom else None
    broadcast.allowed_till = data.allowed_till if custom else None
    broadcast.status = Status.DRAFT
    broadcast.full_clean(exclude=["created_by", "copied_from", "relaunch_of"])
    broadcast.save()
    BroadcastStep.objects.filter(company=company, broadcast=broadcast).delete()
    BroadcastStep.objects.bulk_create(
        [
            BroadcastStep(
                company=company,
                broadcast=broadcast,
                order=index,
                channel=step.channel,
                sender_id=step.sender_id.strip(),
                wait_for=step.wait_for,
                wait_value=step.wait_value,
                wait_unit=step.wait_unit,
                content=step.content(),
            )
            for index, step in enumerate(data.steps, start=1)
        ]
    )
    audit_record(
        company=company,
        actor=actor,
        action=actions.BROADCAST_CREATED if is_new else actions.BROADCAST_CHANGED,
        target=broadcast,
        changes=[
            change_of(broadcast, AuditDetail.Operation.INSERT)
            if is_new
            else change_of(broadcast, AuditDetail.Operation.UPDATE, old=old, new=snapshot(broadcast))
        ],
    )
    return broadcast


@transaction.atomic
def broadcast_save(
    *,
    company: Company,
    actor: Any,
    data: BroadcastData,
    broadcast: Broadcast | None = None,
    action: str = "draft",
    launch_type: str = Broadcast.LaunchType.MANUAL,
) -> Broadcast:
    """Save the New/Edit broadcast form and, by ``action``, keep it as a Draft, launch it or send it to moderation.

    ``action``: ``"draft"`` (guide §6.6 item 8, may be incomplete), ``"launch"`` (item 7) or ``"moderation"``
    (item 7 with company moderation on). A refused launch saves nothing (one transaction). ``launch_type`` is
    recorded on a new run (guide §6.2 Launch: Manual from the portal, API from /api/v1).
    Side effects: Broadcast and BroadcastStep rows, audit ``broadcast.created``/``changed`` and, for a launch,
    ``broadcast.launched``/``scheduled`` with the fan-out task on commit.
    Errors: ValidationError (fields, steps as ``steps.<n>.<field>``), BroadcastStateError (not editable),
    ModerationRequiredError (a direct launch while the company's broadcasts need moderation).
    """
    if broadcast is not None:
        broadcast = Broadcast.objects.select_for_update().get(pk=broadcast.pk, company=company)
    broadcast_validate(company=company, data=data, launching=action != "draft")
    saved = _write(company, actor, data, broadcast)
    if broadcast is None and launch_type != saved.launch_type:
        saved.launch_type = launch_type
        saved.save(update_fields=["launch_type", "updated_at"])
    if action == "launch":
        _launch(company, actor, saved)
    elif action == "moderation":
        _to_moderation(company, actor, saved)
    return saved


def _to_moderation(company: Company, actor: Any, broadcast: Broadcast) -> None:
    broadcast.status = Status.ON_MODERATION
    broadcast.moderation_note = ""
    broadcast.save(update_fields=["status", "moderation_note", "updated_at"])
    audit_record(company=company, actor=actor, action=actions.BROADCAST_MODERATION_SENT, target=broadcast)


def _launch(company: Company, actor: Any, broadcast: Broadcast, *, approved: bool = False) -> None:
    # Guide §6.6 item 7: the server decides on every request; with moderation on, only an approval launches.
    if company.moderation_required and not approved:
        raise ModerationRequiredError(
            _("Your company's broadcasts need moderation: send this broadcast to moderation instead.")
        )
    now = timezone.now()
    if not broadcast.instantly and broadcast.scheduled_for is not None and broadcast.scheduled_for > now:
        broadcast.status = Status.SCHEDULED
        broadcast.save(update_fields=["status", "updated_at"])
        audit_record(company=company, actor=actor, action=actions.BROADCAST_SCHEDULED, target=broadcast)
        return
    broadcast_start(broadcast=broadcast, now=now)
    audit_record(company=company, actor=actor, action=actions.BROADCAST_LAUNCHED, target=broadcast)


def broadcast_start(*, broadcast: Broadcast, now: datetime.datetime) -> None:
    """Move a run to In progress and enqueue its fan-out on commit (launch, approval, a due schedule).

    Side effects: writes the Broadcast; counts a launch on each of its targets (guide §8.3 Launches); enqueues
    ``broadcast_fan_out_task``. The caller holds the transaction.
    """
    broadcast.status = Status.IN_PROGRESS
    broadcast.launched_at = now
    broadcast.save(update_fields=["status", "launched_at", "updated_at"])
    if broadcast.target_ids:
        target_launches_add(
            company=broadcast.company, targets=list(Target.objects.filter(pk__in=broadcast.target_ids))
        )
    company_id, broadcast_id = broadcast.company_id, broadcast.pk
    transaction.on_commit(lambda: broadcast_fan_out_task.delay(company_id, broadcast_id))


def _locked(company: Company, broadcast: Broadcast) -> Broadcast:
    return (
        Broadcast.objects.select_for_update().select_related("company").get(pk=broadcast.pk, company=company)
    )


@transaction.atomic
def broadcast_launch(
    *, company: Company, actor: Any, broadcast: Broadcast, launch_type: str | None = None
) -> Broadcast:
    """Launch (or schedule) a saved Draft as it is. Same rules and side effects as ``broadcast_save`` "launch";
    ``launch_type`` (e.g. API) replaces the run's launch type when given."""
    broadcast = _locked(company, broadcast)
    if broadcast.status not in (Status.DRAFT, Status.REJECTED):
        raise BroadcastStateError(_("Only a Draft can be launched."))
    broadcast_validate(
        company=company,
        data=_data_of(broadcast),
        launching=True,
        has_source_run=bool(broadcast.relaunch_of_id),
    )
    if launch_type is not None and launch_type != broadcast.launch_type:
        broadcast.launch_type = launch_type
        broadcast.save(update_fields=["launch_type", "updated_at"])
    _launch(company, actor, broadcast)
    return broadcast


@transaction.atomic
def broadcast_moderate(
    *, company: Company, actor: Any, broadcast: Broadcast, approve: bool, note: str = ""
) -> Broadcast:
    """Approve or reject a run On moderation (back office; inventory A §6.6 [GAP] moderation decision).

    Approve: the run launches (or is scheduled; a schedule already passed launches now). Reject: status Rejected
    with ``note``; the author can edit it and send it again. Side effects: audit ``broadcast.approved``/
    ``rejected``; on approval, as a launch. Raises BroadcastStateError when it is not On moderation.
    """
    broadcast = _locked(company, broadcast)
    if broadcast.status != Status.ON_MODERATION:
        raise BroadcastStateError(_("Only a broadcast On moderation can be approved or rejected."))
    broadcast.moderation_note = note.strip()[:500]
    if approve:
        broadcast.save(update_fields=["moderation_note", "updated_at"])
        audit_record(company=company, actor=actor, action=actions.BROADCAST_APPROVED, target=broadcast)
        _launch(company, actor, broadcast, approved=True)
    else:
        broadcast.status = Status.REJECTED
        broadcast.save(update_fields=["status", "moderation_note", "updated_at"])
        audit_record(company=company, actor=actor, action=actions.BROADCAST_REJECTED, target=broadcast)
    return broadcast


@transaction.atomic
def broadcast_pause(*, company: Company, actor: Any, broadcast: Broadcast) -> Broadcast:
    """Pause a running broadcast (guide §6.3 Pause; inventory A §6.7 [GAP] decision).

    Steps not sent yet stay unsent and every running waiting time is frozen: the time left is stored on the
    attempt and the recipient's timer is cleared, so neither the sweep nor a report moves anyone on.
    Limit: messages the channel layer had already queued before the pause are still submitted.
    Side effects: Broadcast, attempts and recipients updated; audit ``broadcast.paused``.
    Raises BroadcastStateError unless In progress.
    """
    broadcast = _locked(company, broadcast)
    if not broadcast.can_pause:
        raise BroadcastStateError(_("Only a broadcast In progress can be paused."))
    now = timezone.now()
    broadcast.status = Status.PAUSED
    broadcast.paused_at = now
    broadcast.save(update_fields=["status", "paused_at", "updated_at"])
    attempt_table = BroadcastAttempt._meta.db_table
    recipient_table = BroadcastRecipient._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {attempt_table} SET remaining_seconds = GREATEST(0, EXTRACT(EPOCH FROM deadline_at - %s)), "  # noqa: S608  (table names from the models)
            "deadline_at = NULL WHERE company_id = %s AND broadcast_id = %s AND state = %s AND deadline_at IS NOT NULL",
            [now, company.pk, broadcast.pk, BroadcastAttempt.State.WAITING],
        )
        cursor.execute(
            f"UPDATE {recipient_table} SET next_check_at = NULL "  # noqa: S608  (table name from the model)
            "WHERE company_id = %s AND broadcast_id = %s AND next_check_at IS NOT NULL",
            [company.pk, broadcast.pk],
        )
    audit_record(company=company, actor=actor, action=actions.BROADCAST_PAUSED, target=broadcast)
    return broadcast


@transaction.atomic
def broadcast_resume(*, company: Company, actor: Any, broadcast: Broadcast) -> Broadcast:
    """Resume a paused broadcast: every frozen waiting time continues with the time it had left.

    Side effects: Broadcast, attempts and recipients updated (every unresolved recipient is due now, so the engine
    judges it at once); the advance task on commit; audit ``broadcast.resumed``.
    Raises BroadcastStateError unless Paused.
    """
    broadcast = _locked(company, broadcast)
    if not broadcast.can_resume:
        raise BroadcastStateError(_("Only a Paused broadcast can be resumed."))
    now = timezone.now()
    broadcast.status = Status.IN_PROGRESS
    broadcast.paused_at = None
    broadcast.save(update_fields=["status", "paused_at", "updated_at"])
    attempt_table = BroadcastAttempt._meta.db_table
    recipient_table = BroadcastRecipient._meta.db_table
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {attempt_table} SET deadline_at = %s + remaining_seconds * interval '1 second', "  # noqa: S608  (table name from the model)
            "remaining_seconds = NULL WHERE company_id = %s AND broadcast_id = %s AND state = %s "
            "AND remaining_seconds IS NOT NULL",
            [now, company.pk, broadcast.pk, BroadcastAttempt.State.WAITING],
        )
        cursor.execute(
            f"UPDATE {recipient_table} SET next_check_at = %s "  # noqa: S608  (table name from the model)
            "WHERE company_id = %s AND broadcast_id = %s AND state IN (%s, %s)",
            [
                now,
                company.pk,
                broadcast.pk,
                BroadcastRecipient.State.NOT_INITIATED,
                BroadcastRecipient.State.INITIATED,
            ],
        )
    audit_record(company=company, actor=actor, action=actions.BROADCAST_RESUMED, target=broadcast)
    company_id, broadcast_id = company.pk, broadcast.pk
    transaction.on_commit(lambda: broadcast_advance_task.delay(company_id, broadcast_id))
    return broadcast


@transaction.atomic
def broadcast_abort(*, company: Company, actor: Any, broadcast: Broadcast) -> Broadcast:
    """Stop a run for good (inventory A §20.2-3 [GAP] decision: Scheduled, On moderation, In progress or Paused).

    Nothing more is sent: timers are cleared, waiting attempts become Stopped, initiated recipients end
    Unsuccessful ("aborted") and recipients never reached stay Not initiated. Side effects: audit
    ``broadcast.aborted``. Raises BroadcastStateError in any other status.
    """
    broadcast = _locked(company, broadcast)
    if not broadcast.can_abort:
        raise BroadcastStateError(_("This broadcast cannot be aborted in its current status."))
    now = timezone.now()
    reason = _("The broadcast was aborted.")
    BroadcastAttempt.objects.filter(
        company=company, broadcast=broadcast, state=BroadcastAttempt.State.WAITING
    ).update(state=BroadcastAttempt.State.STOPPED, reason=reason, finished_at=now, updated_at=now)
    BroadcastRecipient.objects.filter(
        company=company, broadcast=broadcast, state=BroadcastRecipient.State.INITIATED
    ).update(
        state=BroadcastRecipient.State.UNSUCCESSFUL,
        reason=reason,
        resolved_at=now,
        next_check_at=None,
        updated_at=now,
    )
    BroadcastRecipient.objects.filter(
        company=company, broadcast=broadcast, next_check_at__isnull=False
    ).update(next_check_at=None, updated_at=now)
    broadcast.status = Status.ABORTED
    broadcast.finished_at = now
    broadcast.save(update_fields=["status", "finished_at", "updated_at"])
    audit_record(company=company, actor=actor, action=actions.BROADCAST_ABORTED, target=broadcast)
    from broadcasts.engine import broadcast_counters_refresh

    broadcast_counters_refresh(broadcast=broadcast)
    return broadcast


def _clone(company: Company, actor: Any, source: Broadcast, **fields: Any) -> Broadcast:
    clone = Broadcast(
        company=company,
        name=source.name,
        description=source.description,
        type=source.type,
        instantly=True,
        rcs_check=source.rcs_check,
        quiet_hours=source.quiet_hours,
        allowed_from=source.allowed_from,
        allowed_till=source.allowed_till,
        created_by=actor if getattr(actor, "pk", None) else None,
        **fields,
    )
    clone.save()
    BroadcastStep.objects.bulk_create(
        [
            BroadcastStep(
                company=company,
                broadcast=clone,
                order=step.order,
                channel=step.channel,
                sender_id=step.sender_id,
                wait_for=step.wait_for,
                wait_value=step.wait_value,
                wait_unit=step.wait_unit,
                content=step.content,
            )
            for step in source.steps.order_by("order", "id")
        ]
    )
    audit_record(
        company=company,
        actor=actor,
        action=actions.BROADCAST_CREATED,
        target=clone,
        changes=[change_of(clone, AuditDetail.Operation.INSERT)],
    )
    return clone


@transaction.atomic
def broadcast_copy(*, company: Company, actor: Any, broadcast: Broadcast) -> Broadcast:
    """Copy a run into a new Draft with the same name, description, recipients and chain (guide §6.3 Copy).

    The original is unchanged. Side effects: a Broadcast with its steps; audit ``broadcast.created``.
    """
    if broadcast.company_id != company.pk:
        raise BroadcastStateError(_("The broadcast belongs to another company."))
    return _clone(
        company,
        actor,
        broadcast,
        target_ids=list(broadcast.target_ids),
        tag_ids=list(broadcast.tag_ids),
        numbers=list(broadcast.numbers),
        copied_from=broadcast,
    )


@transaction.atomic
def broadcast_relaunch_failed(*, company: Company, actor: Any, broadcast: Broadcast) -> Broadcast:
    """Create and launch a run for exactly the recipients that ended Unsuccessful (guide §6.3; §20.11 decision:
    "failed" is the recipient's outcome, whatever step it failed on).

    With company moderation on, the new run goes On moderation instead. Side effects: a Broadcast with its steps
    (recipients copied at fan-out from the source run), audits, the fan-out task on commit.
    Raises BroadcastStateError unless the run is Complete with unsuccessful recipients.
    """
    broadcast = _locked(company, broadcast)
    if broadcast.status != Status.COMPLETE:
        raise BroadcastStateError(_("Relaunch for failed is available on Complete broadcasts only."))
    if not BroadcastRecipient.objects.filter(
        company=company, broadcast=broadcast, state=BroadcastRecipient.State.UNSUCCESSFUL
    ).exists():
        raise BroadcastStateError(_("Every recipient of this broadcast was successful."))
    run = _clone(company, actor, broadcast, relaunch_of=broadcast)
    broadcast_validate(company=company, data=_data_of(run), launching=True, has_source_run=True)
    if company.moderation_required:
        _to_moderation(company, actor, run)
    else:
        _launch(company, actor, run)
    return run


@transaction.atomic
def broadcast_settings_save(
    *,
    company: Company,
    actor: Any,
    quiet_enabled: bool,
    allowed_from: datetime.time,
    allowed_till: datetime.time,
    tz_attribute: str = "",
) -> BroadcastSettings:
    """Save the company's quiet hours (issue 7 item 5): allowed sending hours in each recipient's time zone,
    used by every run whose quiet hours are "Company setting" from its next send on.

    Side effects: the company's BroadcastSettings row (created on first save); audit ``broadcast_settings.changed``.
    Raises ValidationError when the hours are equal while quiet hours are on (nothing would be allowed or
    everything would, which is ambiguous).
    """
    if quiet_enabled and allowed_from == allowed_till:
        raise ValidationError(
            {"allowed_till": [_("The end of the allowed hours must differ from their start.")]}
        )
    settings, created = BroadcastSettings.objects.select_for_update().get_or_create(company=company)
    old = None if created else snapshot(settings)
    settings.quiet_enabled = quiet_enabled
    settings.allowed_from = allowed_from
    settings.allowed_till = allowed_till
    settings.tz_attribute = tz_attribute.strip()[:100]
    settings.full_clean()
    settings.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.BROADCAST_SETTINGS_CHANGED,
        target=settings,
        changes=[change_of(settings, AuditDetail.Operation.UPDATE, old=old, new=snapshot(settings))]
        if old is not None
        else [change_of(settings, AuditDetail.Operation.INSERT)],
    )
    return settings
