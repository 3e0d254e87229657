"""EHR candidate-list import: a CSV is previewed (row errors, nothing but the import saved),
then applied in one transaction with bulk writes (new candidates created, existing patients
matched by MRN updated, conditions added if missing, never resolved).

The file handling, preview/apply flow and bulk audit are the shared pipeline's
(`ccm.csv_import`); this module holds the EHR list's columns, its row rules (model field
validators, MBI, ICD-10-CM, US phone numbers, no future birth dates) and its writes. Error
messages name the row and the field, never the value. One audit event per created or updated
patient (ids and field names only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import connection, models
from phonenumber_field.phonenumber import PhoneNumber

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
from ccm.models import Membership, Practice
from ccm.roles import Capability
from patients import coverage_imports, engine_inputs
from patients.models import Condition, Coverage, Patient, PatientImport, Status
from patients.services import FUTURE_DOB_MESSAGE
from patients.validators import icd10_description, normalize_icd10, normalize_mbi, validate_icd10

MISSING_COLUMNS_MESSAGE = (
    "The file has no column for: {columns}. The first row must name the columns "
    "(e.g. MRN, First name, Last name, DOB), separated by commas."
)
DATE_MESSAGE = "Enter a date of birth after 1900 as YYYY-MM-DD or MM/DD/YYYY."
SEX_MESSAGE = "Use F, M, female, male, other or unknown."
PHONE_MESSAGE = "Enter a valid US phone number, e.g. (212) 555-0143."
DUPLICATE_ROW_MESSAGE = "This MRN is already on row {row} of the file; list each patient once."
CODE_MESSAGE = "Code {position}: {message}"
CONFLICT_MESSAGE = (
    "Patients changed while importing (someone added one of these MRNs); nothing was imported. "
    "Try again."
)
IMPORT_ROLE_MESSAGE = "Billers may not import patients."

BATCH = 1000

# Accepted header names per field, compared after header_key (case, punctuation, spacing).
COLUMNS: dict[str, tuple[str, ...]] = {
    "mrn": ("mrn", "medical record number", "medical record no", "patient mrn", "chart number"),
    "first_name": ("first name", "firstname", "first", "given", "given name", "patient first"),
    "last_name": ("last name", "lastname", "last", "family", "family name", "surname"),
    "date_of_birth": ("dob", "date of birth", "birth date", "birthdate", "birthday"),
    "sex": ("sex", "gender", "administrative gender", "sex at birth"),
    "phone": ("phone", "phone number", "telephone", "home phone", "mobile phone", "cell phone"),
    "mbi": ("mbi", "medicare id", "medicare number", "medicare beneficiary identifier"),
    "conditions": (
        "icd10",
        "icd 10",
        "icd10 codes",
        "icd 10 codes",
        "icd 10 cm",
        "icd 10 cm codes",
        "conditions",
        "diagnoses",
        "diagnosis codes",
        "dx codes",
        "problem list",
    ),
}
LABELS = {
    "mrn": "MRN",
    "first_name": "First name",
    "last_name": "Last name",
    "date_of_birth": "Date of birth",
    "sex": "Sex",
    "phone": "Phone",
    "mbi": "MBI",
    "conditions": "ICD-10-CM codes",
}
COLUMNS |= coverage_imports.COLUMNS  # optional: the patient's primary and secondary coverage
LABELS |= coverage_imports.LABELS
REQUIRED_COLUMNS = ("mrn", "first_name", "last_name", "date_of_birth")
SEXES = {
    "f": "female",
    "female": "female",
    "m": "male",
    "male": "male",
    "o": "other",
    "other": "other",
    "u": "unknown",
    "unk": "unknown",
    "unknown": "unknown",
}
# Patient fields an import writes (conditions go to their own table).
IMPORT_FIELDS = ("mrn", "first_name", "last_name", "date_of_birth", "sex", "phone", "mbi")


def _model_field(name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", Patient._meta.get_field(name))


_FIELDS = {name: _model_field(name) for name in IMPORT_FIELDS}


@dataclass
class Row:
    """One valid data row: cleaned Patient field values (blank optional cells left out)."""

    number: int
    values: dict[str, Any]
    codes: list[str]
    coverages: list[Coverage] = field(default_factory=list)  # to create (not yet recorded)

    @property
    def mrn(self) -> str:
        return str(self.values["mrn"])


# --- Row rules -------------------------------------------------------------------------------


@functools.cache
def _code_error(code: str) -> str | None:
    """The app's ICD-10-CM rule for one normalised code (cached: a list repeats few codes)."""
    try:
        validate_icd10(code)
    except ValidationError as exc:
        return str(exc.messages[0])
    return None


