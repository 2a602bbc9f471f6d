"""Contacts of a company (guide §8): contacts, typed custom attributes, tags, opt-outs, targets, opt-out words.

Storage of custom attribute values (issue 6, "decide, document and measure")
---------------------------------------------------------------------------
Values live in one JSONB column, ``Contact.attributes``, keyed by the attribute's per-company **slot**
(``{"a1": "Madrid", "a2": 34, "a3": "1990-05-01", "a4": true}``), never by its name, so a rename touches no
contact row. Values are stored with their JSON type (numbers as numbers, dates as ISO ``YYYY-MM-DD`` strings,
yes/no as booleans), so PostgreSQL's jsonb ordering *is* the attribute's natural order; an empty value is an
absent key (SQL NULL through ``->``), which is what the list engine's "empty" filter and NULL ordering expect.

Indexes (all start with ``company``):

* one GIN index on ``(company_id, attributes jsonb_path_ops)`` (``btree_gin`` for the company): "by value" filters
  on any attribute are containment queries (``attributes @> '{"a1": "Madrid"}'``);
* one B-tree expression index per slot, ``(company_id, (attributes -> 'aN'), id)``, built on demand when a large
  company first sorts or range-filters by an attribute in slot N (``contacts.indexes``). Slots are reused after
  a delete, so the number of these indexes is bounded by the largest attribute count of any company, not by the
  number of companies. They serve sorting, keyset paging, range filters and "empty" / "non-empty"
  (``(attributes -> 'a1') IS [NOT] NULL``, :func:`has_value`) on the attribute.

Every index costs the import (``bench/bench_contacts_import.py``): an ``INSERT`` of 200k contacts with phone, name
and five attributes took 11.8 s with the first index set, of which the five per-slot indexes about 4-6 s and the
GIN index 3.2 s. Two changes were measured and kept (contacts migration 0004): ``jsonb_path_ops`` instead of
``jsonb_ops`` for the GIN index (one entry per value instead of one per key and one per value: 2 s less, the index
about half the size; it cannot answer ``attributes ? 'a1'``, hence ``IS NOT NULL`` on the per-slot index above),
and no single-column index on ``company_id`` (every other index starts with it). ``deduplicate_items = off`` on
the ``(company, x, id)`` indexes made no difference (their keys are unique through ``id``, so nothing is merged).

Typed columns (one nullable column per type and slot) were the alternative: they index as well, but every new
attribute needs DDL on the hot table and sparse columns waste the row header; EAV rows would need a join per
filter and cannot give a keyset order. ``bench/bench_contacts_list.py`` measures the chosen layout.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Lower
from django.db.models.lookups import IsNull
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from channels_out.kinds import ChannelKind
from portal.core.models import PublicIdMixin, TenantModel

# Guide §8.2 gives no limit; one is needed so that the per-slot indexes stay few (see the module docstring).
MAX_ATTRIBUTES = 100


class ContactAttribute(PublicIdMixin, TenantModel):
    """A custom contact attribute of the Attribute manager (guide §8.2). The phone number is a system field."""

    class Type(models.TextChoices):
        # Guide §8.2 (L2048-L2055) and G2: six types.
        EMAIL = "email", _("E-mail")
        TEXT = "text", _("Text")
        LIST = "list", _("Text list of values")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOL = "bool", _("Logical yes / no")

    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=Type.choices)
    # Position of the values in Contact.attributes ("a<slot>"); reused after the attribute is deleted.
    slot = models.PositiveSmallIntegerField(editable=False)
    options = ArrayField(
        models.CharField(max_length=200),
        default=list,
        blank=True,
        verbose_name=_("list of values"),
        help_text=_("For “Text list of values”: the allowed values, one per line."),
    )
    show_in_profile = models.BooleanField(_("show in client's profile"), default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("company", Lower("name"), name="contactattr_name_unique"),
            models.UniqueConstraint(fields=["company", "slot"], name="contactattr_slot_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        """The key of this attribute's values in ``Contact.attributes``."""
        return slot_key(self.slot)


