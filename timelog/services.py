"""Writes for time and outreach: time entries, adjustments, month locks, timers, tasks.

Every service is keyword-only and transactional, validates before saving (nothing is saved on
an error), checks that linked objects share the practice, and audits in the same transaction.
Messages are constants (tests assert them) and never carry PHI.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, QuerySet, Subquery
from django.utils import timezone

from ccm import audit
from ccm.api_auth import ApplicationError, StateConflict
from ccm.models import Membership, Practice
from ccm.months import month_label, month_of
from ccm.roles import Capability, can, require
from ccm.tenancy import CompiledQuery, lock_for_practice_or_404
from patients import engine_inputs
from patients.models import MedicationReconciliation, Patient, Status
from timelog.models import (
    MAX_ENTRY_MINUTES,
    Activity,
    MonthLock,
    PerformerKind,
    RunningTimer,
    Source,
    Task,
    TaskKind,
    TaskOrigin,
    TaskStatus,
    TimeAdjustment,
    TimeEntry,
)

MINUTES_MESSAGE = f"Enter whole minutes from 1 to {MAX_ENTRY_MINUTES}."
FUTURE_MESSAGE = "The start time cannot be in the future."
BEFORE_PATIENT_MESSAGE = "The start is before this patient was added to CareMonth ({day})."
CANDIDATE_ACTIVITY_MESSAGE = (
    "This patient is not enrolled in CCM: only enrollment outreach can be logged, and it never "
    "counts toward billing (R5)."
)
OUTREACH_ENROLLED_MESSAGE = "Enrollment outreach is for candidates; pick the activity you did."
NOT_ENROLLED_MESSAGE = "Time can only be logged for enrolled patients (and candidates' outreach)."
AFTER_LEAVING_MESSAGE = "The patient left CCM on {day}; time after that date cannot be logged."
OVERLAP_MESSAGE = "This overlaps your entry of {start} to {end} ({minutes} min). Fix one of them."
OVERLAP_PATIENT_MESSAGE = (
    "This overlaps your entry for {patient} of {start} to {end} ({minutes} min). Fix one of them."
)
OVERLAP_HIDDEN_MESSAGE = (
    "This overlaps another patient's entry of {start} to {end} ({minutes} min). Fix one of them."
)
CALL_ENDS_LATER_MESSAGE = "The call cannot end in the future: check its start and minutes."
LOCKED_MESSAGE = (
    "{month} is closed for billing: its time is read-only. Use an adjustment with a reason."
)
NOT_LOCKED_MESSAGE = "{month} is still open: edit the entry itself instead of adjusting it."
ADJUST_REASON_MESSAGE = "Give the reason for this correction."
ADJUST_RANGE_MESSAGE = "The corrected minutes must be from 0 to {limit}, and differ from now."
NOT_YOURS_MESSAGE = "Only the person who logged this time or a practice admin may change it."
CLINICAL_ONLY_MESSAGE = "Only clinical staff, physicians and admins log time and work tasks."
RECONCILIATION_MESSAGE = "Choose a medication reconciliation of this patient."
TIMER_RUNNING_MESSAGE = "Your timer is already running. Stop it before starting another."
NO_TIMER_MESSAGE = "No timer is running."
TIMER_CONFIRM_MESSAGE = (
    "The timer ran {minutes} minutes, longer than the practice's {limit}-minute limit. "
    "Check the minutes and confirm."
)
TIMER_SHORT_MESSAGE = "Less than a minute was timed: nothing to save. Discard the timer."
TASK_DUPLICATE_MESSAGE = "An open task of this kind already exists for this patient this month."
TASK_CLOSED_MESSAGE = "This task is already closed."
TASK_DUE_MESSAGE = "The due date must be within a year from today."
TASK_TITLE_MESSAGE = "Give a custom task a title."

logger = logging.getLogger(__name__)
ENTRY_FIELDS = ("started_at", "minutes", "activity", "note", "face_to_face")


class MonthLocked(ApplicationError):
    """A write to a closed month's time (pages show the message; the API answers 409)."""


def _local(instant: dt.datetime, practice: Practice) -> dt.datetime:
    return instant.astimezone(practice.zone)


# --- Month lock ------------------------------------------------------------------------------


