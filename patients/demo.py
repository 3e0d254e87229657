"""Synthetic demo patients (seed_demo and benchmarks): realistic, deterministic, bulk-inserted.

Everything here is invented: names from short lists, MBIs in CMS's format, dates relative to
the given `today`. Patients are keyed by MRN, so running it again only adds what is missing.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from dataclasses import dataclass
from typing import Any

from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from patients import careteam_demo, medication_demo
from patients.models import (
    PRIMARY_KINDS,
    Condition,
    Consent,
    ConsentMethod,
    Coverage,
    CoverageKind,
    CoveragePriority,
    EnrollmentEvent,
    MspType,
    Patient,
    Payer,
    PayerKind,
    Status,
)
from patients.validators import icd10_description

FIRST = (
    "Mary",
    "Patricia",
    "Linda",
    "Barbara",
    "Elizabeth",
    "Jennifer",
    "Maria",
    "Susan",
    "Margaret",
    "Dorothy",
    "Lisa",
    "Nancy",
    "Karen",
    "Betty",
    "Helen",
    "Sandra",
    "Donna",
    "Carol",
    "Ruth",
    "Sharon",
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Charles",
    "Joseph",
    "Thomas",
    "Christopher",
    "Daniel",
    "Paul",
    "Mark",
    "Donald",
    "George",
    "Kenneth",
    "Steven",
    "Edward",
    "Brian",
    "Ronald",
    "Anthony",
    "Kevin",
    "Jason",
    "Rosa",
    "Wei",
    "Aisha",
    "Jamal",
    "Mei",
    "Carlos",
    "Fatima",
    "Hiroshi",
)
LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Chen",
    "Patel",
    "Kim",
)
CITIES = (("Springfield", "NY", "12345"), ("Riverton", "NY", "12401"), ("Lakeside", "NY", "12550"))
# Common CCM pairs (and a few triples), ICD-10-CM billable codes.
CONDITION_SETS = (
    ("E11.9", "I10"),
    ("E11.65", "I10", "E78.5"),
    ("I50.22", "I10"),
    ("J44.9", "I50.9"),
    ("N18.30", "E11.22"),
    ("F33.1", "E11.9"),
    ("I48.91", "I10"),
    ("J44.9", "F32.A"),
    ("I25.10", "E78.5"),
    ("N18.4", "I10", "E03.9"),
    ("G30.9", "I10"),
    ("M81.0", "E03.9", "J45.40"),
)
_MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"  # CMS never uses S, L, O, I, B, Z


def fake_mbi(rng: random.Random) -> str:
    """An MBI in CMS's format (C A AN N A AN N A A N N); invented, not a real beneficiary."""
    an = _MBI_LETTERS + "0123456789"
    parts = [
        rng.choice("123456789"),
        rng.choice(_MBI_LETTERS),
        rng.choice(an),
        rng.choice("0123456789"),
        rng.choice(_MBI_LETTERS),
        rng.choice(an),
        rng.choice("0123456789"),
        rng.choice(_MBI_LETTERS),
        rng.choice(_MBI_LETTERS),
        rng.choice("0123456789"),
        rng.choice("0123456789"),
    ]
    return "".join(parts)


@dataclass(frozen=True)
class Staff:
    physician: Membership
    coordinators: tuple[Membership, ...]


def seed_patients(
    *, practice: Practice, staff: Staff, count: int, today: dt.date, prefix: str = "DEMO"
) -> int:
    """Make sure the practice has `count` demo patients (MRNs PREFIX-00001…). Returns how many
    were added. Bulk inserts: 10,000 patients take seconds."""
    rng = random.Random(f"{practice.slug}-{prefix}")  # noqa: S311 (demo data, not security)
    wanted = [f"{prefix}-{i:05d}" for i in range(1, count + 1)]
    existing = set(
        Patient.objects.for_practice(practice).filter(mrn__in=wanted).values_list("mrn", flat=True)
    )
    descriptions: dict[str, str] = {}
    patients, conditions, consents, events = [], [], [], []
    for mrn in wanted:
        spec = _patient_spec(rng, practice, staff, mrn, today)  # drawn even if it exists
        if mrn in existing:
            continue
        patient, codes, status, enrolled_on = spec
        patients.append(patient)
        for position, code in enumerate(codes):
            if code not in descriptions:
                descriptions[code] = icd10_description(code)
            conditions.append(
                Condition(
                    practice=practice,
                    patient=patient,
                    icd10_code=code,
                    description=descriptions[code],
                    position=position,
                    onset_date=patient.date_of_birth.replace(year=today.year - 8 + position),
                )
            )
        consents += _consents(practice, staff, patient, status, enrolled_on)
        events += _events(practice, staff, patient, status, enrolled_on)
    Patient.objects.for_practice(practice).bulk_create(patients, batch_size=2000)
    Condition.objects.for_practice(practice).bulk_create(conditions, batch_size=2000)
    Consent.objects.for_practice(practice).bulk_create(consents, batch_size=2000)
    EnrollmentEvent.objects.for_practice(practice).bulk_create(events, batch_size=2000)
    return len(patients)


