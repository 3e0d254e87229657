"""The worklist's stored progress (timelog.MonthProgress): the billing engine's results for
each patient-month, kept current by every write of an engine input and checked by a reconcile.

Registered as the refresh of `patients.engine_inputs.changing` (BillingConfig.ready): the
apps below billing (patients, careplans, timelog) change engine inputs through that helper and
never import this module.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from billing import rules
from billing.close import coverage
from billing.inputs.loading import grouped, load_patient_months
from billing.inputs.loading import policy as billing_policy
from billing.progress import one_patient
from billing.rules import evaluate
from billing.rules.progress import progress
from ccm.models import Practice
from ccm.months import previous_month
from patients import engine_inputs
from patients.selectors import coverage_in_force
from timelog.models import UNANSWERED, ContactAttempt, MonthProgress, Outcome, TimeEntry
from timelog.selectors import worklist_base

logger = logging.getLogger(__name__)


def progress_compute(
    *, practice: Practice, patient_ids: Collection[Any], months: Collection[dt.date]
) -> list[MonthProgress]:
    """The engine's progress for each (patient, month) asked for (eleven queries, no
    writes): countable minutes and the next threshold (R16-R27, via billing.rules.progress),
    the last contact before each month's end, and the engine's claim on today's facts
    (billing.rules.evaluate with the practice's policy; the facts carry its fee schedule)."""
    patients, month_facts = load_patient_months(
        practice=practice, patient_ids=patient_ids, months=months
    )
    if not patients:
        return []
    contacts = _contacts(practice, [p.pk for p in patients], max(months))
    now = timezone.now()
    rules_policy = billing_policy(practice)
    # The close's coverage gate, so the worklist's "will bill" agrees with the close (one
    # query per month).
    ids = [p.pk for p in patients]
    covers = {m: coverage_in_force(practice=practice, patient_ids=ids, month=m) for m in months}
    return [
        _progress_row(
            practice,
            patient.pk,
            month,
            month_facts[(patient.pk, month)],
            rules_policy,
            covers[month][patient.pk],
            contacts.get(patient.pk, []),
            now,
        )
        for patient in patients
        for month in months
    ]


def _progress_row(
    practice: Practice,
    patient_id: Any,
    month: dt.date,
    patient_month: Any,
    rules_policy: Any,
    cover: Any,
    contacts: list[Any],
    now: dt.datetime,
) -> MonthProgress:
    """One patient-month's row: the engine's progress and claim (through the close's coverage
    gate), and the contacts (rows with `month`, `last` reached and `unanswered`)."""
    minutes, next_threshold, _ = progress(patient_month, rules_policy)
    result = coverage.gate(evaluate(patient_month, rules_policy), cover, month)
    last = [c.last for c in contacts if c.month <= month and c.last is not None]
    return MonthProgress(
        practice=practice,
        patient_id=patient_id,
        month=month,
        clinical_staff_minutes=minutes.clinical_staff,
        physician_minutes=minutes.physician,
        staff_pool=minutes.staff_pool,
        next_code=next_threshold.code if next_threshold else "",
        minutes_needed=next_threshold.minutes_needed if next_threshold else None,
        last_contact_at=max(last, default=None),
        unanswered_attempts=sum(c.unanswered for c in contacts if c.month == month),
        billable=result.billable,
        projected_amount=result.total,
        computed_at=now,
    )


class _Contact(NamedTuple):
    month: dt.date
    last: dt.datetime | None
    unanswered: int


def progress_compute_one(
    *, practice: Practice, patient_id: Any, months: Collection[dt.date]
) -> list[MonthProgress]:
    """`progress_compute` for one patient, in one query (billing.progress.one_patient): the
    months given and every later month with a row (no months: every month with a row)."""
    since = min(months) if months else None
    found = one_patient.load(practice, patient_id, since)
    patient = found.patient
    if patient is None:
        return []
    wanted = one_patient.months_wanted(found, months)
    fees = rules.FeeSchedule(found.fees)
    contacts = [_Contact(c.month, c.ts, c.n1) for c in found.contacts]
    now = timezone.now()
    return [
        _progress_row(
            practice,
            patient_id,
            month,
            one_patient.patient_month(practice, found, patient, month, fees),
            found.policy,
            one_patient.coverage_in_force(found, month),
            contacts,
            now,
        )
        for month in wanted
    ]


def _contacts(practice: Practice, patient_ids: list[Any], until: dt.date) -> dict[Any, list[Any]]:
    """Per patient and month (one query): the last reached contact attempt, and the month's
    unanswered attempts after its last reached one. A month's last contact is the newest of
    its own month and every earlier one (month <= M is "before M's end" in the zone, R1)."""
    reached_later = ContactAttempt.objects.for_practice(practice).filter(
        patient_id=OuterRef("patient_id"),
        month=OuterRef("month"),
        outcome=Outcome.REACHED,
        occurred_at__gt=OuterRef("occurred_at"),
    )
    return grouped(
        ContactAttempt.objects.for_practice(practice)
        .filter(patient_id__in=patient_ids, month__lte=until)
        .order_by()
        .values("patient_id", "month")
        .annotate(
            last=Max("occurred_at", filter=Q(outcome=Outcome.REACHED)),
            unanswered=Count("pk", filter=Q(Q(outcome__in=UNANSWERED), ~Exists(reached_later))),
        )
        .values_list("patient_id", "month", "last", "unanswered", named=True),
        "patient_id",
    )


def _progress_save(practice: Practice, rows: list[MonthProgress]) -> None:
    # INSERT … ON CONFLICT (practice, month, patient) DO UPDATE: one statement per batch.
    MonthProgress.objects.for_practice(practice).bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["practice", "month", "patient"],
        update_fields=[*MonthProgress.VALUE_FIELDS, "computed_at"],
    )


