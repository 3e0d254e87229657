"""The API keeps its own OpenAPI contract under fuzzing (schemathesis, every check).

One run of schemathesis's engine, as its command line runs it (probing, examples, coverage with
negative cases, fuzzing, stateful where links exist), over HTTP against pytest-django's live
server (the Django app in this process), with an admin token over seeded data so the ids in
paths, filters and bodies exist. Fixed seed and derandomized generation, no Hypothesis
deadline, time frozen (ticking) at a fixed instant: the same requests every run.
The live server answers from its own threads, so the seeded rows are committed, and pytest-django
flushes the database after the test.

Every check runs with schemathesis's expected statuses (plus 412, below). Two hooks, both narrow
(see `_install_hooks`): a well-formed id in a body names the seeded object, so requests reach
the business logic; and a schema-valid request refused with 400 passes only when every message
of the answer is one of that operation's business rules that JSON Schema cannot state
(`_business_rules`: today's date, stored data, code tables, two parameters compared).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
import time_machine
from django.core.management import call_command
from schemathesis.engine import Status
from schemathesis.engine import events as st_events

from ccm import services as ccm_services
from ccm.models import Membership, Practice
from ccm.tenancy import practice_scope

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 20261014
# Fuzzing examples per operation; with examples and coverage this gives well over 1,000 requests.
FUZZ_EXAMPLES = 10
MIN_REQUESTS = 1_000
# schemathesis's defaults for these two checks (5xx is not_a_server_error's), plus 412: the
# schema's optional If-Match takes any string, and one naming an older version is refused
# (412, documented, nothing saved) before the body is read, as a state conflict (409) is.
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "412", "429", "5xx"]
NEGATIVE_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "412", "415", "422"]
NEGATIVE_STATUSES += ["428", "429", "5xx"]
NOW = dt.datetime(2026, 10, 20, 15, 0, tzinfo=dt.UTC)


def _business_rules() -> dict[str, tuple[str, ...]]:
    """The 400s a schema-valid request may get, per operation: rules JSON Schema cannot state
    because they compare a value with today's date, with stored data (the patient's birth,
    consent or creation date, another patient's MRN) or with a code table, or compare two
    query parameters' values. Each is a real refusal with this exact message (a prefix for
    messages that carry a date); any other 400 of a schema-valid request is still a failure."""
    from billing.facts import services as facts_services
    from billing.remittances import parse as x12_parse
    from billing.setup import rules as setup_rules
    from billing.setup import services as setup_services
    from billing.submissions import services as submissions
    from careplans import transition_services as transitions
    from ccm.validators import NPI_CHECK_MESSAGE
    from patients import coverage_services as coverage
    from patients import medication_services as meds
    from patients import services as patient_services
    from patients import validators as patient_validators
    from timelog import contact_services
    from timelog import services as time_services
    from timelog import summary_services as summaries

    codes = (
        patient_validators.ICD10_UNKNOWN_MESSAGE,  # the ICD-10-CM code table
        patient_validators.ICD10_NOT_BILLABLE_MESSAGE,  # the same table's billable flag
        patient_services.DUPLICATE_CONDITION_MESSAGE,  # "e11.9" and "E119" are one code
    )
    patient = (
        patient_services.DUPLICATE_MRN_MESSAGE,  # another stored patient's MRN
        patient_services.FUTURE_DOB_MESSAGE,  # today
        PHONE_MESSAGE,  # the numbering plan (phonenumbers' metadata), beyond E.164's shape
        *codes,
    )
    time_entry = (
        time_services.FUTURE_MESSAGE,  # now
        # The stored patient: when it was added, its enrollment status and end date.
        time_services.BEFORE_PATIENT_MESSAGE.split("(")[0],
        time_services.AFTER_LEAVING_MESSAGE.split("{")[0],
        time_services.NOT_ENROLLED_MESSAGE,
        time_services.OUTREACH_ENROLLED_MESSAGE,
        time_services.CANDIDATE_ACTIVITY_MESSAGE,
        time_services.RECONCILIATION_MESSAGE,  # a stored reconciliation of this patient
    )
    coverage_create = (
        coverage.PAYER_KIND_MESSAGE.split("{")[0],  # the stored payer's kind
        coverage.PAYER_INACTIVE_MESSAGE,  # the stored payer's state
        coverage.MBI_REQUIRED_MESSAGE,  # the patient's stored MBI (Part B's default)
        coverage.OVERLAP_MESSAGE.split("{")[0],  # the patient's other stored coverage
        coverage.DATES_MESSAGE,  # ends_on compared with starts_on
    )
    # A partial change is checked whole, with the stored coverage's other fields: each rule
    # between fields the create's schema states depends on stored values here.
    coverage_update = (
        *coverage_create,
        coverage.PAYER_REQUIRED_MESSAGE,
        coverage.MEMBER_ID_REQUIRED_MESSAGE,
        coverage.MSP_REQUIRED_MESSAGE,
        coverage.MSP_ONLY_MESSAGE,
        patient_validators.MBI_MESSAGE,  # a member id is an MBI when the stored kind is Part B
    )
    # An X12 file's content: its envelope, kind and the guide pyx12 validates it against.
    x12_file = (
        x12_parse.EMPTY_MESSAGE,
        x12_parse.NOT_TEXT_MESSAGE,
        x12_parse.NOT_X12_MESSAGE,
        x12_parse.UNKNOWN_KIND_MESSAGE.split("{")[0],
        x12_parse.WRONG_KIND_MESSAGE.split("{")[0],
        x12_parse.ONE_SET_MESSAGE.split("{")[0],
        x12_parse.INVALID_MESSAGE.split("{")[0],
    )
    payer_duplicate = setup_services.PAYER_DUPLICATE_MESSAGE.split("{")[0]
    return {
        "billing_acknowledgments_create": x12_file,
        "billing_remittances_create": x12_file,
        # date_to before date_from: JSON Schema does not compare two parameters' values.
        "v1_audit_events_retrieve": ("The end date is before the start date.",),
        "patients_create": patient,
        "patients_partial_update": patient,
        "patients_consent_create": (
            patient_services.CONSENT_FUTURE_MESSAGE,  # today
            patient_services.CONSENT_BEFORE_BIRTH_MESSAGE,  # the stored date of birth
        ),
        "patients_consent_revoke": (
            patient_services.REVOKE_BEFORE_CONSENT_MESSAGE,  # the stored consent date
            patient_services.CONSENT_FUTURE_MESSAGE,  # today
        ),
        "time_entries_create": time_entry,
        "time_entries_partial_update": time_entry,
        "tasks_create": (time_services.TASK_DUE_MESSAGE,),  # within a year from today
        # Completing a call from its start: now, and the stored patient's dates and status.
        "tasks_partial_update": (
            *time_entry,
            time_services.CALL_ENDS_LATER_MESSAGE,
            contact_services.FUTURE_MESSAGE,
        ),
        "patients_contact_attempts_create": (
            contact_services.FUTURE_MESSAGE,  # now
            contact_services.CONTACT_PATIENT_MESSAGE,  # the stored contact's patient
        ),
        "patients_month_facts_update": (facts_services.FUTURE_MONTH_MESSAGE,),  # today's month
        "patients_coverage_create": coverage_create,
        "coverage_partial_update": coverage_update,
        "medications_partial_update": (
            meds.DATES_MESSAGE,  # stops_on compared with the stored starts_on
            meds.STOP_FUTURE_MESSAGE,  # today
        ),
        "patients_medication_reconciliations_create": (
            meds.EMPTY_MESSAGE,  # reviews and additions both empty
            meds.MEDICATION_PATIENT_MESSAGE,  # a stored medicine of this patient
            meds.TWICE_MESSAGE,  # two reviews of one medicine
            meds.CHANGE_NOTHING_MESSAGE,  # the new values compared with the stored ones
            meds.STOPPED_MESSAGE,  # the stored medicine's status
            meds.CONTACT_MESSAGE,  # a stored contact of this patient
        ),
        "patients_other_services_create": (
            facts_services.FUTURE_SERVICE_MESSAGE,  # today
            NPI_CHECK_MESSAGE,  # the NPI's check digit (Luhn)
        ),
        # The stored claim has no payer claim control number of its own to fall back on.
        "billing_claim_correct": (submissions.PAYER_CLAIM_NUMBER_MESSAGE,),
        "billing_claim_void": (submissions.PAYER_CLAIM_NUMBER_MESSAGE,),
        # The billing setup: a PO Box (words in a street), the stored practice NPI, the stored
        # payer's kind and the stored member's role.
        "billing_setup_update": (
            setup_rules.PO_BOX_MESSAGE,
            setup_rules.SUBMITTER_MESSAGE,
            setup_services.MEDICARE_PAYER_MESSAGE,
            setup_services.PRACTITIONER_MESSAGE,
        ),
        "billing_payers_create": (payer_duplicate,),  # another stored payer's id
        "billing_payers_partial_update": (
            payer_duplicate,
            setup_services.PAYER_IN_SETUP_MESSAGE,  # the stored setup names the payer
            setup_services.PAYER_KIND_IN_USE_MESSAGE,  # stored coverage or claims name it
        ),
        # Above 0.00: the decimal's text pattern cannot exclude zero amounts.
        "billing_usual_charges_update": (setup_services.CHARGE_MESSAGE,),
        "patients_transitions_create": (
            transitions.FUTURE_MESSAGE,  # today
            transitions.ADMITTED_AFTER_MESSAGE,  # admitted_on compared with occurred_on
            transitions.ADMITTED_KIND_MESSAGE,  # admitted_on given for a specialist visit
            transitions.DUPLICATE_MESSAGE,  # the patient's stored transitions
            transitions.CONTACT_MESSAGE,  # the stored contact's patient
        ),
        # The file's bytes: its real type and that it is not empty.
        "transitions_document_create": (
            transitions.DOCUMENT_TYPE_MESSAGE,
            transitions.DOCUMENT_EMPTY_MESSAGE,
        ),
        # The stored contact (reached, its day), the stored caregiver and the patient's
        # stored permissions, today; and the number of lines (one printed page).
        "contacts_summaries_create": (
            summaries.NOT_REACHED_MESSAGE,
            summaries.CONTACT_MESSAGE,
            summaries.NOT_PERMITTED_MESSAGE,
            summaries.FUTURE_MESSAGE,
            summaries.BEFORE_CONTACT_MESSAGE.split("(")[0],
            summaries.TOO_MANY_LINES_MESSAGE.split("{")[0],
        ),
        **_careteam_rules(),
        **_apcm_rules(),
    }


def _apcm_rules() -> dict[str, tuple[str, ...]]:
    from billing.setup import apcm_services as apcm

    # Today (a date in a future month) and the stored attestations (one in force at a time).
    attest = (apcm.FUTURE_MESSAGE, apcm.ALREADY_MESSAGE)
    # The stored attestation: already withdrawn, or dated after the withdrawal.
    withdraw = (
        apcm.FUTURE_MESSAGE,
        apcm.WITHDRAWN_MESSAGE,
        apcm.WITHDRAW_BEFORE_MESSAGE.split("(")[0],
    )
    return {
        "billing_apcm_practice_attestations_create": attest,
        # The stored member: an active physician with an NPI.
        "billing_apcm_practitioner_attestations_create": (*attest, apcm.NOT_PRACTITIONER_MESSAGE),
        "billing_apcm_practice_attestations_withdraw": withdraw,
        "billing_apcm_practitioner_attestations_withdraw": withdraw,
    }


def _careteam_rules() -> dict[str, tuple[str, ...]]:
    from patients import careteam_services as team

    # The category compared with the relationship and representative (stored ones on PATCH).
    contact = (team.RELATIONSHIP_MESSAGE, team.REPRESENTATIVE_MESSAGE, PHONE_MESSAGE)
    return {
        "patients_contacts_create": contact,
        "contacts_partial_update": contact,
        "contacts_permissions_create": (
            team.GIVEN_FUTURE_MESSAGE,  # today
            team.UNTIL_MESSAGE,  # two dates compared
            team.INACTIVE_MESSAGE,  # the stored contact's state
        ),
        "permissions_revoke": (
            team.ALREADY_REVOKED_MESSAGE,  # the stored permission's state
            team.REVOKED_BEFORE_MESSAGE,  # its stored date
        ),
        "patients_preferences_update": ("Window ",),  # a window's start and end compared
    }


PHONE_MESSAGE = "The phone number entered is not valid."  # django-phonenumber-field's


def _body_is_schema_valid(case: Any) -> bool:
    """Whether the body sent matches the operation's body schema. The coverage phase labels
    some bodies positive that break a rule between fields (`allOf`/`anyOf`, e.g. both a
    practitioner and an NPI): refusing those is right, not a rejected valid request."""
    import jsonschema_rs
    from schemathesis.core import NotSet

    items = list(case.operation.body.items)
    if not items or case.body is None or isinstance(case.body, NotSet):  # no body sent
        return True
    # Formats asserted too: a coverage-phase body with "0" as an email is not a valid request.
    return any(
        jsonschema_rs.validator_for(item.validation_schema, validate_formats=True).is_valid(
            case.body
        )
        for item in items
    )


def _messages(body: Any) -> list[str]:
    """Every error message of a 400 body ({"field": ["message"]} or {"detail": "..."})."""
    if isinstance(body, str):
        return [body]
    if isinstance(body, list):
        return [m for item in body for m in _messages(item)]
    if isinstance(body, dict):
        return [m for value in body.values() for m in _messages(value)]
    return [str(body)]


def _install_hooks(schema: Any, seeded: dict[str, str]) -> None:
    """Two schema-level hooks. `filter_failure`: a schema-valid request refused with 400 by
    one of the operation's business rules (every message in the answer one of them) is not
    a failure. `map_case`: a well-formed id in a body field names the seeded object, so the
    request reaches the business logic instead of the 404 for an unknown id (which the API
    answers correctly, documented)."""
    import uuid

    from schemathesis.openapi.checks import RejectedPositiveData

    rules = _business_rules()
    ids = {k.split(".", 1)[1]: v for k, v in _parameters(seeded).items() if k.startswith("body.")}

    def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
        allowed = rules.get(case.operation.definition.raw.get("operationId", ""), ())
        if not (isinstance(failure, RejectedPositiveData) and response.status_code == 400):
            return True
        if not _body_is_schema_valid(case):
            return False
        try:
            messages = _messages(response.json())
        except ValueError:
            return True
        return not (messages and all(m.startswith(allowed) for m in messages))

    def map_case(ctx: Any, case: Any) -> Any:
        if isinstance(case.body, dict):
            for name, value in ids.items():
                current = case.body.get(name)
                if isinstance(current, str):
                    try:
                        uuid.UUID(current)
                    except ValueError:
                        continue
                    case.body[name] = value
        return case

    schema.hook("filter_failure")(filter_failure)
    schema.hook("map_case")(map_case)


@pytest.fixture
def _tasks_in_process():
    """Month close queues a task: run it in the request, nothing reaches CI's Redis."""
    from ccm.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def _seed() -> dict[str, str]:
    """Demo practices (patients, time, care plans, tasks, closed months) plus a care plan draft
    and another service; returns an admin token and one id of each kind for the path."""
    from billing.models import Claim, OtherService
    from careplans import services as plan_services
    from careplans.models import CarePlanVersion, CareTransition, VersionStatus
    from patients.models import Coverage, Medication, Patient, Payer, PayerKind
    from patients.models import Status as PatientStatus
    from timelog.models import ContactSummary, Task, TimeEntry

    call_command("seed_demo", "--patients", "12", "--months", "3", verbosity=0)
    practice = Practice.objects.get(slug="demo")
    with practice_scope(practice):
        admin = Membership.objects.get(user__email="admin@demo.test")
        coordinator = Membership.objects.get(user__email="coordinator@demo.test")
        physician = Membership.objects.get(user__email="physician@demo.test")
        _, raw = ccm_services.token_create(
            practice=practice, actor=admin, membership=admin, name="schemathesis"
        )
        patient = Patient.objects.filter(status=PatientStatus.ENROLLED).order_by("mrn").first()
        assert patient is not None
        draft = CarePlanVersion.objects.filter(status=VersionStatus.DRAFT).first()
        if draft is None:
            draft = plan_services.draft_start(practice=practice, actor=coordinator, patient=patient)
        other = OtherService.objects.create(
            practice=practice,
            patient=patient,
            code="99424",
            service_on=dt.date(2026, 9, 3),
            created_by=admin,
        )
        entry = TimeEntry.objects.filter(patient=patient).order_by("-started_at").first()
        task = Task.objects.order_by("due_on", "id").first()
        claim = Claim.objects.order_by("id").first()
        payer = Payer.objects.filter(kind="medicare").order_by("name").first()
        assert payer is not None  # the demo's Medicare contractor (its billing setup)
        coverage = Coverage.objects.filter(patient=patient).order_by("priority").first()
        coverage_payer = Payer.objects.get(kind=PayerKind.MEDICAID)
        transition = CareTransition.objects.order_by("-occurred_on", "id").first()
        assert transition is not None  # the demo's (careplans/transition_demo.py)
        medication = Medication.objects.filter(patient=patient).order_by("name").first()
        assert medication is not None  # the demo's medication list
        assert coverage is not None
        assert entry is not None
        assert task is not None
        assert claim is not None
        team_ids = _careteam_ids(patient)
        summary = ContactSummary.objects.filter(shared_with__isnull=False).first()
        assert summary is not None  # the demo's summary given to a permitted daughter
    return {
        "token": raw,
        "coordinator": str(coordinator.pk),
        "physician": str(physician.pk),
        "patient_id": str(patient.pk),
        "version_id": str(draft.pk),
        "entry_id": str(entry.pk),
        "task_id": str(task.pk),
        "claim_id": str(claim.pk),
        "other_service_id": str(other.pk),
        "payer_id": str(payer.pk),
        "coverage_id": str(coverage.pk),
        "coverage_payer": str(coverage_payer.pk),
        "transition_id": str(transition.pk),
        "medication_id": str(medication.pk),
        **team_ids,
        "attempt_id": str(summary.contact_attempt_id),
        "summary_id": str(summary.pk),
        "summary_caregiver": str(summary.shared_with_id),
    }


