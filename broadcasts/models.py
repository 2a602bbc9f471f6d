"""Broadcasts (guide §6 "Broadcasts", inventory A §6, §9-§10, §18-§20): runs, their fallback chain, recipients.

A :class:`Broadcast` is one run. Its :class:`BroadcastStep` rows are the ordered fallback chain; each recipient of
the run is a :class:`BroadcastRecipient` row with its own small state machine (not initiated → initiated →
successful | unsuccessful); every step a recipient went through (sent or skipped) is one
:class:`BroadcastAttempt`, unique per (recipient, step), which is what guarantees that a recipient never gets the
same step twice.

Timers live in PostgreSQL: ``BroadcastRecipient.next_check_at`` says when the engine must look at the recipient
again (a step's deadline, or "now" when it has to start), and ``BroadcastAttempt.deadline_at`` is the
authoritative end of a step's waiting time. A beat job sweeps due rows with ``select_for_update(skip_locked=True)``
(broadcasts/engine.py), so timers survive worker and beat restarts and never fire twice.

Decisions on the guide's gaps (inventory A §20) are written where they apply; the status list is decided on
:class:`Broadcast.Status`.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from channels_out.kinds import ChannelKind
from portal.core.models import PublicIdMixin, TenantModel

NAME_MAX = 255  # Inventory A §6.2 [GAP] max length: 255 as suggested.


class QuietHours(models.TextChoices):
    """Which allowed sending hours a run keeps (issue 7 item 5)."""

    COMPANY = "company", _("Company setting")
    OFF = "off", _("None: send at any hour")
    CUSTOM = "custom", _("Own hours for this broadcast")


class Broadcast(PublicIdMixin, TenantModel):
    """One run of a broadcast (guide §6.2)."""

    class Type(models.TextChoices):
        FALLBACK = "fallback", _("Fallback")
        # Chatbots do not exist yet (conversations issue); the mode is shown disabled on the form and refused by
        # the service until they do.
        CHATBOT = "chatbot", _("Chatbot")
        RCS_CHECK = "rcs_check", _("RCS capability check")

    class Status(models.TextChoices):
        # Inventory A §20.1 [GAP] decision: "Sent" is not a separate state. A run whose messages are all submitted
        # and that waits for reports is still In progress (and so pausable, as the guide's Pause rule wants).
        # "Seen" is not a run state either: displayed (seen) is a message status and is counted per channel on
        # the statistics page. §20.7 [GAP] decision: moderation is two run states, On moderation and Rejected.
        DRAFT = "draft", _("Draft")
        ON_MODERATION = "on_moderation", _("On moderation")
        REJECTED = "rejected", _("Rejected")
        SCHEDULED = "scheduled", _("Scheduled")
        IN_PROGRESS = "in_progress", _("In progress")
        PAUSED = "paused", _("Paused")
        COMPLETE = "complete", _("Complete")
        # §20.2 [GAP] decision: Aborted = a user stopped the run; Failed = the system could not run it (no
        # valid recipient at launch, or its fan-out failed).
        ABORTED = "aborted", _("Aborted")
        FAILED = "failed", _("Failed")

    class LaunchType(models.TextChoices):
        MANUAL = "manual", _("Manual")
        RECURRENT = "recurrent", _("Recurrent")
        API = "api", "API"

    name = models.CharField(_("broadcast name"), max_length=NAME_MAX)
    description = models.TextField(_("description"), blank=True)
    type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.FALLBACK)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    launch_type = models.CharField(
        _("launch"), max_length=10, choices=LaunchType.choices, default=LaunchType.MANUAL
    )
    instantly = models.BooleanField(_("instantly"), default=True)
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    # Guide §6.7 item 4: only meaningful when the chain has an RCS step.
    rcs_check = models.BooleanField(_("RCS capability check before launch"), default=False)
    # Recipients as chosen on the form (guide §6.6 item 3), resolved into BroadcastRecipient rows at fan-out.
    target_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    tag_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    numbers = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "Relaunch for failed": the run whose unsuccessful recipients this run re-sends to (guide §6.3).
    relaunch_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    moderation_note = models.CharField(_("moderation note"), max_length=500, blank=True)
    # Quiet hours (issue 7 item 5): the company's setting, none, or this run's own allowed sending hours.
    quiet_hours = models.CharField(
        _("quiet hours"), max_length=8, choices=QuietHours.choices, default=QuietHours.COMPANY
    )
    allowed_from = models.TimeField(_("send from"), null=True, blank=True)
    allowed_till = models.TimeField(_("send until"), null=True, blank=True)
    # Guide §6.2 / §7.4: the template that made this run (Recurrent runs, and "Launch manually" from a template),
    # and for Recurrent runs the schedule slot it fills: unique per template, so a slot never launches twice.
    template = models.ForeignKey(
        "broadcasts.BroadcastTemplate",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
        verbose_name=_("template"),
    )
    template_slot = models.DateTimeField(null=True, blank=True)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)  # every recipient row exists
    error = models.CharField(_("error"), max_length=500, blank=True)
    # Counters refreshed by the engine (broadcast_counters_refresh) from the recipient rows; the statistics page
    # counts live, the list shows these so that a page of 100 runs needs no aggregate per row.
    contacts = models.PositiveIntegerField(_("contacts"), default=0)
    initiated = models.PositiveIntegerField(default=0)
    successful = models.PositiveIntegerField(default=0)
    unsuccessful = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["template", "template_slot"],
                condition=Q(template_slot__isnull=False),
                name="broadcast_template_slot_once",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "id"], name="broadcast_list_id"),
            models.Index(fields=["company", "name", "id"], name="broadcast_list_name"),
            models.Index(fields=["company", "status", "id"], name="broadcast_list_status"),
            models.Index(fields=["company", "launched_at", "id"], name="broadcast_list_launched"),
            models.Index(fields=["company", "scheduled_for", "id"], name="broadcast_list_scheduled"),
            # The engine's sweep reads the few runs that are due or running.
            models.Index(
                fields=["company", "status", "scheduled_for"],
                condition=Q(status__in=["scheduled", "in_progress"]),
                name="broadcast_active",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    # Guide §6.3 actions by status (and §20.3 [GAP] Resume, Abort).
    @property
    def can_edit(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED, self.Status.REJECTED)

    @property
    def can_pause(self) -> bool:
        return self.status == self.Status.IN_PROGRESS

    @property
    def can_resume(self) -> bool:
        return self.status == self.Status.PAUSED

    @property
    def can_abort(self) -> bool:
        return self.status in (
            self.Status.IN_PROGRESS,
            self.Status.PAUSED,
            self.Status.SCHEDULED,
            self.Status.ON_MODERATION,
        )

    @property
    def can_relaunch_failed(self) -> bool:
        return self.status == self.Status.COMPLETE and self.unsuccessful > 0

    @property
    def is_running(self) -> bool:
        return self.status in (self.Status.IN_PROGRESS, self.Status.PAUSED)

    @property
    def not_initiated(self) -> int:
        return max(0, self.contacts - self.initiated)

    @property
    def progress(self) -> dict[str, float]:
        """Guide §6.3 Progress: shares of successful and unsuccessful recipients, in % of the contacts."""
        total = self.contacts or 0
        if not total:
            return {"successful": 0.0, "unsuccessful": 0.0}
        return {
            "successful": round(100 * self.successful / total, 1),
            "unsuccessful": round(100 * self.unsuccessful / total, 1),
        }


class BroadcastStep(TenantModel):
    """One step of the fallback chain (inventory A §9.1 MessageStep, guide §6.7)."""

    class WaitFor(models.TextChoices):
        DELIVERY = "delivery", _("Delivery")
        SUBMIT = "submit", _("Submit")
        DISPLAY = "display", _("Display")

    class Unit(models.TextChoices):
        # Inventory A §6.7 [GAP] decision: seconds, minutes or hours; see WAIT_MIN/WAIT_MAX.
        SECONDS = "s", _("seconds")
        MINUTES = "min", _("minutes")
        HOURS = "h", _("hours")

    UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600}
    # Inventory A §6.7 [GAP] decision: at least 10 seconds (a shorter window undercuts an SMSC's normal report
    # latency; the guide's own example is 10 minutes) and at most 72 hours, as suggested.
    WAIT_MIN = 10
    WAIT_MAX = 72 * 3600

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("order"))
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    # TODO(assets): a SenderId foreign key once Assets → Sender IDs exists (#7); the name as the connections know it.
    sender_id = models.CharField(_("sender ID"), max_length=64, blank=True)
    wait_for = models.CharField(
        _("wait for"), max_length=10, choices=WaitFor.choices, default=WaitFor.DELIVERY
    )
    wait_value = models.PositiveIntegerField(_("waiting time"), default=10)
    wait_unit = models.CharField(_("unit"), max_length=3, choices=Unit.choices, default=Unit.MINUTES)
    # The message, keyed by format: {"text": {"text": ..., "subject": ..., "header": ..., "title": ...}}. Issue 8
    # adds the rich formats ("rich_card", "carousel", ...) next to "text".
    content = models.JSONField(_("message"), default=dict, blank=True)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["broadcast", "order"], name="broadcaststep_unique_order"),
        ]
        indexes = [models.Index(fields=["company", "broadcast", "order"], name="broadcaststep_chain")]

    def __str__(self) -> str:
        return f"{self.order}. {self.get_channel_display()}"

    @property
    def waiting_seconds(self) -> int:
        return self.wait_value * self.UNIT_SECONDS.get(self.wait_unit, 60)

    @property
    def waiting_time(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.waiting_seconds)

    @property
    def text_content(self) -> dict[str, str]:
        """The plain-text form of the message (every channel has one in this issue)."""
        value = (self.content or {}).get("text") or {}
        return {k: str(v) for k, v in value.items() if isinstance(v, str | int)}


class BroadcastRecipient(TenantModel):
    """One recipient of a run and where it stands in the chain (inventory A §19 per-recipient outcome).

    No public UUID: there can be millions per run, and they are only reached through their broadcast's UUID.
    """

    class State(models.TextChoices):
        NOT_INITIATED = "not_initiated", _("Not initiated")
        INITIATED = "initiated", _("Initiated")
        SUCCESSFUL = "successful", _("Successful")
        UNSUCCESSFUL = "unsuccessful", _("Unsuccessful")

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The phone number in E.164 (from the contact, or typed on the form).
    address = models.CharField(_("phone number"), max_length=16)
    state = models.CharField(_("state"), max_length=14, choices=State.choices, default=State.NOT_INITIATED)
    step_order = models.PositiveSmallIntegerField(_("current step"), default=0)  # 0 = no step fired yet
    # When the engine must look at this recipient again; NULL while resolved or paused.
    next_check_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    rcs_capable = models.BooleanField(null=True, blank=True)
    # Quiet hours (issue 7 item 5): the next step is held until the recipient's allowed hours open
    # (``next_check_at`` = the opening); the reason is shown, counted, on the statistics page.
    held_until = models.DateTimeField(_("held until"), null=True, blank=True)
    # db_default: the fan-out inserts recipient rows with raw INSERT … SELECT statements that leave it out.
    held_reason = models.CharField(_("held because"), max_length=200, blank=True, default="", db_default="")
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        constraints = [
            # Typed numbers and contacts are merged on the number: nobody is in a run twice (guide §6.6 [GAP]).
            models.UniqueConstraint(
                fields=["broadcast", "address"], name="broadcastrecipient_unique_address"
            ),
        ]
        indexes = [
            models.Index(fields=["company", "broadcast", "state"], name="bcrecipient_state"),
            # State before the time (issue 7, 100,000 recipients): the engine reads due running steps and due new
            # recipients apart; with (company, broadcast, next_check_at) every read of due running steps scanned
            # past all the rows not yet started (all due since the launch), a cost growing with the run.
            models.Index(
                fields=["company", "broadcast", "state", "next_check_at"],
                condition=Q(next_check_at__isnull=False),
                name="bcrecipient_due_state",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.state})"

    @property
    def is_resolved(self) -> bool:
        return self.state in (self.State.SUCCESSFUL, self.State.UNSUCCESSFUL)


class BroadcastAttempt(TenantModel):
    """One step of the chain for one recipient: the message sent (or why the step was skipped) and its outcome."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting for the status")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        TIMED_OUT = "timed_out", _("Waiting time ran out")
        SKIPPED = "skipped", _("Skipped")
        STOPPED = "stopped", _("Stopped (broadcast aborted)")

    # The run is denormalised here (like company) so that per-channel statistics read one table.
    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(BroadcastRecipient, on_delete=models.CASCADE, related_name="attempts")
    step = models.ForeignKey(BroadcastStep, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "channels_out.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.WAITING)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    started_at = models.DateTimeField(_("started"))
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    # Pause (inventory A §6.7 [GAP] decision): the waiting time left when the run was paused.
    remaining_seconds = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        constraints = [
            # The engine's "never twice" guarantee: one attempt per recipient and step.
            models.UniqueConstraint(fields=["recipient", "step"], name="broadcastattempt_once"),
        ]
        indexes = [
            models.Index(fields=["company", "recipient"], name="bcattempt_recipient"),
            models.Index(fields=["company", "broadcast", "step"], name="bcattempt_stats"),
            models.Index(fields=["company", "message"], name="bcattempt_message"),
            # The send-rate gauge counts a run's messages of the last minute (selectors.broadcast_send_rate).
            models.Index(fields=["company", "broadcast", "started_at"], name="bcattempt_started"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} step {self.step_id} ({self.state})"


class BroadcastTemplate(PublicIdMixin, TenantModel):
    """A reusable broadcast with an optional recurring schedule (guide §7 "Broadcast Templates", inventory A §7).

    The chain is kept as the list of steps the New broadcast form's steps editor produces (``steps``: the fields of
    ``services.StepData``), so the same editor and the same validation serve both forms; a run launched from the
    template gets real BroadcastStep rows. Guide §7.1: in templates the per-step Sender ID is optional; the run's
    launch checks it.
    """

    class State(models.TextChoices):
        # Guide §7.3 item 8: with company moderation on, a template is a draft until a moderator approves it;
        # inventory A §20.7 [GAP] decision as for runs. Only a Ready template launches on schedule.
        DRAFT = "draft", _("Draft")
        ON_MODERATION = "on_moderation", _("On moderation")
        REJECTED = "rejected", _("Rejected")
        READY = "ready", _("Ready")

    class Recurrence(models.TextChoices):
        # Inventory A §7.1 [GAP] decision (the guide's sample is a daily run at a fixed time): none, once,
        # daily, weekly on chosen weekdays, monthly on a day of the month, at a time, within the effective window.
        NONE = "none", _("Not scheduled")
        ONCE = "once", _("Once")
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")
        MONTHLY = "monthly", _("Monthly")

    class ScheduleStatus(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        EXPIRED = "expired", _("Expired")

    name = models.CharField(_("name"), max_length=NAME_MAX)
    description = models.TextField(_("description"), blank=True)
    type = models.CharField(
        _("type"), max_length=16, choices=Broadcast.Type.choices, default=Broadcast.Type.FALLBACK
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    rcs_check = models.BooleanField(_("RCS capability check before launch"), default=False)
    target_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    tag_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    numbers = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    steps = models.JSONField(_("fallback chain"), default=list, blank=True)
    # Issue 7 item 5: the same quiet-hours choice as a run's (company / none / own hours), passed to every run.
    quiet_hours = models.CharField(
        _("quiet hours"), max_length=8, choices=QuietHours.choices, default=QuietHours.COMPANY
    )
    allowed_from = models.TimeField(_("send from"), null=True, blank=True)
    allowed_till = models.TimeField(_("send until"), null=True, blank=True)
    recurrence = models.CharField(
        _("repeat"), max_length=8, choices=Recurrence.choices, default=Recurrence.NONE
    )
    at_time = models.TimeField(_("at"), null=True, blank=True)  # wall clock in the company's time zone
    # ISO weekdays, 1 = Monday … 7 = Sunday (weekly).
    weekdays = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    # 1-31 (monthly); a day past the month's end means its last day (inventory A §7.1 [GAP] decision).
    month_day = models.PositiveSmallIntegerField(_("day of the month"), null=True, blank=True)
    effective_from = models.DateTimeField(_("effective from"), null=True, blank=True)
    effective_till = models.DateTimeField(_("effective till"), null=True, blank=True)
    schedule_status = models.CharField(
        _("schedule status"), max_length=8, choices=ScheduleStatus.choices, default=ScheduleStatus.ACTIVE
    )
    next_launch_at = models.DateTimeField(_("next launch"), null=True, blank=True)
    launches = models.PositiveIntegerField(_("launches"), default=0)
    last_launch_at = models.DateTimeField(_("last launch"), null=True, blank=True)
    moderation_note = models.CharField(_("moderation note"), max_length=500, blank=True)
    # Set when a moderator approved the template: its recurrent runs then launch without moderation each time.
    approved_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Guide §7.2 Delete [GAP] decision: soft delete, so past runs keep their template ID and history.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["company", "id"], name="bctemplate_list_id"),
            models.Index(fields=["company", "name", "id"], name="bctemplate_list_name"),
            # The beat sweep reads only the few templates whose schedule can launch: a small partial index that it
            # scans whole (company first, as every tenant index, CONVENTIONS R3).
            models.Index(
                fields=["company", "next_launch_at"],
                condition=Q(schedule_status="active", state="ready", deleted_at__isnull=True),
                name="bctemplate_due",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_target(self) -> bool:
        """Guide §7.2 "Target" column: ✓ when recipients are set."""
        return bool(self.target_ids or self.tag_ids or self.numbers)

    @property
    def is_scheduled(self) -> bool:
        """Guide §7.2 "Schedule" column: ✓ when the template launches on a schedule."""
        return self.recurrence != self.Recurrence.NONE

    @property
    def can_pause_schedule(self) -> bool:
        # Guide §7.2: Pause schedule for Active or Expired.
        return self.is_scheduled and self.schedule_status in (
            self.ScheduleStatus.ACTIVE,
            self.ScheduleStatus.EXPIRED,
        )

    @property
    def can_resume_schedule(self) -> bool:
        return self.is_scheduled and self.schedule_status == self.ScheduleStatus.PAUSED

    @property
    def shown_next_launch(self) -> datetime.datetime | None:
        """Guide §7.1: when the schedule is not active, the Next launch column shows the last launch instead."""
        if self.schedule_status == self.ScheduleStatus.ACTIVE and self.is_scheduled:
            return self.next_launch_at
        return self.last_launch_at


class BroadcastSettings(TenantModel):
    """Per-company broadcast settings (issue 7 item 5): quiet hours, i.e. the allowed sending hours in each
    recipient's time zone. Kept in broadcasts rather than on Company so the tenants app stays generic."""

    quiet_enabled = models.BooleanField(_("keep quiet hours"), default=False)
    allowed_from = models.TimeField(_("send from"), default=datetime.time(8, 0))
    allowed_till = models.TimeField(_("send until"), default=datetime.time(20, 0))
    # The contact attribute (by name) that holds a recipient's IANA time zone; empty = from the number only.
    tz_attribute = models.CharField(_("time zone attribute"), max_length=100, blank=True, default="Time zone")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company"], name="broadcastsettings_one_per_company")]
        verbose_name_plural = _("broadcast settings")

    def __str__(self) -> str:
        return f"{self.company_id}: {self.allowed_from}-{self.allowed_till}"