def _patient_spec(
    rng: random.Random, practice: Practice, staff: Staff, mrn: str, today: dt.date
) -> tuple[Patient, tuple[str, ...], str, dt.date]:
    roll = rng.random()
    status = (
        Status.ENROLLED
        if roll < 0.72
        else Status.CANDIDATE
        if roll < 0.87
        else Status.DECLINED
        if roll < 0.94
        else Status.DISENROLLED
    )
    born = dt.date(today.year - rng.randint(66, 94), rng.randint(1, 12), rng.randint(1, 28))
    city, state, zip_code = rng.choice(CITIES)
    enrolled_on = today - dt.timedelta(days=rng.randint(20, 400))
    # A disenrolled patient left about three months after enrolling (never in the future).
    status_on = {
        Status.CANDIDATE: None,
        Status.DISENROLLED: min(today, enrolled_on + dt.timedelta(days=90)),
    }.get(status, enrolled_on)
    patient = Patient(
        practice=practice,
        mrn=mrn,
        first_name=rng.choice(FIRST),
        last_name=rng.choice(LAST),
        date_of_birth=born,
        sex=rng.choice(("female", "male")),
        phone=f"+1518555{rng.randint(0, 9999):04d}",
        address_line1=f"{rng.randint(1, 999)} {rng.choice(LAST)} Street",
        city=city,
        state=state,
        postal_code=zip_code,
        preferred_language=rng.choice(("English",) * 8 + ("Spanish", "Chinese")),
        mbi=fake_mbi(rng),
        billing_practitioner=staff.physician,
        coordinator=rng.choice(staff.coordinators),
        status=status,
        status_on=status_on,
        status_reason="Consent revoked" if status == Status.DISENROLLED else "",
        initiating_visit_on=enrolled_on - dt.timedelta(days=rng.randint(1, 60)),
        initiating_visit_code=rng.choice(("99214", "99215", "G0439", "99213")),
        # On the practice's list well before enrolment (the EHR import), so back-dated time
        # entries of the demo are valid edits.
        created_at=dt.datetime.combine(
            min(enrolled_on, today) - dt.timedelta(days=120), dt.time(12), tzinfo=dt.UTC
        ),
    )
    return patient, rng.choice(CONDITION_SETS), status, enrolled_on


def _consents(
    practice: Practice, staff: Staff, patient: Patient, status: str, enrolled_on: dt.date
) -> list[Consent]:
    if status in (Status.CANDIDATE, Status.DECLINED):
        return []
    consent = Consent(
        practice=practice,
        patient=patient,
        method=ConsentMethod.VERBAL,
        given_on=enrolled_on,
        obtained_by=patient.coordinator or staff.coordinators[0],
        billing_practitioner=staff.physician,
        explained_service=True,
        explained_cost_sharing=True,
        explained_one_practitioner=True,
        explained_can_stop=True,
    )
    if status == Status.DISENROLLED:
        consent.revoked_on = patient.status_on
        consent.revoked_reason = "Patient asked to stop"
        consent.revoked_by = consent.obtained_by
    return [consent]


def _events(
    practice: Practice, staff: Staff, patient: Patient, status: str, enrolled_on: dt.date
) -> list[EnrollmentEvent]:
    if status == Status.CANDIDATE:
        return []
    actor = patient.coordinator or staff.coordinators[0]
    first = Status.DECLINED if status == Status.DECLINED else Status.ENROLLED
    events = [
        EnrollmentEvent(
            practice=practice,
            patient=patient,
            from_status=Status.CANDIDATE,
            to_status=first,
            effective_on=enrolled_on,
            actor=actor,
        )
    ]
    if status == Status.DISENROLLED and patient.status_on is not None:
        events.append(
            EnrollmentEvent(
                practice=practice,
                patient=patient,
                from_status=Status.ENROLLED,
                to_status=Status.DISENROLLED,
                effective_on=patient.status_on,
                reason="Consent revoked",
                actor=actor,
            )
        )
    return events


# The demo practices' payers (billing setup lists them; the billing demo makes the Medicare
# one the practice's contractor). Payer ids as clearinghouses list them.
DEMO_PAYERS = (
    ("Noridian JE Part B", "01112", PayerKind.MEDICARE),
    ("Humana Medicare Advantage", "61101", PayerKind.MEDICARE_ADVANTAGE),
    ("Medi-Cal", "610442", PayerKind.MEDICAID),
    ("Mutual of Omaha Medigap", "71412", PayerKind.MEDIGAP),
    ("UnitedHealthcare Employer Plan", "87726", PayerKind.COMMERCIAL),
)


def seed_payers(*, practice: Practice) -> dict[str, Payer]:
    """The demo payers of the practice (added when missing), by kind."""
    existing = {(p.payer_id, p.kind): p for p in Payer.objects.for_practice(practice).all()}
    missing = [
        Payer(practice=practice, name=name, payer_id=payer_id, kind=kind)
        for name, payer_id, kind in DEMO_PAYERS
        if (payer_id, kind) not in existing
    ]
    Payer.objects.for_practice(practice).bulk_create(missing)
    found = {**existing, **{(p.payer_id, p.kind): p for p in missing}}
    return {kind: found[(payer_id, kind)] for _name, payer_id, kind in DEMO_PAYERS}