def slot_key(slot: int) -> str:
    # A letter first: Django reads an all-digit JSON key as an array index.
    return f"a{slot}"


def is_slot_key(key: str) -> bool:
    return key[:1] == "a" and key[1:].isdigit()


def key_slot(key: str) -> int:
    """The slot of a key made by slot_key."""
    return int(key[1:])


def has_value(key: str, *, present: bool = True) -> Q:
    """Contacts with (``present``) or without a value under ``key``: ``(attributes -> key) IS [NOT] NULL``.

    Not ``attributes ? key`` (Django's ``has_key`` and ``__isnull``): the GIN index uses ``jsonb_path_ops``, which
    cannot answer key existence, while the per-slot B-tree index answers ``IS [NOT] NULL`` on its expression.
    """
    return Q(IsNull(KeyTransform(key, "attributes"), not present))


class Tag(PublicIdMixin, TenantModel):
    """A static mark on chosen contacts (guide §8.1: members change only by explicit assignment)."""

    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("company", Lower("name"), name="tag_name_unique")]

    def __str__(self) -> str:
        return self.name


class Contact(PublicIdMixin, TenantModel):
    """One recipient. The phone number (E.164) is the only required field and is unique per company."""

    # Not indexed on its own: every index of the table starts with the company (see the module docstring).
    company = models.ForeignKey("tenants.Company", on_delete=models.PROTECT, related_name="+", db_index=False)
    phone = models.CharField(_("phone number"), max_length=16)
    first_name = models.CharField(_("name"), max_length=150, blank=True)
    last_name = models.CharField(_("surname"), max_length=150, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    tags: models.ManyToManyField[Tag, ContactTag] = models.ManyToManyField(
        Tag, through="ContactTag", related_name="contacts", blank=True
    )
    # Guide §8.1: set by the RCS capability check; None = never checked.
    rcs_capable = models.BooleanField(_("RCS capable"), null=True, blank=True)
    rcs_checked_at = models.DateTimeField(_("RCS capability last checked"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "phone"], name="contact_phone_unique"),
        ]
        # Each sortable column gets (company, column, id) so a keyset page is an index range scan.
        indexes = [
            models.Index(fields=["company", "created_at", "id"], name="contact_created_idx"),
            models.Index(fields=["company", "updated_at", "id"], name="contact_updated_idx"),
            models.Index(fields=["company", "first_name", "id"], name="contact_first_idx"),
            models.Index(fields=["company", "last_name", "id"], name="contact_last_idx"),
            models.Index(fields=["company", "email", "id"], name="contact_email_idx"),
            models.Index(fields=["company", "rcs_checked_at", "id"], name="contact_rcs_idx"),
            GinIndex(
                F("company"), OpClass(F("attributes"), name="jsonb_path_ops"), name="contact_attrs_path_gin"
            ),
        ]

    def __str__(self) -> str:
        return self.phone

    def attribute(self, attribute: ContactAttribute) -> Any:
        return (self.attributes or {}).get(attribute.key)


class ContactTag(TenantModel):
    """A tag on a contact; carries the company like every child row (CONVENTIONS R5)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "tag"], name="contacttag_unique")]
        indexes = [models.Index(fields=["company", "tag", "contact"], name="contacttag_tag_idx")]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.contact_id}"


class ContactOptOut(TenantModel):
    """The contact gets no messages on ``channel`` from ``sender_id`` (blank = the whole channel), guide §8.1.4."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Set by a user")
        WORD = "word", _("Opt-out word")
        CHATBOT = "chatbot", _("Chatbot")
        API = "api", _("API")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="optouts")
    channel = models.CharField(_("opt-out channel"), max_length=20, choices=ChannelKind.choices)
    # The sender ID name; Sender IDs (guide §12) are not modelled yet, so this is the name as sent/received.
    sender_id = models.CharField(_("sender ID"), max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    word = models.ForeignKey("OptOutWord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message_id = models.BigIntegerField(null=True, blank=True)  # the inbound message that opted out
    # When the contact opted out: the inbound message's time for a word, the moment of saving otherwise. A later
    # message lifts only opt-outs older than itself (G13), even when workers handle messages out of order.
    opted_out_at = models.DateTimeField(_("opted out at"), default=timezone.now)

    class Meta:
        ordering = ["channel", "sender_id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel", "sender_id"], name="contactoptout_unique"),
        ]
        indexes = [
            models.Index(fields=["company", "channel", "sender_id", "contact"], name="optout_lookup_idx")
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.sender_id or '*'}"

    @property
    def whole_channel(self) -> bool:
        return not self.sender_id


