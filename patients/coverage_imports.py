"""The coverage columns of the patient CSV import (patients/imports.py): a primary coverage
(`coverage_kind`, `payer_id`, `member_id`, `msp_type`, `coverage_start`) and a secondary one
(`secondary_kind`, `secondary_payer_id`, `secondary_member_id`, from the same start), each
checked with the coverage rules of patients.coverage_services (errors name the column) and
created when the import is applied. Payers are matched by their payer id among the practice's
active payers. A coverage already on record (same kind, payer and member id, overlapping) is
left alone, so importing a file again adds nothing; one that clashes with other coverage of
the same priority is a row error.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from ccm import audit, csv_import
from ccm.csv_import import REQUIRED_MESSAGE, Cells
from ccm.models import Membership, Practice
from patients.coverage_services import (
    PAYER_KINDS,
    coverage_problems,
    overlap_problem,
    payer_kinds_label,
)
from patients.models import PRIMARY_KINDS, Coverage, CoverageKind, Patient, Payer

KIND_MESSAGE = "Use one of: {kinds}."
NO_KIND_MESSAGE = "Give the coverage kind for this {what}."
PAYER_UNKNOWN_MESSAGE = (
    "No active payer of this practice has this payer id (for this coverage kind: {kinds}). "
    "Add it under billing setup, or correct the id."
)
DATE_MESSAGE = "Enter the coverage start date as YYYY-MM-DD or MM/DD/YYYY."
CONFLICT_MESSAGE = (
    "Coverage changed while importing (someone recorded coverage for one of these patients); "
    "nothing was imported. Try again."
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "coverage_kind": ("coverage kind", "coverage", "primary coverage", "primary coverage kind"),
    "payer_id": ("payer id", "primary payer id"),
    "member_id": ("member id", "primary member id", "subscriber id"),
    "msp_type": ("msp type", "medicare secondary payer type"),
    "coverage_start": ("coverage start", "coverage start date", "coverage effective date"),
    "secondary_kind": ("secondary kind", "secondary coverage", "secondary coverage kind"),
    "secondary_payer_id": ("secondary payer id",),
    "secondary_member_id": ("secondary member id",),
}
LABELS = {
    "coverage_kind": "Coverage kind",
    "payer_id": "Payer id",
    "member_id": "Member id",
    "msp_type": "MSP type",
    "coverage_start": "Coverage start",
    "secondary_kind": "Secondary kind",
    "secondary_payer_id": "Secondary payer id",
    "secondary_member_id": "Secondary member id",
}
PRIMARY_VALUES = tuple(k.value for k in CoverageKind if k in PRIMARY_KINDS)
SECONDARY_VALUES = tuple(k.value for k in CoverageKind if k not in PRIMARY_KINDS)


@dataclass(frozen=True)
class Slot:
    """The columns of one coverage of a row, and the service's fields they carry."""

    kind: str
    payer: str
    member_id: str
    kinds: tuple[str, ...]
    what: str

    def column(self, field: str) -> str:
        """The column a service error of `field` is shown under."""
        return {
            "payer": self.payer,
            "member_id": self.member_id,
            "msp_type": "msp_type" if self.kind == "coverage_kind" else self.kind,
            "starts_on": "coverage_start",
            "ends_on": "coverage_start",
        }.get(field, self.kind)


SLOTS = (
    Slot("coverage_kind", "payer_id", "member_id", PRIMARY_VALUES, "payer id or member id"),
    Slot(
        "secondary_kind",
        "secondary_payer_id",
        "secondary_member_id",
        SECONDARY_VALUES,
        "secondary payer id or member id",
    ),
)


def _key(text: str) -> str:
    return csv_import.header_key(text).replace(" ", "_")