def _careteam_ids(patient: Any) -> dict[str, str]:
    from patients.models import CareContact, SharingPermission

    contact = CareContact.objects.filter(patient=patient).order_by("category", "name").first()
    assert contact is not None  # the demo's care team
    permission = SharingPermission.objects.filter(patient=patient).order_by("given_on").first()
    assert permission is not None
    return {"contact_id": str(contact.pk), "permission_id": str(permission.pk)}


def _parameters(seeded: dict[str, str]) -> dict[str, str]:
    """Ids that exist: in the path, in filters and in bodies (a random UUID is a valid UUID but
    names nothing, which the API rightly refuses)."""
    paths = {f"path.{k}": v for k, v in seeded.items() if k.endswith("_id")}
    return {
        **paths,
        "query.patient": seeded["patient_id"],
        "query.user": seeded["coordinator"],
        "query.coordinator": seeded["coordinator"],
        "body.patient": seeded["patient_id"],
        "body.assignee": seeded["coordinator"],
        "body.coordinator": seeded["coordinator"],
        "body.billing_practitioner": seeded["physician"],
        "body.practitioner": seeded["physician"],
        "body.medicare_payer": seeded["payer_id"],
        "body.individual_practitioner": seeded["physician"],
        "body.payer": seeded["coverage_payer"],
        "body.shared_with": seeded["summary_caregiver"],
    }


