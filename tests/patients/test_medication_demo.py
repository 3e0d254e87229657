"""The demo's medication lists: 3 to 7 medicines per patient with RxNorm codes, valid under
the model's rules, a past reconciliation for most enrolled patients; seeding again adds
nothing."""

import datetime as dt
from collections import Counter

import pytest

from patients.demo import Staff, seed_patients
from patients.medication_demo import CATALOGUE, seed_medications
from patients.models import Medication, MedicationChange, MedicationReconciliation, Status

pytestmark = pytest.mark.usefixtures("scope")
TODAY = dt.date(2026, 11, 20)


def test_demo_patients_get_realistic_lists_and_reconciliations(practice, physician, coordinator):
    staff = Staff(physician=physician, coordinators=(coordinator,))
    seed_patients(practice=practice, staff=staff, count=40, today=TODAY)
    added = seed_medications(practice=practice, performers=[coordinator])
    assert added == Medication.objects.count()
    assert seed_medications(practice=practice, performers=[coordinator]) == 0
    per_patient = Counter(Medication.objects.values_list("patient_id", flat=True))
    assert min(per_patient.values()) >= 3
    assert max(per_patient.values()) <= 7
    codes = {code for _name, code, *_ in CATALOGUE}
    assert {"860975", "314076", "617312"} <= codes
    for medication in Medication.objects.all():
        medication.full_clean()
        assert medication.rxnorm_code in codes
    enrolled = set(
        Medication.objects.filter(patient__status=Status.ENROLLED).values_list(
            "patient_id", flat=True
        )
    )
    reconciled = set(MedicationReconciliation.objects.values_list("patient_id", flat=True))
    assert len(enrolled & reconciled) >= len(enrolled) * 0.7
    for rec in MedicationReconciliation.objects.all():
        assert rec.reconciled_on < practice.today()
    assert MedicationChange.objects.filter(action="confirmed").exists()
