"""The demo's care teams, caregivers, permissions to share, contact preferences and call
windows (issue 17), a fixed mix by MRN; patients that already have contacts are skipped, so
seeding again adds nothing. Bulk inserts (10,000 patients in a few seconds)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from patients.models import (
    CallWindow,
    CallWindowKind,
    CareContact,
    ContactCategory,
    Patient,
    PermissionMethod,
    ShareScope,
    SharingPermission,
)

CARDIOLOGISTS = ("Dr. Ana Ruiz", "Dr. Samuel Okafor", "Dr. Helen Park")
PHARMACIES = ("Main Street Pharmacy", "Riverside Drugs", "CarePlus Pharmacy")
AGENCIES = ("Sunrise Home Health", "Visiting Nurses of the Valley")
# (first name, relationship) of the caregiver: "Maria <patient's last name>", the daughter.
CAREGIVERS = (("Maria", "Daughter"), ("James", "Son"), ("Linda", "Spouse"))
WEEKDAYS = [0, 1, 2, 3, 4]
DIALYSIS = [0, 2, 4]


def _phone(n: int) -> str:
    return f"+1212555{100 + n % 100:04d}"  # the 555-01xx numbers are for fiction


def _contacts(practice: Practice, pk: Any, last_name: str, n: int) -> list[CareContact]:
    def contact(category: str, name: str, **fields: Any) -> CareContact:
        return CareContact(practice=practice, patient_id=pk, category=category, name=name, **fields)

    rows = [
        contact(
            ContactCategory.PRACTITIONER,
            CARDIOLOGISTS[n % 3],
            role="Cardiologist",
            organisation="Heart Associates",
            phone=_phone(n),
            fax=_phone(n + 1),
            secure_email="cardiology@direct.heart-associates.example",
        ),
        contact(ContactCategory.PHARMACY, PHARMACIES[n % 3], phone=_phone(n + 2)),
    ]
    if n % 3 == 0:
        rows.append(
            contact(
                ContactCategory.AGENCY,
                AGENCIES[n % 2],
                role="Home health nursing",
                phone=_phone(n + 3),
            )
        )
    if n % 2 == 0:
        first, relationship = CAREGIVERS[(n // 2) % 3]
        rows.append(
            contact(
                ContactCategory.CAREGIVER,
                f"{first} {last_name}",
                relationship=relationship,
                phone=_phone(n + 4),
                language="Spanish" if n % 8 == 0 else "English",
                is_representative=relationship == "Daughter",
            )
        )
    return rows


def _windows(practice: Practice, pk: Any, n: int) -> list[CallWindow]:
    def window(kind: str, days: list[int], start: int, end: int, note: str = "") -> CallWindow:
        return CallWindow(
            practice=practice,
            patient_id=pk,
            kind=kind,
            weekdays=days,
            starts_at=dt.time(start),
            ends_at=dt.time(end),
            note=note,
        )

    rows = []
    if n % 2 == 0:
        rows.append(window(CallWindowKind.BEST, WEEKDAYS, 9, 12, "Mornings"))
    elif n % 4 == 1:
        rows.append(window(CallWindowKind.BEST, WEEKDAYS, 13, 17, "Afternoons"))
    if n % 7 == 0:
        rows.append(window(CallWindowKind.DO_NOT_CALL, DIALYSIS, 6, 12, "Dialysis"))
    return rows


def seed_careteam(*, practice: Practice, recorder: Membership, today: dt.date) -> int:
    """Contacts, permissions, call windows and Spanish speakers for every patient of the
    practice without contacts. Returns the contacts added."""
    bare = list(
        Patient.objects.for_practice(practice)
        .filter(care_contacts__isnull=True)
        .order_by("mrn")
        .values_list("pk", "last_name")
    )
    contacts: list[CareContact] = []
    windows: list[CallWindow] = []
    spanish: list[Any] = []
    for n, (pk, last_name) in enumerate(bare):
        contacts += _contacts(practice, pk, last_name, n)
        windows += _windows(practice, pk, n)
        if n % 8 == 0:
            spanish.append(pk)
    CareContact.objects.for_practice(practice).bulk_create(contacts, batch_size=2000)
    CallWindow.objects.for_practice(practice).bulk_create(windows, batch_size=2000)
    permissions = [
        SharingPermission(
            practice=practice,
            patient_id=c.patient_id,
            contact=c,
            scopes=[ShareScope.ALL] if c.is_caregiver else [ShareScope.CARE_PLAN],
            method=PermissionMethod.VERBAL,
            given_on=today - dt.timedelta(days=30),
            recorded_by=recorder,
        )
        for c in contacts
        if c.is_caregiver or c.category == ContactCategory.PRACTITIONER
    ]
    SharingPermission.objects.for_practice(practice).bulk_create(permissions, batch_size=2000)
    Patient.objects.for_practice(practice).filter(pk__in=spanish).update(
        preferred_language="Spanish", interpreter_needed=True
    )
    return len(contacts)


def seed(demo: DemoSeed) -> None:
    """`seed_demo`'s care teams for both practices (patients/demo.py)."""
    today = demo.practices["demo"].today()
    for slug in ("demo", "other"):
        recorder = demo.memberships[f"coordinator@{slug}.test"]
        demo.added["care contacts"] += seed_careteam(
            practice=demo.practices[slug], recorder=recorder, today=today
        )
