"""Medication list writes (patients.medication_services): add, change, stop, reconcile; the
role, the practice, the audit; nothing is saved on an error."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from patients import medication_selectors
from patients import medication_services as ms
from patients.models import (
    Medication,
    MedicationChange,
    MedicationReconciliation,
    MedicationStatus,
)
from tests.factories import CareContactFactory, MedicationFactory, PatientFactory
from tests.helpers import audited, frozen_clock
from tests.patients.conftest import NOW

pytestmark = pytest.mark.usefixtures("scope")
_frozen_clock = frozen_clock(NOW, autouse=True)
TODAY = dt.date(2026, 11, 20)


def _add(practice, actor, patient, **fields):
    return ms.medication_add(
        practice=practice,
        actor=actor,
        patient=patient,
        **{"name": "Lisinopril 10 mg tablet", "source": "ehr", **fields},
    )


def test_a_medicine_is_added_active_and_audited(practice, coordinator, patient):
    med = _add(practice, coordinator, patient, rxnorm_code="314076", dose=" 1 tablet ")
    assert (med.status, med.dose, med.created_by) == ("active", "1 tablet", coordinator)
    assert audited("medication.create", patient_id=patient.pk, object_id=str(med.pk))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", ms.NAME_REQUIRED_MESSAGE),
        ({"source": "friend"}, "source", ms.SOURCE_MESSAGE),
        ({"rxnorm_code": "RX-1"}, "rxnorm_code", "An RxNorm code is digits only."),
        (
            {"starts_on": dt.date(2026, 5, 1), "stops_on": dt.date(2026, 4, 1)},
            "stops_on",
            ms.DATES_MESSAGE,
        ),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_saved(
    practice, coordinator, patient, fields, field, message
):
    with pytest.raises(ValidationError) as exc:
        _add(practice, coordinator, patient, **fields)
    assert exc.value.message_dict[field] == [message]
    assert not Medication.objects.filter(patient=patient).exists()


def test_a_biller_may_not_change_the_list(practice, biller, patient):
    with pytest.raises(PermissionDenied):
        _add(practice, biller, patient)


def test_another_practices_patient_is_refused(practice, coordinator, other_practice):
    stranger = PatientFactory(practice=other_practice)
    with pytest.raises(ValidationError) as exc:
        _add(practice, coordinator, stranger)
    assert exc.value.messages == [ms.PATIENT_PRACTICE_MESSAGE]


def test_update_writes_the_changed_fields_only(practice, coordinator, patient):
    med = MedicationFactory(patient=patient)
    ms.medication_update(
        practice=practice, actor=coordinator, medication=med, data={"dose": "2 tablets"}
    )
    med.refresh_from_db()
    assert med.dose == "2 tablets"
    assert audited("medication.update", object_id=str(med.pk), changed_fields=["dose"])


def test_stop_sets_status_and_date_and_refuses_twice_or_the_future(practice, physician, patient):
    med = MedicationFactory(patient=patient)
    with pytest.raises(ValidationError) as exc:
        ms.medication_stop(
            practice=practice, actor=physician, medication=med, stops_on=dt.date(2026, 12, 1)
        )
    assert exc.value.message_dict == {"stops_on": [ms.STOP_FUTURE_MESSAGE]}
    ms.medication_stop(practice=practice, actor=physician, medication=med)
    med.refresh_from_db()
    assert (med.status, med.stops_on) == (MedicationStatus.STOPPED, TODAY)
    assert audited("medication.stop", object_id=str(med.pk))
    with pytest.raises(ValidationError) as exc:
        ms.medication_stop(practice=practice, actor=physician, medication=med)
    assert exc.value.messages == [ms.STOPPED_MESSAGE]


def _reconcile(practice, actor, patient, **fields):
    return ms.medication_reconcile(
        practice=practice,
        actor=actor,
        patient=patient,
        **{"reconciled_with": "caregiver", **fields},
    )


def test_a_reconciliation_confirms_changes_stops_and_adds_in_one_go(practice, coordinator, patient):
    kept = MedicationFactory(patient=patient, name="Atorvastatin 40 mg")
    dosed = MedicationFactory(patient=patient, name="Lisinopril 10 mg", dose="10 mg")
    gone = MedicationFactory(patient=patient, name="Furosemide 40 mg")
    daughter = CareContactFactory(patient=patient)
    rec = _reconcile(
        practice,
        coordinator,
        patient,
        contact=daughter,
        sources="pill bottles, discharge summary",
        discrepancies="Takes 20 mg since the discharge.",
        reviews=[
            ms.Review(kept.pk, "confirmed", {"dose": kept.dose}),
            ms.Review(dosed.pk, "confirmed", {"dose": "20 mg"}),  # new values: a change
            ms.Review(gone.pk, "stopped"),
        ],
        additions=[{"name": "Amlodipine 5 mg", "rxnorm_code": "197361", "source": "discharge"}],
    )
    assert (rec.reconciled_on, rec.performed_by, rec.contact) == (TODAY, coordinator, daughter)
    lines = {c.medication.name: (c.action, c.detail) for c in rec.changes.all()}
    assert lines == {
        "Atorvastatin 40 mg": ("confirmed", ""),
        "Lisinopril 10 mg": ("changed", "dose 10 mg → 20 mg"),
        "Furosemide 40 mg": ("stopped", ""),
        "Amlodipine 5 mg": ("added", ""),
    }
    dosed.refresh_from_db()
    gone.refresh_from_db()
    assert dosed.dose == "20 mg"
    assert (gone.status, gone.stops_on) == ("stopped", TODAY)
    assert Medication.objects.get(name="Amlodipine 5 mg").source == "discharge"
    assert audited("medicationreconciliation.create", patient_id=patient.pk)
    last = medication_selectors.last_reconciliation(practice=practice, patient_id=patient.pk)
    assert last == rec


def _nothing_saved(patient, med):
    assert not MedicationReconciliation.objects.filter(patient=patient).exists()
    assert not MedicationChange.objects.exists()
    med.refresh_from_db()
    assert (med.status, med.dose) == ("active", "1 tablet")


def test_a_bad_line_refuses_the_whole_reconciliation(practice, coordinator, patient):
    med = MedicationFactory(patient=patient)
    other = MedicationFactory(patient=patient, name="Aspirin 81 mg")
    with pytest.raises(ValidationError) as exc:
        _reconcile(
            practice,
            coordinator,
            patient,
            reviews=[ms.Review(med.pk, "stopped"), ms.Review(other.pk, "changed", {})],
            additions=[{"name": "", "dose": "5 mg", "source": "patient"}],
        )
    assert exc.value.message_dict == {str(other.pk): [ms.CHANGE_NOTHING_MESSAGE]}
    _nothing_saved(patient, med)
    with pytest.raises(ValidationError) as exc:
        _reconcile(
            practice,
            coordinator,
            patient,
            reviews=[ms.Review(med.pk, "stopped")],
            additions=[{"name": "", "dose": "5 mg", "source": "patient"}],
        )
    assert exc.value.message_dict == {"new-0-name": [ms.NAME_REQUIRED_MESSAGE]}
    _nothing_saved(patient, med)


def test_another_patients_medicine_or_contact_is_refused(practice, coordinator, patient):
    med = MedicationFactory(patient=patient)
    someone = PatientFactory(practice=practice)
    theirs = MedicationFactory(patient=someone)
    with pytest.raises(ValidationError) as exc:
        _reconcile(practice, coordinator, patient, reviews=[ms.Review(theirs.pk, "stopped")])
    assert exc.value.message_dict == {"medications": [ms.MEDICATION_PATIENT_MESSAGE]}
    contact = CareContactFactory(patient=someone)
    with pytest.raises(ValidationError) as exc:
        _reconcile(
            practice, coordinator, patient, contact=contact, reviews=[ms.Review(med.pk, "stopped")]
        )
    assert exc.value.message_dict == {"contact": [ms.CONTACT_MESSAGE]}
    _nothing_saved(patient, med)


def test_an_empty_reconciliation_or_unknown_party_is_refused(practice, coordinator, patient):
    with pytest.raises(ValidationError) as exc:
        _reconcile(practice, coordinator, patient)
    assert exc.value.messages == [ms.EMPTY_MESSAGE]
    med = MedicationFactory(patient=patient)
    with pytest.raises(ValidationError) as exc:
        _reconcile(
            practice,
            coordinator,
            patient,
            reconciled_with="neighbour",
            reviews=[ms.Review(med.pk, "confirmed")],
        )
    assert exc.value.message_dict == {"reconciled_with": [ms.WITH_MESSAGE]}
