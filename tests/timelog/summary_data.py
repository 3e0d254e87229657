"""Shared data of the after-contact summary tests (its fixtures are imported by
tests/timelog/conftest.py): a Spanish-speaking enrolled patient with a
reached call on 2026-10-19, a daughter permitted to receive summaries and a son who is not."""

import subprocess

import pytest

from tests.factories import SummaryAttemptFactory, SummaryCaregiverFactory, SummaryPermissionFactory
from tests.timelog.conftest import make_enrolled

GOOD = {
    "talked_about": "Your blood sugar readings this week.",
    "do_now": "Take metformin with breakfast and dinner.",
    "watch_for": "Dizziness or shaking: eat something sweet and call us.",
    "whom_to_call": "Nurse Kim for questions about your medicines.",
    "shared_method": "in_person",
}


@pytest.fixture
def spanish_patient(practice, physician, coordinator):
    patient = make_enrolled(practice, physician, coordinator)
    patient.preferred_language = "Spanish"
    patient.save(update_fields=["preferred_language"])
    return patient


@pytest.fixture
def reached(spanish_patient, coordinator):
    return SummaryAttemptFactory(patient=spanish_patient, recorded_by=coordinator)


@pytest.fixture
def daughter(spanish_patient, coordinator):
    permission = SummaryPermissionFactory(
        contact=SummaryCaregiverFactory(patient=spanish_patient), recorded_by=coordinator
    )
    return permission.contact


@pytest.fixture
def son(spanish_patient):
    return SummaryCaregiverFactory(patient=spanish_patient, name="Luis Diaz", relationship="Son")


def pdf_text(body: bytes, tmp_path) -> str:
    """The PDF's text on one line (lines wrap anywhere in a PDF)."""
    path = tmp_path / "summary.pdf"
    path.write_bytes(body)
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(out.split())


def pdf_pages(body: bytes, tmp_path) -> int:
    path = tmp_path / "pages.pdf"
    path.write_bytes(body)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return int(
        next(line for line in info.stdout.splitlines() if line.startswith("Pages:")).split()[1]
    )
