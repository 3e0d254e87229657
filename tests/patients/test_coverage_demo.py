"""The demo's payers and coverage: every demo patient has primary coverage in force this
month, in a mix of Part B, Medicare Advantage and MSP with Medicaid, QMB and Medigap
secondaries, each valid under the coverage rules; seeding again adds nothing."""

import datetime as dt
from collections import Counter

import pytest

from patients.coverage_services import coverage_problems, overlap_problem
from patients.demo import Staff, seed_coverage, seed_patients
from patients.models import Coverage, Patient, Payer
from patients.selectors import coverage_in_force

pytestmark = pytest.mark.usefixtures("scope")
TODAY = dt.date(2026, 11, 20)


def test_every_demo_patient_gets_valid_coverage_in_force(practice, physician, coordinator):
    staff = Staff(physician=physician, coordinators=(coordinator,))
    seed_patients(practice=practice, staff=staff, count=80, today=TODAY)
    added = seed_coverage(practice=practice, today=TODAY)
    assert added == Coverage.objects.count()
    assert seed_coverage(practice=practice, today=TODAY) == 0
    payers = {(p.name, p.payer_id, p.kind) for p in Payer.objects.all()}
    assert ("Noridian JE Part B", "01112", "medicare") in payers
    assert ("Humana Medicare Advantage", "61101", "medicare_advantage") in payers

    ids = list(Patient.objects.values_list("pk", flat=True))
    for month in (dt.date(2026, 9, 1), dt.date(2026, 11, 1)):
        in_force = coverage_in_force(practice=practice, patient_ids=ids, month=month)
        assert all(c.primary is not None for c in in_force.values())

    rows = list(Coverage.objects.select_related("payer", "patient"))
    kinds = Counter(c.kind for c in rows)
    assert set(kinds) == {
        "part_b",
        "medicare_advantage",
        "other_primary",
        "medicaid",
        "qmb",
        "medigap",
    }
    assert kinds["part_b"] > kinds["medicare_advantage"] > kinds["other_primary"]
    for coverage in rows:
        assert coverage_problems(coverage, patient_mbi="", practice=practice) == {}
        mine = [c for c in rows if c.patient_id == coverage.patient_id]
        assert overlap_problem(coverage, mine) is None


def test_seeding_coverage_again_keeps_the_payers_once(practice):
    seed_coverage(practice=practice, today=TODAY)
    seed_coverage(practice=practice, today=TODAY)
    assert Payer.objects.count() == 5
