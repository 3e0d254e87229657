"""Import of other services (R3, R28-R31) from a practice-management export: the CSV is
previewed (row errors, nothing but the import saved), then applied once in one transaction.

Columns: mrn, code, service_date, practitioner_npi, note (a few common header spellings are
understood). A row's NPI names a member of the practice when one has it, else it is stored as
an outside practitioner's NPI. Rows identical to a recorded service or an earlier row (same
patient, code and date) are skipped, so importing the same export twice adds nothing.
Parsing is tablib's; errors name the row and the field, never the value. One audit event per
created service (ids only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from billing.facts import services as facts_services
from billing.models import OtherService, OtherServiceImport
from ccm import audit
from ccm.models import AuditEvent, Membership, Practice
from ccm.roles import Capability, can
from patients.imports import (  # the EHR import's file handling, shared (re-exported)
    MALFORMED_MESSAGE as MALFORMED_MESSAGE,
)
from patients.imports import NOT_CSV_MESSAGE as NOT_CSV_MESSAGE
from patients.imports import decode, header_key, load_csv
from patients.imports import too_big_message as too_big_message
from patients.models import Patient
from timelog.models import MonthLock
from timelog.services import progress_refresh

EMPTY_MESSAGE = "The file has no data rows under the header row."
MISSING_COLUMNS_MESSAGE = (
    "The file has no column for: {columns}. The first row must name the columns "
    "(mrn, code, service_date, practitioner_npi, note), separated by commas."
)
DUPLICATE_COLUMN_MESSAGE = "Two columns mean the same thing ({column}); keep only one of them."
REQUIRED_MESSAGE = "This field is required."
UNKNOWN_MRN_MESSAGE = "No patient of this practice has this MRN."
DATE_MESSAGE = "Enter the date of service as YYYY-MM-DD or MM/DD/YYYY."
LOCKED_ROW_MESSAGE = "The date of service is in a month closed for billing; it cannot be added."
NOTE_MESSAGE = "Keep the note to 300 characters."
ALREADY_APPLIED_MESSAGE = "This import has already been applied; nothing was imported again."
NOTHING_TO_IMPORT_MESSAGE = "The file has no valid rows to import; correct it and upload it again."
IMPORT_ROLE_MESSAGE = "Only admins and billers import other services."

MAX_STORED_ERRORS = 1000
BATCH = 1000
NOTE_MAX = 300

COLUMNS: dict[str, tuple[str, ...]] = {
    "mrn": ("mrn", "medical record number", "patient mrn", "chart number", "account number"),
    "code": ("code", "cpt", "hcpcs", "cpt code", "hcpcs code", "cpt hcpcs", "procedure code"),
    "service_date": ("service date", "date of service", "dos", "service on", "from date"),
    "practitioner_npi": (
        "practitioner npi",
        "npi",
        "rendering npi",
        "rendering provider npi",
        "provider npi",
    ),
    "note": ("note", "notes", "comment", "comments"),
}
LABELS = {
    "mrn": "MRN",
    "code": "Code",
    "service_date": "Date of service",
    "practitioner_npi": "Practitioner NPI",
    "note": "Note",
}
REQUIRED_COLUMNS = ("mrn", "code", "service_date", "practitioner_npi")
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
_ALIASES = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
_FIELD_ORDER = {name: i for i, name in enumerate(LABELS)}

Key = tuple[Any, str, dt.date]  # (patient id, code, date of service): a service's identity


@dataclass
class Row:
    """One valid data row, resolved: the patient, the practitioner or outside NPI."""

    number: int
    patient_id: Any
    code: str
    service_on: dt.date
    practitioner_id: Any
    outside_npi: str
    note: str

    @property
    def key(self) -> Key:
        return (self.patient_id, self.code, self.service_on)


@dataclass
class Parsed:
    row_count: int = 0
    rows: list[Row] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


# --- Reading the file ------------------------------------------------------------------------


def _map_columns(headers: list[str]) -> dict[str, int]:
    """Field → column index; raises for missing or doubled columns (others are ignored)."""
    mapping: dict[str, int] = {}
    for index, header in enumerate(headers):
        name = _ALIASES.get(header_key(header))
        if name is None:
            continue
        if name in mapping:
            raise ValidationError({"file": DUPLICATE_COLUMN_MESSAGE.format(column=LABELS[name])})
        mapping[name] = index
    missing = [LABELS[name] for name in REQUIRED_COLUMNS if name not in mapping]
    if missing:
        raise ValidationError({"file": MISSING_COLUMNS_MESSAGE.format(columns=", ".join(missing))})
    return mapping


def _cells(text: str) -> tuple[int, list[tuple[int, dict[str, str]]]]:
    """(data rows, [(row number, field → stripped cell)]) skipping wholly empty lines."""
    dataset = load_csv(text)
    if not dataset.headers:
        raise ValidationError({"file": EMPTY_MESSAGE})
    mapping = _map_columns(dataset.headers)
    out = []
    for number, raw in enumerate(dataset, start=1):
        cells = {name: str(raw[i] or "").strip() for name, i in mapping.items()}
        if any(cells.values()):  # a spreadsheet's trailing ",,,," line is no row
            out.append((number, cells))
    if not out:
        raise ValidationError({"file": EMPTY_MESSAGE})
    return len(out), out


# --- Row rules -------------------------------------------------------------------------------


def _parse_date(text: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date)
        except ValueError:
            continue
        return day if day.year >= 2000 else None
    return None


@dataclass
class Lookups:
    """The practice's records the rows are checked against (a fixed number of queries)."""

    patients: dict[str, Any]  # MRN → patient id
    members: dict[str, Any]  # NPI → membership id
    locked: set[dt.date]  # first days of closed months
    today: dt.date