def month_is_locked(*, practice: Practice, month: dt.date) -> bool:
    return MonthLock.objects.for_practice(practice).filter(month=month).exists()


def month_lock(*, practice: Practice, month: dt.date, actor: Membership | None = None) -> MonthLock:
    """Lock a billing month's time (idempotent: a second call returns the first lock). Audited."""
    lock, created = MonthLock.objects.for_practice(practice).get_or_create(
        practice=practice, month=month.replace(day=1), defaults={"locked_by": actor}
    )
    if created:
        audit.record_by(practice, actor, "month.lock", lock)
    return lock


def _check_unlocked(practice: Practice, month: dt.date) -> None:
    if month_is_locked(practice=practice, month=month):
        raise MonthLocked(LOCKED_MESSAGE.format(month=month_label(month)))


# --- Time entries ----------------------------------------------------------------------------


def performer_kind(membership: Membership) -> str:
    """Contract §3: a physician's minutes are physician time, anyone else's staff time."""
    return (
        PerformerKind.PHYSICIAN
        if can(membership, Capability.BILL_AS_PRACTITIONER)
        else PerformerKind.CLINICAL_STAFF
    )


def _validate_entry(practice: Practice, entry: TimeEntry, patient: Patient) -> None:
    """Field rules with clear messages; raises ValidationError, saves nothing."""
    if not isinstance(entry.minutes, int) or not 1 <= entry.minutes <= MAX_ENTRY_MINUTES:
        raise ValidationError({"minutes": MINUTES_MESSAGE})
    start = entry.started_at
    if timezone.is_naive(start):
        start = entry.started_at = timezone.make_aware(start, practice.zone)
    if start > timezone.now():
        raise ValidationError({"started_at": FUTURE_MESSAGE})
    created_on = _local(patient.created_at, practice).date()
    if _local(start, practice).date() < created_on:
        raise ValidationError({"started_at": BEFORE_PATIENT_MESSAGE.format(day=created_on)})
    _validate_status(practice, entry, patient)
    entry.ended_at = start + dt.timedelta(minutes=entry.minutes)
    entry.billing_month = month_of(start, practice.time_zone)
    # Fields only: the constraints' rules are checked above with their messages (minutes in
    # range, the end after the start), the id is a fresh UUID (or the entry's own), and the
    # database enforces them all (checking them here cost a query each, on every write).
    entry.full_clean(
        exclude=["patient", "performer", "practitioner", "practice"],
        validate_unique=False,
        validate_constraints=False,
    )


def _validate_status(practice: Practice, entry: TimeEntry, patient: Patient) -> None:
    outreach = entry.activity == Activity.ENROLLMENT_OUTREACH
    if patient.status == Status.CANDIDATE:
        if not outreach:
            raise ValidationError({"activity": CANDIDATE_ACTIVITY_MESSAGE})
        return
    if outreach:
        raise ValidationError({"activity": OUTREACH_ENROLLED_MESSAGE})
    if patient.status == Status.ENROLLED:
        return
    # Declined or disenrolled: time done before the patient left may still be logged.
    left_on = patient.status_on
    if left_on is None or patient.status == Status.DECLINED:
        raise StateConflict(NOT_ENROLLED_MESSAGE)
    if _local(entry.started_at, practice).date() > left_on:
        raise ValidationError({"started_at": AFTER_LEAVING_MESSAGE.format(day=left_on)})


def _check_overlap(practice: Practice, entry: TimeEntry, actor: Membership | None) -> None:
    """Name the clashing entry (the exclusion constraint is the race-proof backstop)."""
    clash = (
        TimeEntry.objects.filter(
            performer_id=entry.performer_id,
            started_at__lt=entry.ended_at,
            ended_at__gt=entry.started_at,
        )
        .exclude(pk=entry.pk)
        .select_related("patient")
        .order_by("started_at")
        .first()
    )
    if clash is not None:
        raise StateConflict(_overlap_message(practice, clash, actor))


