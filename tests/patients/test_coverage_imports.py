"""The patient CSV import's coverage columns: checked with the coverage rules (errors name the
column), created when applied, audited, left alone when already on record."""

import datetime as dt

import pytest

from ccm.models import AuditEvent
from patients import imports
from patients.coverage_services import (
    MBI_REQUIRED_MESSAGE,
    MSP_CHOICE_MESSAGE,
    MSP_REQUIRED_MESSAGE,
)
from patients.models import Coverage, Patient
from tests.factories import PatientFactory
from tests.patients.coverage_data import payers

pytestmark = pytest.mark.usefixtures("scope")
HEADER = (
    "MRN,First name,Last name,DOB,MBI,coverage_kind,payer_id,member_id,msp_type,"
    "coverage_start,secondary_kind,secondary_payer_id,secondary_member_id"
)


@pytest.fixture
def by_kind(practice):
    return payers(practice)


def _csv(*rows):
    return "\n".join([HEADER, *rows]) + "\n"


def _preview(practice, actor, *rows):
    return imports.import_preview(practice=practice, actor=actor, content=_csv(*rows))


def _errors(record):
    return {(e["row"], e["field"]): e["message"] for e in record.errors}


def test_rows_with_coverage_create_it_when_applied(practice, coordinator, by_kind):
    record = _preview(
        practice,
        coordinator,
        "C-1,Ada,Lovelace,1948-05-17,1EG4TE5MK73,part_b,,,,2020-01-01,medigap,71412,MG-1",
        "C-2,Alan,Turing,1942-06-23,,medicare_advantage,61101,H-22,,01/01/2026,qmb,,",
        "C-3,Grace,Hopper,1946-12-09,,other_primary,87726,EMP-3,12,2025-07-01,,,",
        "C-4,Edsger,Dijkstra,1930-05-11,,,,,,,,,",
    )
    assert record.errors == []
    imports.import_apply(practice=practice, actor=coordinator, patient_import=record)
    found = {
        (c.patient.mrn, c.priority): c for c in Coverage.objects.select_related("patient", "payer")
    }
    assert set(found) == {
        ("C-1", "primary"),
        ("C-1", "secondary"),
        ("C-2", "primary"),
        ("C-2", "secondary"),
        ("C-3", "primary"),
    }
    part_b = found[("C-1", "primary")]
    assert (part_b.kind, part_b.member_id, part_b.payer) == ("part_b", "1EG4TE5MK73", None)
    assert part_b.starts_on == dt.date(2020, 1, 1)
    assert found[("C-1", "secondary")].payer == by_kind["medigap"]
    assert found[("C-2", "primary")].starts_on == dt.date(2026, 1, 1)
    assert found[("C-3", "primary")].msp_type == "12"
    assert found[("C-2", "primary")].created_by == coordinator
    events = AuditEvent.objects.filter(action="coverage.import_create")
    assert events.count() == 5
    assert {e.patient_id for e in events} == set(
        Patient.objects.filter(mrn__in=["C-1", "C-2", "C-3"]).values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        (",61101,,,2020-01-01,,,", "coverage_kind", "Give the coverage kind for this payer id"),
        ("medicaid,,,,2020-01-01,,,", "coverage_kind", "Use one of: part_b"),
        ("part_b,,,,,,,", "coverage_start", "This field is required."),
        ("part_b,,,,2020-13-01,,,", "coverage_start", "Enter the coverage start date"),
        ("part_b,,,,2020-01-01,,,", "member_id", MBI_REQUIRED_MESSAGE),
        ("medicare_advantage,99999,H,,2020-01-01,,,", "payer_id", "No active payer"),
        ("medicare_advantage,71412,H,,2020-01-01,,,", "payer_id", "No active payer"),
        ("medicare_advantage,61101,,,2020-01-01,,,", "member_id", "Enter the member id"),
        ("other_primary,87726,E,,2020-01-01,,,", "msp_type", MSP_REQUIRED_MESSAGE),
        ("other_primary,87726,E,99,2020-01-01,,,", "msp_type", MSP_CHOICE_MESSAGE),
        ("part_b,,1EG4TE5MK73,,2020-01-01,medigap,,", "secondary_kind", "Give the coverage"),
        ("part_b,,1EG4TE5MK73,,2020-01-01,medigap,71412,", "secondary_member_id", "Enter"),
        ("part_b,,1EG4TE5MK73,,2020-01-01,part_b,,", "secondary_kind", "Use one of: medicaid"),
    ],
)
def test_a_bad_coverage_cell_is_a_row_error_naming_its_column(
    practice, coordinator, by_kind, row, column, message
):
    cells = row.split(",")
    if column == "secondary_kind" and cells[5] == "medigap" and not cells[6]:
        cells = [*cells[:5], "", "", "MG-1"]  # a member id but no kind
        cells[5] = ""
    line = "C-9,Ada,Lovelace,1948-05-17,," + ",".join(cells)
    record = _preview(practice, coordinator, line)
    assert list(_errors(record)) == [(1, column)]
    assert _errors(record)[(1, column)].startswith(message)
    with pytest.raises(Exception):  # noqa: B017, PT011 (nothing valid to import)
        imports.import_apply(practice=practice, actor=coordinator, patient_import=record)
    assert not Coverage.objects.exists()


def test_an_existing_patients_coverage_on_record_is_left_alone_and_a_clash_refused(
    practice, coordinator, by_kind
):
    patient = PatientFactory(practice=practice, mrn="C-1", mbi="1EG4TE5MK73")  # Part B, 2000
    same = "C-1,Ada,Lovelace,1948-05-17,,part_b,,,,2020-01-01,medicaid,610442,MC-1"
    record = _preview(practice, coordinator, same)
    assert record.errors == []
    imports.import_apply(practice=practice, actor=coordinator, patient_import=record)
    kinds = sorted(Coverage.objects.filter(patient=patient).values_list("kind", flat=True))
    assert kinds == ["medicaid", "part_b"]
    again = _preview(practice, coordinator, same)
    assert again.errors == []
    imports.import_apply(practice=practice, actor=coordinator, patient_import=again)
    assert Coverage.objects.filter(patient=patient).count() == 2
    clash = "C-1,Ada,Lovelace,1948-05-17,,medicare_advantage,61101,H-1,,2026-01-01,,,"
    errors = _errors(_preview(practice, coordinator, clash))
    assert list(errors) == [(1, "coverage_kind")]
    assert "primary Medicare Part B coverage from 2000-01-01" in errors[(1, "coverage_kind")]


def test_the_upload_page_documents_the_coverage_columns(coordinator_client):
    page = coordinator_client.get("/patients/import/").content.decode()
    assert "Coverage kind" in page
    assert "Secondary kind" in page
