"""Month close: every patient-month of a practice's billing month through the engine, the
outcomes and claims stored, the month's time locked. Idempotent and resumable.

- The `MonthClose` row is unique per (practice, month); a closed month is returned as is.
- Work goes in batches, each in one transaction that first locks the `MonthClose` row, so
  two workers closing at once take turns and never evaluate a patient twice; each batch
  picks the patients that have no `Outcome` yet, so a worker killed half-way loses only its
  uncommitted batch and a re-run finishes the rest.
- Unique constraints back this up: one outcome per patient-month, one claim per (practice,
  patient, month, billing practitioner).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from billing import rules
from billing.loading import load_patient_months, policy
from billing.models import Claim, ClaimLine, CloseStatus, MonthClose, Outcome
from billing.months import current_month, month_label
from ccm import audit
from ccm.models import Membership, Practice
from ccm.tenancy import practice_scope
from timelog.models import TimeEntry
from timelog.selectors import worklist_base
from timelog.services import month_lock

logger = logging.getLogger(__name__)
BATCH = 500
NOT_OVER_MESSAGE = "{month} has not ended yet in the practice's time zone: it cannot be closed."


def _candidates(practice: Practice, month: dt.date) -> list[Any]:
    """The month's enrolled patients (R7: and those who left during or after it), and anyone
    with time in it, in id order."""
    on_list = set(worklist_base(practice, month, None).values_list("pk", flat=True))
    with_time = set(
        TimeEntry.objects.unscoped()
        .filter(practice=practice, billing_month=month)
        .values_list("patient_id", flat=True)
        .distinct()
    )
    return sorted(on_list | with_time)


def _start(practice: Practice, month: dt.date, actor: Membership | None) -> MonthClose:
    try:
        with transaction.atomic():
            close, created = MonthClose.objects.unscoped().get_or_create(
                practice=practice,
                month=month,
                defaults={"status": CloseStatus.RUNNING, "started_by": actor},
            )
    except IntegrityError:  # a concurrent first close created it
        close, created = MonthClose.objects.unscoped().get(practice=practice, month=month), False
    if created:
        audit.record(
            practice=practice,
            actor=actor.user if actor else None,
            role=actor.role if actor else "",
            action="month.close_start",
            obj=close,
        )
    return close


def month_close(*, practice_id: Any, month: dt.date, actor_id: Any = None) -> MonthClose:
    """Close a billing month (ids in; safe to re-run and to run twice at once): lock its
    time (month_lock), evaluate every patient-month with the engine, store outcomes and
    claims, mark the month closed with its totals. A closed month is returned unchanged."""
    practice = Practice.objects.get(pk=practice_id)
    month = month.replace(day=1)
    if month >= current_month(practice.time_zone):
        raise ValidationError({"month": NOT_OVER_MESSAGE.format(month=month_label(month))})
    actor = Membership.objects.unscoped().filter(pk=actor_id, practice=practice).first()
    with practice_scope(practice):
        close = _start(practice, month, actor)
        if close.status == CloseStatus.CLOSED:
            return close
        month_lock(practice=practice, month=month, actor=actor)
        ids = _candidates(practice, month)
        MonthClose.objects.unscoped().filter(pk=close.pk).update(patients_total=len(ids))
        while _close_batch(practice, close.pk, month, ids):
            pass
        return _finish(practice, close.pk, actor)


@transaction.atomic
def _close_batch(practice: Practice, close_id: Any, month: dt.date, ids: list[Any]) -> int:
    """Evaluate the next batch of patients without an outcome; returns how many (0: done)."""
    close = MonthClose.objects.unscoped().select_for_update().get(pk=close_id)
    if close.status == CloseStatus.CLOSED:
        return 0
    done = set(
        Outcome.objects.unscoped()
        .filter(practice=practice, month=month)
        .values_list("patient_id", flat=True)
    )
    todo = [pk for pk in ids if pk not in done][:BATCH]
    if not todo:
        return 0
    patients, facts = load_patient_months(practice=practice, patient_ids=todo, months=[month])
    rules_policy = policy(practice)
    outcomes, claims, lines = [], [], []
    for patient in patients:
        result = rules.evaluate(facts[(patient.pk, month)], rules_policy)
        outcomes.append(_outcome(practice, close, patient.pk, month, result))
        if result.billable and patient.billing_practitioner_id:
            claim = _claim(practice, close, patient, month, result)
            claims.append(claim)
            lines += [
                ClaimLine(
                    practice=practice,
                    claim=claim,
                    position=i,
                    code=line.code,
                    units=line.units,
                    minutes=line.minutes,
                    charge=line.amount,
                    explanation=line.explanation,
                )
                for i, line in enumerate(result.lines)
            ]
    Outcome.objects.unscoped().bulk_create(outcomes)
    Claim.objects.unscoped().bulk_create(claims)
    ClaimLine.objects.unscoped().bulk_create(lines)
    MonthClose.objects.unscoped().filter(pk=close_id).update(
        patients_done=len(done) + len(outcomes)
    )
    return len(outcomes)


def _outcome(
    practice: Practice, close: MonthClose, patient_id: Any, month: dt.date, result: Any
) -> Outcome:
    following = result.next_threshold
    return Outcome(
        practice=practice,
        close=close,
        patient_id=patient_id,
        month=month,
        billable=result.billable,
        blocked_by=list(result.blocked_by),
        reasons=list(result.reasons),
        clinical_staff_minutes=result.minutes.clinical_staff,
        physician_minutes=result.minutes.physician,
        next_code=following.code if following else "",
        minutes_needed=following.minutes_needed if following else None,
    )


def _claim(
    practice: Practice, close: MonthClose, patient: Any, month: dt.date, result: Any
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
    )


@transaction.atomic
def _finish(practice: Practice, close_id: Any, actor: Membership | None) -> MonthClose:
    close = MonthClose.objects.unscoped().select_for_update().get(pk=close_id)
    if close.status == CloseStatus.CLOSED:
        return close
    totals = (
        Claim.objects.unscoped()
        .filter(practice=practice, month=close.month)
        .aggregate(n=Count("pk"), amount=Sum("amount"))
    )
    close.status, close.finished_at = CloseStatus.CLOSED, timezone.now()
    close.claims, close.amount = totals["n"], totals["amount"] or Decimal("0.00")
    close.save(update_fields=["status", "finished_at", "claims", "amount"])
    audit.record(
        practice=practice,
        actor=actor.user if actor else None,
        role=actor.role if actor else "",
        action="month.close",
        obj=close,
    )
    logger.info(
        "month close practice=%s month=%s claims=%d", practice.pk, close.month, close.claims
    )
    return close
