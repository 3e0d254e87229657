"""The language of patient-facing documents (consent script, the patient's copy of the care
plan, after-contact summaries). The UI stays English; these render inside
`translation.override(patient_locale(patient))` from the catalogues in locale/."""

from __future__ import annotations

import unicodedata

from patients.models import Patient

ENGLISH = "en"
SPANISH = "es"
# preferred_language is free text: the spellings that mean Spanish (accents and case ignored).
_SPANISH_NAMES = frozenset({"es", "spanish", "espanol", "castellano", "spa"})


def _plain(text: str) -> str:
    """Lower case without accents or surrounding spaces ("Español " -> "espanol")."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def language_locale(language: str) -> str:
    """The document language for a free-text language name: "es" for Spanish, else "en"."""
    plain = _plain(language or "")
    # "es-MX", "Spanish (Mexico)": the first word decides.
    first = plain.replace("-", " ").replace("_", " ").replace("(", " ").split()
    return SPANISH if first and first[0] in _SPANISH_NAMES else ENGLISH


def patient_locale(patient: Patient) -> str:
    """The language the patient's documents are written in: "es" or "en"."""
    return language_locale(patient.preferred_language)