def _overlap_message(practice: Practice, clash: TimeEntry, actor: Membership | None) -> str:
    """The clash's times, and its patient when the actor may see that patient (a member of
    the clash's practice whose role views patients); otherwise no detail of whose it is."""
    start, end = _local(clash.started_at, practice), _local(clash.ended_at, practice)
    when = {"start": f"{start:%Y-%m-%d %H:%M}", "end": f"{end:%H:%M}", "minutes": clash.minutes}
    visible = (
        actor is not None
        and actor.practice_id == clash.practice_id == practice.pk
        and can(actor, Capability.VIEW_PRACTICE)
    )
    if not visible:
        return OVERLAP_HIDDEN_MESSAGE.format(**when)
    patient = clash.patient
    name = f"{patient.first_name} {patient.last_name} ({patient.mrn})"
    return OVERLAP_PATIENT_MESSAGE.format(patient=name, **when)


def _open_and_free(
    practice_id: Any,
    performer_id: Any,
    entry_id: Any,
    month: dt.date,
    started_at: dt.datetime,
    ended_at: dt.datetime,
) -> QuerySet[Any]:
    """The practice's row with `locked` (the month has a MonthLock) and `clash_id` (the
    performer's first entry overlapping [started_at, ended_at), other than `entry_id`)."""
    clash = (
        TimeEntry.objects.for_practice(practice_id)
        .filter(performer_id=performer_id, started_at__lt=ended_at, ended_at__gt=started_at)
        .exclude(pk=entry_id)
        .order_by("started_at")
        .values("pk")[:1]
    )
    return (
        Practice.objects.filter(pk=practice_id)
        .annotate(
            locked=Exists(MonthLock.objects.for_practice(practice_id).filter(month=month)),
            clash_id=Subquery(clash),
        )
        .values_list("locked", "clash_id")
    )


# Stand-ins the query of `_open_and_free` is compiled with once: building it through the ORM
# cost more than running it, on every hot-path write (issue 18). Each run swaps in the real
# values (the SQL does not depend on them: every one is a bound parameter).
_STAND_INS: dict[str, Any] = {
    "practice_id": uuid.UUID(int=0x0C4EC7),
    "performer_id": uuid.UUID(int=0x9E4F0),
    "entry_id": uuid.UUID(int=0xE47),
    "month": dt.date(1901, 2, 1),
    "started_at": dt.datetime(1901, 1, 1, 1, tzinfo=dt.UTC),
    "ended_at": dt.datetime(1901, 1, 1, 2, tzinfo=dt.UTC),
}
_compiled_open_and_free: list[tuple[str, tuple[Any, ...]]] = []


def open_and_free_sql(**values: Any) -> tuple[str, list[Any]]:
    """The SQL and parameters of `_open_and_free(**values)`, from the query compiled once."""
    if not _compiled_open_and_free:
        query = _open_and_free(**_STAND_INS).query
        _compiled_open_and_free.append(query.sql_with_params())
    sql, stand_ins = _compiled_open_and_free[0]
    real = {_STAND_INS[name]: value for name, value in values.items()}
    params = [real.get(p, p) if isinstance(p, uuid.UUID | dt.date) else p for p in stand_ins]
    return sql, params


