"""FHIR R4 export of a patient: a `collection` Bundle of Patient, Condition, Consent, Coverage
(patients/coverage_fhir.py) and CarePlan (with its Goals; built in careplans/fhir.py, added
through patients/hooks.py).

Each resource is validated by the fhir.resources R4B models before it leaves; ids are our
UUIDs and references are `urn:uuid:` so the bundle resolves on its own. FHIR strings may not
be empty, so blank fields are left out rather than sent as "".
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.consent import Consent as FhirConsent
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.resource import Resource

from patients.coverage_fhir import coverage_resources
from patients.hooks import fhir_sections
from patients.models import Condition, ConditionStatus, Consent, Patient, Sex

MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
MRN_SYSTEM = "urn:caremonth:practice:{practice_id}:mrn"
IDENTIFIER_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0203"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
CLINICAL_STATUS_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
LOINC_SYSTEM = "http://loinc.org"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
CCM_POLICY_TEXT = "Medicare Chronic Care Management (CCM) services"

GENDER: dict[str, str] = {
    Sex.FEMALE: "female",
    Sex.MALE: "male",
    Sex.OTHER: "other",
    Sex.UNKNOWN: "unknown",
}
# preferred_language is free text; only the common ones get a BCP-47 coding.
LANGUAGES = {
    "english": "en",
    "spanish": "es",
    "chinese": "zh",
    "vietnamese": "vi",
    "tagalog": "tl",
    "arabic": "ar",
    "french": "fr",
    "korean": "ko",
    "russian": "ru",
    "portuguese": "pt",
    "german": "de",
    "haitian creole": "ht",
    "polish": "pl",
    "italian": "it",
    "japanese": "ja",
}


def patient_bundle(patient: Patient) -> dict[str, Any]:
    """The patient's record as a validated FHIR R4 Bundle (JSON-ready dict). No side effects;
    uses the conditions and consents prefetched by `selectors.patient_get`; higher apps add
    their resources as sections (hooks.py: careplans adds the CarePlan and its Goals)."""
    conditions = list(patient.conditions.all())
    resources: list[Resource] = [
        _patient(patient),
        *(_condition(c) for c in conditions),
        *(_consent(c) for c in patient.consents.all()),
        *coverage_resources(patient, patient.practice.today()),
    ]
    for section in fhir_sections:
        resources += section(patient, conditions)
    bundle = Bundle.model_validate(
        {
            "type": "collection",
            "timestamp": timezone.now(),
            "entry": [{"fullUrl": f"urn:uuid:{r.id}", "resource": r} for r in resources],
        }
    )
    return bundle.model_dump(mode="json", exclude_none=True)


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """Drop blank values: FHIR forbids empty strings and empty lists."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _coding(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"coding": [_compact({"system": system, "code": code, "display": display})]}


def _reference(patient_id: Any) -> dict[str, str]:
    return {"reference": f"urn:uuid:{patient_id}"}


def _patient(patient: Patient) -> FhirPatient:
    return FhirPatient.model_validate(
        _compact(
            {
                "id": str(patient.pk),
                "identifier": _identifiers(patient),
                "name": [
                    {"use": "official", "family": patient.last_name, "given": [patient.first_name]}
                ],
                "gender": GENDER.get(patient.sex, "unknown"),
                "birthDate": patient.date_of_birth,
                "telecom": _telecom(patient),
                "address": _address(patient),
                "communication": _communication(patient.preferred_language),
            }
        )
    )


def _identifiers(patient: Patient) -> list[dict[str, Any]]:
    mrn = {
        "use": "usual",
        "type": _coding(IDENTIFIER_TYPE_SYSTEM, "MR", "Medical record number"),
        "system": MRN_SYSTEM.format(practice_id=patient.practice_id),
        "value": patient.mrn,
    }
    if not patient.mbi:
        return [mrn]
    mbi = {
        "type": _coding(IDENTIFIER_TYPE_SYSTEM, "MC", "Patient's Medicare number"),
        "system": MBI_SYSTEM,
        "value": patient.mbi,
    }
    return [mrn, mbi]


def _telecom(patient: Patient) -> list[dict[str, Any]]:
    points = [
        ("phone", patient.phone, 1),
        ("phone", patient.phone_alt, 2),
        ("email", patient.email, 3),
    ]
    return [{"system": s, "value": str(v), "rank": rank} for s, v, rank in points if v]


def _address(patient: Patient) -> list[dict[str, Any]]:
    lines = [line for line in (patient.address_line1, patient.address_line2) if line]
    address = _compact(
        {
            "line": lines,
            "city": patient.city,
            "state": patient.state,
            "postalCode": patient.postal_code,
        }
    )
    return [{"use": "home", **address, "country": "US"}] if address else []


def _communication(language: str) -> list[dict[str, Any]]:
    text = language.strip()
    if not text:
        return []
    code = LANGUAGES.get(text.lower())
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": LANGUAGE_SYSTEM, "code": code, "display": text}]
    return [{"language": concept, "preferred": True}]


def _condition(condition: Condition) -> FhirCondition:
    resolved = condition.status == ConditionStatus.RESOLVED
    return FhirCondition.model_validate(
        _compact(
            {
                "id": str(condition.pk),
                "clinicalStatus": _coding(
                    CLINICAL_STATUS_SYSTEM, condition.status, condition.get_status_display()
                ),
                "category": [
                    _coding(CONDITION_CATEGORY_SYSTEM, "problem-list-item", "Problem List Item")
                ],
                "code": {
                    **_coding(ICD10_SYSTEM, condition.icd10_code, condition.description),
                    "text": condition.description or condition.icd10_code,
                },
                "subject": _reference(condition.patient_id),
                "onsetDateTime": condition.onset_date,
                # con-4: an abatement only goes with an inactive/resolved clinical status.
                "abatementDateTime": condition.resolved_on if resolved else None,
                "recordedDate": condition.created_at,
            }
        )
    )


def _consent(consent: Consent) -> FhirConsent:
    period = _compact({"start": consent.given_on, "end": consent.revocation_effective_on})
    return FhirConsent.model_validate(
        {
            "id": str(consent.pk),
            # A revoked consent is inactive at once; R7 makes it effective at month end,
            # which is the provision period's end.
            "status": "inactive" if consent.is_revoked else "active",
            "scope": _coding(CONSENT_SCOPE_SYSTEM, "treatment", "Treatment"),
            "category": [_coding(LOINC_SYSTEM, "59284-0", "Patient Consent")],
            "patient": _reference(consent.patient_id),
            "dateTime": consent.given_on,
            # ppc-1: a Consent needs a policy or a policy rule.
            "policyRule": {**_coding(ACT_CODE_SYSTEM, "OPTIN", "opt-in"), "text": CCM_POLICY_TEXT},
            "provision": {"type": "permit", "period": period},
        }
    )
