"""The demo's medication lists (issue 17): 3 to 7 realistic medicines per patient with their
RxNorm codes, a stopped one now and then, and a past reconciliation for most enrolled
patients (so their care plans have a "last reconciled"). The same mix on every run (by MRN);
seeding again adds nothing. Bulk inserts."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from typing import Any

from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from patients.models import (
    ChangeAction,
    Medication,
    MedicationChange,
    MedicationReconciliation,
    MedicationSource,
    MedicationStatus,
    Patient,
    ReconciledWith,
    Status,
)

# name, RxNorm (SCD), dose, route, frequency, instructions
CATALOGUE: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("Metformin 500 mg extended-release tablet", "860975", "1 tablet", "by mouth",
     "twice daily", "With breakfast and dinner"),
    ("Lisinopril 10 mg tablet", "314076", "1 tablet", "by mouth", "once daily", ""),
    ("Atorvastatin 40 mg tablet", "617312", "1 tablet", "by mouth", "at bedtime", ""),
    ("Furosemide 40 mg tablet", "310429", "1 tablet", "by mouth", "every morning",
     "Weigh yourself daily; call if up 3 lb in a day"),
    ("Metoprolol succinate 50 mg extended-release tablet", "866924", "1 tablet", "by mouth",
     "once daily", "Do not stop suddenly"),
    ("Insulin glargine 100 units/mL injection", "311041", "20 units", "under the skin",
     "at bedtime", "Check blood sugar before breakfast"),
    ("Amlodipine 5 mg tablet", "197361", "1 tablet", "by mouth", "once daily", ""),
)  # fmt: skip
SOURCES = (MedicationSource.EHR, MedicationSource.PATIENT, MedicationSource.PHARMACY)
PARTIES = (ReconciledWith.PATIENT, ReconciledWith.CAREGIVER, ReconciledWith.PHARMACY)
DISCREPANCIES = (
    "",
    "Takes metformin once a day, not twice; reminded to take it with dinner too.",
    "Pharmacy fill history shows amlodipine not refilled for two months.",
    "",
)


def seed_demo(demo: DemoSeed) -> None:
    """Medicines and reconciliations for both demo practices' patients."""
    m = demo.memberships
    performers = {
        "demo": (m["coordinator@demo.test"], m["nurse@demo.test"]),
        "other": (m["coordinator@other.test"],),
    }
    for slug, practice in demo.practices.items():
        if slug in performers:
            added = seed_medications(practice=practice, performers=performers[slug])
            demo.added["medications"] += added


def seed_medications(*, practice: Practice, performers: Sequence[Membership]) -> int:
    """Medicines for every patient of the practice without any, and a past reconciliation
    for most enrolled ones. Returns the medicines added."""
    today = practice.today()
    bare = (
        Patient.objects.for_practice(practice)
        .filter(medications__isnull=True)
        .values_list("pk", "mrn", "status", "billing_practitioner__user__full_name")
    )
    medicines: list[Medication] = []
    reconciliations: list[MedicationReconciliation] = []
    changes: list[MedicationChange] = []
    for pk, mrn, status, prescriber in bare.iterator(chunk_size=2000):
        number = zlib.crc32(mrn.encode())  # the same mix on every run (hash() is salted)
        rows = _medicines(practice, pk, number, prescriber or "", today)
        medicines += rows
        if (status == Status.ENROLLED and number % 10 != 0) or number % 3 == 0:
            performer = performers[number % len(performers)]
            rec, lines = _reconciliation(practice, pk, number, performer, rows, today)
            reconciliations.append(rec)
            changes += lines
    Medication.objects.for_practice(practice).bulk_create(medicines, batch_size=2000)
    MedicationReconciliation.objects.for_practice(practice).bulk_create(
        reconciliations, batch_size=2000
    )
    MedicationChange.objects.for_practice(practice).bulk_create(changes, batch_size=2000)
    return len(medicines)


def seed_patient(*, practice: Practice, patient: Patient, performer: Membership) -> None:
    """One patient's demo medicines and a reconciliation (benchmarks, browser tests)."""
    if Medication.objects.for_practice(practice).filter(patient=patient).exists():
        return
    today = practice.today()
    number = zlib.crc32(patient.mrn.encode())
    rows = _medicines(practice, patient.pk, number, "", today)
    rec, lines = _reconciliation(practice, patient.pk, number, performer, rows, today)
    Medication.objects.for_practice(practice).bulk_create(rows)
    rec.save()
    MedicationChange.objects.for_practice(practice).bulk_create(lines)


def _medicines(
    practice: Practice, patient_id: Any, number: int, prescriber: str, today: dt.date
) -> list[Medication]:
    count = 3 + number % 5  # 3 to 7
    first = number // 7 % len(CATALOGUE)
    rows = []
    for i in range(count):
        name, code, dose, route, frequency, instructions = CATALOGUE[(first + i) % len(CATALOGUE)]
        starts_on = today - dt.timedelta(days=90 + (number // (i + 3)) % 1500)
        rows.append(
            Medication(
                practice=practice,
                patient_id=patient_id,
                name=name,
                rxnorm_code=code,
                dose=dose,
                route=route,
                frequency=frequency,
                instructions=instructions,
                prescriber=prescriber,
                source=SOURCES[(number + i) % len(SOURCES)],
                starts_on=starts_on,
            )
        )
    if count >= 5 and number % 4 == 0:  # an older medicine stopped a while ago
        rows[-1].status = MedicationStatus.STOPPED
        rows[-1].stops_on = today - dt.timedelta(days=60)
    return rows


def _reconciliation(
    practice: Practice,
    patient_id: Any,
    number: int,
    performer: Membership,
    medicines: list[Medication],
    today: dt.date,
) -> tuple[MedicationReconciliation, list[MedicationChange]]:
    day = today - dt.timedelta(days=10 + number % 70)
    rec = MedicationReconciliation(
        practice=practice,
        patient_id=patient_id,
        reconciled_at=dt.datetime.combine(day, dt.time(15, number % 60), tzinfo=dt.UTC),
        reconciled_on=day,
        performed_by=performer,
        reconciled_with=PARTIES[number % len(PARTIES)],
        sources="Pill bottles, pharmacy fill history",
        discrepancies=DISCREPANCIES[number % len(DISCREPANCIES)],
    )
    lines = [
        MedicationChange(
            practice=practice, reconciliation=rec, medication=m, action=ChangeAction.CONFIRMED
        )
        for m in medicines
        if m.status != MedicationStatus.STOPPED
    ]
    return rec, lines