def _check_open_and_free(practice: Practice, entry: TimeEntry, actor: Membership | None) -> None:
    """`_check_unlocked` then `_check_overlap` in one query (run once the patient is locked:
    a fresh snapshot sees a month close that committed while this write waited)."""
    sql, params = open_and_free_sql(
        practice_id=practice.pk,
        performer_id=entry.performer_id,
        entry_id=entry.pk,
        month=entry.billing_month,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        locked, clash_id = cursor.fetchone()
    if locked:
        raise MonthLocked(LOCKED_MESSAGE.format(month=month_label(entry.billing_month)))
    if clash_id is not None:
        _check_overlap(practice, entry, actor)  # names the clash (a refusal: one more query)


def _insert_entry(practice: Practice, entry: TimeEntry, actor: Membership | None) -> None:
    """Check and insert a new entry, its patient locked (`_changing_entry`). No savepoint:
    every caller is a service's transaction, rolled back whole on the refusal."""
    _check_open_and_free(practice, entry, actor)
    try:
        entry.save(force_insert=True)
    except IntegrityError as exc:
        if "timelog_timeentry_no_overlap" in str(exc):
            raise ValidationError(OVERLAP_MESSAGE.format(start="?", end="?", minutes="?")) from None
        raise


def _changing_entry(
    practice: Practice, entry: TimeEntry
) -> AbstractContextManager[engine_inputs.Change]:
    """Lock the entry's patient; on exit its month's progress (and a month it moved to, added
    by the caller) is refreshed on the worklist (MonthProgress)."""
    return engine_inputs.changing(
        practice=practice, patient_ids=[entry.patient_id], months=[entry.billing_month]
    )


def _save_entry(practice: Practice, entry: TimeEntry, actor: Membership | None = None) -> None:
    _check_overlap(practice, entry, actor)
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError as exc:
        if "timelog_timeentry_no_overlap" in str(exc):
            raise ValidationError(OVERLAP_MESSAGE.format(start="?", end="?", minutes="?")) from None
        raise


@transaction.atomic
def time_entry_create(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient | uuid.UUID,
    started_at: dt.datetime,
    minutes: int,
    activity: str,
    note: str = "",
    face_to_face: bool = False,
    source: str = Source.MANUAL,
    performer: Membership | None = None,
    reconciliation: MedicationReconciliation | None = None,
) -> TimeEntry:
    """Log minutes for a patient (performer: the actor unless an admin logs for a member;
    `reconciliation`: the patient's medication reconciliation the minutes were spent on).
    Refuses a closed month (MonthLocked). Audited.

    `patient`: the patient or its id (a page's POST need not read it first). Either way the
    entry is checked against the patient's row as this write locks it (its status now, not
    as read before the lock); an id of a patient gone or of another practice is a 404."""
    _may_log(practice, actor, performer, patient, reconciliation)  # before any lock
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    month = month_of(_aware(started_at, practice), practice.time_zone)
    with engine_inputs.changing(
        practice=practice, patient_ids=[patient_id], months=[month]
    ) as change:
        entry = _new_entry(
            practice=practice,
            actor=actor,
            patient=change.locked_patient(),
            started_at=started_at,
            minutes=minutes,
            activity=activity,
            note=note,
            face_to_face=face_to_face,
            source=source,
            performer=performer,
            reconciliation=reconciliation,
        )
        change.add_month(entry.billing_month)  # the same month (computed as `month`)
        _insert_entry(practice, entry, actor)
        audit.write(actor, entry, "create", patient_id=patient_id)
    return entry


def _aware(instant: dt.datetime, practice: Practice) -> dt.datetime:
    """A naive time is the practice's local time (as `_validate_entry` reads it)."""
    return timezone.make_aware(instant, practice.zone) if timezone.is_naive(instant) else instant


def _may_log(
    practice: Practice,
    actor: Membership,
    performer: Membership | None,
    patient: Patient | uuid.UUID,
    reconciliation: MedicationReconciliation | None,
) -> Membership:
    """The checks of a new entry that need no patient row (no query): the actor may log
    time for the performer, both and the patient (when given as a row; an id is scoped by
    the lock that reads it) are the practice's, and so is the reconciliation. The performer."""
    require(actor, Capability.LOG_TIME, CLINICAL_ONLY_MESSAGE)
    performer = performer or actor
    if performer.pk != actor.pk and not can(actor, Capability.MANAGE_OTHERS_TIME):
        raise PermissionDenied(NOT_YOURS_MESSAGE)
    patient_id, patient_practice = (
        (patient.pk, patient.practice_id)
        if isinstance(patient, Patient)
        else (patient, practice.pk)
    )
    if performer.practice_id != practice.pk or patient_practice != practice.pk:
        raise ValidationError("The patient and the performer must belong to this practice.")
    if reconciliation is not None and (
        reconciliation.practice_id != practice.pk or reconciliation.patient_id != patient_id
    ):
        raise ValidationError({"reconciliation": RECONCILIATION_MESSAGE})
    return performer


def _new_entry(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    started_at: dt.datetime,
    minutes: int,
    activity: str,
    note: str = "",
    face_to_face: bool = False,
    source: str = Source.MANUAL,
    performer: Membership | None = None,
    reconciliation: MedicationReconciliation | None = None,
) -> TimeEntry:
    """The entry `time_entry_create` logs, checked (no query, nothing saved)."""
    performer = _may_log(practice, actor, performer, patient, reconciliation)
    entry = TimeEntry(
        practice=practice,
        patient=patient,
        performer=performer,
        performer_kind=performer_kind(performer),
        practitioner_id=patient.billing_practitioner_id,
        started_at=started_at,
        minutes=minutes,
        activity=activity,
        note=note,
        face_to_face=face_to_face,
        source=source,
        reconciliation=reconciliation,
    )
    _validate_entry(practice, entry, patient)
    return entry


def can_change(actor: Membership, entry: TimeEntry) -> bool:
    return can(actor, Capability.MANAGE_OTHERS_TIME) or entry.performer_id == actor.pk


def _lock_changeable(practice: Practice, actor: Membership, entry: TimeEntry) -> TimeEntry:
    """The entry, locked, once the actor may log time and change this entry (their own, or
    anyone's for a manager)."""
    require(actor, Capability.LOG_TIME, CLINICAL_ONLY_MESSAGE)
    if not can_change(actor, entry):
        raise PermissionDenied(NOT_YOURS_MESSAGE)
    return lock_for_practice_or_404(TimeEntry.objects.select_related("patient"), practice, entry.pk)


@transaction.atomic
def time_entry_update(
    *, practice: Practice, actor: Membership, entry: TimeEntry, data: dict[str, Any]
) -> TimeEntry:
    """Change an entry of an open month (its old and new month must both be open). Audited."""
    entry = _lock_changeable(practice, actor, entry)
    with _changing_entry(practice, entry) as change:
        _check_unlocked(practice, entry.billing_month)
        before = {f: getattr(entry, f) for f in ENTRY_FIELDS}
        for field in ENTRY_FIELDS:
            if field in data:
                setattr(entry, field, data[field])
        _validate_entry(practice, entry, entry.patient)
        _check_unlocked(practice, entry.billing_month)
        _save_entry(practice, entry, actor)
        change.add_month(entry.billing_month)  # the month it moved to
        changed = audit.changed(before, {f: getattr(entry, f) for f in ENTRY_FIELDS})
        audit.write(actor, entry, "update", patient_id=entry.patient_id, changed_fields=changed)
    return entry


@transaction.atomic
def time_entry_delete(*, practice: Practice, actor: Membership, entry: TimeEntry) -> None:
    """Delete an entry of an open month (audited; a closed month needs an adjustment)."""
    entry = _lock_changeable(practice, actor, entry)
    with _changing_entry(practice, entry):
        _check_unlocked(practice, entry.billing_month)
        audit.write(actor, entry, "delete", patient_id=entry.patient_id)
        Task.objects.filter(time_entry=entry).update(time_entry=None)
        entry.delete()


def effective_minutes(entry: TimeEntry) -> int:
    """The entry's minutes after its adjustments (uses prefetched adjustments when present)."""
    return entry.minutes + sum(a.minutes_delta for a in entry.adjustments.all())


@transaction.atomic
def time_adjust(
    *, practice: Practice, actor: Membership, entry: TimeEntry, corrected_minutes: int, reason: str
) -> TimeAdjustment:
    """Correct an entry of a closed month to `corrected_minutes` (0 voids it), with a reason."""
    entry = _lock_changeable(practice, actor, entry)
    if not month_is_locked(practice=practice, month=entry.billing_month):
        raise ValidationError(NOT_LOCKED_MESSAGE.format(month=month_label(entry.billing_month)))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ADJUST_REASON_MESSAGE})
    current = effective_minutes(entry)
    valid = isinstance(corrected_minutes, int) and 0 <= corrected_minutes <= MAX_ENTRY_MINUTES
    if not valid or corrected_minutes == current:
        raise ValidationError(
            {"corrected_minutes": ADJUST_RANGE_MESSAGE.format(limit=MAX_ENTRY_MINUTES)}
        )
    with _changing_entry(practice, entry):
        adjustment = TimeAdjustment.objects.create(
            practice=practice,
            entry=entry,
            patient_id=entry.patient_id,
            minutes_delta=corrected_minutes - current,
            reason=reason[:500],
            actor=actor,
        )
        audit.write(actor, adjustment, "create", patient_id=entry.patient_id)
    return adjustment