class Target(PublicIdMixin, TenantModel):
    """A named set of filters evaluated when used (dynamic, guide §8.3); filters combine with AND.

    ``filters`` is a list of ``{"key": <contacts list column key>, "mode": value|range|empty|nonempty,
    "q": ..., "from": ..., "to": ...}``, the same vocabulary as the unified list filter (guide §7.3).
    """

    name = models.CharField(_("name"), max_length=150)
    filters = models.JSONField(default=list, blank=True)
    launches = models.PositiveIntegerField(_("launches"), default=0)

    class Meta:
        constraints = [models.UniqueConstraint("company", Lower("name"), name="target_name_unique")]
        indexes = [
            models.Index(fields=["company", "name", "id"], name="target_name_idx"),
            models.Index(fields=["company", "created_at", "id"], name="target_created_idx"),
            models.Index(fields=["company", "updated_at", "id"], name="target_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class OptOutWord(PublicIdMixin, TenantModel):
    """A word that opts the sender of an inbound message out (guide §8.3, inventory §8.5)."""

    word = models.CharField(_("opt-out word"), max_length=100)
    channel = models.CharField(_("channel"), max_length=20, choices=ChannelKind.choices)
    sender_id = models.CharField(
        _("sender ID"), max_length=100, blank=True, help_text=_("Empty = the whole channel.")
    )
    effective_from = models.DateTimeField(_("effective from"))
    effective_till = models.DateTimeField(_("effective till"), null=True, blank=True)

    class Meta:
        constraints = [
            # G12: a period that ends before it starts is refused.
            models.CheckConstraint(
                condition=Q(effective_till__isnull=True) | Q(effective_till__gte=F("effective_from")),
                name="optoutword_period_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "channel", "effective_from"], name="optoutword_lookup_idx"),
            models.Index(fields=["company", "word", "id"], name="optoutword_word_idx"),
            models.Index(fields=["company", "created_at", "id"], name="optoutword_created_idx"),
        ]

    def __str__(self) -> str:
        return self.word

    @property
    def whole_channel(self) -> bool:
        return not self.sender_id


def _import_upload_to(instance: ContactImport, filename: str) -> str:
    # The stored name never reuses the user's file name: only the import's UUID and the extension.
    return f"contact-imports/{instance.uuid}/source.{instance.file_format}"


class ContactImport(PublicIdMixin, TenantModel):
    """One run of Import contacts (guide §8.2, inventory §8.4): the file, the wizard's choices and the outcome.

    States follow the inventory: uploaded → first_row_set → mapped → (checking) → previewed → (queued → running)
    → imported | failed | cancelled. The counters of the preview come from a dry run over the whole file and the
    result counters from the import job; both use the same code, so they agree on the same file.
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("File uploaded")
        FIRST_ROW_SET = "first_row_set", _("First row selected")
        MAPPED = "mapped", _("Attributes mapped")
        CHECKING = "checking", _("Checking the file")
        PREVIEWED = "previewed", _("Ready to import")
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Importing")
        IMPORTED = "imported", _("Imported")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Kind(models.TextChoices):
        REGULAR = "regular", _("Regular import")
        QUICK = "quick", _("Quick import")

    class Duplicates(models.TextChoices):
        # Guide §8.2 step 4 (L2300-L2318): records with the same phone number as a stored contact.
        SKIP = "skip", _("not import")
        OVERRIDE = "override", _("override")
        ENRICH = "enrich", _("enrich")

    class Encoding(models.TextChoices):
        UTF8 = "utf-8", _("UTF-8")
        CP1252 = "cp1252", _("Windows-1252")
        LATIN1 = "latin-1", _("Latin-1 (ISO-8859-1)")

    FORMATS = ("csv", "xls", "xlsx")

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REGULAR)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.UPLOADED)
    file = models.FileField(upload_to=_import_upload_to, max_length=200)
    file_name = models.CharField(_("file"), max_length=255)
    file_format = models.CharField(max_length=4)
    file_size = models.PositiveBigIntegerField(default=0)
    encoding = models.CharField(_("encoding"), max_length=10, choices=Encoding.choices, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    # The first rows of the file as text (step 2 grid, step 3 samples, preset matching).
    sample = models.JSONField(default=list, blank=True)
    columns = models.PositiveSmallIntegerField(default=0)
    first_row = models.PositiveIntegerField(_("first row with contacts"), default=1)
    # Column index (as a string) -> target field: "phone", "first_name", "last_name", "email" or an attribute key.
    mapping = models.JSONField(default=dict, blank=True)
    duplicates = models.CharField(
        _("duplicate records"), max_length=10, choices=Duplicates.choices, default=Duplicates.ENRICH
    )
    tag_name = models.CharField(_("tag"), max_length=100, blank=True)
    # Imports started through the API skip step 5: the import job follows the dry run at once.
    auto_run = models.BooleanField(default=False)
    preset = models.ForeignKey(
        "ImportPreset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Dry run (step 5 preview): rows read, new contacts, rows matching stored contacts, rejected rows.
    rows_total = models.PositiveIntegerField(default=0)
    rows_new = models.PositiveIntegerField(default=0)
    rows_existing = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    preview = models.JSONField(default=dict, blank=True)  # samples: phones to import, stored matches
    # Outcome of the import job (guide §8.2 step 5, issue 6 item 5 report).
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    report = models.FileField(upload_to="contact-imports/", max_length=200, blank=True)
    error = models.TextField(blank=True)  # a per-file error (wrong format, encoding, empty file, failed job)
    tag = models.ForeignKey(Tag, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["company", "created_at", "id"], name="contactimport_created_idx")]

    def __str__(self) -> str:
        return self.file_name

    @property
    def is_busy(self) -> bool:
        return self.status in {self.Status.CHECKING, self.Status.QUEUED, self.Status.RUNNING}

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.IMPORTED, self.Status.FAILED, self.Status.CANCELLED}

    @property
    def rows_to_import(self) -> int:
        """Step 5 "To be imported": new contacts, plus the stored ones unless duplicates are not imported."""
        if self.duplicates == self.Duplicates.SKIP:
            return self.rows_new
        return self.rows_new + self.rows_existing


class ImportPreset(PublicIdMixin, TenantModel):
    """A saved column mapping (guide §8.2 step 3), applied automatically to files of the same shape.

    G10: the shape is the column count plus the header texts when the file has a header row.
    """

    name = models.CharField(_("preset name"), max_length=100)
    signature = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint("company", Lower("name"), name="importpreset_name_unique")]
        indexes = [models.Index(fields=["company", "signature"], name="importpreset_sig_idx")]

    def __str__(self) -> str:
        return self.name


class ContactExport(PublicIdMixin, TenantModel):
    """An export of the filtered contacts list to CSV or XLSX, built by a background job (issue 6 item 7)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Exporting")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    format = models.CharField(max_length=4, choices=Format.choices)
    params = models.JSONField(default=dict, blank=True)  # the list's filter (filter, mode, q, from, to)
    description = models.CharField(max_length=300, blank=True)  # the filter as shown to the user
    rows = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to="contact-exports/", max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["company", "created_at", "id"], name="contactexport_created_idx")]

    def __str__(self) -> str:
        return f"{self.format} export {self.uuid}"