def _config(seeded: dict[str, str]) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "cache": {"enabled": False},
            "workers": 1,
            "headers": {"Authorization": f"Bearer {seeded['token']}"},
            "parameters": _parameters(seeded),
            "checks": {
                "positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES},
                "negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES},
            },
            "generation": {
                "deterministic": True,
                "database": "none",
                "max-examples": FUZZ_EXAMPLES,
            },
        }
    )


def _example(interaction: Any, case: Any) -> str:
    """One failing exchange, short: what was sent and what came back."""
    if interaction is None:
        return "(no request recorded)"
    request, response = interaction.request, interaction.response
    sent = (request.body or b"")[:300].decode("utf-8", "replace")
    meta = getattr(case, "meta", None)
    if meta is not None:
        sent += f" [{meta.generation.mode.value}: {repr(meta.phase.data)[:200]}]"
    answer = "(no response)"
    if response is not None:
        answer = f"{response.status_code} {response.content[:300].decode('utf-8', 'replace')}"
    return f"{request.method} {request.uri} {sent} -> {answer}"


PHASE_REQUESTS: Counter[str] = Counter()


def _answer(interaction: Any) -> str:
    """What distinguishes one failure from another: the status and the error messages."""
    response = getattr(interaction, "response", None)
    if response is None:
        return "(no response)"
    try:
        messages = sorted(set(_messages(json.loads(response.content))))
    except ValueError:
        messages = []
    return f"{response.status_code} {'; '.join(messages)[:200]}"


