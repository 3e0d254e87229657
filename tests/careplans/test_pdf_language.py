"""The patient's copy of the care plan in the patient's language: the fixed text (headings,
labels, explanations) translated; what the care team wrote stays as written."""

import subprocess

import pytest

from careplans import pdf
from ccm.tenancy import practice_scope

pytestmark = pytest.mark.usefixtures("frozen")


def _text(body: bytes, tmp_path) -> str:
    path = tmp_path / "plan.pdf"
    path.write_bytes(body)
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(out.split())  # lines wrap anywhere in a PDF


def test_a_spanish_speaking_patients_copy_is_in_spanish(
    practice, coordinator_client, signed, tmp_path
):
    signed.patient.preferred_language = "Spanish"
    signed.patient.save(update_fields=["preferred_language"])
    text = _text(coordinator_client.get(f"/care-plans/{signed.pk}/pdf/").content, tmp_path)
    assert "Su plan de atención" in text
    assert "Mis objetivos" in text
    assert "Manejo de los síntomas" in text
    assert "24 horas del día" in text
    assert "Lower HbA1c" in text  # the care team's words are not translated
    assert "Your care plan" not in text
    assert "Symptom management" not in text


def test_an_english_speaking_patients_copy_is_in_english(practice, signed, tmp_path):
    with practice_scope(practice):
        text = _text(pdf.render_pdf(practice=practice, version=signed), tmp_path)
    assert "Your care plan" in text
    assert "Symptom management" in text
    assert "Su plan de atención" not in text


def test_the_goals_are_listed_once_in_either_language(practice, signed, tmp_path):
    signed.patient.preferred_language = "es"
    with practice_scope(practice):
        text = _text(pdf.render_pdf(practice=practice, version=signed), tmp_path)
    assert text.count("Lower HbA1c") == 1
    assert "Objetivos medibles" not in text


def test_the_copy_gives_the_24_7_number_when_the_practice_has_one(practice, signed, tmp_path):
    practice.phone, practice.after_hours_phone = "(217) 555-0100", "(217) 555-0199"
    with practice_scope(practice):
        text = _text(pdf.render_pdf(practice=practice, version=signed), tmp_path)
    assert "(217) 555-0199" in text
