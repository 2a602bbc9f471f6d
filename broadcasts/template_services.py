"""Writes of broadcast templates (guide §7 "Broadcast Templates"): save, moderation, copy, launch by hand,
pause/resume of the schedule, delete, and the beat's recurrent launches.

A template holds what a run needs (recipients, mode, chain) plus a schedule (``broadcasts.schedules``). A launch
makes an ordinary run through ``broadcasts.services`` (same validation, same fan-out and engine), linked to the
template; a Recurrent run also records its schedule slot, unique per template, so a slot never launches twice
even when two sweeps race or a sweep is retried.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from broadcasts import services
from broadcasts.models import NAME_MAX, Broadcast, BroadcastTemplate, QuietHours
from broadcasts.schedules import Rule, next_slot
from broadcasts.services import BroadcastData, StepData, numbers_clean
from contacts.models import Tag, Target
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import audit_record, change_of, snapshot
from portal.core.exceptions import ApplicationError
from portal.tenants.models import Company

logger = logging.getLogger(__name__)

T = BroadcastTemplate
DUE_BATCH = 200  # templates launched per sweep tick


class TemplateStateError(ApplicationError):
    """The action is not allowed in the template's current state (guide §7.2 actions)."""


@dataclass(frozen=True)
class TemplateData:
    """The fields of the New template form (guide §7.3)."""

    name: str
    description: str = ""
    type: str = Broadcast.Type.FALLBACK
    rcs_check: bool = False
    target_ids: Sequence[int] = ()
    tag_ids: Sequence[int] = ()
    numbers: Sequence[str] = ()
    steps: Sequence[StepData] = field(default_factory=tuple)
    recurrence: str = T.Recurrence.NONE
    at_time: datetime.time | None = None
    weekdays: Sequence[int] = ()
    month_day: int | None = None
    effective_from: datetime.datetime | None = None
    effective_till: datetime.datetime | None = None
    quiet_hours: str = QuietHours.COMPANY
    allowed_from: datetime.time | None = None
    allowed_till: datetime.time | None = None


def template_rule(template: BroadcastTemplate) -> Rule:
    """The template's schedule as a ``broadcasts.schedules.Rule`` (no side effects)."""
    return Rule(
        recurrence=template.recurrence,
        at_time=template.at_time,
        weekdays=tuple(template.weekdays),
        month_day=template.month_day,
        effective_from=template.effective_from,
        effective_till=template.effective_till,
    )


def template_steps(template: BroadcastTemplate) -> list[StepData]:
    """The template's chain as typed steps (the JSON keeps StepData's fields)."""
    known = set(StepData.__dataclass_fields__)
    return [StepData(**{k: v for k, v in row.items() if k in known}) for row in template.steps or []]


def _run_data(template: BroadcastTemplate) -> BroadcastData:
    return BroadcastData(
        name=template.name,
        description=template.description,
        type=template.type,
        instantly=True,
        rcs_check=template.rcs_check,
        target_ids=list(template.target_ids),
        tag_ids=list(template.tag_ids),
        numbers=list(template.numbers),
        steps=template_steps(template),
        # Issue 7 item 5: every run of the template keeps the template's quiet hours.
        quiet_hours=template.quiet_hours,
        allowed_from=template.allowed_from,
        allowed_till=template.allowed_till,
    )