def _run(schema: Any) -> tuple[int, dict[str, str], list[str]]:
    """Run every phase; returns (requests sent, failures, errors): each distinct failure as a
    readable line with one example exchange."""
    requests = 0
    failures: dict[str, str] = {}
    errors: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, st_events.ScenarioFinished):
            requests += len(event.recorder.interactions)
            for case_id in event.recorder.interactions:
                meta = event.recorder.cases[case_id].value.meta
                mode = meta.generation.mode.value if meta is not None else "-"
                PHASE_REQUESTS[f"{event.phase.value} {mode}"] += 1
            for case_id, checks in event.recorder.checks.items():
                case = event.recorder.cases[case_id].value
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        title = check.failure_info.failure.title
                        interaction = event.recorder.interactions.get(case_id)
                        answer = _answer(interaction)
                        line = f"{check.name}: {case.method} {case.path}: {title}: {answer}"
                        failures.setdefault(line, _example(interaction, case))
        elif isinstance(event, st_events.NonFatalError | st_events.FatalError):
            errors.append(repr(event))
    return requests, failures, errors


@pytest.mark.usefixtures("_tasks_in_process")
def test_api_keeps_its_contract_under_schemathesis(live_server):
    with time_machine.travel(NOW, tick=True):
        seeded = _seed()
        schema = schemathesis.openapi.from_url(
            f"{live_server.url}/api/schema/?format=json", config=_config(seeded)
        )
        _install_hooks(schema, seeded)
        requests, failures, errors = _run(schema)
    by_check = Counter(line.split(":", 1)[0] for line in failures)
    print(f"schemathesis: {requests} requests {dict(PHASE_REQUESTS)}, {len(failures)} failures")
    print(dict(by_check))
    assert requests >= MIN_REQUESTS
    assert not errors, "\n".join(errors)
    assert not failures, "\n".join(f"{line}\n    {failures[line]}" for line in sorted(failures))
