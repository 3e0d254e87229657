"""Month close: every patient-month of a practice's billing month through the engine, the
outcomes and claims stored, the month's time locked. Idempotent and resumable.

- The `MonthClose` row is unique per (practice, month); a closed month is returned as is.
- Work goes in batches, each in one transaction that first takes the `MonthClose` row FOR
  KEY SHARE (a reopen or the finish, FOR UPDATE, waits for the batches in flight) and then
  locks its patients' rows (in id order, as every writer does); each batch picks the next
  patients (in id order, from where this worker's cursor stands) that have no `Outcome` yet
  and drops those another worker did once the locks are held, so two workers closing at once
  never evaluate a patient twice, and a worker killed half-way loses only its uncommitted
  batch and a re-run finishes the rest. The batches run in MONTH_CLOSE_WORKERS threads, each
  over its own windows of the ids (`_run_parts`), then one last pass takes what is left.
  Linear: a batch reads the outcomes of its own id range only, loads its facts set-based
  (billing.inputs.loading.load_month_batch) and writes with COPY (billing.close.bulk), never
  a model instance per patient-month on the way.
- Unique constraints back this up: one outcome per patient-month, one claim per (practice,
  patient, month, billing practitioner).
- Reopening (admins, with a reason) unlocks the month's time; the next close replaces the
  month's outcomes and its claims still `ready`. A claim already submitted (or paid, or
  denied) is kept as is unless the new result differs AND the closer confirmed the
  differences (`submitted_changes` lists them first); then it is corrected in place and goes
  back to `ready`, or withdrawn when the month no longer bills. Every change is audited.
- Coverage is a gate on top of the engine (billing.close.coverage): a patient-month without
  Medicare coverage in force does not bill; a claim is stamped with the month's coverage and
  payer (loaded once per batch).
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, Sum
from django.utils import timezone

from billing import rules
from billing.close.bulk import copy_rows, new_ids
from billing.close.coverage import (
    COVERAGE,
    NO_COVER,
    STAMP_FIELDS,
    Cover,
    batch_coverage,
    claim_stamps,
    gate,
)
from billing.inputs.loading import (
    between,
    fee_schedule,
    load_month_batch,
    load_patient_months,
    policy,
)
from billing.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    CloseStatus,
    MonthClose,
    MonthReopening,
    Outcome,
)
from ccm import audit, jobs
from ccm.api_auth import ApplicationError, StateConflict
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.roles import Capability, require
from ccm.tenancy import practice_scope
from patients import engine_inputs
from patients.models import Patient, Status
from patients.selectors import coverage_in_force
from timelog.models import MonthLock, TimeEntry
from timelog.selectors import worklist_base
from timelog.services import month_lock

logger = logging.getLogger(__name__)
# Claims a re-close never replaces silently: marked submitted, paid, denied or withdrawn, or
# carried by an 837P download even if not marked submitted yet.
KEPT = ~Q(status=ClaimStatus.READY, exported_at__isnull=True)


class MonthState(ApplicationError):
    """The month's close status forbids this (pages show the message; the API answers 409)."""


# Patients per batch (one transaction under the close's row, shared): big enough that the
# per-batch queries are few, small enough that a killed worker loses seconds of work.
BATCH: int = settings.MONTH_CLOSE_BATCH
NOT_OVER_MESSAGE = "{month} has not ended yet in the practice's time zone: it cannot be closed."
CHANGES_MESSAGE = (
    "Re-closing changes {count} claim(s) already submitted. Review the differences and "
    "confirm to correct them."
)
REOPEN_REASON_MESSAGE = "Give the reason for reopening the month (it is kept in the audit log)."
NOT_CLOSED_MESSAGE = "Only a closed month can be reopened; {month} is {status}."
ADMIN_ONLY_MESSAGE = "Only a practice admin can reopen a closed month."