# No savepoint: the refresh runs inside its caller's transaction (engine_inputs.changing), and
# an error in it rolls that back whole.
@transaction.atomic(savepoint=False)
def progress_refresh(
    *, practice: Practice, patient_ids: Collection[Any], months: Collection[dt.date] = ()
) -> None:
    """Recompute the patients' progress rows (writes MonthProgress, in the caller's
    transaction): the months given, and every month with a row from the earliest of them on
    (a contact changes later months' last contact); no months: every month with a row.

    The caller holds the patients' row locks: registered as the refresh of
    `patients.engine_inputs.changing`, which takes them. They order concurrent writers: the
    second recomputes after the first commits and sees both writes (READ COMMITTED takes a
    fresh snapshot per statement)."""
    if not patient_ids:
        return
    if len(patient_ids) == 1:  # a coordinator's write: one query loads what the engine needs
        (patient_id,) = patient_ids
        months = [m.replace(day=1) for m in months]
        rows = progress_compute_one(practice=practice, patient_id=patient_id, months=months)
        _progress_save(practice, rows)
        return
    existing = MonthProgress.objects.for_practice(practice).filter(patient_id__in=patient_ids)
    if months:
        existing = existing.filter(month__gt=min(months))
    wanted = {m.replace(day=1) for m in months} | set(existing.values_list("month", flat=True))
    _progress_save(
        practice, progress_compute(practice=practice, patient_ids=patient_ids, months=wanted)
    )


@dataclass(frozen=True)
class ReconcileOutcome:
    checked: int  # patient-months compared with the engine
    added: int  # rows that were missing (a month's first day, a patient without time)
    corrected: int  # rows that differed: a write path that forgot to refresh (logged)


RECONCILE_BATCH = 1000


def progress_reconcile(
    *, practice_id: Any, months: Collection[dt.date] = (), missing_only: bool = False
) -> ReconcileOutcome:
    """Compare the practice's progress rows with the engine for the months (default: this
    one and the last, in the practice's zone) and write the missing and differing ones.
    `missing_only` adds missing rows and checks nothing else (the hourly run). Ids only in;
    safe beside live writes and a second run (patients being written are skipped: their
    writer refreshes them)."""
    practice = Practice.objects.get(pk=practice_id)
    if not months:
        this = practice.this_month()
        months = (previous_month(this), this)
    totals = [0, 0, 0]
    for month in sorted({m.replace(day=1) for m in months}):
        ids = _reconcile_candidates(practice, month, missing_only=missing_only)
        for start in range(0, len(ids), RECONCILE_BATCH):
            counts = _reconcile_batch(practice, month, ids[start : start + RECONCILE_BATCH])
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
    checked, added, corrected = totals
    log = logger.warning if corrected else logger.info
    log(
        "progress reconcile practice=%s checked=%d added=%d corrected=%d",
        practice.pk,
        checked,
        added,
        corrected,
    )
    return ReconcileOutcome(checked, added, corrected)


def _reconcile_candidates(practice: Practice, month: dt.date, *, missing_only: bool) -> list[Any]:
    """The month's worklist patients, and anyone with time or a row in it, in id order;
    `missing_only`: those without a row, or with a row lacking the engine's claim."""
    on_list = set(worklist_base(practice, month, None).values_list("pk", flat=True))
    rows = dict(
        MonthProgress.objects.for_practice(practice)
        .filter(month=month)
        .values_list("patient_id", "billable")
    )
    with_time = set(
        TimeEntry.objects.for_practice(practice)
        .filter(billing_month=month)
        .values_list("patient_id", flat=True)
        .distinct()
    )
    if not missing_only:
        return sorted(on_list | with_time | rows.keys())
    # Rows written before `billable` existed hold NULL: the hourly run completes them too.
    incomplete = {patient_id for patient_id, billable in rows.items() if billable is None}
    return sorted((on_list | with_time) - rows.keys() | incomplete)


@transaction.atomic
def _reconcile_batch(practice: Practice, month: dt.date, ids: list[Any]) -> tuple[int, int, int]:
    # SKIP LOCKED: a patient locked by a live write is being refreshed by that write.
    locked = engine_inputs.lock_patients(practice, ids, skip_locked=True)
    # A row without the engine's claim (billable NULL) predates those columns: filling it
    # counts as adding, not as a correction (no write path forgot anything).
    stored = {
        row.patient_id: row.values()
        for row in MonthProgress.objects.for_practice(practice).filter(
            month=month, patient_id__in=locked, billable__isnull=False
        )
    }
    fresh = progress_compute(practice=practice, patient_ids=locked, months=[month])
    changed = [row for row in fresh if stored.get(row.patient_id) != row.values()]
    _progress_save(practice, changed)
    missing = sum(1 for row in changed if row.patient_id not in stored)
    return len(fresh), missing, len(changed) - missing
