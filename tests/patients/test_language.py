"""The patient's document language (patients/language.py) and the committed Spanish
catalogue: the compiled django.mo must match django.po, with every message translated."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from patients.language import language_locale, patient_locale
from tests.factories import PatientFactory

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"


@pytest.mark.parametrize(
    ("written", "locale"),
    [
        ("Spanish", "es"),
        ("spanish", "es"),
        ("Español", "es"),
        ("ESPAÑOL", "es"),
        ("es", "es"),
        ("es-MX", "es"),
        (" Spanish (Mexico) ", "es"),
        ("English", "en"),
        ("", "en"),
        ("Chinese", "en"),
        ("Estonian", "en"),
    ],
)
def test_free_text_language_maps_to_a_document_locale(written, locale):
    assert language_locale(written) == locale


def test_a_spanish_speaking_patient_gets_spanish_documents(practice):
    assert patient_locale(PatientFactory(practice=practice, preferred_language="Español")) == "es"
    assert patient_locale(PatientFactory(practice=practice, preferred_language="English")) == "en"


def test_the_document_languages_are_settings_languages():
    assert {code for code, _ in settings.LANGUAGES} == {"en", "es"}


def _catalogue(mo: Path) -> dict[object, str]:
    with mo.open("rb") as handle:
        messages = dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
    messages.pop("", None)  # the header
    return messages


def test_the_committed_mo_is_compiled_from_the_po(tmp_path):
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "install gettext (msgfmt): the catalogue check compiles django.po"
    fresh = tmp_path / "django.mo"
    subprocess.run(
        [msgfmt, "--check-format", "-o", str(fresh), str(CATALOGUE / "django.po")], check=True
    )
    assert _catalogue(CATALOGUE / "django.mo") == _catalogue(fresh), (
        "locale/es/LC_MESSAGES/django.mo is out of date: run manage.py compilemessages"
    )


def test_every_message_of_the_po_is_translated():
    po = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    msgids = len(re.findall(r"^msgid ", po, flags=re.MULTILINE)) - 1  # less the header
    assert "#, fuzzy" not in po
    assert len(_catalogue(CATALOGUE / "django.mo")) == msgids


def test_spanish_renders_from_the_catalogue():
    with translation.override("es"):
        assert translation.gettext("Your care plan") == "Su plan de atención"
    assert translation.gettext("Your care plan") == "Your care plan"


def _spanish(patient, language="Spanish"):
    patient.preferred_language = language
    patient.save(update_fields=["preferred_language"])
    return patient


def test_a_spanish_speaking_patient_gets_the_consent_script_in_spanish(coordinator_client, patient):
    _spanish(patient, "Español")
    page = coordinator_client.get(f"/patients/{patient.pk}/consent/").content.decode()
    assert 'lang="es"' in page
    assert "Costo compartido." in page
    assert "Solo un profesional puede brindarle" in page
    assert "end of that calendar month" not in page
    # The page around the script stays English (the UI is not translated).
    assert "Record consent" in page


def test_an_english_speaking_patient_gets_the_consent_script_in_english(
    coordinator_client, patient
):
    page = coordinator_client.get(f"/patients/{patient.pk}/consent/").content.decode()
    assert "Cost sharing." in page
    assert "end of that calendar month" in page
    assert "Costo compartido" not in page