def _candidates(practice: Practice, month: dt.date) -> list[Any]:
    """The month's enrolled patients (R7: and those who left during or after it), and anyone
    with time in it or a kept claim for it, in id order."""
    # .order_by(): a model's default ordering would join DISTINCT (TimeEntry's -started_at
    # made it one row per entry instead of one per patient).
    # One statement over the practice's patients: on the list, or (probed per patient, only
    # for those not on it) with time in the month or a kept claim. A UNION of the three
    # scanned every entry of the month (1M at 50k patients) to de-duplicate them.
    on_list = worklist_base(practice, month, None).order_by().values("pk")
    with_time = TimeEntry.objects.for_practice(practice).filter(
        billing_month=month, patient_id=OuterRef("pk")
    )
    sent = (
        Claim.objects.for_practice(practice)
        .filter(month=month, patient_id=OuterRef("pk"))
        .filter(KEPT)
    )
    return list(
        Patient.objects.for_practice(practice)
        .filter(Q(pk__in=on_list) | Exists(with_time) | Exists(sent))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _start(practice: Practice, month: dt.date, actor: Membership | None) -> MonthClose:
    try:
        with transaction.atomic():
            close, created = MonthClose.objects.for_practice(practice).get_or_create(
                practice=practice,
                month=month,
                defaults={"status": CloseStatus.RUNNING, "started_by": actor},
            )
    except IntegrityError:  # a concurrent first close created it
        close, created = MonthClose.objects.for_practice(practice).get(month=month), False
    if created:
        audit.record_by(practice, actor, "month.close_start", close)
    return close


def month_close_request(
    *, practice: Practice, month: dt.date, actor: Membership, confirm_changes: bool
) -> tuple[MonthClose, jobs.Enqueued]:
    """Start the month's close (see month_close_start), queue its job and audit the request:
    what the page and the API both do. The job may be waiting in the outbox (`job.queued`)."""
    from billing.close import tasks  # billing.close.tasks imports this module

    close = month_close_start(
        practice=practice, month=month, actor=actor, confirm_changes=confirm_changes
    )
    job = jobs.enqueue(
        tasks.month_close,
        str(practice.pk),
        month_label(month),
        str(actor.pk),
        confirm_changes,
        close.times_closed,
    )
    audit.record_for(actor, "month.close_requested", object_id=month_label(month))
    return close, job


def month_close_start(
    *,
    practice: Practice,
    month: dt.date,
    actor: Membership | None,
    confirm_changes: bool = False,
    generation: int | None = None,
) -> MonthClose:
    """The close's first step, also taken by the page and the API before queueing the job
    (so the month shows as closing at once): refuse a month not over, create the running
    close (or return the existing one), and restart a reopened month — refused when it would
    change submitted claims without `confirm_changes`."""
    month = month.replace(day=1)
    if month >= practice.this_month():
        raise StateConflict(NOT_OVER_MESSAGE.format(month=month_label(month)))
    close = _start(practice, month, actor)
    if generation is not None and close.times_closed != generation:
        return close  # a job queued before the month was closed (and reopened) since: stale
    if close.status == CloseStatus.REOPENED:
        changes = submitted_changes(practice=practice, month=month)
        if changes and not confirm_changes:
            raise ValidationError({"confirm": CHANGES_MESSAGE.format(count=len(changes))})
        close = _restart(practice, close.pk, actor, confirmed=bool(changes))
    return close


def month_close(
    *,
    practice_id: Any,
    month: dt.date,
    actor_id: Any = None,
    confirm_changes: bool = False,
    generation: int | None = None,
) -> MonthClose:
    """Close a billing month (ids in; safe to re-run and to run twice at once): lock its
    time (month_lock), evaluate every patient-month with the engine, store outcomes and
    claims, mark the month closed with its totals. A closed month is returned unchanged.
    A reopened month is re-closed; if that would change submitted claims, `confirm_changes`
    must be given (ValidationError otherwise, nothing changed). `generation` (the close's
    `times_closed` when the job was queued) makes a stale job a no-op."""
    practice = Practice.objects.get(pk=practice_id)
    actor = Membership.objects.for_practice(practice).filter(pk=actor_id).first()
    with practice_scope(practice):
        close = month_close_start(
            practice=practice,
            month=month,
            actor=actor,
            confirm_changes=confirm_changes,
            generation=generation,
        )
        if close.status != CloseStatus.RUNNING:
            return close
        month = close.month
        # A worker has it: beat now, as the candidates take seconds for a big practice.
        MonthClose.objects.for_practice(practice).filter(pk=close.pk).update(
            heartbeat_at=timezone.now()
        )
        month_lock(practice=practice, month=month, actor=actor)
        ids = _candidates(practice, month)
        MonthClose.objects.for_practice(practice).filter(pk=close.pk).update(
            patients_total=len(ids), heartbeat_at=timezone.now()
        )
        # Each batch makes ~50k short-lived objects; the cyclic GC's passes over them cost a
        # third of the close's Python time (bench/month_close.py). Cycles go once re-enabled.
        enabled = gc.isenabled()
        gc.disable()
        try:
            # One fee schedule and POLICY for the whole close, even if an admin edits them.
            rates = (fee_schedule(practice), policy(practice))
            _run_parts(practice, close.pk, month, ids, actor, rates)
            cursor = Cursor(ids)  # the last pass: whatever no part did (none, usually)
            while _close_batch(practice, close.pk, month, cursor, actor, rates) is not None:
                pass
        finally:
            if enabled:
                gc.enable()
        return _finish(practice, close.pk, actor)


def _parts(ids: list[Any]) -> int:
    """How many threads close the month side by side (settings.MONTH_CLOSE_WORKERS, at most
    one per batch). One, in line, inside a transaction: the threads' own connections would
    not see what it has not committed."""
    if transaction.get_connection().in_atomic_block:
        return 1
    return max(1, min(settings.MONTH_CLOSE_WORKERS, -(-len(ids) // BATCH)))


def _run_parts(
    practice: Practice,
    close_id: Any,
    month: dt.date,
    ids: list[Any],
    actor: Membership | None,
    rates: tuple[rules.FeeSchedule, rules.Policy],
) -> None:
    """The close's batches in `_parts` threads, each on its own database connection over its
    own windows (`Cursor(part=, parts=)`): one thread's PostgreSQL work (loading, COPY)
    overlaps another's engine. Each batch is its own transaction as in one thread, so a
    killed close resumes the same way. The first error is raised once all have stopped."""
    parts = _parts(ids)
    if parts == 1:
        return

    def part(number: int) -> None:
        try:
            with practice_scope(practice):
                cursor = Cursor(ids, part=number, parts=parts)
                while _close_batch(practice, close_id, month, cursor, actor, rates) is not None:
                    pass
        finally:
            connections.close_all()  # this thread's own

    with ThreadPoolExecutor(parts, thread_name_prefix="month-close") as pool:
        futures = [pool.submit(part, number) for number in range(parts)]
    for future in futures:
        future.result()


@transaction.atomic
def _restart(
    practice: Practice, close_id: Any, actor: Membership | None, *, confirmed: bool
) -> MonthClose:
    """Reopened → running (once, under the row lock): drop the month's outcomes and its
    claims still `ready`; submitted ones stay for the batches to compare."""
    close = MonthClose.objects.for_practice(practice).select_for_update().get(pk=close_id)
    if close.status != CloseStatus.REOPENED:
        return close
    Outcome.objects.for_practice(practice).filter(month=close.month).delete()
    ready = Claim.objects.for_practice(practice).filter(
        month=close.month, status=ClaimStatus.READY, exported_at__isnull=True
    )
    ClaimLine.objects.for_practice(practice).filter(claim__in=ready).delete()
    ready.delete()
    close.status, close.patients_done, close.finished_at = CloseStatus.RUNNING, 0, None
    close.changes_confirmed, close.started_by = confirmed, actor
    close.started_at = close.heartbeat_at = timezone.now()
    close.save()
    audit.record_by(practice, actor, "month.reclose_start", close)
    return close


# The columns of the rows the close COPYs (billing.close.bulk; the others take defaults).
LINE_COLUMNS = (
    "practice_id",
    "id",
    "claim_id",
    "position",
    "code",
    "units",
    "minutes",
    "charge",
    "explanation",
)
OUTCOME_COLUMNS = (
    "practice_id",
    "id",
    "close_id",
    "patient_id",
    "month",
    "billable",
    "blocked_by",
    "reasons",
    "clinical_staff_minutes",
    "physician_minutes",
    "next_code",
    "minutes_needed",
    "created_at",
)
CLAIM_COLUMNS = (
    "practice_id",
    "id",
    "close_id",
    "patient_id",
    "month",
    "billing_practitioner_id",
    "date_of_service",
    "place_of_service",
    "diagnosis_codes",
    "amount",
    "coverage_id",
    "secondary_coverage_id",
    "payer_id",
    "payer_responsibility",
    "created_at",
)


@functools.lru_cache(maxsize=4096)
def _json(items: tuple[str, ...]) -> str:
    """A JSON list of strings as COPY takes it: the close's rule ids, reasons and diagnosis
    pointers repeat from one patient-month to the next, so each is dumped once."""
    return json.dumps(list(items))


def _lines(
    practice: Practice, claim_id: Any, result: Any, ids: Iterator[Any]
) -> list[tuple[Any, ...]]:
    """The claim's lines as rows for COPY (LINE_COLUMNS), their ids from `ids`."""
    return [
        (
            practice.pk,
            next(ids),
            claim_id,
            i,
            line.code,
            line.units,
            line.minutes,
            line.amount,
            line.explanation,
        )
        for i, line in enumerate(result.lines)
    ]


def _kept_claims(practice: Practice, month: dt.date, patient_ids: list[Any]) -> dict[Any, Claim]:
    """The month's kept claims (submitted, paid, denied, withdrawn, or sent in an 837P)
    for these patients."""
    rows = (
        Claim.objects.for_practice(practice)
        .filter(month=month, patient_id__in=patient_ids)
        .filter(KEPT)
        .prefetch_related(lines_prefetch(practice))
    )
    return {claim.patient_id: claim for claim in rows}


def lines_prefetch(practice: Practice) -> Prefetch:
    return Prefetch(
        "lines",
        queryset=ClaimLine.objects.for_practice(practice).order_by("position"),
    )


def claim_differences(claim: Claim, result: Any, practitioner_id: Any) -> list[str]:
    """What a new engine result would change in a stored claim (empty: nothing)."""
    bills = bool(result.billable and practitioner_id)
    if claim.status == ClaimStatus.WITHDRAWN:
        return ["The month bills again: the withdrawn claim is restored."] if bills else []
    if not bills:
        reason = "; ".join(result.reasons) or "the patient has no billing practitioner"
        return [f"The month no longer bills: {reason}"]
    out = []
    if claim.billing_practitioner_id != practitioner_id:
        out.append("Billing practitioner changed.")
    if claim.date_of_service != result.date_of_service:
        out.append(f"Date of service {claim.date_of_service} → {result.date_of_service}.")
    if claim.place_of_service != result.place_of_service:
        out.append(f"Place of service {claim.place_of_service} → {result.place_of_service}.")
    if list(claim.diagnosis_codes) != list(result.diagnosis_pointers):
        out.append(
            f"Diagnoses {', '.join(claim.diagnosis_codes)} → "
            f"{', '.join(result.diagnosis_pointers)}."
        )
    before = [(line.code, line.units, line.charge) for line in claim.lines.all()]
    after = [(line.code, line.units, line.amount) for line in result.lines]
    if before != after:

        def show(rows: list[Any]) -> str:
            return ", ".join(f"{code} x{units} ${charge}" for code, units, charge in rows)

        out.append(f"Lines {show(before)} → {show(after)}.")
    return out


def submitted_changes(*, practice: Practice, month: dt.date) -> list[tuple[Claim, list[str]]]:
    """The month's submitted (paid, denied) claims a re-close would change, with what
    changes: the engine on today's facts for those patients. No writes."""
    claims = list(
        Claim.objects.for_practice(practice)
        .filter(month=month)
        .filter(KEPT)
        .select_related("patient")
        .prefetch_related(lines_prefetch(practice))
        .order_by("patient__last_name", "patient__first_name", "pk")
    )
    if not claims:
        return []
    patients, facts = load_patient_months(
        practice=practice, patient_ids=[c.patient_id for c in claims], months=[month]
    )
    by_id = {p.pk: p for p in patients}
    coverage = coverage_in_force(practice=practice, patient_ids=by_id, month=month)
    rules_policy = policy(practice)
    out = []
    for claim in claims:
        patient = by_id[claim.patient_id]
        result = rules.evaluate(facts[(patient.pk, month)], rules_policy)
        result = gate(result, coverage[patient.pk], month)
        differences = claim_differences(claim, result, patient.billing_practitioner_id)
        if differences:
            out.append((claim, differences))
    return out


class Cursor:
    """Where a worker stands in the close's candidate ids (sorted): every candidate before
    `position` has an outcome. Batches move it forward, so the close reads each outcome
    once (a re-read of all done patients per batch made the close quadratic).

    `part` of `parts` (the close's threads, `month_close`): the ids are cut in windows of
    BATCH and this cursor takes every `parts`-th window from its `part`-th, whole (what another
    worker did is skipped); the close's last pass, one cursor over all the ids, finds what is
    left, if anything."""

    def __init__(self, ids: list[Any], *, part: int = 0, parts: int = 1) -> None:
        self.ids, self.parts = ids, parts
        self.position = part * BATCH

    def next_batch(self, practice: Practice, month: dt.date) -> list[Any]:
        """The next BATCH candidates without an outcome (this worker's or another's), read
        before the batch locks its patients (`_close_batch` reads again after); the cursor
        then stands after them. Empty: all done."""
        while self.position < len(self.ids):
            start = self.position
            window = self.ids[start : start + BATCH]
            done = _done(practice, month, (window[0], window[-1]))
            todo = [pk for pk in window if pk not in done]
            if self.parts > 1:  # this part's windows, whole
                self.position = start + self.parts * BATCH
            elif todo:  # up to the last one taken: what follows it in the window stays
                self.position = start + window.index(todo[-1]) + 1
            else:  # another worker (or an earlier run) did these
                self.position = start + len(window)
            if todo:
                return todo
        return []


def _done(practice: Practice, month: dt.date, span: tuple[Any, Any]) -> set[Any]:
    """The patients from span[0] to span[1] with an outcome for the month."""
    return set(
        Outcome.objects.for_practice(practice)
        .filter(month=month, **between(span))
        .order_by()
        .values_list("patient_id", flat=True)
    )


def _running(practice: Practice, close_id: Any) -> MonthClose | None:
    """The close's row, locked FOR KEY SHARE for the batch's transaction, if it still runs.
    The threads of one close share that lock (their batches run side by side, and a batch's
    heartbeat UPDATE does not conflict with it); a reopen or the finish takes the row FOR
    UPDATE and so waits for the batches in flight, and they for it."""
    table = MonthClose._meta.db_table
    rows = MonthClose.objects.for_practice(practice).raw(
        # The model's own table name, no input; the practice and the id are bound.
        f'SELECT * FROM "{table}" WHERE "practice_id" = %s AND "id" = %s FOR KEY SHARE',  # noqa: S608
        [practice.pk, close_id],
    )
    close = next(iter(rows), None)
    return close if close is not None and close.status == CloseStatus.RUNNING else None


def _commit_without_waiting() -> None:
    """This batch's COMMIT does not wait for its WAL to reach the disk (PostgreSQL's
    `synchronous_commit`, for this transaction only): a crash may lose the last batches, which
    is the killed-worker case the close already recovers from (their patients have no outcome
    and a re-run evaluates them). The finish commits durably, and that flushes every batch
    before it, so a month shown closed has all its outcomes and claims on disk. Not when the
    batch is a savepoint in a caller's transaction: that commit is the caller's."""
    connection = transaction.get_connection()
    if len(connection.atomic_blocks) > 1:
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


@transaction.atomic
def _close_batch(
    practice: Practice,
    close_id: Any,
    month: dt.date,
    cursor: Cursor,
    actor: Membership | None,
    rates: tuple[rules.FeeSchedule, rules.Policy],
) -> int | None:
    """Evaluate the cursor's next batch of patients without an outcome; how many it
    evaluated (0: others did them meanwhile), None when there is nothing left to do."""
    close = _running(practice, close_id)
    if close is None:
        return None
    _commit_without_waiting()  # closed by another worker, or reopened since this job started
    todo = cursor.next_batch(practice, month)
    if not todo:
        return None
    # Writers of engine inputs lock the patient row (engine_inputs.changing): wait for those
    # in flight, so their entries are in the facts or refused by the month's lock. Another
    # worker's batch over these patients (a second close of the month) is waited for too:
    # what it did is dropped from the batch, read again once the locks are held.
    span = (todo[0], todo[-1])
    engine_inputs.lock_patients(practice, (), id_range=span)
    done = _done(practice, month, span)
    todo = [pk for pk in todo if pk not in done]
    if not todo:
        return 0
    fees, rules_policy = rates
    patients, facts = load_month_batch(practice=practice, patient_ids=todo, month=month, fees=fees)
    kept = _kept_claims(practice, month, todo) if close.times_closed else {}
    # The batch's coverage in one query: without Medicare in force the month does not bill.
    coverage = batch_coverage(practice, span, month)
    outcomes: list[tuple[Any, ...]] = []
    claims: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    now, ids = timezone.now(), new_ids()
    for patient in patients:
        cover = coverage.get(patient.pk, NO_COVER)
        result = gate(rules.evaluate(facts[patient.pk], rules_policy), cover, month)
        outcomes.append(_outcome(practice, close, patient.pk, month, result, now, next(ids)))
        old = kept.get(patient.pk)
        if old is not None:
            lines += _reconcile_kept(practice, close, old, patient, result, cover, actor)
        elif result.billable and patient.billing_practitioner_id:
            claim = _claim_row(practice, close, patient, month, result, cover, now, next(ids))
            claims.append(claim)
            lines += _lines(practice, claim[1], result, ids)
    copy_rows(Outcome, OUTCOME_COLUMNS, outcomes)
    copy_rows(Claim, CLAIM_COLUMNS, claims)
    copy_rows(ClaimLine, LINE_COLUMNS, lines)
    # The heartbeat: a running close without one for MONTH_CLOSE_STALE_AFTER is resumed.
    # Progress counts the outcomes written (the batches of every worker add theirs).
    MonthClose.objects.for_practice(practice).filter(pk=close_id).update(
        patients_done=F("patients_done") + len(outcomes), heartbeat_at=timezone.now()
    )
    return len(outcomes)


CLAIM_FIELDS = (
    "billing_practitioner_id",
    "date_of_service",
    "place_of_service",
    "diagnosis_codes",
    "amount",
)


def _reconcile_kept(
    practice: Practice,
    close: MonthClose,
    claim: Claim,
    patient: Any,
    result: Any,
    cover: Cover,
    actor: Membership | None,
) -> list[tuple[Any, ...]]:
    """A submitted claim on re-close: unchanged when the result is the same; corrected (or
    withdrawn) only when the closer confirmed the differences; otherwise kept and audited.
    Kept as is, it keeps the payer it was stamped with; a correction restamps it from the
    month's coverage now."""
    differences = claim_differences(claim, result, patient.billing_practitioner_id)
    if not differences:
        return []
    if not close.changes_confirmed:
        audit.record_by(practice, actor, "claim.difference_kept", claim, patient_id=patient.pk)
        return []
    if not result.billable or not patient.billing_practitioner_id:
        claim.status, claim.status_changed_at = ClaimStatus.WITHDRAWN, timezone.now()
        claim.save(update_fields=["status", "status_changed_at"])
        fields = ["status"]
        audit.record_by(
            practice, actor, "claim.withdraw", claim, patient_id=patient.pk, changed_fields=fields
        )
        return []
    fresh = _claim(practice, close, patient, claim.month, result, cover)
    fields_set = (*CLAIM_FIELDS, *STAMP_FIELDS)
    changed = [name for name in fields_set if getattr(claim, name) != getattr(fresh, name)]
    for name in fields_set:
        setattr(claim, name, getattr(fresh, name))
    now = timezone.now()
    claim.status, claim.denial_reason = ClaimStatus.READY, ""
    claim.status_changed_at = claim.corrected_at = now
    claim.save()
    ClaimLine.objects.for_practice(practice).filter(claim=claim).delete()
    fields = [*changed, "lines", "status"]
    audit.record_by(
        practice, actor, "claim.correct", claim, patient_id=patient.pk, changed_fields=fields
    )
    return _lines(practice, claim.pk, result, new_ids())


def _outcome(
    practice: Practice,
    close: MonthClose,
    patient_id: Any,
    month: dt.date,
    result: Any,
    now: dt.datetime,
    outcome_id: str,
) -> tuple[Any, ...]:
    """The patient-month's Outcome as a row for COPY (OUTCOME_COLUMNS)."""
    following = result.next_threshold
    return (
        practice.pk,
        outcome_id,
        close.pk,
        patient_id,
        month,
        result.billable,
        _json(tuple(result.blocked_by)),
        _json(tuple(result.reasons)),
        result.minutes.clinical_staff,
        result.minutes.physician,
        following.code if following else "",
        following.minutes_needed if following else None,
        now,
    )


def _claim(
    practice: Practice,
    close: MonthClose,
    patient: Any,
    month: dt.date,
    result: Any,
    cover: Cover,
) -> Claim:
    return Claim(
        practice=practice,
        close=close,
        patient_id=patient.pk,
        month=month,
        billing_practitioner_id=patient.billing_practitioner_id,
        date_of_service=result.date_of_service,
        place_of_service=result.place_of_service,
        diagnosis_codes=list(result.diagnosis_pointers),
        amount=result.total,
        **claim_stamps(cover),
    )


def _claim_row(
    practice: Practice,
    close: MonthClose,
    patient: Any,
    month: dt.date,
    result: Any,
    cover: Cover,
    now: dt.datetime,
    claim_id: str,
) -> tuple[Any, ...]:
    """A new claim as a row for COPY (CLAIM_COLUMNS): `_claim`'s fields."""
    stamps = claim_stamps(cover)
    return (
        practice.pk,
        claim_id,
        close.pk,
        patient.pk,
        month,
        patient.billing_practitioner_id,
        result.date_of_service,
        result.place_of_service,
        _json(tuple(result.diagnosis_pointers)),
        result.total,
        stamps["coverage_id"],
        stamps["secondary_coverage_id"],
        stamps["payer_id"],
        stamps["payer_responsibility"],
        now,
    )


@transaction.atomic
def _finish(practice: Practice, close_id: Any, actor: Membership | None) -> MonthClose:
    close = MonthClose.objects.for_practice(practice).select_for_update().get(pk=close_id)
    if close.status != CloseStatus.RUNNING:
        return close  # closed by another worker, or reopened while this one ran
    month_lock(practice=practice, month=close.month, actor=actor)  # idempotent
    totals = (
        Claim.objects.for_practice(practice)
        .filter(month=close.month)
        .exclude(status=ClaimStatus.WITHDRAWN)
        .aggregate(n=Count("pk"), amount=Sum("amount"))
    )
    close.status, close.finished_at = CloseStatus.CLOSED, timezone.now()
    close.claims, close.amount = totals["n"], totals["amount"] or Decimal("0.00")
    close.times_closed += 1
    close.save(update_fields=["status", "finished_at", "claims", "amount", "times_closed"])
    audit.record_by(practice, actor, "month.close", close)
    logger.info(
        "month close practice=%s month=%s claims=%d", practice.pk, close.month, close.claims
    )
    return close


def _stalled(stale: Q) -> list[tuple[Any, ...]]:
    # Unscoped: the periodic job looks after every practice's closes (only ids leave it).
    rows = MonthClose.objects.unscoped().filter(stale).order_by("heartbeat_at")
    fields = ("pk", "practice_id", "month", "started_by_id", "changes_confirmed", "times_closed")
    return list(rows.values_list(*fields))


def month_close_resume_stalled() -> int:
    """Re-queue (billing.close.tasks.month_close, on commit) every running close of any practice
    whose heartbeat is older than MONTH_CLOSE_STALE_AFTER: its worker died, or its job was
    lost. At most once per threshold per close, even with two beats at once; sets
    `resumed_at`. Returns how many were queued. A duplicate job is harmless: a batch drops
    the patients another worker did once it holds their locks, and its generation makes it a
    no-op once closed."""
    from billing.close import tasks  # billing.close.tasks imports this module

    now = timezone.now()
    cutoff = now - settings.MONTH_CLOSE_STALE_AFTER
    stale = Q(status=CloseStatus.RUNNING, heartbeat_at__lt=cutoff) & (
        Q(resumed_at__isnull=True) | Q(resumed_at__lt=cutoff)
    )
    queued = 0
    for pk, practice_id, month, actor_id, confirmed, generation in _stalled(stale):
        # Conditional UPDATE (row count): of two beats, only one claims the close. A batch in
        # flight holds the row lock; its fresh heartbeat then fails the re-checked condition.
        claimed = MonthClose.objects.for_practice(practice_id).filter(stale, pk=pk)
        if not claimed.update(resumed_at=now):
            continue
        args = (str(practice_id), month_label(month), actor_id and str(actor_id), confirmed)
        transaction.on_commit(partial(tasks.month_close.delay, *args, generation))
        logger.warning("month close stalled, re-queued practice=%s month=%s", *args[:2])
        queued += 1
    return queued


# --- Reopen ----------------------------------------------------------------------------------


def month_reopen(
    *, practice: Practice, month: dt.date, actor: Membership, reason: str
) -> MonthClose:
    """Admins: reopen a closed month with a reason (kept in MonthReopening and audited).
    The month's time is unlocked for corrections; its claims stay until the next close."""
    require(actor, Capability.REOPEN_MONTHS, ADMIN_ONLY_MESSAGE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REOPEN_REASON_MESSAGE})
    if len(reason) > 300:
        raise ValidationError({"reason": "Keep the reason to 300 characters or fewer."})
    month = month.replace(day=1)
    with transaction.atomic():
        close = (
            MonthClose.objects.for_practice(practice)
            .select_for_update()
            .filter(month=month)
            .first()
        )
        if close is None or close.status != CloseStatus.CLOSED:
            status = close.get_status_display().lower() if close else "open"
            raise MonthState(NOT_CLOSED_MESSAGE.format(month=month_label(month), status=status))
        now = timezone.now()
        reopening = MonthReopening.objects.for_practice(practice).create(
            practice=practice, close=close, reason=reason, reopened_by=actor, reopened_at=now
        )
        close.status, close.reopened_at, close.reopened_by = CloseStatus.REOPENED, now, actor
        close.reopen_reason = reason
        close.save(update_fields=["status", "reopened_at", "reopened_by", "reopen_reason"])
        MonthLock.objects.for_practice(practice).filter(month=month).delete()
        audit.record_for(actor, "month.reopen", obj=reopening, changed_fields=["status"])
        audit.record_for(actor, "month.unlock", obj=close)
    return close


# --- Pre-close check -------------------------------------------------------------------------

# Problems a practice can fix before closing, by the engine's gate rule ids.
CHECKS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("consent", "Minutes but no valid consent", frozenset({"R5", "R6", "R7"})),
    ("care_plan", "No signed care plan shared with the patient", frozenset({"R11"})),
    ("visit", "Missing or late initiating visit", frozenset({"R8", "R9"})),
    ("conditions", "Fewer than two chronic conditions", frozenset({"R4"})),
    (
        "conflicts",
        "Conflicts with other services or CCM billed elsewhere",
        frozenset({"R3", "R28", "R29", "R30"}),
    ),
)


NO_PRACTITIONER_MESSAGE = "No billing practitioner is set on the chart."
# The pre-close check's groups, in page order.
PRECLOSE_GROUPS = (COVERAGE, *(key for key, _label, _ids in CHECKS), "practitioner", "under")


def preclose_check(*, practice: Practice, month: dt.date) -> dict[str, Any]:
    """What would not bill if the month closed now and can still be fixed: every candidate
    patient-month without Medicare coverage in force, every one with minutes whose engine
    result is blocked, grouped by problem, plus billable months without a billing
    practitioner and months under the first threshold. The engine on today's facts and the
    month's coverage, in batches (one coverage query each); no writes."""
    month = month.replace(day=1)
    ids = _candidates(practice, month)
    groups: dict[str, list[dict[str, Any]]] = {key: [] for key in PRECLOSE_GROUPS}
    billable = 0
    amount = Decimal("0.00")
    rules_policy = policy(practice)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        _patients, facts = load_patient_months(practice=practice, patient_ids=chunk, months=[month])
        coverage = coverage_in_force(practice=practice, patient_ids=chunk, month=month)
        names = {
            p.pk: p
            for p in Patient.objects.for_practice(practice)
            .filter(pk__in=chunk)
            .only("pk", "first_name", "last_name", "mrn", "status", "billing_practitioner_id")
        }
        for pk in chunk:
            result = rules.evaluate(facts[(pk, month)], rules_policy)
            patient = names[pk]
            minutes = result.minutes.clinical_staff + result.minutes.physician
            entered = sum(e.minutes for e in facts[(pk, month)].time_entries)
            row = {"patient": patient, "result": result, "minutes": minutes, "entered": entered}
            gated = gate(result, coverage[pk], month)
            uncovered = COVERAGE in gated.blocked_by
            if uncovered and (entered or patient.status == Status.ENROLLED):
                # Enrolled ones whatever their minutes: coverage is recorded before it bills.
                groups[COVERAGE].append({**row, "result": gated, "reason": gated.reasons[-1]})
            if result.billable:
                if uncovered:
                    continue
                if patient.billing_practitioner_id:
                    billable += 1
                    amount += result.total
                else:
                    groups["practitioner"].append(row)
                continue
            if not entered:
                continue
            blocked = set(result.blocked_by)
            placed = False
            for key, _label, rule_ids in CHECKS:
                if blocked & rule_ids:
                    groups[key].append(row)
                    placed = True
            if not placed:
                groups["under"].append(row)
    labels = {key: label for key, label, _ids in CHECKS}
    labels[COVERAGE] = "No billable coverage in force (Medicare Part B, Medicare Advantage or MSP)"
    labels["practitioner"] = "Billable but no billing practitioner on the chart"
    labels["under"] = "Minutes logged but under the first threshold (R27)"
    return {
        "candidates": len(ids),
        "billable": billable,
        "amount": amount,
        "groups": [(key, labels[key], rows) for key, rows in groups.items()],
        "problems": sum(len(rows) for key, rows in groups.items() if key != "under"),
    }
