"""The demo's care teams: a cardiologist, a pharmacy, some home-health agencies and
caregivers permitted for everything by verbal consent, best-time and dialysis windows, some
Spanish speakers needing an interpreter; every row valid; seeding again adds nothing."""

import datetime as dt
from collections import Counter

import pytest

from patients.careteam_demo import seed_careteam
from patients.careteam_selectors import may_share
from patients.demo import Staff, seed_patients
from patients.models import CallWindow, CareContact, Patient, SharingPermission

pytestmark = pytest.mark.usefixtures("scope")
TODAY = dt.date(2026, 11, 20)


def test_demo_patients_get_care_teams_preferences_and_windows(practice, physician, coordinator):
    seed_patients(
        practice=practice,
        staff=Staff(physician=physician, coordinators=(coordinator,)),
        count=40,
        today=TODAY,
    )
    added = seed_careteam(practice=practice, recorder=coordinator, today=TODAY)
    assert added == CareContact.objects.count()
    assert seed_careteam(practice=practice, recorder=coordinator, today=TODAY) == 0
    patients = Patient.objects.count()
    kinds = Counter(CareContact.objects.values_list("category", flat=True))
    assert kinds["practitioner"] == kinds["pharmacy"] == patients
    assert 0 < kinds["agency"] < kinds["caregiver"] < patients
    for contact in CareContact.objects.all():
        contact.full_clean()
    daughter = CareContact.objects.filter(relationship="Daughter").first()
    assert daughter.name.startswith("Maria ")
    assert may_share(practice=practice, contact=daughter, scope="summaries", on=TODAY)
    assert (
        SharingPermission.objects.filter(method="verbal").count()
        == SharingPermission.objects.count()
    )
    windows = Counter(CallWindow.objects.values_list("kind", "note"))
    assert windows[("do_not_call", "Dialysis")] > 0
    assert windows[("best", "Mornings")] > 0
    spanish = Patient.objects.filter(preferred_language="Spanish", interpreter_needed=True)
    assert 0 < spanish.count() < patients