# --- Timer -----------------------------------------------------------------------------------


def timer_get(*, membership: Membership, with_patient: bool = True) -> RunningTimer | None:
    """The member's running timer (`with_patient`: its patient read in the same query; a
    stop needs only the id: it reads the patient as it locks it)."""
    if with_patient:  # every page's header: the query compiled once per practice
        found = _timer_with_patient(membership.practice_id).run(membership.pk)
        return found[0] if found else None
    timers = RunningTimer.objects.for_practice(membership.practice_id).filter(membership=membership)
    return timers.first()


_TIMER_QUERIES: dict[Any, CompiledQuery[RunningTimer]] = {}


def _timer_with_patient(practice_id: Any) -> CompiledQuery[RunningTimer]:
    """`timers.select_related("patient").first()` of a practice, compiled once per process
    (bounded: cleared when full); tests/timelog/test_worklist_page.py holds it equal."""
    query = _TIMER_QUERIES.get(practice_id)
    if query is None:
        if len(_TIMER_QUERIES) >= 256:
            _TIMER_QUERIES.clear()
        query = _TIMER_QUERIES[practice_id] = CompiledQuery(
            lambda membership_id: (
                RunningTimer.objects.for_practice(practice_id)
                .filter(membership_id=membership_id)
                .select_related("patient")
                .order_by("pk")[:1]
            ),
            uuid.UUID(int=0),
        )
    return query


