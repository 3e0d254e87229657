"""Demo after-contact summaries (seed_demo, from timelog/demo.py): the demo practice's 24/7
number, and summaries of a reached call for a few enrolled patients — in Spanish for
Spanish-speaking ones, one of them given to a daughter the patient permits. Uses the reached
calls and caregivers other demo seeds made when there are some, and adds them when not. A
re-run adds nothing for patients who already have a summary."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef
from django.utils import timezone

from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from patients.careteam_selectors import caregivers, may_share
from patients.language import patient_locale
from patients.models import (
    CareContact,
    ContactCategory,
    Patient,
    PermissionMethod,
    ShareScope,
    SharingPermission,
    Status,
)
from timelog.models import ContactAttempt, ContactSummary, Outcome, ShareMethod

AFTER_HOURS_PHONE = "(555) 010-0199"
SPANISH_PATIENTS = 3
ENGLISH_PATIENTS = 2

TEXTS = {
    "es": {
        "talked_about": (
            "Sus lecturas de azúcar en la sangre de esta semana y cómo se ha sentido con la "
            "nueva dosis de metformina."
        ),
        "do_now": (
            "Tome la metformina con el desayuno y con la cena.\n"
            "Anote su azúcar cada mañana antes de desayunar."
        ),
        "watch_for": (
            "Mareo, temblores o sudor frío: coma algo dulce y llámenos. Si el azúcar pasa de "
            "300 dos veces seguidas, llámenos el mismo día."
        ),
        "whom_to_call": "Su equipo de atención de {practice}, para preguntas sobre sus medicinas.",
    },
    "en": {
        "talked_about": "Your blood pressure readings and the swelling in your ankles.",
        "do_now": (
            "Keep taking lisinopril every morning.\nPut your feet up for 30 minutes after lunch."
        ),
        "watch_for": (
            "Shortness of breath, or weight up more than 3 pounds in a day: call us the same day."
        ),
        "whom_to_call": "Your care team at {practice}, for questions about your medicines.",
    },
}


def _patients(practice: Practice) -> list[Patient]:
    """Enrolled patients without a summary yet: a few Spanish-speaking ones, a few others."""
    has_summary = ContactSummary.objects.for_practice(practice).filter(patient=OuterRef("pk"))
    enrolled = (
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED)
        .exclude(Exists(has_summary))
        .order_by("mrn")
    )
    spanish = [p for p in enrolled if patient_locale(p) == "es"][:SPANISH_PATIENTS]
    english = [p for p in enrolled if patient_locale(p) == "en"][:ENGLISH_PATIENTS]
    return spanish + english


def _reached_call(practice: Practice, patient: Patient, author: Membership) -> ContactAttempt:
    """The patient's latest reached contact, or a reached call two days ago at 10:30."""
    found = (
        ContactAttempt.objects.for_practice(practice)
        .filter(patient=patient, outcome=Outcome.REACHED)
        .order_by("-occurred_at")
        .first()
    )
    if found is not None:
        return found
    day = practice.today() - dt.timedelta(days=2)
    at = dt.datetime.combine(day, dt.time(10, 30), tzinfo=practice.zone).astimezone(dt.UTC)
    return ContactAttempt.objects.for_practice(practice).create(
        practice=practice,
        patient=patient,
        occurred_at=at,
        month=day.replace(day=1),
        outcome=Outcome.REACHED,
        note="Monthly check-in call.",
        recorded_by=author,
    )


def _permitted_daughter(
    practice: Practice, patient: Patient, author: Membership
) -> CareContact | None:
    """A caregiver the patient permits to receive summaries: an existing one, or (when the
    patient has no caregiver at all) a daughter with that permission given today."""
    today = practice.today()
    existing = list(caregivers(practice=practice, patient_id=patient.pk))
    for contact in existing:
        if may_share(practice=practice, contact=contact, scope=ShareScope.SUMMARIES, on=today):
            return contact
    if existing:
        return None  # their caregivers are not permitted: the patient gets it
    daughter = CareContact.objects.for_practice(practice).create(
        practice=practice,
        patient=patient,
        category=ContactCategory.CAREGIVER,
        name=f"Lucía {patient.last_name}",
        relationship="Daughter",
        phone="+15185550142",
        language=patient.preferred_language,
        created_by=author,
    )
    SharingPermission.objects.for_practice(practice).create(
        practice=practice,
        patient=patient,
        contact=daughter,
        scopes=[ShareScope.SUMMARIES, ShareScope.CARE_PLAN, ShareScope.APPOINTMENTS],
        method=PermissionMethod.VERBAL,
        given_on=today,
        recorded_by=author,
    )
    return daughter


def seed(demo: DemoSeed) -> None:
    """The demo practice's 24/7 number and a few summaries (see the module docstring)."""
    practice = demo.practices["demo"]
    if not practice.after_hours_phone:
        practice.after_hours_phone = AFTER_HOURS_PHONE
        practice.save(update_fields=["after_hours_phone"])
    fallback = demo.memberships["coordinator@demo.test"]
    summaries = []
    for n, patient in enumerate(_patients(practice)):
        author = patient.coordinator or fallback
        call = _reached_call(practice, patient, author)
        language = patient_locale(patient)
        whom = TEXTS[language]["whom_to_call"]
        # The first Spanish-speaking patient's summary goes to their daughter.
        daughter = _permitted_daughter(practice, patient, author) if n == 0 else None
        summaries.append(
            ContactSummary(
                practice=practice,
                patient=patient,
                contact_attempt=call,
                language=language,
                shared_with=daughter,
                shared_method=ShareMethod.MAIL if daughter else ShareMethod.IN_PERSON,
                shared_on=call.occurred_at.astimezone(practice.zone).date(),
                created_by=author,
                created_at=timezone.now(),
                **{**TEXTS[language], "whom_to_call": whom.format(practice=practice.name)},
            )
        )
    ContactSummary.objects.for_practice(practice).bulk_create(summaries)
    demo.added["after-contact summaries"] += len(summaries)