@functools.cache
def _description(code: str) -> str:
    return icd10_description(code)[:300]


def _split_codes(cell: str) -> list[str]:
    codes = [normalize_icd10(c) for c in re.split(r"[;,|\s]+", cell) if c]
    return list(dict.fromkeys(codes))  # a code listed twice is added once


def _phone(text: str) -> PhoneNumber | None:
    try:
        number = PhoneNumber.from_string(text, region="US")
    except phonenumbers.NumberParseException:
        return None
    return number if number.is_valid() else None


def _clean_row(
    cells: dict[str, str], today: dt.date
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """(Patient field values, ICD-10 codes, field → first error message) for one row."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {f: cells.get(f, "") for f in ("mrn", "first_name", "last_name")}
    born_text = cells.get("date_of_birth", "")
    born = csv_import.parse_date(born_text, min_year=1900) if born_text else None
    if not born_text:
        errors["date_of_birth"] = REQUIRED_MESSAGE
    elif born is None:
        errors["date_of_birth"] = DATE_MESSAGE
    elif born > today:
        errors["date_of_birth"] = FUTURE_DOB_MESSAGE
    else:
        values["date_of_birth"] = born
    if cells.get("sex"):
        values["sex"] = SEXES.get(cells["sex"].lower())
        if values["sex"] is None:
            errors["sex"] = SEX_MESSAGE
    if cells.get("phone"):
        values["phone"] = _phone(cells["phone"])
        if values["phone"] is None:
            errors["phone"] = PHONE_MESSAGE
    if cells.get("mbi"):
        values["mbi"] = normalize_mbi(cells["mbi"])
    _check_fields(values, errors)
    codes = _split_codes(cells.get("conditions", ""))
    for position, code in enumerate(codes, start=1):
        message = _code_error(code)
        if message and "conditions" not in errors:
            errors["conditions"] = (
                CODE_MESSAGE.format(position=position, message=message)
                if len(codes) > 1
                else message
            )
    return values, codes, errors


def _check_fields(values: dict[str, Any], errors: dict[str, str]) -> None:
    """The model's own field rules (blank, length, MRN pattern, MBI format) for these values."""
    for name in ("mrn", "first_name", "last_name", "mbi"):
        if name in values and name not in errors:
            try:
                # Field.clean, not Model.full_clean: the same validators without building a
                # model instance per row (a third of the import's time otherwise).
                values[name] = _FIELDS[name].clean(values[name], None)
            except ValidationError as exc:
                errors[name] = str(exc.messages[0])


class _RowCheck:
    """One row's rules, in file order: a row repeating an earlier row's MRN is an error."""

    def __init__(self, today: dt.date, coverage: coverage_imports.CoverageCheck) -> None:
        self.today = today
        self.coverage = coverage
        self.first_row: dict[str, int] = {}

    def __call__(self, number: int, cells: Cells) -> tuple[Row | None, dict[str, str]]:
        values, codes, errors = _clean_row(cells, self.today)
        mrn = values["mrn"]
        if mrn and mrn in self.first_row and "mrn" not in errors:
            errors["mrn"] = DUPLICATE_ROW_MESSAGE.format(row=self.first_row[mrn])
        self.first_row.setdefault(mrn, number)
        coverages, problems = self.coverage.check(cells, mrn, values.get("mbi") or "")
        errors |= {column: message for column, message in problems.items() if column not in errors}
        if errors:
            return None, errors
        return Row(number=number, values=values, codes=codes, coverages=coverages), errors


class PatientImportKind(csv_import.ImportKind[Row, PatientImport]):
    """The EHR candidate list: new candidates created, existing patients (by MRN) updated."""

    model = PatientImport
    columns = COLUMNS
    labels = LABELS
    required = REQUIRED_COLUMNS
    missing_columns_message = MISSING_COLUMNS_MESSAGE
    capability = Capability.EDIT_CLINICAL
    role_message = IMPORT_ROLE_MESSAGE
    # A patient with one of these MRNs was added after our read: the unique constraint
    # refused it.
    conflict_message = CONFLICT_MESSAGE

    def checker(self, practice: Practice, rows: list[tuple[int, Cells]]) -> RowCheck[Row]:
        mrns = [cells.get("mrn", "") for _number, cells in rows]
        return _RowCheck(practice.today(), coverage_imports.CoverageCheck(practice, mrns))

    def preview_counts(self, practice: Practice, rows: list[Row]) -> dict[str, int]:
        # While previewed, these are what applying would do (new vs existing by MRN).
        existing = _existing_mrns(practice, [row.mrn for row in rows])
        return {"created_count": len(rows) - len(existing), "updated_count": len(existing)}

    def write(
        self, practice: Practice, actor: Membership, rows: list[Row], now: dt.datetime
    ) -> Written:
        return _write_rows(practice, actor, rows, now)


KIND = PatientImportKind()


def file_columns(text: str) -> tuple[list[str], list[str]]:
    """(labels of the recognised columns, header names ignored) from the header row only."""
    return csv_import.file_columns(KIND, text)


def _existing_mrns(practice: Practice, mrns: list[str]) -> set[str]:
    found = Patient.objects.for_practice(practice).filter(mrn__in=mrns)
    return set(found.values_list("mrn", flat=True))


# --- Services --------------------------------------------------------------------------------


import_preview = KIND.preview  # saves the import and its row errors only


def import_apply(
    *, practice: Practice, actor: Membership, patient_import: PatientImport
) -> PatientImport:
    """Apply once: re-check every row, create new candidates, update existing patients (by
    MRN), add missing conditions. Audited per patient."""
    return KIND.apply(practice=practice, actor=actor, record=patient_import)


# --- Writing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _engine_input(
    practice: Practice, mrns: list[str]
) -> Iterator[tuple[dict[str, Patient], set[Any]]]:
    """Lock the existing patients of these MRNs, let the caller write, then refresh the
    progress of the patients it adds to the set (conditions are the billing engine's input).
    The one place this import locks and refreshes (to swap for the shared engine-input helper).
    """
    ids = Patient.objects.for_practice(practice).filter(mrn__in=mrns).values_list("pk", flat=True)
    with engine_inputs.changing(practice=practice, patient_ids=list(ids)) as change:
        existing = {p.mrn: p for p in change.patients}
        refresh: set[Any] = set()
        yield existing, refresh
        change.only_changed(refresh)


