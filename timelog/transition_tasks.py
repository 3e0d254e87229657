"""The follow-up work of a care transition (issue 17), registered on
`careplans.hooks.transition_recorded` (TimelogConfig.ready) and so run inside the recording's
transaction:

- a discharge (hospital, SNF) or ED visit: a follow-up call due within 2 business days of the
  discharge date (Saturdays and Sundays skipped; today when that is already past), and a
  medication reconciliation task whose page links to the reconciliation page;
- a specialist visit: one task to review the visit notes (recommendations, medicine changes,
  referrals) within 5 business days; no reconciliation task, as most visits change no
  medicine (the coordinator adds one from the notes when needed).

Idempotent: one task of each kind per transition (constraint
timelog_one_task_per_transition_kind), however often this runs. Also the chart's list of
those tasks, for the transitions timeline (patients/hooks.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse

from careplans.hooks import transition_recorded
from careplans.models import DISCHARGE_KINDS, CareTransition, TransitionKind
from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, can
from ccm.tenancy import PracticeRequest
from patients.hooks import chart_panels
from patients.models import Patient
from timelog.models import Task, TaskKind, TaskOrigin

FOLLOW_UP_BUSINESS_DAYS = 2  # issue 17: the follow-up call within 2 business days
NOTES_REVIEW_BUSINESS_DAYS = 5  # a specialist's notes: reviewed within a working week
RECONCILE_URL_NAME = "patients:medication-reconcile"
SATURDAY = 5


@dataclass(frozen=True)
class Wanted:
    kind: str
    title: str
    business_days: int


def add_business_days(day: dt.date, days: int) -> dt.date:
    """`days` working days after `day`, Saturdays and Sundays skipped (a Friday's 2 business
    days end on Tuesday). Holidays are not known here."""
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < SATURDAY:
            days -= 1
    return day


def due_on(occurred_on: dt.date, business_days: int, today: dt.date) -> dt.date:
    """The due date counted from the transition, or today when recorded too late for it."""
    return max(add_business_days(occurred_on, business_days), today)


def wanted_tasks(transition: CareTransition) -> list[Wanted]:
    """The follow-up tasks a transition calls for (see the module's docstring)."""
    if transition.kind in DISCHARGE_KINDS:
        after = "ED visit" if transition.kind == TransitionKind.ED_VISIT else "discharge"
        return [
            Wanted(
                TaskKind.TRANSITION_FOLLOW_UP,
                f"Follow-up call after {after}",
                FOLLOW_UP_BUSINESS_DAYS,
            ),
            Wanted(
                TaskKind.MEDICATION_RECONCILIATION,
                f"Reconcile medicines after {after}",
                FOLLOW_UP_BUSINESS_DAYS,
            ),
        ]
    return [
        Wanted(
            TaskKind.TRANSITION_FOLLOW_UP,
            "Review the specialist's visit notes",
            NOTES_REVIEW_BUSINESS_DAYS,
        )
    ]


def _assignee(practice: Practice, actor: Membership, patient_id: Any) -> Membership | None:
    """The patient's coordinator when active and clinical; else the recorder, if clinical."""
    patient = (
        Patient.objects.for_practice(practice).select_related("coordinator").get(pk=patient_id)
    )
    coordinator = patient.coordinator
    if coordinator is not None and coordinator.is_active and can(coordinator, Capability.LOG_TIME):
        return coordinator
    return actor if can(actor, Capability.LOG_TIME) else None


@transition_recorded.register
def transition_follow_up(practice: Practice, actor: Membership, transition: CareTransition) -> None:
    """The hook: the transition's follow-up tasks, in the recording's transaction."""
    follow_up_create(practice=practice, actor=actor, transition=transition)


def follow_up_create(
    *, practice: Practice, actor: Membership, transition: CareTransition
) -> list[Task]:
    """Create the transition's missing follow-up tasks (none twice). Audited. Returns the
    tasks created now."""
    have = set(
        Task.objects.for_practice(practice)
        .filter(transition=transition)
        .values_list("kind", flat=True)
    )
    missing = [w for w in wanted_tasks(transition) if w.kind not in have]
    if not missing:
        return []
    assignee = _assignee(practice, actor, transition.patient_id)
    reason = f"{transition.get_kind_display()} on {transition.occurred_on:%Y-%m-%d}"
    created = []
    for want in missing:
        due = due_on(transition.occurred_on, want.business_days, practice.today())
        task = Task(
            practice=practice,
            patient_id=transition.patient_id,
            kind=want.kind,
            title=want.title,
            due_on=due,
            month=due.replace(day=1),
            assignee=assignee,
            reason=reason,
            origin=TaskOrigin.MANUAL,
            transition=transition,
            created_by=actor,
        )
        try:
            with transaction.atomic():  # a concurrent run's row: that one stands
                task.save()
        except IntegrityError:
            continue
        audit.write(actor, task, "create", patient_id=transition.patient_id)
        created.append(task)
    return created


def reconcile_url(patient_id: Any) -> str:
    """The medication reconciliation page of the patient (patients' medication part), or the
    chart while that page does not exist."""
    try:
        return reverse(RECONCILE_URL_NAME, kwargs={"patient_id": patient_id})
    except NoReverseMatch:
        return reverse("patients:patient-detail", kwargs={"patient_id": patient_id})


@dataclass(frozen=True)
class TaskLink:
    url: str
    label: str


def task_link(task: Task) -> TaskLink | None:
    """Where a transition's task is worked: the reconciliation page for a reconciliation, the
    transitions timeline for the follow-up (the summary and notes are there)."""
    if task.kind == TaskKind.MEDICATION_RECONCILIATION:
        return TaskLink(reconcile_url(task.patient_id), "Reconcile the medicines")
    if task.transition_id is not None:
        chart = reverse("patients:patient-detail", kwargs={"patient_id": task.patient_id})
        return TaskLink(f"{chart}#transitions", "See the transition and its notes")
    return None


@chart_panels.register
def transition_tasks_panel(
    request: PracticeRequest, patient: Patient, extra: dict[str, Any]
) -> dict[str, Any]:
    """The tasks following up the patient's transitions, for the timeline (one query)."""
    tasks = (
        Task.objects.for_practice(request.practice)
        .filter(patient_id=patient.pk, transition__isnull=False)
        .order_by("due_on", "created_at")
    )
    return {"transition_tasks": list(tasks)}