def template_validate(*, company: Company, data: TemplateData) -> None:
    """Check a template (guide §7.3): a name and valid values, per-step Sender ID optional (§7.1), and a schedule
    that makes sense: a time for daily/weekly/monthly, at least one weekday, a day of the month 1-31, Effective
    from for "Once", Effective till after Effective from. Raises one ValidationError naming every failing field.
    """
    errors: dict[str, list[str]] = {}
    try:
        services.broadcast_validate(
            company=company,
            data=BroadcastData(
                name=data.name,
                type=data.type,
                numbers=list(data.numbers),
                steps=list(data.steps),
                quiet_hours=data.quiet_hours,
                allowed_from=data.allowed_from,
                allowed_till=data.allowed_till,
            ),
            launching=False,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "name" in errors:
        errors["name"] = [_("Enter the template name.")] if not data.name.strip() else errors["name"]
    rec = data.recurrence
    if rec not in T.Recurrence.values:
        errors["recurrence"] = [_("Choose how often the template launches.")]
    elif rec in (T.Recurrence.DAILY, T.Recurrence.WEEKLY, T.Recurrence.MONTHLY) and data.at_time is None:
        errors["at_time"] = [_("Choose the launch time.")]
    if rec == T.Recurrence.WEEKLY and not [d for d in data.weekdays if 1 <= d <= 7]:
        errors["weekdays"] = [_("Choose at least one weekday.")]
    if rec == T.Recurrence.MONTHLY and not (data.month_day and 1 <= data.month_day <= 31):
        errors["month_day"] = [_("Choose a day of the month between 1 and 31.")]
    if rec == T.Recurrence.ONCE and data.effective_from is None:
        errors["effective_from"] = [_("Choose the launch date and time.")]
    if data.effective_from and data.effective_till and data.effective_till <= data.effective_from:
        errors["effective_till"] = [_("Effective till must be after Effective from.")]
    if errors:
        raise ValidationError(errors)


def _schedule_refresh(template: BroadcastTemplate, now: datetime.datetime) -> None:
    """Work out the next launch and the schedule status (guide §7.4): Expired once no slot is left."""
    if template.recurrence == T.Recurrence.NONE:
        template.next_launch_at = None
        template.schedule_status = T.ScheduleStatus.ACTIVE
        return
    if template.schedule_status == T.ScheduleStatus.PAUSED:
        template.next_launch_at = None
        return
    template.next_launch_at = next_slot(
        template_rule(template), after=now, time_zone=template.company.time_zone
    )
    template.schedule_status = (
        T.ScheduleStatus.ACTIVE if template.next_launch_at is not None else T.ScheduleStatus.EXPIRED
    )


@transaction.atomic
def template_save(
    *,
    company: Company,
    actor: Any,
    data: TemplateData,
    template: BroadcastTemplate | None = None,
    action: str = "save",
) -> BroadcastTemplate:
    """Save the New/Edit template form (guide §7.3 item 8).

    ``action``: ``"save"`` (no moderation: the template is Ready and its schedule runs), ``"draft"`` or
    ``"moderation"`` (company moderation on: a draft, or On moderation until a moderator approves it).
    Editing a template takes it back through moderation when the company has it on. Side effects: the template
    row; audit ``broadcast_template.created``/``changed`` (and ``moderation_sent``).
    Errors: ValidationError (fields; steps as ``steps.<n>.<field>``), TemplateStateError (deleted, or "save" while
    the company's templates need moderation).
    """
    if template is not None:
        template = BroadcastTemplate.objects.select_for_update().get(pk=template.pk, company=company)
        if template.deleted_at is not None:
            raise TemplateStateError(_("This template was deleted."))
    if action == "save" and company.moderation_required:
        raise TemplateStateError(
            _("Your company's templates need moderation: save a draft or send it to moderation.")
        )
    template_validate(company=company, data=data)
    is_new = template is None
    old = None if template is None else snapshot(template)
    if template is None:
        template = BroadcastTemplate(
            company=company, created_by=actor if getattr(actor, "pk", None) else None
        )
    template.name = " ".join(data.name.split())[:NAME_MAX]
    template.description = data.description.strip()
    template.type = data.type
    template.rcs_check = bool(data.rcs_check and any(s.channel == "rcs" for s in data.steps))
    template.target_ids = sorted(
        set(Target.objects.filter(company=company, pk__in=list(data.target_ids)).values_list("pk", flat=True))
    )
    template.tag_ids = sorted(
        set(Tag.objects.filter(company=company, pk__in=list(data.tag_ids)).values_list("pk", flat=True))
    )
    template.numbers = numbers_clean(company=company, raw=data.numbers)
    template.steps = [asdict(s) for s in data.steps]
    template.recurrence = data.recurrence
    template.at_time = data.at_time
    template.weekdays = sorted({d for d in data.weekdays if 1 <= d <= 7})
    template.month_day = data.month_day if data.recurrence == T.Recurrence.MONTHLY else None
    template.effective_from = data.effective_from
    template.effective_till = data.effective_till
    template.quiet_hours = data.quiet_hours
    custom = data.quiet_hours == QuietHours.CUSTOM
    template.allowed_from = data.allowed_from if custom else None
    template.allowed_till = data.allowed_till if custom else None
    template.state = {
        "save": T.State.READY,
        "draft": T.State.DRAFT,
        "moderation": T.State.ON_MODERATION,
    }.get(action, T.State.DRAFT)
    template.approved_at = None if company.moderation_required else template.approved_at
    if template.schedule_status == T.ScheduleStatus.EXPIRED:
        template.schedule_status = T.ScheduleStatus.ACTIVE  # a new window may bring the schedule back
    template.company = company
    _schedule_refresh(template, timezone.now())
    template.full_clean(exclude=["created_by"])
    template.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.BROADCAST_TEMPLATE_CREATED if is_new else actions.BROADCAST_TEMPLATE_CHANGED,
        target=template,
        changes=[
            change_of(template, AuditDetail.Operation.INSERT)
            if is_new
            else change_of(template, AuditDetail.Operation.UPDATE, old=old, new=snapshot(template))
        ],
    )
    if action == "moderation":
        audit_record(
            company=company, actor=actor, action=actions.BROADCAST_TEMPLATE_MODERATION_SENT, target=template
        )
    return template