@transaction.atomic
def timer_start(
    *, practice: Practice, actor: Membership, patient: Patient, activity: str = "", note: str = ""
) -> RunningTimer:
    """Start the actor's timer for a patient (one per member; the start is server time)."""
    require(actor, Capability.LOG_TIME, CLINICAL_ONLY_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError("The patient must belong to this practice.")
    if patient.status not in (Status.ENROLLED, Status.CANDIDATE):
        raise StateConflict(NOT_ENROLLED_MESSAGE)
    if activity and activity not in Activity.values:
        raise ValidationError({"activity": "Choose an activity from the list."})
    try:
        with transaction.atomic():
            timer = RunningTimer.objects.create(
                practice=practice, membership=actor, patient=patient, activity=activity, note=note
            )
    except IntegrityError:
        raise ValidationError(TIMER_RUNNING_MESSAGE) from None
    audit.write(actor, timer, "start", patient_id=patient.pk)
    return timer


# What a combined write (the contact a timer's stop or a task's call records) adds inside the
# stop's or completion's change, its patient locked: its audit events.
Then = Callable[[TimeEntry | None, engine_inputs.Change], list[audit.RowEvent]]


@transaction.atomic
def timer_stop(
    *,
    practice: Practice,
    actor: Membership,
    activity: str,
    note: str = "",
    minutes: int | None = None,
    confirmed: bool = False,
    timer: RunningTimer | None = None,
    then: Then | None = None,
) -> TimeEntry:
    """Turn the running timer into a time entry (whole minutes, never rounded up) and end it.

    A timer past the practice's limit needs `confirmed` (the person checks the minutes).
    `timer`: the actor's timer as the page read it (default: read here); the stop claims it by
    deleting it once the patient is locked, so a second stop of the same timer saves nothing.
    `then`: a write of the same change (contact_services records the call's contact)."""
    if timer is None:
        timer = timer_get(membership=actor)
    if timer is None or timer.membership_id != actor.pk:
        raise ValidationError(NO_TIMER_MESSAGE)
    stopped_at = timezone.now()
    elapsed = timer.elapsed_minutes(stopped_at)
    limit = practice.timer_confirm_minutes
    if elapsed > limit and not confirmed:
        raise ValidationError(TIMER_CONFIRM_MESSAGE.format(minutes=elapsed, limit=limit))
    if elapsed < 1:
        raise ValidationError(TIMER_SHORT_MESSAGE)
    # Past the limit the person may lower the minutes (a forgotten timer), never raise them.
    chosen = elapsed if minutes is None or not confirmed else min(minutes, elapsed)
    _may_log(practice, actor, None, timer.patient_id, None)  # before any lock
    # The claim, in the patient's lock statement once the patient is locked, before anything
    # is written: a stop that waited for the lock behind another stop of the timer finds it
    # gone. The entry is checked against the patient's row as locked (the timer as read need
    # not carry its patient).
    claim = RunningTimer.objects.for_practice(practice).filter(pk=timer.pk)
    with engine_inputs.changing(
        practice=practice,
        patient_ids=[timer.patient_id],
        months=[month_of(timer.started_at, practice.time_zone)],
        claiming=claim,
    ) as change:
        if not change.claimed:
            raise ValidationError(NO_TIMER_MESSAGE)
        entry = _new_entry(
            practice=practice,
            actor=actor,
            patient=change.locked_patient(),
            started_at=timer.started_at,
            minutes=chosen,
            activity=activity,
            note=note,
            source=Source.TIMER,
        )
        _insert_entry(practice, entry, actor)
        events = [
            audit.RowEvent("timeentry.create", entry, entry.patient_id),
            audit.RowEvent("runningtimer.stop", timer, entry.patient_id),
        ]
        if then is not None:
            events += then(entry, change)
        audit.record_rows(actor, events)  # one INSERT for the change's events
    return entry


@transaction.atomic
def timer_discard(*, practice: Practice, actor: Membership) -> None:
    """Stop the actor's timer without logging anything."""
    timer = RunningTimer.objects.filter(membership=actor).first()
    if timer is None:
        raise ValidationError(NO_TIMER_MESSAGE)
    audit.write(actor, timer, "discard", patient_id=timer.patient_id)
    timer.delete()


# --- Tasks -----------------------------------------------------------------------------------


def _check_assignee(practice: Practice, assignee: Membership | None) -> None:
    if assignee is None:
        return
    if (
        assignee.practice_id != practice.pk
        or not assignee.is_active
        or not can(assignee, Capability.LOG_TIME)
    ):
        raise ValidationError({"assignee": "Choose an active clinical member of this practice."})


@transaction.atomic
def task_create(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    kind: str,
    due_on: dt.date,
    assignee: Membership | None = None,
    title: str = "",
    reason: str = "",
) -> Task:
    """Create an outreach task (one open task per patient, kind and month). Audited."""
    require(actor, Capability.LOG_TIME, CLINICAL_ONLY_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError("The patient must belong to this practice.")
    _check_assignee(practice, assignee)
    today = practice.today()
    if not today - dt.timedelta(days=365) <= due_on <= today + dt.timedelta(days=365):
        raise ValidationError({"due_on": TASK_DUE_MESSAGE})
    if kind == TaskKind.CUSTOM and not title.strip():
        raise ValidationError({"title": TASK_TITLE_MESSAGE})
    task = Task(
        practice=practice,
        patient=patient,
        kind=kind,
        title=title.strip(),
        due_on=due_on,
        month=due_on.replace(day=1),
        assignee=assignee,
        reason=reason,
        origin=TaskOrigin.MANUAL,
        created_by=actor,
    )
    task.full_clean(exclude=["patient", "assignee", "created_by", "practice", "completed_by"])
    try:
        with transaction.atomic():
            task.save()
    except IntegrityError:
        raise StateConflict(TASK_DUPLICATE_MESSAGE) from None
    audit.write(actor, task, "create", patient_id=patient.pk)
    return task


def task_lock(*, practice: Practice, task_id: Any) -> Task:
    """The practice's task and its patient, read and locked in one statement (the rows its
    completion writes, in the order its writers lock them), or 404: a page reads the task it
    completes this way, inside the save's transaction (`task_complete(locked=True)`)."""
    return engine_inputs.lock_with_patient_or_404(
        practice, Task.objects.for_practice(practice), task_id
    )


def _lock_task(practice: Practice, task: Task, *, locked: bool = False) -> Task:
    """The task, locked (`locked`: the caller locked it in this transaction), once open."""
    if not locked:
        task = lock_for_practice_or_404(Task.objects.select_related("patient"), practice, task.pk)
    if task.status != TaskStatus.OPEN:
        raise ApplicationError(TASK_CLOSED_MESSAGE)
    return task


@transaction.atomic
def task_reassign(
    *, practice: Practice, actor: Membership, task: Task, assignee: Membership | None
) -> Task:
    """Give an open task to another clinical member (or nobody). Audited."""
    require(actor, Capability.LOG_TIME, CLINICAL_ONLY_MESSAGE)
    task = _lock_task(practice, task)
    _check_assignee(practice, assignee)
    task.assignee = assignee
    task.save(update_fields=["assignee"])
    audit.write(actor, task, "reassign", patient_id=task.patient_id, changed_fields=["assignee"])
    return task


def task_complete(
    *,
    practice: Practice,
    actor: Membership,
    task: Task,
    note: str = "",
    cancel: bool = False,
    log_minutes: int | None = None,
    log_activity: str = Activity.CALL_PATIENT,
    log_started_at: dt.datetime | None = None,
    locked: bool = False,
    then: Then | None = None,
) -> Task:
    """Close an open task (done or cancelled); a call may log its minutes in the same step,
    from its start (default: ending now; it may not end in the future). The entry and the
    task stand or fall together. Audited.

    `locked`: the caller locked the task's row and its patient's in its own transaction
    (`task_lock`: a page's versioned form), which a refusal rolls back whole: no savepoint of
    its own, no second lock of the patient. `then`: a write of the
    same change, the patient locked (contact_services records the call's contact)."""
    with transaction.atomic(savepoint=not locked):
        return _task_complete(
            practice=practice,
            actor=actor,
            task=task,
            note=note,
            cancel=cancel,
            log_minutes=log_minutes,
            log_activity=log_activity,
            log_started_at=log_started_at,
            locked=locked,
            then=then,
        )


def _task_complete(
    *,
    practice: Practice,
    actor: Membership,
    task: Task,
    note: str,
    cancel: bool,
    log_minutes: int | None,
    log_activity: str,
    log_started_at: dt.datetime | None,
    locked: bool,
    then: Then | None,
) -> Task:
    require(actor, Capability.LOG_TIME, CLINICAL_ONLY_MESSAGE)
    task = _lock_task(practice, task, locked=locked)
    entry = None
    if log_minutes is not None and not cancel:
        if not isinstance(log_minutes, int) or not 1 <= log_minutes <= MAX_ENTRY_MINUTES:
            raise ValidationError({"log_minutes": MINUTES_MESSAGE})
        now = timezone.now()
        started = log_started_at or (now - dt.timedelta(minutes=log_minutes)).replace(
            second=0, microsecond=0
        )
        if timezone.is_naive(started):
            started = timezone.make_aware(started, practice.zone)
        if started + dt.timedelta(minutes=log_minutes) > now + dt.timedelta(minutes=1):
            raise ValidationError({"log_started_at": CALL_ENDS_LATER_MESSAGE})
        entry = _new_entry(
            practice=practice,
            actor=actor,
            patient=task.patient,
            started_at=started,
            minutes=log_minutes,
            activity=log_activity,
            note=note,
        )
    verb = "cancel" if cancel else "complete"
    task_event = audit.RowEvent(f"task.{verb}", task, task.patient_id, ["status"])
    if entry is None and then is None:
        _close_task(task, actor, note, cancel)
        audit.record_rows(actor, [task_event])
        return task
    # No entry: the task is no engine input, the months refreshed are those `then` adds.
    months = [entry.billing_month] if entry is not None else []
    with engine_inputs.changing(
        practice=practice,
        patient_ids=[task.patient_id],
        months=months,
        locked=[task.patient] if locked else None,
    ) as change:
        events = []
        if entry is not None:
            _insert_entry(practice, entry, actor)
            task.time_entry = entry
            events.append(audit.RowEvent("timeentry.create", entry, entry.patient_id))
        _close_task(task, actor, note, cancel)
        events.append(task_event)
        if then is not None:
            events += then(entry, change)
        audit.record_rows(actor, events)  # one INSERT for the change's events
    return task


def _close_task(task: Task, actor: Membership, note: str, cancel: bool) -> None:
    task.status = TaskStatus.CANCELLED if cancel else TaskStatus.DONE
    task.completion_note = note
    task.completed_at = timezone.now()
    task.completed_by = actor
    # The columns a completion sets (with the call's entry), not every column of the row.
    task.save(update_fields=[*_CLOSING_FIELDS, *(["time_entry"] if task.time_entry_id else [])])


_CLOSING_FIELDS = ("status", "completion_note", "completed_at", "completed_by")
