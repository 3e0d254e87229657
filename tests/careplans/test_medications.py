"""The care plan's medication section reads the chart's list and latest reconciliation (no
second copy): a draft shows them live and read-only; signing keeps them as they were."""

import datetime as dt

import pytest

from careplans import chart_sections, content, services
from careplans.pdf import render_pdf
from patients import medication_services as ms
from patients.models import Medication
from tests.factories import PASSWORD, MedicationFactory, MedicationReconciliationFactory

pytestmark = pytest.mark.usefixtures("scoped", "frozen")


def test_a_draft_reads_the_chart_and_ignores_edited_rows(practice, coordinator, draft):
    services.draft_update(
        practice=practice,
        actor=coordinator,
        version=draft,
        data={"medications": [{"name": "Typed in", "dose": "1"}], "caregiver": "x"},
    )
    draft.refresh_from_db()
    assert draft.content["medications"] == []
    current = chart_sections.content_of(draft)
    assert current["medications"] == [
        {
            "name": "Metformin 500 mg tablet",
            "dose": "1 tablet, by mouth, twice daily",
            "instructions": "",
        }
    ]
    assert current["medications_reconciled_on"] == "2026-10-02"


def test_signing_snapshots_the_list_and_later_changes_do_not_touch_it(
    practice, coordinator, physician, complete_draft
):
    MedicationFactory(patient=complete_draft.patient, name="Lisinopril 10 mg", dose="10 mg")
    signed = services.version_sign(
        practice=practice, actor=physician, version=complete_draft, password=PASSWORD
    )
    names = [row["name"] for row in signed.content["medications"]]
    assert names == ["Lisinopril 10 mg", "Metformin 500 mg tablet"]
    assert signed.content_sha256 == content.digest(signed.content)
    lisinopril = Medication.objects.get(name="Lisinopril 10 mg")
    ms.medication_stop(practice=practice, actor=coordinator, medication=lisinopril)
    MedicationReconciliationFactory(
        patient=signed.patient,
        performed_by=coordinator,
        reconciled_at=dt.datetime(2026, 10, 9, tzinfo=dt.UTC),
    )
    signed.refresh_from_db()
    assert chart_sections.content_of(signed)["medications_reconciled_on"] == "2026-10-02"
    assert len(chart_sections.content_of(signed)["medications"]) == 2
    # A revision starts from the chart again.
    draft = services.draft_start(practice=practice, actor=coordinator, patient=signed.patient)
    live = chart_sections.content_of(draft)
    assert [row["name"] for row in live["medications"]] == ["Metformin 500 mg tablet"]
    assert live["medications_reconciled_on"] == "2026-10-09"


def test_the_signed_pdf_lists_the_medicines_as_signed(practice, signed):
    html_sections = dict(content.sections(signed.content))
    assert html_sections["Medications"] == [
        "Metformin 500 mg tablet — 1 tablet, by mouth, twice daily"
    ]
    assert render_pdf(practice=practice, version=signed)[:4] == b"%PDF"


def test_the_editor_shows_the_list_read_only_with_a_link(coordinator_client, draft):
    page = coordinator_client.get(f"/care-plans/{draft.pk}/edit/").content.decode()
    assert "Metformin 500 mg tablet" in page
    assert f"/patients/{draft.patient_id}/medications/reconcile/" in page
    assert 'name="medications_reconciled_on"' not in page
    assert coordinator_client.get(f"/care-plans/{draft.pk}/row/medications/").status_code == 404