def _locked(company: Company, template: BroadcastTemplate) -> BroadcastTemplate:
    locked = (
        BroadcastTemplate.objects.select_for_update()
        .select_related("company")
        .get(pk=template.pk, company=company)
    )
    if locked.deleted_at is not None:
        raise TemplateStateError(_("This template was deleted."))
    return locked


@transaction.atomic
def template_moderate(
    *, company: Company, actor: Any, template: BroadcastTemplate, approve: bool, note: str = ""
) -> BroadcastTemplate:
    """Approve (Ready, its schedule runs) or reject (Rejected with ``note``) a template On moderation.

    Side effects: the template row; audit ``broadcast_template.approved``/``rejected``.
    Raises TemplateStateError unless it is On moderation.
    """
    template = _locked(company, template)
    if template.state != T.State.ON_MODERATION:
        raise TemplateStateError(_("Only a template On moderation can be approved or rejected."))
    now = timezone.now()
    template.moderation_note = note.strip()[:500]
    if approve:
        template.state = T.State.READY
        template.approved_at = now
        _schedule_refresh(template, now)
    else:
        template.state = T.State.REJECTED
    template.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.BROADCAST_TEMPLATE_APPROVED if approve else actions.BROADCAST_TEMPLATE_REJECTED,
        target=template,
    )
    return template


@transaction.atomic
def template_copy(*, company: Company, actor: Any, template: BroadcastTemplate) -> BroadcastTemplate:
    """Duplicate a template (guide §7.2 Copy) as a Draft with its schedule paused, so that the copy never
    launches before its author has looked at it. Side effects: a template row; audit ``created``."""
    source = _locked(company, template)
    copy = BroadcastTemplate(
        company=company,
        created_by=actor if getattr(actor, "pk", None) else None,
        name=source.name,
        description=source.description,
        type=source.type,
        rcs_check=source.rcs_check,
        target_ids=list(source.target_ids),
        tag_ids=list(source.tag_ids),
        numbers=list(source.numbers),
        steps=list(source.steps),
        recurrence=source.recurrence,
        at_time=source.at_time,
        weekdays=list(source.weekdays),
        month_day=source.month_day,
        effective_from=source.effective_from,
        effective_till=source.effective_till,
        quiet_hours=source.quiet_hours,
        allowed_from=source.allowed_from,
        allowed_till=source.allowed_till,
        state=T.State.DRAFT,
        schedule_status=T.ScheduleStatus.PAUSED
        if source.recurrence != T.Recurrence.NONE
        else T.ScheduleStatus.ACTIVE,
    )
    copy.save()
    audit_record(
        company=company,
        actor=actor,
        action=actions.BROADCAST_TEMPLATE_CREATED,
        target=copy,
        changes=[change_of(copy, AuditDetail.Operation.INSERT)],
    )
    return copy


def _new_run(
    company: Company,
    actor: Any,
    template: BroadcastTemplate,
    *,
    launch_type: str,
    slot: datetime.datetime | None,
) -> Broadcast:
    run = services._write(company, actor, _run_data(template), None)
    run.template = template
    run.template_slot = slot
    run.launch_type = launch_type
    run.save(update_fields=["template", "template_slot", "launch_type", "updated_at"])
    return run


@transaction.atomic
def template_launch(*, company: Company, actor: Any, template: BroadcastTemplate) -> Broadcast:
    """Launch manually (guide §7.2): a run now with launch type Manual, linked to the template; Launches + 1.

    With company moderation on, the run goes On moderation instead (a manual run is checked like any other).
    Side effects: a Broadcast with its steps, the template's counters, audits, the fan-out task on commit.
    Errors: ValidationError when the run could not launch (no recipients, a step without a served sender ID, …);
    nothing is saved then. TemplateStateError for a draft, rejected or deleted template.
    """
    template = _locked(company, template)
    if template.state != T.State.READY:
        raise TemplateStateError(_("Only a saved (approved) template can be launched."))
    services.broadcast_validate(company=company, data=_run_data(template), launching=True)
    run = _new_run(company, actor, template, launch_type=Broadcast.LaunchType.MANUAL, slot=None)
    if company.moderation_required:
        services._to_moderation(company, actor, run)
    else:
        services._launch(company, actor, run)
    now = timezone.now()
    template.launches += 1
    template.last_launch_at = now
    template.save(update_fields=["launches", "last_launch_at", "updated_at"])
    audit_record(company=company, actor=actor, action=actions.BROADCAST_TEMPLATE_LAUNCHED, target=template)
    return run