def _lookups(practice: Practice, rows: list[tuple[int, dict[str, str]]]) -> Lookups:
    mrns = {cells.get("mrn", "") for _n, cells in rows} - {""}
    npis = {cells.get("practitioner_npi", "") for _n, cells in rows} - {""}
    patients = dict(
        Patient.objects.unscoped().filter(practice=practice, mrn__in=mrns).values_list("mrn", "pk")
    )
    members: dict[str, Any] = {}
    found = (
        Membership.objects.unscoped()
        .filter(practice=practice, npi__in=npis)
        .order_by("is_active", "-created_at")  # the active, oldest member wins (last write)
        .values_list("npi", "pk")
    )
    for npi, pk in found:
        members[npi] = pk
    locked = set(
        MonthLock.objects.unscoped().filter(practice=practice).values_list("month", flat=True)
    )
    return Lookups(patients, members, locked, practice.today())


def _check_row(
    number: int, cells: dict[str, str], lk: Lookups
) -> tuple[Row | None, dict[str, str]]:
    """A resolved row, or the field → first error message of a bad one."""
    errors: dict[str, str] = {}
    mrn, code = cells.get("mrn", ""), facts_services.normalize_code(cells.get("code", ""))
    patient_id = lk.patients.get(mrn)
    if not mrn:
        errors["mrn"] = REQUIRED_MESSAGE
    elif patient_id is None:
        errors["mrn"] = UNKNOWN_MRN_MESSAGE
    if not code:
        errors["code"] = REQUIRED_MESSAGE
    elif code not in facts_services.KNOWN_CODES:
        errors["code"] = facts_services.CODE_MESSAGE
    day_text = cells.get("service_date", "")
    day = _parse_date(day_text) if day_text else None
    if not day_text:
        errors["service_date"] = REQUIRED_MESSAGE
    elif day is None:
        errors["service_date"] = DATE_MESSAGE
    elif day > lk.today:
        errors["service_date"] = facts_services.FUTURE_SERVICE_MESSAGE
    elif day.replace(day=1) in lk.locked:
        errors["service_date"] = LOCKED_ROW_MESSAGE
    npi = cells.get("practitioner_npi", "")
    if not npi:
        errors["practitioner_npi"] = REQUIRED_MESSAGE
    elif problems := facts_services.npi_errors(npi):
        errors["practitioner_npi"] = problems[0]
    note = cells.get("note", "")
    if len(note) > NOTE_MAX:
        errors["note"] = NOTE_MESSAGE
    if errors or day is None:
        return None, errors
    member = lk.members.get(npi)
    return Row(number, patient_id, code, day, member, "" if member else npi, note), {}


def parse(practice: Practice, text: str) -> Parsed:
    """Every data row checked against the practice's patients, members and closed months:
    the valid rows and the errors [{row, field, message}] (row 1 is the first under the
    header). A file-level problem raises ValidationError. Reads only."""
    row_count, rows = _cells(text)
    lookups = _lookups(practice, rows)
    parsed = Parsed(row_count=row_count)
    for number, cells in rows:
        row, errors = _check_row(number, cells, lookups)
        if row is not None:
            parsed.rows.append(row)
        parsed.errors += [
            {"row": number, "field": name, "message": message}
            for name, message in sorted(errors.items(), key=lambda e: _FIELD_ORDER[e[0]])
        ]
    return parsed


def _existing_keys(practice: Practice, rows: list[Row]) -> set[Key]:
    if not rows:
        return set()
    days = [row.service_on for row in rows]
    found = OtherService.objects.unscoped().filter(
        practice=practice,
        patient_id__in={row.patient_id for row in rows},
        service_on__range=(min(days), max(days)),
    )
    return set(found.values_list("patient_id", "code", "service_on"))


def _new_rows(practice: Practice, rows: list[Row]) -> list[Row]:
    """The rows that are neither recorded already nor repeats of an earlier row."""
    seen = _existing_keys(practice, rows)
    new = []
    for row in rows:
        if row.key not in seen:
            seen.add(row.key)
            new.append(row)
    return new


# --- Services --------------------------------------------------------------------------------


