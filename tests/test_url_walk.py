"""Walk every URL pattern (pages and API) as the outsider, a member and an anonymous visitor.

A new endpoint is covered automatically: if it takes an object id, register a sample object
of the victim practice in SAMPLES below, or this test fails and says so.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from billing.models import ApcmPractitionerAttestation, OtherService, OtherServiceImport
from patients.models import Coverage, PatientImport
from tests.factories import (
    ApiTokenFactory,
    CareTransitionFactory,
    ConditionFactory,
    ConsentFactory,
    ContactSummaryFactory,
    MedicationFactory,
    PatientFactory,
    PayerFactory,
    SummaryAttemptFactory,
    TaskFactory,
    TimeEntryFactory,
)

# URL kwarg name → the cast member of the *victim* practice whose id it takes.
SAMPLES = {
    "membership_id": "coordinator",
    "token_id": "token",
    "patient_id": "patient",
    "condition_id": "condition",
    "consent_id": "consent",
    "import_id": "import",
    "entry_id": "entry",
    "task_id": "task",
    "version_id": "version",
    "template_id": "template",
    "claim_id": "claim",
    "other_service_id": "other_service",
    "service_import_id": "service_import",
    "batch_id": "batch",
    "export_id": "prepared_export",
    "acknowledgment_id": "acknowledgment",
    "remittance_id": "remittance",
    "payer_id": "payer",
    "coverage_id": "coverage",
    "transition_id": "transition",
    "contact_id": "contact",
    "permission_id": "permission",
    "window_id": "window",
    "attempt_id": "attempt",
    "summary_id": "summary",
    "medication_id": "medication",
    "attestation_id": "apcm_attestation",
}
# Kwargs that are not tenant object ids (allauth keys, formats): a harmless filler.
NON_OBJECT_KWARGS = {
    "uidb36": "1",
    "key": "x-y",
    "format": "json",
    "type": "totp",
    "pk": "1",
    "section": "goals",
    "month": "2026-10",
    "kind": "practitioner",
}
# Reachable without signing in (login machinery, health, API description).
PUBLIC = re.compile(r"^/(accounts/|healthz|readyz|metrics|api/schema/|api/docs/)")


def _walk(resolvers, prefix=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _kwargs(route: str) -> list[str]:
    return re.findall(r"<(?:\w+:)?(\w+)>", route) + re.findall(r"\(\?P<(\w+)>", route)


def _concrete(route: str, values: dict[str, str]) -> str:
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), path)
    return "/" + path.lstrip("^").rstrip("$").replace("\\", "")


ROUTES = sorted({route for route, _ in _walk(get_resolver().url_patterns)})


@pytest.fixture(autouse=True)
def _nothing_reaches_the_broker():
    # POSTing every URL would queue month closes in a real Redis (CI sets REDIS_URL).
    from unittest import mock

    with mock.patch("billing.close.tasks.month_close.delay") as delay:
        delay.return_value.id = "walk"
        yield


@pytest.fixture
def cast(admin, coordinator, physician, biller, outsider):
    return {
        "admin": admin,
        "coordinator": coordinator,
        "physician": physician,
        "biller": biller,
        "outsider": outsider,
        "token": ApiTokenFactory(membership=admin, name="victim-token-name"),
        "payer": PayerFactory(practice=admin.practice, name="victim-payer-name", kind="medicare"),
        "apcm_attestation": ApcmPractitionerAttestation.objects.for_practice(admin.practice).create(
            practice=admin.practice,
            practitioner=physician,
            statement="victim-attestation",
            attested_on="2026-01-05",
            recorded_by=admin,
        ),
        **_victim_patient(admin),
    }


def _victim_patient(admin):
    patient = PatientFactory(
        practice=admin.practice, first_name="Victoria", last_name="Victimsdottir", mrn="VIC-001"
    )
    return {
        "patient": patient,
        "coverage": Coverage.objects.for_practice(admin.practice).get(patient=patient),
        "medication": MedicationFactory(patient=patient, name="victim-medicine-name"),
        "condition": ConditionFactory(patient=patient),
        "consent": ConsentFactory(patient=patient, obtained_by=admin),
        "import": PatientImport.objects.for_practice(admin.practice).create(
            practice=admin.practice,
            uploaded_by=admin,
            content="MRN,First name,Last name,DOB\nVIC-001,Victoria,Victimsdottir,1950-01-01\n",
            row_count=1,
        ),
        "entry": TimeEntryFactory(patient=patient, performer=admin, note="victim-note"),
        "task": TaskFactory(patient=patient, assignee=admin, title="victim-task-title"),
        "other_service": OtherService.objects.for_practice(admin.practice).create(
            practice=admin.practice,
            patient=patient,
            code="G0556",
            service_on="2026-01-12",
            outside_npi="1234567893",
            note="victim-service-note",
            created_by=admin,
        ),
        "service_import": OtherServiceImport.objects.for_practice(admin.practice).create(
            practice=admin.practice,
            uploaded_by=admin,
            content="mrn,code,service_date,practitioner_npi\nVIC-001,G0556,2026-01-12,1234567893\n",
            row_count=1,
        ),
        **_victim_plan(admin, patient),
        **_victim_careteam(admin, patient),
        **_victim_summary(admin, patient),
    }


def _victim_careteam(admin, patient):
    from tests.factories import CallWindowFactory, CareContactFactory, SharingPermissionFactory

    contact = CareContactFactory(patient=patient, name="victim-contact-name")
    return {
        "contact": contact,
        "permission": SharingPermissionFactory(contact=contact, recorded_by=admin),
        "window": CallWindowFactory(patient=patient),
    }


def _victim_summary(admin, patient):
    attempt = SummaryAttemptFactory(patient=patient, recorded_by=admin)
    summary = ContactSummaryFactory(contact_attempt=attempt, talked_about="victim-summary-text")
    return {"attempt": attempt, "summary": summary}


def _victim_plan(admin, patient):
    from careplans import content
    from careplans.models import CarePlan, CarePlanTemplate, CarePlanVersion

    plan = CarePlan.objects.for_practice(admin.practice).create(
        practice=admin.practice, patient=patient
    )
    version = CarePlanVersion.objects.for_practice(admin.practice).create(
        practice=admin.practice,
        plan=plan,
        patient=patient,
        number=1,
        # Stored content is always the validated shape (members' pages render it).
        content=content.clean({"goals": [{"goal": "victim-plan-goal", "target": "t"}]}),
        created_by=admin,
    )
    template = CarePlanTemplate.objects.for_practice(admin.practice).create(
        practice=admin.practice, name="victim-template", icd10_prefixes="E11"
    )
    claim = _victim_claim(admin, patient)
    return {
        "version": version,
        "template": template,
        "claim": claim,
        "transition": CareTransitionFactory(
            patient=patient, recorded_by=admin, facility="victim-transition-facility"
        ),
        **_victim_batch(admin, claim),
        **_victim_files(admin),
    }


def _victim_batch(admin, claim):
    from billing.models import BatchClaim, PreparedExport, SubmissionBatch

    batch = SubmissionBatch.objects.for_practice(admin.practice).create(
        practice=admin.practice, month=claim.month, control_number=1, usage="P",
        content="ISA*...NM1*IL*1*Victimsdottir*Victoria~", sha256="0" * 64, created_by=admin,
    )  # fmt: skip
    BatchClaim.objects.for_practice(admin.practice).create(
        practice=admin.practice, batch=batch, claim=claim, charge="66.13"
    )
    prepared = PreparedExport.objects.for_practice(admin.practice).create(
        practice=admin.practice, month=claim.month, kind="pdf", requested_by=admin
    )
    return {"batch": batch, "prepared_export": prepared}


def _victim_files(admin):
    from billing.models import Acknowledgment, Remittance

    practice = admin.practice
    ack = Acknowledgment.objects.for_practice(practice).create(
        practice=practice, kind="999", content="ISA", sha256="a" * 64, uploaded_by=admin
    )
    remit = Remittance.objects.for_practice(practice).create(
        practice=practice,
        payer_name="VICTIM PAYER",
        trace_number="T1",
        total_paid="1.00",
        content="ISA",
        sha256="b" * 64,
        uploaded_by=admin,
    )
    return {"acknowledgment": ack, "remittance": remit}


def _victim_claim(admin, patient):
    import datetime as dt

    from billing.models import Claim, MonthClose

    close = MonthClose.objects.for_practice(admin.practice).create(
        practice=admin.practice, month=dt.date(2026, 9, 1), status="closed"
    )
    return Claim.objects.for_practice(admin.practice).create(
        practice=admin.practice,
        close=close,
        patient=patient,
        month=close.month,
        billing_practitioner=admin,
        date_of_service=dt.date(2026, 9, 30),
        place_of_service="11",
        diagnosis_codes=["E11.9"],
        amount="66.13",
    )


def _victim_markers(cast) -> list[bytes]:
    markers = [cast["admin"].practice.name, cast["token"].name, "Victimsdottir", "VIC-001"]
    markers += ["victim-note", "victim-task-title", "victim-plan-goal", "victim-template"]
    markers += ["victim-service-note", "victim-payer-name", "victim-transition-facility"]
    markers += ["victim-contact-name", "victim-summary-text"]
    markers += [cast[r].user.email for r in ("admin", "coordinator", "physician", "biller")]
    return [m.encode() for m in markers]


def _values(names, cast, filler=None):
    """Each URL kwarg's value: the victim's object id, else the non-object filler (or
    `filler` for a kwarg not listed; without it, an unlisted kwarg is a KeyError)."""

    def value(name):
        if name in SAMPLES:
            return cast[SAMPLES[name]].pk
        return NON_OBJECT_KWARGS[name] if filler is None else NON_OBJECT_KWARGS.get(name, filler)

    return {name: value(name) for name in names}


@pytest.mark.parametrize("route", ROUTES)
def test_outsider_never_gets_another_practices_data(route, cast):
    names = _kwargs(route)
    object_kwargs = [n for n in names if n not in NON_OBJECT_KWARGS]
    unknown = [n for n in object_kwargs if n not in SAMPLES]
    assert not unknown, f"register a victim sample for URL kwarg(s) {unknown} of {route}"
    values = _values(names, cast)
    url = _concrete(route, values)
    client = Client()
    client.force_login(cast["outsider"].user)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code < 500, f"{method.upper()} {url}"
        if object_kwargs:
            # 405 (wrong method) is decided before any lookup, so it reveals nothing either.
            assert response.status_code in {404, 405}, f"{method.upper()} {url}"
        assert response.get("Cache-Control") == "no-store", f"{method.upper()} {url}"
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for marker in _victim_markers(cast):
            assert marker not in body, f"{method.upper()} {url} leaks {marker!r}"


@pytest.mark.parametrize("route", ROUTES)
def test_no_answer_to_a_signed_in_member_is_cacheable(route, cast):
    # The practice's own admin sees its patients' data: no browser or proxy may keep a copy.
    names = _kwargs(route)
    values = _values(names, cast, filler="x")
    url = _concrete(route, values)
    client = Client()
    client.force_login(cast["admin"].user)
    response = client.get(url)
    assert response.get("Cache-Control") == "no-store", f"GET {url} ({response.status_code})"


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_visitor_is_sent_to_login_or_refused(route, cast):
    names = _kwargs(route)
    values = _values(names, cast, filler="x")
    url = _concrete(route, values)
    if PUBLIC.match(url) or url == "/":
        pytest.skip("public by design")
    response = Client().get(url)
    if url.startswith("/api/"):
        assert response.status_code in (401, 403), url
    else:
        assert response.status_code in (302, 405), url
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), url
