"""Channel-layer rows: connections, messages and their timeline, raw callbacks, the simulator's script."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from channels_out import states
from channels_out.kinds import ChannelKind
from portal.core.models import PublicIdMixin, TenantModel

# The message log's sortable columns besides created_at (channels_out.views.MESSAGE_LIST): one index each.
MESSAGE_SORT_COLUMNS = (
    "channel", "direction", "origin", "sender_id", "address", "status", "segments", "error_text", "country",
    "operator", "price", "updated_at",
)  # fmt: skip


class Connection(PublicIdMixin, TenantModel):
    """A company's account at one vendor: the adapter, its validated config, and what it may carry."""

    name = models.CharField(_("name"), max_length=100)
    adapter_key = models.CharField(_("adapter"), max_length=50)
    # Validated by the adapter's config_form (services.connection_save); holds credentials: never log it.
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    channels = ArrayField(
        models.CharField(max_length=16, choices=ChannelKind.choices), verbose_name=_("channels")
    )
    # TODO(channels_out): point at assets.SenderId once Assets exists (#5).
    sender_ids = ArrayField(models.CharField(max_length=64), verbose_name=_("sender IDs"), default=list)
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("Lower numbers are tried first (provider failover).")
    )
    rate_limit = models.PositiveIntegerField(
        _("rate limit (messages per second)"), default=0, help_text=_("0 means no limit.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Guide §13.1: only a company verified by WhatsApp may open a conversation with a free message; others send
    # free messages only inside the 24-hour window after the customer's last message (channels_out.sessions).
    whatsapp_verified = models.BooleanField(
        _("verified by WhatsApp"),
        default=True,
        help_text=_(
            "Untick when the WhatsApp Business account of this connection is not verified: free messages are "
            "then sent only within 24 hours of the customer's last message."
        ),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="connection_unique_name"),
        ]
        indexes = [models.Index(fields=["company", "enabled", "priority"], name="connection_pick")]

    def __str__(self) -> str:
        return f"{self.name} ({self.adapter_key})"


class SimulatorRule(TenantModel):
    """One line of the simulator's script (CONVENTIONS R6): what the simulated vendor does for matching
    recipients. The back office edits these rows; the adapter receives them as plain data."""

    class Submit(models.TextChoices):
        OK = "ok", _("Accept")
        ERROR = "error", _("Refuse with an error")
        TIMEOUT = "timeout", _("Time out")

    class Report(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        DISPLAYED = "displayed", _("Delivered, then displayed (seen)")
        UNDELIVERED = "undelivered", _("Undelivered")
        EXPIRED = "expired", _("Expired")
        NONE = "none", _("No report")

    connection = models.ForeignKey(
        Connection,
        verbose_name=_("connection"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: every simulator connection of the company."),
    )
    order = models.PositiveIntegerField(_("order"), default=100, help_text=_("The first matching rule wins."))
    name = models.CharField(_("name"), max_length=100, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    pattern = models.CharField(
        _("recipient pattern"),
        max_length=100,
        default="*",
        help_text=_("Shell-style pattern on the E.164 number or address, e.g. +3460* or *@example.com."),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices, blank=True)
    submit = models.CharField(_("submit"), max_length=10, choices=Submit.choices, default=Submit.OK)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error_permanent = models.BooleanField(_("permanent error"), default=True)
    report = models.CharField(_("report"), max_length=12, choices=Report.choices, default=Report.DELIVERED)
    report_delay_seconds = models.PositiveIntegerField(_("report after (s)"), default=1)
    display_delay_seconds = models.PositiveIntegerField(_("displayed after (s)"), default=5)
    report_error_code = models.CharField(_("report error code"), max_length=32, blank=True)
    inbound_reply = models.CharField(_("inbound reply"), max_length=1000, blank=True)
    inbound_delay_seconds = models.PositiveIntegerField(_("reply after (s)"), default=10)
    # RCS: the reply is a tap on a suggestion chip carrying this postback data (issue 5, guide §11).
    inbound_postback = models.CharField(
        _("reply chip postback data"),
        max_length=2048,
        blank=True,
        help_text=_(
            "RCS only: the reply comes as a tap on a suggested reply or action with this postback data."
        ),
    )
    rcs_capable = models.BooleanField(_("RCS capable"), default=True)
    whatsapp_opted_in = models.BooleanField(_("WhatsApp opted in"), default=True)
    whatsapp_verified = models.BooleanField(_("WhatsApp company verified"), default=True)
    viber_session_id = models.CharField(_("Viber session id"), max_length=64, blank=True)

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["company", "order"], name="simrule_company_order")]

    def __str__(self) -> str:
        return self.name or f"{self.pattern} → {self.submit}/{self.report}"


class Message(PublicIdMixin, TenantModel):
    """One message to or from one contact on one channel: a row per recipient per channel attempt.

    It is also the transactional outbox: a ``queued`` row committed by ``message_send`` is what the submit
    worker claims, so a committed message is never lost and a claimed one is never submitted twice.
    """

    class Status(models.TextChoices):
        QUEUED = states.QUEUED, _("Queued")
        SUBMITTED = states.SUBMITTED, _("Submitted")
        DELIVERED = states.DELIVERED, _("Delivered")
        DISPLAYED = states.DISPLAYED, _("Displayed")
        UNDELIVERED = states.UNDELIVERED, _("Undelivered")
        FAILED = states.FAILED, _("Failed")
        EXPIRED = states.EXPIRED, _("Expired")

    class Direction(models.TextChoices):
        MT = "mt", "MT"
        MO = "mo", "MO"

    class TrafficType(models.TextChoices):
        # Guide §5 dashboard: A2P, API (a subset of A2P, told apart by ``origin``), P2A.
        A2P = "a2p", "A2P"
        P2A = "p2a", "P2A"

    class Origin(models.TextChoices):
        BROADCAST = "broadcast", _("Broadcast")
        CHATBOT = "chatbot", _("Chatbot")
        CONVERSATION = "conversation", _("Conversation")
        API = "api", "API"
        SYSTEM = "system", _("System")  # 2FA codes, notifications
        CONTACT = "contact", _("Contact")  # inbound (P2A)

    channel = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    direction = models.CharField(
        _("direction"), max_length=2, choices=Direction.choices, default=Direction.MT
    )
    traffic_type = models.CharField(
        _("traffic type"), max_length=3, choices=TrafficType.choices, default=TrafficType.A2P
    )
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices)
    sender_id = models.CharField(_("sender ID"), max_length=64)  # ours, in both directions
    address = models.CharField(_("contact address"), max_length=254)  # the contact's number/e-mail/app id
    text = models.TextField(_("text"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    status_changed_at = models.DateTimeField(_("status changed"), null=True, blank=True)
    # Unique per message; sent to the vendor as its idempotency key (exactly-once submit, issue 5 §4).
    client_reference = models.CharField(_("client reference"), max_length=64)
    vendor_message_id = models.CharField(_("vendor message ID"), max_length=128, blank=True)
    vendor_session_id = models.CharField(_("session ID"), max_length=64, blank=True)
    connection = models.ForeignKey(
        Connection,
        verbose_name=_("connection"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    attempts = models.PositiveSmallIntegerField(_("submit attempts"), default=0)
    # Outbox lease: a claimed queued row is not claimed again before this moment (also the retry back-off).
    lease_until = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error_text = models.CharField(_("error"), max_length=500, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    operator = models.CharField(_("operator"), max_length=100, blank=True)
    encoding = models.CharField(_("encoding"), max_length=8, blank=True)
    segments = models.PositiveSmallIntegerField(_("segments"), default=1)
    # Priced later by finance (rate plans); null until then.
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=5, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    displayed_at = models.DateTimeField(_("displayed"), null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)  # MO: handed to the inbound subscribers
    # MO: the business message a suggestion reply answers (RCS chip tap; its postback data is in ``payload``).
    in_reply_to = models.ForeignKey(
        "self",
        verbose_name=_("in reply to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "client_reference"], name="message_unique_reference"),
            models.UniqueConstraint(
                fields=["company", "connection", "direction", "vendor_message_id"],
                condition=~Q(vendor_message_id=""),
                name="message_unique_vendor_id",
            ),
        ]
        indexes = [
            # The message log's default order and its keyset pages (guide §7.3 at millions of rows).
            models.Index(fields=["company", "-created_at", "-id"], name="message_log"),
            models.Index(fields=["company", "status", "-created_at", "-id"], name="message_log_status"),
            models.Index(fields=["company", "channel", "-created_at", "-id"], name="message_log_channel"),
            # One (company, column, id) index per sortable column of the log: the keyset order of a sorted page
            # is ``column, id`` (portal.core.listing._ordering), so a deep page is an index range, never a sort
            # of the company's messages (tests/channels_out/test_pages.py checks the plans).
            *[
                models.Index(fields=["company", column, "id"], name=f"message_sort_{column}")
                for column in MESSAGE_SORT_COLUMNS
            ],
            # The outbox sweeper reads only the few queued rows.
            models.Index(
                fields=["company", "lease_until"], condition=Q(status="queued"), name="message_outbox"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.direction} {self.address} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in states.FINAL


class MessageEvent(TenantModel):
    """One line of a message's status timeline: every submit result and report, applied or ignored."""

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal")
        SUBMIT = "submit", _("Submit response")
        REPORT = "report", _("Delivery report")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(_("status"), max_length=12, choices=Message.Status.choices)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    occurred_at = models.DateTimeField(_("time"))
    applied = models.BooleanField(_("changed the status"), default=True)
    raw_status = models.CharField(_("vendor status"), max_length=64, blank=True)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["company", "message", "occurred_at"], name="message_event_timeline")]

    def __str__(self) -> str:
        return f"{self.message_id} {self.status} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class CallbackPayload(TenantModel):
    """A vendor callback exactly as it arrived, stored before anything is applied (issue 5 §5)."""

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    # No database foreign keys on this inbox: every insert took a KEY SHARE lock on the same company and
    # connection rows, and concurrent callbacks queued on those locks (bench/bench_callbacks.py). The ids come
    # from the hook's own lookup of an enabled connection; PROTECT still guards deletes in the ORM.
    company = models.ForeignKey(
        "tenants.Company", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    connection = models.ForeignKey(
        Connection, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    body = models.BinaryField()
    headers = models.JSONField(default=dict)  # without Authorization/Cookie values
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    reason = models.CharField(max_length=500, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["company", "id"], condition=Q(state="received"), name="callback_pending"),
        ]

    def __str__(self) -> str:
        return f"callback {self.pk} ({self.state})"


class UnmatchedEvent(TenantModel):
    """A delivery report for a vendor message id not (yet) known: kept and applied when the message appears."""

    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="+")
    payload = models.ForeignKey(CallbackPayload, null=True, on_delete=models.SET_NULL, related_name="+")
    vendor_message_id = models.CharField(max_length=128)
    event = models.JSONField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["company", "connection", "vendor_message_id"],
                condition=Q(resolved_at__isnull=True),
                name="unmatched_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"unmatched {self.vendor_message_id}"


class SimulatedReport(TenantModel):
    """A callback the simulator will post later, kept in PostgreSQL so it survives a restart."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["company", "due_at"], condition=Q(sent_at__isnull=True), name="simreport_due"
            ),
        ]

    def __str__(self) -> str:
        return f"simulated report due {self.due_at:%Y-%m-%d %H:%M:%S}"


class ApiSend(TenantModel):
    """A message sent through the send API (seed 004 §1.5-§1.9): the key that sent it, its batch and reference.

    Kept beside ``Message`` so the channel layer's hot table stays lean; the API's status lookups, group filters
    and customer webhooks (``channels_out.webhooks``) read it.
    """

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="api_send")
    access = models.ForeignKey("api.ApiAccess", null=True, on_delete=models.SET_NULL, related_name="+")
    group_id = models.UUIDField(_("group ID"))
    custom = models.CharField(_("custom reference"), max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["company", "group_id"], name="api_send_group"),
            models.Index(fields=["company", "custom"], name="api_send_custom"),
        ]

    def __str__(self) -> str:
        return f"api send {self.group_id}"


class ApiIdempotencyKey(TenantModel):
    """The first answer to a send-API request carrying an ``Idempotency-Key`` (seed 004 §5.6).

    Same key and same body replays ``response``; the same key with another body is refused. Rows older than
    ``PORTAL_API_IDEMPOTENCY_HOURS`` are purged by the webhook beat job.
    """

    access = models.ForeignKey("api.ApiAccess", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["access", "key"], name="api_idempotency_unique_key"),
        ]
        indexes = [models.Index(fields=["company", "created_at"], name="api_idempotency_age")]

    def __str__(self) -> str:
        return f"idempotency key {self.key[:16]}"


class WebhookDelivery(PublicIdMixin, TenantModel):
    """One status callback to an API access's webhook (seed 004 §1.4 body, §2.8.1 retries): the durable outbox.

    ``pending`` rows are sent when ``next_attempt_at`` is due; a 2xx makes them ``delivered``; after the last retry
    they become ``dead`` (the dead-letter list) until a user replays them from the portal.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        DEAD = "dead", _("Failed (dead letter)")

    access = models.ForeignKey("api.ApiAccess", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(_("event"), max_length=64)
    url = models.CharField(_("URL"), max_length=500)
    body = models.TextField()  # the exact JSON that is signed and posted
    dedupe_key = models.CharField(max_length=100)  # "<message id>:<status>": a repeated notice adds nothing
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)  # in the current retry cycle
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    dead_at = models.DateTimeField(_("given up"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["access", "dedupe_key"], name="webhook_delivery_unique_notice"),
        ]
        indexes = [
            models.Index(fields=["company", "access", "-id"], name="webhook_delivery_list"),
            # Few rows are pending at a time, so the sender's cross-company sweep scans this small partial index.
            models.Index(
                fields=["company", "next_attempt_at"],
                condition=Q(state="pending"),
                name="webhook_delivery_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.url} ({self.state})"


class WebhookAttempt(TenantModel):
    """One try of a webhook delivery: the endpoint's answer, its latency and an excerpt of its body."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"))
    response_excerpt = models.CharField(_("response"), max_length=500, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)
    replay = models.BooleanField(_("replayed by a user"), default=False)

    class Meta:
        indexes = [models.Index(fields=["company", "delivery", "number"], name="webhook_attempt_log")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class ChannelSession(TenantModel):
    """The customer-service window and the Viber session of one contact with one of our senders.

    Guide §12.2 (Viber: 24-hour window, session id, at most 60 messages per session and 10 in a row without a
    reply) and §13.1 / seeds 001-003 R-3.4 (WhatsApp: free messages within 24 hours of the customer's last
    message). Written only by ``channels_out.sessions`` (inbound messages and sends).
    """

    channel = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    sender_id = models.CharField(_("sender ID"), max_length=64)
    address = models.CharField(_("contact address"), max_length=254)
    last_inbound_at = models.DateTimeField(_("customer's last message"))
    opened_at = models.DateTimeField(_("session opened"))
    ended_at = models.DateTimeField(_("session ended"), null=True, blank=True)  # the 60th message ended it
    session_id = models.CharField(_("session ID"), max_length=64, blank=True)  # issued by the vendor
    mt_count = models.PositiveSmallIntegerField(_("messages in the session"), default=0)
    consecutive_mt = models.PositiveSmallIntegerField(_("messages since the customer's last"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "channel", "sender_id", "address"], name="channel_session_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.sender_id} {self.address}"