def seed_coverage(*, practice: Practice, today: dt.date) -> int:
    """Coverage for every patient of the practice that has none, a fixed mix by MRN: about
    two in three Part B (some with Medicaid, QMB or Medigap secondary), one in five Medicare
    Advantage (a few dual-eligible with Medicaid), one in ten MSP (an employer plan primary,
    Medicare secondary). Bulk inserts; returns the coverage rows added."""
    payers = seed_payers(practice=practice)
    bare = (
        Patient.objects.for_practice(practice)
        .filter(coverages__isnull=True)
        .values_list("pk", "mrn", "mbi", "date_of_birth")
    )
    rows: list[Coverage] = []
    for pk, mrn, mbi, born in bare.iterator(chunk_size=2000):
        rows += _coverage_mix(practice, payers, pk, mrn, mbi, born, today)
    Coverage.objects.for_practice(practice).bulk_create(rows, batch_size=2000)
    return len(rows)


def _coverage_mix(
    practice: Practice,
    payers: dict[str, Payer],
    patient_id: Any,
    mrn: str,
    mbi: str,
    born: dt.date,
    today: dt.date,
) -> list[Coverage]:
    number = zlib.crc32(mrn.encode())  # the same mix on every run (hash() is salted)
    slot, digits = number % 20, f"{number * 7919 % 10**8:08d}"

    def coverage(
        kind: str, payer: str | None, member_id: str, starts_on: dt.date, **more: str
    ) -> Coverage:
        return Coverage(
            practice=practice,
            patient_id=patient_id,
            priority=CoveragePriority.PRIMARY
            if kind in PRIMARY_KINDS
            else CoveragePriority.SECONDARY,
            kind=kind,
            payer=payers[payer] if payer else None,
            member_id=member_id,
            starts_on=starts_on,
            msp_type=more.get("msp_type", ""),
            plan_name=more.get("plan_name", ""),
            group_number=more.get("group_number", ""),
        )

    # Part B from the month of the 65th birthday (every demo patient is older than 65).
    part_b_start = born.replace(year=born.year + 65, day=1)
    plan_start = dt.date(today.year - 2, 1, 1)  # before any demo month with time
    if slot < 13 or slot == 19:
        primary = coverage(CoverageKind.MEDICARE_PART_B, None, mbi, part_b_start)
    elif slot < 17:
        primary = coverage(
            CoverageKind.MEDICARE_ADVANTAGE,
            PayerKind.MEDICARE_ADVANTAGE,
            f"H{digits}01",
            starts_on=plan_start,
            plan_name="Humana Gold Plus (HMO)",
        )
    else:
        primary = coverage(
            CoverageKind.OTHER_PRIMARY,
            PayerKind.COMMERCIAL,
            f"EMP{digits}",
            starts_on=plan_start,
            msp_type=MspType.WORKING_AGED,
            group_number="GRP-4410",
        )
    secondary = {
        1: (CoverageKind.MEDICAID, PayerKind.MEDICAID, f"9{digits[:7]}A"),
        2: (CoverageKind.MEDICAID, PayerKind.MEDICAID, f"9{digits[:7]}B"),
        3: (CoverageKind.QMB, None, ""),
        4: (CoverageKind.MEDIGAP, PayerKind.MEDIGAP, f"MG{digits}"),
        5: (CoverageKind.MEDIGAP, PayerKind.MEDIGAP, f"MG{digits}"),
        6: (CoverageKind.MEDIGAP, PayerKind.MEDIGAP, f"MG{digits}"),
        13: (CoverageKind.MEDICAID, PayerKind.MEDICAID, f"9{digits[:7]}C"),
        19: (CoverageKind.QMB, PayerKind.MEDICAID, f"9{digits[:7]}Q"),
    }.get(slot)
    if secondary is None:
        return [primary]
    kind, payer, member_id = secondary
    return [primary, coverage(kind, payer, member_id, starts_on=primary.starts_on)]


def seed_demo(demo: DemoSeed) -> None:
    """`manage.py seed_demo`'s patients (ccm/demo.py). The other practice gets a smaller list:
    enough to prove it never shows in demo."""
    m = demo.memberships
    today = demo.practices["demo"].today()
    staff = {
        "demo": Staff(
            physician=m["physician@demo.test"],
            coordinators=(m["coordinator@demo.test"], m["nurse@demo.test"]),
        ),
        "other": Staff(
            physician=m["physician@other.test"], coordinators=(m["coordinator@other.test"],)
        ),
    }
    counts = {"demo": demo.patients, "other": max(12, demo.patients // 5)}
    for slug in ("demo", "other"):
        demo.added["patients"] += seed_patients(
            practice=demo.practices[slug], staff=staff[slug], count=counts[slug], today=today
        )
        demo.added["coverage"] += seed_coverage(practice=demo.practices[slug], today=today)
    medication_demo.seed_demo(demo)
    careteam_demo.seed(demo)
