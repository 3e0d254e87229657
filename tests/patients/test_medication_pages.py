"""The chart's medication list and its pages: add, edit, stop, reconcile. Who may see and
write, refusals shown on the form with nothing saved, a fixed query count for the panel."""

import datetime as dt

import pytest

from patients import medication_services as ms
from patients import medication_views as mv
from patients.medication_panels import medication_panel
from patients.models import Medication, MedicationChange, MedicationReconciliation
from tests.factories import CareContactFactory, MedicationFactory, PatientFactory
from tests.helpers import assert_form_error, frozen_clock
from tests.patients.conftest import NOW

_frozen_clock = frozen_clock(NOW, autouse=True)
pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(practice):
    return PatientFactory(practice=practice, mrn="MED-1")


def base(patient):
    return f"/patients/{patient.pk}/medications/"


def test_chart_lists_active_and_stopped_medicines(coordinator_client, patient):
    MedicationFactory(patient=patient, name="Metformin 500 mg", rxnorm_code="860975")
    MedicationFactory(
        patient=patient, name="Glipizide 5 mg", status="stopped", stops_on=dt.date(2026, 9, 1)
    )
    page = coordinator_client.get(f"/patients/{patient.pk}/").content.decode()
    assert 'id="medications"' in page
    assert "Metformin 500 mg" in page
    assert "860975" in page
    assert "Stopped 2026-09-01" in page
    assert "Never reconciled" in page
    assert f"{base(patient)}reconcile/" in page


def test_biller_sees_the_list_without_edit_links(biller_client, patient):
    MedicationFactory(patient=patient, name="Metformin 500 mg")
    page = biller_client.get(f"/patients/{patient.pk}/").content.decode()
    assert "Metformin 500 mg" in page
    assert f"{base(patient)}reconcile/" not in page


