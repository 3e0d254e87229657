"""Import of other services (R3, R28-R31) from a practice-management export: the CSV is
previewed (row errors, nothing but the import saved), then applied once in one transaction.

Columns: mrn, code, service_date, practitioner_npi, note (a few common header spellings are
understood). A row's NPI names a member of the practice when one has it, else it is stored as
an outside practitioner's NPI. Rows identical to a recorded service or an earlier row (same
patient, code and date) are skipped, so importing the same export twice adds nothing.
The file handling, preview/apply flow and bulk audit are the shared pipeline's
(`ccm.csv_import`); errors name the row and the field, never the value. One audit event per
created service (ids only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from billing.facts import services as facts_services
from billing.models import OtherService, OtherServiceImport
from ccm import audit, csv_import
from ccm.csv_import import (  # the shared pipeline's messages, re-exported for callers
    ALREADY_APPLIED_MESSAGE as ALREADY_APPLIED_MESSAGE,
)
from ccm.csv_import import EMPTY_MESSAGE as EMPTY_MESSAGE
from ccm.csv_import import MALFORMED_MESSAGE as MALFORMED_MESSAGE
from ccm.csv_import import MAX_STORED_ERRORS as MAX_STORED_ERRORS
from ccm.csv_import import NOT_CSV_MESSAGE as NOT_CSV_MESSAGE
from ccm.csv_import import NOTHING_TO_IMPORT_MESSAGE as NOTHING_TO_IMPORT_MESSAGE
from ccm.csv_import import REQUIRED_MESSAGE as REQUIRED_MESSAGE
from ccm.csv_import import Cells, RowCheck, Written
from ccm.csv_import import too_big_message as too_big_message
from ccm.models import Membership, Practice
from ccm.roles import Capability
from patients import engine_inputs
from patients.models import Patient
from timelog.models import MonthLock

MISSING_COLUMNS_MESSAGE = (
    "The file has no column for: {columns}. The first row must name the columns "
    "(mrn, code, service_date, practitioner_npi, note), separated by commas."
)
UNKNOWN_MRN_MESSAGE = "No patient of this practice has this MRN."
DATE_MESSAGE = "Enter the date of service as YYYY-MM-DD or MM/DD/YYYY."
LOCKED_ROW_MESSAGE = "The date of service is in a month closed for billing; it cannot be added."
NOTE_MESSAGE = "Keep the note to 300 characters."
IMPORT_ROLE_MESSAGE = "Only admins and billers import other services."

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


# --- Row rules -------------------------------------------------------------------------------


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
        Patient.objects.for_practice(practice).filter(mrn__in=mrns).values_list("mrn", "pk")
    )
    members: dict[str, Any] = {}
    found = (
        Membership.objects.for_practice(practice)
        .filter(npi__in=npis)
        .order_by("is_active", "-created_at")  # the active, oldest member wins (last write)
        .values_list("npi", "pk")
    )
    for npi, pk in found:
        members[npi] = pk
    locked = set(MonthLock.objects.for_practice(practice).values_list("month", flat=True))
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
    day = csv_import.parse_date(day_text, min_year=2000) if day_text else None
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


def _existing_keys(practice: Practice, rows: list[Row]) -> set[Key]:
    if not rows:
        return set()
    days = [row.service_on for row in rows]
    found = OtherService.objects.for_practice(practice).filter(
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


class OtherServiceImportKind(csv_import.ImportKind[Row, OtherServiceImport]):
    """A practice-management export: services not recorded yet are added."""

    model = OtherServiceImport
    columns = COLUMNS
    labels = LABELS
    required = REQUIRED_COLUMNS
    missing_columns_message = MISSING_COLUMNS_MESSAGE
    capability = Capability.IMPORT_OTHER_SERVICES
    role_message = IMPORT_ROLE_MESSAGE

    def checker(self, practice: Practice, rows: list[tuple[int, Cells]]) -> RowCheck[Row]:
        # Checked against the practice's patients, members and closed months.
        return functools.partial(_check_row, lk=_lookups(practice, rows))

    def preview_counts(self, practice: Practice, rows: list[Row]) -> dict[str, int]:
        # While previewed: what applying would add (valid rows not recorded yet).
        return {"created_count": len(_new_rows(practice, rows))}

    def write(
        self, practice: Practice, actor: Membership, rows: list[Row], now: dt.datetime
    ) -> Written:
        services = _write_rows(practice, actor, rows, now)
        events = [
            audit.RowEvent("otherservice.import_create", service, service.patient_id)
            for service in services
        ]
        return Written(counts={"created_count": len(services)}, events=events)


KIND = OtherServiceImportKind()


# --- Services --------------------------------------------------------------------------------


import_preview = KIND.preview  # saves the import and its row errors only


def import_apply(
    *, practice: Practice, actor: Membership, service_import: OtherServiceImport
) -> OtherServiceImport:
    """Apply once: re-check every row (a month may have closed since), add the services not
    recorded yet, refresh the patients' progress. Audited per service."""
    return KIND.apply(practice=practice, actor=actor, record=service_import)


# --- Writing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _engine_input(practice: Practice, patient_ids: Iterable[Any]) -> Iterator[list[OtherService]]:
    """Lock the patients, let the caller write services into the list it is given, then
    refresh those patients' progress for the months written (R28-R30: the engine's input
    changed). The one place this import locks and refreshes (to swap for the shared
    engine-input helper)."""
    # The helper's one lock order (no deadlock between two imports): a concurrent import or
    # page add for the same patient waits, then sees these rows as duplicates.
    with engine_inputs.changing(
        practice=practice, patient_ids=set(patient_ids), months=[]
    ) as change:
        written: list[OtherService] = []
        yield written
        change.only_changed({s.patient_id for s in written})
        for service in written:
            change.add_month(service.service_on)


def _write_rows(
    practice: Practice, actor: Membership, rows: list[Row], now: dt.datetime
) -> list[OtherService]:
    with _engine_input(practice, (row.patient_id for row in rows)) as written:
        written += [
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
        OtherService.objects.for_practice(practice).bulk_create(written, batch_size=BATCH)
    return written