@transaction.atomic
def template_schedule_pause(
    *, company: Company, actor: Any, template: BroadcastTemplate
) -> BroadcastTemplate:
    """Pause the schedule (guide §7.2: Active or Expired): no runs until resumed. Audit ``paused``."""
    template = _locked(company, template)
    if not template.can_pause_schedule:
        raise TemplateStateError(_("Only an Active or Expired schedule can be paused."))
    template.schedule_status = T.ScheduleStatus.PAUSED
    template.next_launch_at = None
    template.save(update_fields=["schedule_status", "next_launch_at", "updated_at"])
    audit_record(company=company, actor=actor, action=actions.BROADCAST_TEMPLATE_PAUSED, target=template)
    return template


@transaction.atomic
def template_schedule_resume(
    *, company: Company, actor: Any, template: BroadcastTemplate
) -> BroadcastTemplate:
    """Resume a Paused schedule (guide §7.4: the next occurrence is worked out from now; slots missed while
    paused are not launched). Expired when no slot is left. Audit ``resumed``."""
    template = _locked(company, template)
    if not template.can_resume_schedule:
        raise TemplateStateError(_("Only a Paused schedule can be resumed."))
    template.schedule_status = T.ScheduleStatus.ACTIVE
    _schedule_refresh(template, timezone.now())
    template.save(update_fields=["schedule_status", "next_launch_at", "updated_at"])
    audit_record(company=company, actor=actor, action=actions.BROADCAST_TEMPLATE_RESUMED, target=template)
    return template


@transaction.atomic
def template_delete(*, company: Company, actor: Any, template: BroadcastTemplate) -> BroadcastTemplate:
    """Delete a template (guide §7.2 Delete, [GAP] decision: soft delete). It leaves the table and never launches
    again; its past runs keep their link and statistics. Audit ``deleted``."""
    template = _locked(company, template)
    template.deleted_at = timezone.now()
    template.next_launch_at = None
    template.save(update_fields=["deleted_at", "next_launch_at", "updated_at"])
    audit_record(company=company, actor=actor, action=actions.BROADCAST_TEMPLATE_DELETED, target=template)
    return template


def template_launch_due(*, company_id: int, template_id: int, now: datetime.datetime) -> Broadcast | None:
    """Launch the due slot of one template (guide §7.4) as a Recurrent run, then work out the next slot.

    Idempotent: the template row is locked with ``skip_locked`` and re-checked, and the run's (template, slot)
    is unique, so a slot never makes two runs. Slots missed while the beat was down collapse into this one launch
    (decision: no burst of stale runs). A run that cannot launch (say, a sender ID no connection serves any more)
    is recorded as Failed with the reason, so the user sees it in the Broadcasts table.
    Side effects: a Broadcast (+ steps, fan-out on commit), the template's counters and next launch.
    """
    with transaction.atomic():
        template = (
            BroadcastTemplate.objects.select_for_update(skip_locked=True)
            .select_related("company")
            .filter(
                pk=template_id,
                company_id=company_id,
                state=T.State.READY,
                schedule_status=T.ScheduleStatus.ACTIVE,
                deleted_at__isnull=True,
                next_launch_at__lte=now,
            )
            .first()
        )
        if template is None:
            return None
        company = template.company
        slot = template.next_launch_at
        run: Broadcast | None = None
        try:
            with transaction.atomic():
                run = _new_run(company, None, template, launch_type=Broadcast.LaunchType.RECURRENT, slot=slot)
        except IntegrityError:
            run = None  # this slot already has its run (a retried or racing sweep)
        if run is not None:
            try:
                services.broadcast_validate(company=company, data=_run_data(template), launching=True)
            except ValidationError as exc:
                run.status = Broadcast.Status.FAILED
                run.error = " ".join(exc.messages)[:500]
                run.finished_at = now
                run.save(update_fields=["status", "error", "finished_at", "updated_at"])
                logger.info("template %s slot %s failed: %s", template.pk, slot, run.error)
            else:
                moderated = company.moderation_required and template.approved_at is None
                if moderated:
                    services._to_moderation(company, None, run)
                else:
                    services._launch(company, None, run, approved=True)
            template.launches += 1
            template.last_launch_at = now
        assert slot is not None  # noqa: S101  (filtered on next_launch_at__lte)
        _schedule_refresh(template, max(now, slot))
        template.save(
            update_fields=["launches", "last_launch_at", "next_launch_at", "schedule_status", "updated_at"]
        )
        return run


def templates_launch_due(*, now: datetime.datetime | None = None) -> int:
    """Beat: launch every template whose next slot has come; expire schedules whose window has closed.

    Reads through the small partial index ``bctemplate_due``. Returns how many runs it made.
    """
    now = now or timezone.now()
    due = BroadcastTemplate.objects.filter(
        state=T.State.READY,
        schedule_status=T.ScheduleStatus.ACTIVE,
        deleted_at__isnull=True,
        next_launch_at__lte=now,
    ).values_list("company_id", "pk")[:DUE_BATCH]
    made = 0
    for company_id, template_id in list(due):
        made += template_launch_due(company_id=company_id, template_id=template_id, now=now) is not None
    return made