def test_add_page_adds_a_medicine(coordinator_client, patient):
    assert coordinator_client.get(f"{base(patient)}new/").status_code == 200
    response = coordinator_client.post(
        f"{base(patient)}new/",
        {"name": "Lisinopril 10 mg", "rxnorm_code": "314076", "dose": "1 tablet", "source": "ehr"},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#medications")
    assert Medication.objects.unscoped().get(patient=patient).rxnorm_code == "314076"


def test_add_page_bad_input_is_400_and_saves_nothing(coordinator_client, patient):
    response = coordinator_client.post(
        f"{base(patient)}new/", {"name": "Lisinopril", "rxnorm_code": "abc", "source": "ehr"}
    )
    assert_form_error(response, "An RxNorm code is digits only.")
    assert not Medication.objects.unscoped().filter(patient=patient).exists()


def test_edit_page_changes_the_dose(coordinator_client, patient):
    med = MedicationFactory(patient=patient)
    url = f"{base(patient)}{med.pk}/edit/"
    form = coordinator_client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["dose"] = "2 tablets"
    assert coordinator_client.post(url, data).status_code == 302
    med.refresh_from_db()
    assert med.dose == "2 tablets"


def test_stop_page_needs_its_confirmation(coordinator_client, patient):
    med = MedicationFactory(patient=patient)
    url = f"{base(patient)}{med.pk}/stop/"
    assert coordinator_client.post(url, {"stops_on": "2026-11-19"}).status_code == 200
    med.refresh_from_db()
    assert med.status == "active"
    response = coordinator_client.post(url, {"stops_on": "2026-11-19", "confirm": "yes"})
    assert response.status_code == 302
    med.refresh_from_db()
    assert (med.status, med.stops_on) == ("stopped", dt.date(2026, 11, 19))


def _reconcile_data(meds, **extra):
    data = {"reconciled_with": "patient", "sources": "pill bottles"}
    for med in meds:
        data[f"{med.pk}-action"] = "confirmed"
        for name in ms.CHANGEABLE_FIELDS:
            data[f"{med.pk}-{name}"] = getattr(med, name)
    for i in range(3):
        data[f"new-{i}-source"] = "patient"
    return {**data, **extra}


def test_reconcile_page_records_and_applies_the_changes(coordinator_client, patient):
    lisinopril = MedicationFactory(patient=patient, name="Lisinopril 10 mg", dose="10 mg")
    furosemide = MedicationFactory(patient=patient, name="Furosemide 40 mg")
    daughter = CareContactFactory(patient=patient, name="Maria Lopez")
    url = f"{base(patient)}reconcile/"
    page = coordinator_client.get(url)
    assert page.status_code == 200
    assert "Maria Lopez" in page.content.decode()
    data = _reconcile_data(
        [lisinopril, furosemide],
        reconciled_with="caregiver",
        contact=str(daughter.pk),
        discrepancies="Dose differs from the discharge list.",
        **{
            f"{lisinopril.pk}-action": "changed",
            f"{lisinopril.pk}-dose": "20 mg",
            f"{furosemide.pk}-action": "stopped",
            "new-0-name": "Amlodipine 5 mg",
            "new-0-rxnorm_code": "197361",
            "new-0-source": "discharge",
        },
    )
    response = coordinator_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rec = MedicationReconciliation.objects.unscoped().get(patient=patient)
    assert rec.contact == daughter
    assert MedicationChange.objects.unscoped().filter(reconciliation=rec).count() == 3
    chart = coordinator_client.get(f"/patients/{patient.pk}/").content.decode()
    assert "Reconciliation history" in chart
    assert "dose 10 mg → 20 mg" in chart
    assert "Dose differs from the discharge list." in chart
    assert "Amlodipine 5 mg" in chart


def test_reconcile_page_refusal_is_400_and_saves_nothing(coordinator_client, patient):
    med = MedicationFactory(patient=patient)
    url = f"{base(patient)}reconcile/"
    response = coordinator_client.post(
        url, _reconcile_data([med], **{f"{med.pk}-action": "changed"})
    )
    assert_form_error(response, ms.CHANGE_NOTHING_MESSAGE)
    assert not MedicationReconciliation.objects.unscoped().exists()
    response = coordinator_client.post(
        url, _reconcile_data([med], **{"new-1-dose": "5 mg", f"{med.pk}-action": "stopped"})
    )
    assert_form_error(response, ms.NAME_REQUIRED_MESSAGE)
    med.refresh_from_db()
    assert med.status == "active"


@pytest.mark.parametrize("path", ["new/", "reconcile/", "{med}/edit/", "{med}/stop/"])
def test_outsider_gets_404_and_biller_403(outsider_client, biller_client, patient, path):
    med = MedicationFactory(patient=patient)
    url = base(patient) + path.format(med=med.pk)
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.post(url, {"confirm": "yes"}).status_code == 404
    assert biller_client.get(url).status_code == 403
    assert biller_client.post(url, {"confirm": "yes"}).status_code == 403
    med.refresh_from_db()
    assert med.status == "active"


def test_another_patients_medicine_is_404(coordinator_client, patient, practice):
    theirs = MedicationFactory(patient=PatientFactory(practice=practice))
    assert coordinator_client.get(f"{base(patient)}{theirs.pk}/edit/").status_code == 404


def test_messages_name_no_medicine():
    for message in (mv.ADDED_MESSAGE, mv.SAVED_MESSAGE, mv.STOPPED_MESSAGE):
        assert "Metformin" not in message


def test_the_panel_query_count_does_not_grow_with_rows(
    rf, coordinator, patient, scope, django_assert_num_queries
):
    request = rf.get("/")
    request.practice, request.membership = coordinator.practice, coordinator

    def count() -> None:
        # The list, the reconciliations (with who and the contact), their changes.
        with django_assert_num_queries(3):
            panel = medication_panel(request, patient, {})
            for rec in panel["reconciliations"]:
                for change in rec.changes.all():
                    assert change.medication.name
                assert rec.performed_by.user.email

    meds = [MedicationFactory(patient=patient, name=f"Medicine {i}") for i in range(3)]
    ms.medication_reconcile(
        practice=coordinator.practice,
        actor=coordinator,
        patient=patient,
        reconciled_with="patient",
        reviews=[ms.Review(m.pk, "confirmed") for m in meds],
    )
    count()
    more = [MedicationFactory(patient=patient, name=f"More {i}") for i in range(4)]
    for _ in range(3):
        ms.medication_reconcile(
            practice=coordinator.practice,
            actor=coordinator,
            patient=patient,
            reconciled_with="pharmacy",
            reviews=[ms.Review(m.pk, "confirmed") for m in [*meds, *more]],
        )
    count()
