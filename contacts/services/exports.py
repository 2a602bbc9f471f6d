"""Export of the filtered contacts list to CSV or XLSX as a background job (issue 6 item 7, guide §7.3 export).

The job reads the contacts the list's filter selects with a server-side cursor in chunks (tags and opt-outs
prefetched per chunk), writes a temporary file row by row (openpyxl's write-only mode for XLSX) and stores it;
memory stays flat whatever the number of contacts. Every text cell goes through ``portal.core.exports.csv_safe``
(formula injection) except the phone number, which is a validated E.164 number (``+`` and digits only).
"""

from __future__ import annotations

import csv
import datetime
import io
import tempfile
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import ContactAttribute, ContactExport
from contacts.selectors import contact_filtered, contact_spec
from portal.accounts.models import User
from portal.audit import actions
from portal.audit.models import AuditDetail
from portal.audit.services import Change, audit_record
from portal.core.exports import csv_safe
from portal.core.listing import ListQueryError, parse_state
from portal.tenants.models import Company

FILTER_KEYS = ("filter", "mode", "q", "from", "to")
PROGRESS_TTL = 3600


def _progress_key(export: ContactExport) -> str:
    return f"contacts:export-progress:{export.pk}"


def export_progress(export: ContactExport) -> int:
    """Percent done of a running export (Redis)."""
    value = cache.get(_progress_key(export))
    return int(value) if isinstance(value, int) else 0


@transaction.atomic
def export_start(
    *, company: Company, actor: User | None, params: Mapping[str, str], file_format: str
) -> ContactExport:
    """Queue an export of the contacts the list filter in ``params`` selects.

    Side effects: a ContactExport row; the export job on the bulk queue after commit. Raises ValidationError for
    an unknown format or a filter that is not valid (a selection never widens silently to every contact).
    """
    if file_format not in ContactExport.Format.values:
        raise ValidationError({"format": _("Choose CSV or XLSX.")})
    clean = {k: str(params[k]) for k in FILTER_KEYS if params.get(k)}
    try:
        contact_filtered(company=company, params=clean)
    except ListQueryError as exc:
        raise ValidationError({"filter": str(exc)}) from exc
    state = parse_state(contact_spec(company=company), clean)
    export = ContactExport.objects.create(
        company=company,
        format=file_format,
        params=clean,
        description=(state.filter.describe() if state.filter is not None else _("All contacts"))[:300],
        created_by=actor,
    )
    from contacts.tasks import contact_export_run_task

    pk, company_id = export.pk, company.pk
    transaction.on_commit(lambda: contact_export_run_task.delay(pk, company_id))
    return export


def _header_and_reader(company: Company) -> tuple[list[str], list[Any]]:
    attributes = list(ContactAttribute.objects.filter(company=company).order_by("name"))
    header = [
        "phoneNumber",
        _("Name"),
        _("Surname"),
        _("Email"),
        _("Tags"),
        _("Opt-Out"),
        *(a.name for a in attributes),
        _("RCS Capable"),
        _("RCS capability last checked"),
        _("Created"),
        _("Updated"),
    ]
    return header, attributes


def _text(value: Any) -> Any:
    return csv_safe(value) if isinstance(value, str) else value


def export_run(*, export_id: int, company_id: int) -> None:
    """The export job: write the file, store it, mark the export done (or failed with the reason).

    Idempotent: only a QUEUED export runs. Side effects: the stored file; the export's status, row count and
    file; audit ``contact.exported``; progress in Redis.
    """
    company = Company.objects.get(pk=company_id)
    with transaction.atomic():
        export = (
            ContactExport.objects.select_for_update(skip_locked=True)
            .filter(company=company, pk=export_id, status=ContactExport.Status.QUEUED)
            .first()
        )
        if export is None:
            return
        export.status = ContactExport.Status.RUNNING
        export.save(update_fields=["status", "updated_at"])
    try:
        _write(company, export)
    except Exception:
        ContactExport.objects.filter(pk=export.pk).update(
            status=ContactExport.Status.FAILED,
            error=_("The export failed. Try again, or contact support if it fails again."),
            finished_at=timezone.now(),
        )
        raise


def _write(company: Company, export: ContactExport) -> None:
    tz = zoneinfo.ZoneInfo(company.time_zone)
    header, attributes = _header_and_reader(company)
    qs = (
        contact_filtered(company=company, params=export.params)
        .order_by("id")
        .prefetch_related("tags", "optouts")
    )
    total = qs.count()
    key = _progress_key(export)
    xlsx = export.format == ContactExport.Format.XLSX

    def local(moment: datetime.datetime | None) -> Any:
        if moment is None:
            return ""
        value = moment.astimezone(tz).replace(tzinfo=None)
        return value if xlsx else value.strftime("%d.%m.%Y %H:%M:%S")

    def row_of(contact: Any) -> list[Any]:
        values = contact.attributes or {}
        cells: list[Any] = [
            contact.phone,
            _text(contact.first_name),
            _text(contact.last_name),
            _text(contact.email),
            _text(", ".join(sorted(t.name for t in contact.tags.all()))),
            _text(
                "; ".join(
                    f"{o.get_channel_display()}: {o.sender_id or _('Whole channel')}"
                    for o in contact.optouts.all()
                )
            ),
        ]
        for attribute in attributes:
            value = values.get(attribute.key)
            if value is None:
                cells.append("")
            elif attribute.type == ContactAttribute.Type.DATE:
                day = datetime.date.fromisoformat(value)
                cells.append(day if xlsx else day.strftime("%d.%m.%Y"))
            elif attribute.type == ContactAttribute.Type.BOOL:
                cells.append(_("yes") if value else _("no"))
            else:
                cells.append(_text(value))
        rcs = "" if contact.rcs_capable is None else (_("yes") if contact.rcs_capable else _("no"))
        cells += [rcs, local(contact.rcs_checked_at), local(contact.created_at), local(contact.updated_at)]
        return cells

    def write_rows(write: Callable[[list[Any]], object]) -> int:
        """Write the header and each contact's row (either format); the export page's progress moves every 5000
        rows. Returns the number of contacts written."""
        write(header)
        count = 0
        for contact in qs.iterator(chunk_size=2000):
            write(row_of(contact))
            count += 1
            if count % 5000 == 0:
                cache.set(key, int(count * 100 / max(total, 1)), PROGRESS_TTL)
        return count

    with tempfile.TemporaryFile() as out:
        if xlsx:
            from openpyxl import Workbook  # type: ignore[import-untyped]

            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet(_("Contacts"))
            rows = write_rows(sheet.append)
            workbook.save(out)
        else:
            text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
            rows = write_rows(csv.writer(text).writerow)
            text.flush()
            text.detach()  # keep ``out`` open for storing
        out.seek(0)
        stamp = timezone.localtime(timezone=tz).strftime("%Y%m%d-%H%M%S")
        with transaction.atomic():
            export.file.save(f"{export.uuid}/contacts-{stamp}.{export.format}", File(out), save=False)
            export.status = ContactExport.Status.DONE
            export.rows = rows
            export.total = total
            export.finished_at = timezone.now()
            export.save()
            audit_record(
                company=company,
                actor=export.created_by,
                action=actions.CONTACTS_EXPORTED,
                target=export,
                changes=[
                    Change(
                        table=ContactExport._meta.db_table,
                        operation=AuditDetail.Operation.INSERT,
                        object_id=str(export.pk),
                        new={"format": export.format, "filter": export.description, "rows": rows},
                    )
                ],
            )
    cache.set(key, 100, PROGRESS_TTL)
