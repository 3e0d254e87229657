"""The care plan's care team and caregiver sections read the chart's contacts: the editor
shows them (not editable) with a link to the chart; signing records them in the version's
content, which the PDF prints; later chart changes leave the signed version alone."""

import subprocess

import pytest

from careplans import services
from ccm.tenancy import practice_scope
from tests.careplans.conftest import COMPLETE
from tests.factories import PASSWORD, PractitionerContactFactory, SharingPermissionFactory

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def contacts(patient, coordinator):
    cardiologist = PractitionerContactFactory(patient=patient)
    daughter = PractitionerContactFactory(
        patient=patient,
        category="caregiver",
        name="Maria Lovelace",
        role="",
        organisation="",
        relationship="Daughter",
        is_representative=True,
    )
    SharingPermissionFactory(contact=daughter, recorded_by=coordinator)
    return cardiologist, daughter


def test_the_editor_shows_the_chart_contacts_read_only(coordinator_client, draft, contacts):
    page = coordinator_client.get(f"/care-plans/{draft.pk}/edit/").content.decode()
    assert "Dr. Ana Ruiz</strong> · Cardiologist · Heart Associates" in page
    assert "Maria Lovelace</strong> · Daughter (representative)" in page
    assert "May share: Everything about my care" in page
    assert f"/patients/{draft.patient_id}/#care-team" in page
    assert 'name="coordination-' not in page  # no editable copy
    assert coordinator_client.get(f"/care-plans/{draft.pk}/row/coordination/").status_code == 404


def test_signing_records_the_care_team_and_the_pdf_prints_it(
    practice, coordinator, physician, coordinator_client, draft, contacts, tmp_path
):
    with practice_scope(practice):
        draft = services.draft_update(
            practice=practice,
            actor=coordinator,
            version=draft,
            data={**COMPLETE, "coordination": []},
        )
        PractitionerContactFactory(
            patient=draft.patient, category="pharmacy", name="Main St Pharmacy", role=""
        )
        signed = services.version_sign(
            practice=practice, actor=physician, version=draft, password=PASSWORD
        )
    names = [row["name"] for row in signed.content["coordination"]]
    assert sorted(names) == ["Dr. Ana Ruiz", "Main St Pharmacy"]  # the pharmacy added later too
    assert signed.content["caregivers"][0]["relationship"] == "Daughter (representative)"
    contacts[0].is_active = False
    contacts[0].save()
    signed.refresh_from_db()
    assert len(signed.content["coordination"]) == 2  # the signed version keeps its record
    pdf = coordinator_client.get(f"/care-plans/{signed.pk}/pdf/")
    path = tmp_path / "plan.pdf"
    path.write_bytes(pdf.content)
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    text = " ".join(out.split())
    assert "Caregivers and family" in text
    assert "Maria Lovelace" in text
    assert "Dr. Ana Ruiz" in text