def _check_actor(practice: Practice, actor: Membership) -> None:
    if actor.practice_id != practice.pk or not can(actor, Capability.IMPORT_OTHER_SERVICES):
        raise PermissionDenied(IMPORT_ROLE_MESSAGE)


@transaction.atomic
def import_preview(
    *, practice: Practice, actor: Membership, content: bytes | str
) -> OtherServiceImport:
    """Check an uploaded CSV and save it as a previewed OtherServiceImport with counts and
    row errors; records no service. Audited (the import only)."""
    _check_actor(practice, actor)
    text = decode(content)
    parsed = parse(practice, text)
    record = OtherServiceImport.objects.unscoped().create(
        practice=practice,
        uploaded_by=actor,
        content=text,
        row_count=parsed.row_count,
        valid_count=len(parsed.rows),
        # While previewed: what applying would add (valid rows not recorded yet).
        created_count=len(_new_rows(practice, parsed.rows)),
        errors=parsed.errors[:MAX_STORED_ERRORS],
    )
    audit.write(actor, record, "preview")
    return record


@transaction.atomic
def import_apply(
    *, practice: Practice, actor: Membership, service_import: OtherServiceImport
) -> OtherServiceImport:
    """Apply a previewed import once, in one transaction: re-check every row (a month may
    have closed since), add the services not recorded yet, refresh the patients' progress.
    A second apply is refused and changes nothing. Audited per service."""
    _check_actor(practice, actor)
    if service_import.practice_id != practice.pk:
        raise PermissionDenied(IMPORT_ROLE_MESSAGE)
    previewed = OtherServiceImport.State.PREVIEWED
    if service_import.state == previewed and not service_import.valid_count:
        raise ValidationError(NOTHING_TO_IMPORT_MESSAGE)
    now = timezone.now()
    # Conditional UPDATE claims the import: a second confirm (double click, another tab)
    # waits on this row lock, then matches no row and is refused.
    claimed = (
        OtherServiceImport.objects.unscoped()
        .filter(practice=practice, pk=service_import.pk, state=previewed)
        .update(state=OtherServiceImport.State.APPLIED, applied_at=now)
    )
    if not claimed:
        raise ValidationError(ALREADY_APPLIED_MESSAGE)
    parsed = parse(practice, service_import.content)
    created = _write_rows(practice, actor, parsed.rows, now)
    service_import.state, service_import.applied_at = OtherServiceImport.State.APPLIED, now
    service_import.row_count, service_import.valid_count = parsed.row_count, len(parsed.rows)
    service_import.created_count = len(created)
    service_import.errors = parsed.errors[:MAX_STORED_ERRORS]
    service_import.save(update_fields=["row_count", "valid_count", "created_count", "errors"])
    audit.write(actor, service_import, "apply", changed_fields=["state"])
    return service_import


def _write_rows(
    practice: Practice, actor: Membership, rows: list[Row], now: dt.datetime
) -> list[OtherService]:
    patient_ids = sorted({row.patient_id for row in rows})
    # Lock the patients first (one order, no deadlock between two imports): a concurrent
    # import or page add for the same patient waits, then sees these rows as duplicates.
    list(
        Patient.objects.unscoped()
        .select_for_update()
        .filter(practice=practice, pk__in=patient_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    services = [
        OtherService(
            practice=practice,
            patient_id=row.patient_id,
            code=row.code,
            service_on=row.service_on,
            practitioner_id=row.practitioner_id,
            outside_npi=row.outside_npi,
            note=row.note,
            created_by=actor,
            created_at=now,
        )
        for row in _new_rows(practice, rows)
    ]
    OtherService.objects.unscoped().bulk_create(services, batch_size=BATCH)
    _audit_services(actor, services)
    if services:
        # R28-R30: the engine's input changed; the worklist's stored progress follows.
        progress_refresh(
            practice=practice,
            patient_ids={s.patient_id for s in services},
            months={s.service_on.replace(day=1) for s in services},
        )
    return services


def _audit_services(actor: Membership, services: list[OtherService]) -> None:
    """One audit event per created service, in one INSERT per batch (ids only)."""
    ctx = audit.current_request_context()
    user = actor.user
    events = [
        AuditEvent(
            practice_id=actor.practice_id,
            actor=user,
            actor_email=user.email,
            role=actor.role,
            action="otherservice.import_create",
            object_type=OtherService._meta.label_lower,
            object_id=str(service.pk),
            patient_id=service.patient_id,
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else "",
            request_id=ctx.request_id if ctx else "",
        )
        for service in services
    ]
    AuditEvent.objects.unscoped().bulk_create(events, batch_size=BATCH)


def import_recent(*, practice: Practice, limit: int = 10) -> models.QuerySet[OtherServiceImport]:
    """The practice's latest imports, without their content (the upload page's list)."""
    return (
        OtherServiceImport.objects.unscoped()
        .filter(practice=practice)
        .defer("content", "errors")
        .select_related("uploaded_by__user")
        .order_by("-created_at")[:limit]
    )