def _write_rows(
    practice: Practice, actor: Membership, rows: list[Row], now: dt.datetime
) -> Written:
    """Bulk-create new patients, bulk-update changed ones, bulk-add missing conditions and
    the rows' coverage."""
    with _engine_input(practice, [row.mrn for row in rows]) as (existing, refresh):
        plan = _Plan(practice, existing, now)
        for row in rows:
            plan.add(row)
        _bulk_write(plan.new, plan.changed, plan.conditions, now)
        existing_ids = {p.pk for p in existing.values()}
        refresh |= {c.patient_id for c in plan.conditions} & existing_ids
        events, covered = coverage_imports.coverage_write(
            practice, actor, plan.coverages, existing_ids
        )
        refresh |= covered
    counts = {"created_count": len(plan.new), "updated_count": len(rows) - len(plan.new)}
    return Written(counts=counts, events=[*plan.events, *events])


class _Plan:
    """The writes an import's rows make, gathered for bulk statements."""

    def __init__(self, practice: Practice, existing: dict[str, Patient], now: dt.datetime):
        self.practice, self.existing, self.now = practice, existing, now
        self.have = set(
            Condition.objects.for_practice(practice)
            .filter(patient_id__in=[p.pk for p in existing.values()])
            .values_list("patient_id", "icd10_code")
        )
        self.positions = Counter(patient_id for patient_id, _code in self.have)
        self.new: list[Patient] = []
        self.changed: list[tuple[Patient, list[str]]] = []
        self.conditions: list[Condition] = []
        self.events: list[audit.RowEvent] = []
        self.coverages: list[tuple[Patient, list[Coverage]]] = []

    def add(self, row: Row) -> None:
        found = self.existing.get(row.mrn)
        patient = found or Patient(
            practice=self.practice, status=Status.CANDIDATE, created_at=self.now
        )
        fields = _assign(patient, row.values)
        if found is None:
            self.new.append(patient)
        elif fields:
            self.changed.append((patient, fields))
        added = [code for code in row.codes if (patient.pk, code) not in self.have]
        self.conditions += [self._condition(patient, i, code) for i, code in enumerate(added)]
        self.coverages.append((patient, row.coverages))
        verb = "patient.import_create" if found is None else "patient.import_update"
        changed = fields + (["conditions"] if added else [])
        self.events.append(audit.RowEvent(verb, patient, patient.pk, changed))

    def _condition(self, patient: Patient, index: int, code: str) -> Condition:
        return Condition(
            practice=self.practice,
            patient=patient,
            icd10_code=code,
            description=_description(code),
            position=self.positions[patient.pk] + index,
            created_at=self.now,
        )


