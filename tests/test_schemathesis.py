"""The API keeps its own OpenAPI contract under fuzzing (schemathesis, every check).

One run of schemathesis's engine, as its command line runs it (probing, examples, coverage with
negative cases, fuzzing, stateful where links exist), over HTTP against pytest-django's live
server (the Django app in this process), with an admin token over seeded data so the ids in
paths, filters and bodies exist. Fixed seed and derandomized generation, no Hypothesis
deadline, time frozen (ticking) at a fixed instant: the same requests every run.
The live server answers from its own threads, so the seeded rows are committed, and pytest-django
flushes the database after the test.
"""

from __future__ import annotations

import datetime as dt
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
    from careplans.models import CarePlanVersion, VersionStatus
    from patients.models import Patient
    from patients.models import Status as PatientStatus
    from timelog.models import Task, TimeEntry

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
        assert entry is not None
        assert task is not None
        assert claim is not None
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
    }


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


def _example(interaction: Any) -> str:
    """One failing exchange, short: what was sent and what came back."""
    if interaction is None:
        return "(no request recorded)"
    request, response = interaction.request, interaction.response
    sent = (request.body or b"")[:300].decode("utf-8", "replace")
    answer = "(no response)"
    if response is not None:
        answer = f"{response.status_code} {response.content[:300].decode('utf-8', 'replace')}"
    return f"{request.method} {request.uri} {sent} -> {answer}"


def _run(schema: Any) -> tuple[int, dict[str, str], list[str]]:
    """Run every phase; returns (requests sent, failures, errors): each distinct failure as a
    readable line with one example exchange."""
    requests = 0
    failures: dict[str, str] = {}
    errors: list[str] = []
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, st_events.ScenarioFinished):
            requests += len(event.recorder.interactions)
            for case_id, checks in event.recorder.checks.items():
                case = event.recorder.cases[case_id].value
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        title = check.failure_info.failure.title
                        line = f"{check.name}: {case.method} {case.path}: {title}"
                        example = _example(event.recorder.interactions.get(case_id))
                        failures.setdefault(line, example)
        elif isinstance(event, st_events.NonFatalError | st_events.FatalError):
            errors.append(repr(event))
    return requests, failures, errors


# Strict: the day the last finding is fixed, this marker must go (XPASS fails the run).
@pytest.mark.xfail(
    strict=True,
    reason="Open findings of issue 14 point 9 (15, all positive_data_acceptance): PATCH bodies "
    "the view validates whole (care plan, claim) documented as partial; ids in bodies that "
    "schemathesis draws instead of the seeded ones; dates checked against stored dates or today "
    "(consent, revocation, time entry, month facts); unknown body fields refused by fee "
    "schedule and policy; audit-events date_to before date_from.",
)
@pytest.mark.usefixtures("_tasks_in_process")
def test_api_keeps_its_contract_under_schemathesis(live_server):
    with time_machine.travel(NOW, tick=True):
        seeded = _seed()
        schema = schemathesis.openapi.from_url(
            f"{live_server.url}/api/schema/?format=json", config=_config(seeded)
        )
        requests, failures, errors = _run(schema)
    by_check = Counter(line.split(":", 1)[0] for line in failures)
    print(f"schemathesis: {requests} requests, {len(failures)} failures {dict(by_check)}")
    assert requests >= MIN_REQUESTS
    assert not errors, "\n".join(errors)
    assert not failures, "\n".join(f"{line}\n    {failures[line]}" for line in sorted(failures))