class CoverageCheck:
    """The coverage cells of the rows of one file, with what they are checked against: the
    practice's active payers by payer id and the coverage of the file's existing patients
    (two queries for the whole file)."""

    def __init__(self, practice: Practice, mrns: Iterable[str]) -> None:
        self.practice = practice
        self.payers: dict[str, list[Payer]] = defaultdict(list)
        for payer in Payer.objects.for_practice(practice).filter(is_active=True):
            self.payers[payer.payer_id.upper()].append(payer)
        self.existing = existing_coverage(practice, list(mrns))

    def check(self, cells: Cells, mrn: str, mbi: str) -> tuple[list[Coverage], dict[str, str]]:
        """(coverage to create, column → first error) for one row. `mbi`: the patient's MBI
        (the row's, else the stored one): a Part B member id's default."""
        wanted = [slot for slot in SLOTS if any(cells.get(c) for c in _columns(slot))]
        if not wanted:
            return [], {}
        errors: dict[str, str] = {}
        starts_on = self._start(cells, errors)
        patient_mbi, others = mbi or self.existing.mbi.get(mrn, ""), self.existing.rows[mrn]
        new = []
        for slot in wanted:
            coverage = self._coverage(slot, cells, starts_on, errors)
            if coverage is None or errors:
                continue
            problems = coverage_problems(coverage, patient_mbi=patient_mbi, practice=self.practice)
            for field, message in problems.items():
                errors.setdefault(slot.column(field), message)
            if not problems and not _recorded(coverage, others):
                clash = overlap_problem(coverage, others)
                if clash:
                    errors.setdefault(slot.kind, clash)
                new.append(coverage)
        return ([] if errors else new), errors

    def _start(self, cells: Cells, errors: dict[str, str]) -> dt.date | None:
        text = cells.get("coverage_start", "")
        if not text:
            errors["coverage_start"] = REQUIRED_MESSAGE
            return None
        day = csv_import.parse_date(text, min_year=1966)  # Medicare began in July 1966
        if day is None:
            errors["coverage_start"] = DATE_MESSAGE
        return day

    def _coverage(
        self, slot: Slot, cells: Cells, starts_on: dt.date | None, errors: dict[str, str]
    ) -> Coverage | None:
        kind = _key(cells.get(slot.kind, ""))
        if not kind:
            errors[slot.kind] = NO_KIND_MESSAGE.format(what=slot.what)
            return None
        if kind not in slot.kinds:
            errors[slot.kind] = KIND_MESSAGE.format(kinds=", ".join(slot.kinds))
            return None
        payer = None
        if cells.get(slot.payer):
            payer = self._payer(cells[slot.payer], kind)
            if payer is None:
                kinds = payer_kinds_label(kind)
                errors[slot.payer] = PAYER_UNKNOWN_MESSAGE.format(kinds=kinds)
                return None
        if starts_on is None:
            return None
        msp = cells.get("msp_type", "") if slot.kind == "coverage_kind" else ""
        return Coverage(
            practice=self.practice,
            kind=kind,
            payer=payer,
            member_id=cells.get(slot.member_id, ""),
            msp_type=msp,
            starts_on=starts_on,
        )

    def _payer(self, payer_id: str, kind: str) -> Payer | None:
        # One payer id may name several payers of different kinds (a state's Medicaid and its
        # managed plan): the coverage kind picks.
        fitting = [p for p in self.payers[payer_id.strip().upper()] if p.kind in PAYER_KINDS[kind]]
        return fitting[0] if len(fitting) == 1 else None


def _columns(slot: Slot) -> tuple[str, ...]:
    return (slot.kind, slot.payer, slot.member_id)


def _recorded(coverage: Coverage, others: Iterable[Coverage]) -> bool:
    """The same coverage is on record already (same kind, payer and member id, overlapping)."""
    return any(
        other.kind == coverage.kind
        and other.payer_id == coverage.payer_id
        and other.member_id == coverage.member_id
        and overlap_problem(coverage, [other]) is not None
        for other in others
    )


@dataclass
class Existing:
    mbi: dict[str, str]  # MRN → stored MBI
    rows: defaultdict[str, list[Coverage]]  # MRN → stored coverage


def existing_coverage(practice: Practice, mrns: list[str]) -> Existing:
    """The stored MBI and coverage of the practice's patients with these MRNs (two queries)."""
    found = Patient.objects.for_practice(practice).filter(mrn__in=mrns)
    mbi = dict(found.values_list("mrn", "mbi"))
    rows: defaultdict[str, list[Coverage]] = defaultdict(list)
    stored = Coverage.objects.for_practice(practice).filter(patient__mrn__in=list(mbi))
    for coverage in stored.select_related("patient").only(
        "kind", "priority", "payer_id", "member_id", "starts_on", "ends_on", "patient__mrn"
    ):
        rows[coverage.patient.mrn].append(coverage)
    return Existing(mbi=mbi, rows=rows)


def coverage_write(
    practice: Practice,
    actor: Membership,
    planned: list[tuple[Patient, list[Coverage]]],
    existing_ids: set[Any],
) -> tuple[list[audit.RowEvent], set[Any]]:
    """Create the rows' coverage (after their patients), under the lock of the existing
    patients: a clash that appeared since the check refuses the whole import. The audit
    events and the existing patients whose coverage changed (their progress is refreshed)."""
    patients = [patient for patient, coverages in planned if coverages]
    stored = existing_coverage(practice, [p.mrn for p in patients if p.pk in existing_ids])
    rows: list[Coverage] = []
    for patient, coverages in planned:
        for coverage in coverages:
            others = stored.rows[patient.mrn]
            if _recorded(coverage, others):
                continue  # recorded meanwhile, as the file has it
            if overlap_problem(coverage, others):
                raise ValidationError(CONFLICT_MESSAGE)
            coverage.patient, coverage.created_by = patient, actor
            rows.append(coverage)
    Coverage.objects.for_practice(practice).bulk_create(rows, batch_size=1000)
    events = [audit.RowEvent("coverage.import_create", c, c.patient_id) for c in rows]
    return events, {c.patient_id for c in rows} & existing_ids