def _assign(patient: Patient, values: dict[str, Any]) -> list[str]:
    """Set the row's values; the names of fields that changed (blank cells change nothing)."""
    changed = []
    for name in IMPORT_FIELDS:
        if name in values and _comparable(getattr(patient, name)) != _comparable(values[name]):
            setattr(patient, name, values[name])
            changed.append(name)
    return changed


def _comparable(value: Any) -> Any:
    # PhoneNumber equality re-validates both numbers (slow); their E.164 forms compare the same.
    return value.as_e164 if isinstance(value, PhoneNumber) else value


def _bulk_write(
    new: list[Patient],
    changed: list[tuple[Patient, list[str]]],
    conditions: list[Condition],
    now: dt.datetime,
) -> None:
    Patient.objects.bulk_create(new, batch_size=BATCH)
    # Only the columns that changed somewhere: clinical fields are never written.
    columns = sorted({name for _patient, fields in changed for name in fields})
    for patient, _fields in changed:
        patient.updated_at = now
    patients = [patient for patient, _fields in changed]
    for start in range(0, len(patients), BATCH):
        _update_batch(patients[start : start + BATCH], [*columns, "updated_at"])
    Condition.objects.bulk_create(conditions, batch_size=BATCH)


def _update_batch(patients: list[Patient], columns: list[str]) -> None:
    """One UPDATE … FROM (VALUES …) for a batch of patients of one practice. Django's
    bulk_update builds a CASE WHEN per row and column: 10 s for 5,000 patients, this 0.5 s."""
    fields = [_model_field(name) for name in columns]
    quote = connection.ops.quote_name
    names = [quote(str(f.column)) for f in fields]
    row = ", ".join(["%s::uuid", *(f"%s::{f.db_type(connection)}" for f in fields)])
    params: list[Any] = []
    for patient in patients:
        params.append(patient.pk)
        params += [f.get_db_prep_save(getattr(patient, f.attname), connection) for f in fields]
    sql = (
        f"UPDATE {quote(str(Patient._meta.db_table))} AS p "  # noqa: S608 (names from the model)
        f"SET {', '.join(f'{name} = v.{name}' for name in names)} "
        f"FROM (VALUES {', '.join([f'({row})'] * len(patients))}) AS v (id, {', '.join(names)}) "
        "WHERE p.id = v.id AND p.practice_id = %s"  # the tenant filter, as in every query
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, patients[0].practice_id])
