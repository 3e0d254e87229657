"""The practice's fee schedule (R26) and POLICY switches: the admins' writes (reads are
billing.fees.selectors) (audited with old and new values, worklist progress recomputed).

Closed months are not touched: their outcomes and claims were stored when they closed. A
change reaches open months through the worklist's stored progress (this month and the
last, recomputed by timelog's reconcile task after commit) and the next month close.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from billing.fees.selectors import FEE_CODE_NAMES, POLICY_FIELDS, policy_get, policy_values
from billing.inputs import loading
from billing.models import POS_MESSAGE, BillingPolicy, FeeSchedule
from billing.progress.tasks import progress_reconcile_practice
from billing.rules import codes
from ccm import audit, jobs
from ccm.models import Membership, Practice

UNKNOWN_CODE_MESSAGE = "{code} is not a code the billing engine bills."
AMOUNT_MESSAGE = "Enter an amount of at least 0.00 with at most two decimals, e.g. 66.13."
AMOUNT_TOO_LARGE_MESSAGE = "Enter an amount below 1,000,000.00."
ENGINE_REFUSED_MESSAGE = (
    "The billing engine cannot use these settings ({reason}); nothing was saved."
)
REFERENCE = "reference"  # the audit's word for "no practice amount: the spec's is used"
MAX_AMOUNT = Decimal("999999.99")  # FeeSchedule.amount: 8 digits, 2 decimals
CENT = Decimal("0.01")


def _clean_amount(value: Any) -> Decimal | None:
    """None/blank → None (reference); else a Decimal >= 0 in whole cents, or ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        raise ValueError(AMOUNT_MESSAGE)  # binary floats are not money
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(AMOUNT_MESSAGE) from exc
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
        raise ValueError(AMOUNT_MESSAGE)
    if amount > MAX_AMOUNT:
        raise ValueError(AMOUNT_TOO_LARGE_MESSAGE)
    return amount.quantize(CENT)


def clean_code_amounts(
    amounts: Mapping[str, Any],
    clean: Callable[[Any], Decimal | None],
    unknown: str = UNKNOWN_CODE_MESSAGE,
) -> dict[str, Decimal | None]:
    """Every billed code's amount from a code → value mapping (`clean` turns one value into
    an amount, None for blank, or raises ValueError with the message); every problem at once
    by code (ValidationError), unknown codes refused. Fee schedule and usual charges."""
    errors: dict[str, str] = {}
    cleaned: dict[str, Decimal | None] = {}
    for code, value in amounts.items():
        if code not in FEE_CODE_NAMES:
            errors[code] = unknown.format(code=code)
            continue
        try:
            cleaned[code] = clean(value)
        except ValueError as exc:
            errors[code] = str(exc)
    if errors:
        raise ValidationError(errors)
    return {code: cleaned.get(code) for code in FEE_CODE_NAMES}


def replace_code_amounts(
    practice: Practice, model: Any, wanted: Mapping[str, Decimal | None], default: str
) -> list[str]:
    """Write a per-code amount table (`model`: FeeSchedule, UsualCharge) to `wanted` (None:
    no row, the `default` applies); the caller holds settings_lock. Returns the changes as
    "code:old->new", the audit's list (empty: nothing changed)."""
    rows = {row.code: row for row in model.objects.for_practice(practice)}
    changes: list[str] = []
    for code, amount in wanted.items():
        row = rows.get(code)
        old = None if row is None else row.amount
        if old == amount:
            continue
        shown = [default if value is None else str(value) for value in (old, amount)]
        changes.append(f"{code}:{shown[0]}->{shown[1]}")
        if amount is None:
            model.objects.for_practice(practice).filter(code=code).delete()
            continue
        row = row or model(practice=practice, code=code)
        row.amount, row.updated_at = amount, timezone.now()
        row.full_clean()
        row.save()
    return changes


def settings_lock(*, practice: Practice) -> None:
    """The first lock of every fee schedule and POLICY write (and of the pages' version
    check): one editor at a time per practice, so two first saves of a code cannot both
    insert it. Inside the caller's transaction."""
    Practice.objects.select_for_update().only("pk").get(pk=practice.pk)


def _reconcile_after_commit(practice: Practice) -> None:
    practice_id = str(practice.pk)
    # This month's and last month's stored worklist progress use the new fees or POLICY.
    jobs.enqueue_on_commit(progress_reconcile_practice, practice_id)


@transaction.atomic
def fee_schedule_update(
    *, practice: Practice, actor: Membership, amounts: Mapping[str, Any]
) -> list[str]:
    """Replace the practice's amounts (missing or blank = reference amount: the row is
    deleted). Validates everything before writing; audits "code:old->new"; enqueues the
    progress reconcile on commit. Returns the audit's change list (empty: nothing changed)."""
    wanted = clean_code_amounts(amounts, _clean_amount)
    settings_lock(practice=practice)
    changes = replace_code_amounts(practice, FeeSchedule, wanted, REFERENCE)
    if changes:
        audit.record_for(
            actor, "fee_schedule.update", object_type="billing.feeschedule", changed_fields=changes
        )
        _reconcile_after_commit(practice)
    return changes


def policy_field(name: str) -> models.Field[Any, Any]:
    """BillingPolicy's model field (its verbose name cites the rule id)."""
    return cast("models.Field[Any, Any]", BillingPolicy._meta.get_field(name))


def policy_defaults() -> dict[str, Any]:
    """The spec's POLICY defaults (BillingPolicy's field defaults)."""
    return {name: policy_field(name).get_default() for name in POLICY_FIELDS}


def _policy_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [f"{name}:{before[name]}->{after[name]}" for name in audit.changed(before, after)]


def _check_engine_accepts(practice: Practice) -> None:
    """The engine must be able to load what was just written (inside the transaction)."""
    try:
        loading.policy(practice)
    except ValueError as exc:
        raise ValidationError(ENGINE_REFUSED_MESSAGE.format(reason=exc)) from exc


@transaction.atomic
def policy_update(*, practice: Practice, actor: Membership, data: Mapping[str, Any]) -> list[str]:
    """Store the practice's POLICY choices (fields not given keep their value). Validates,
    audits "field:old->new", enqueues the progress reconcile on commit; creates the row on
    the first change. Returns the change list (empty: nothing changed)."""
    unknown = sorted(set(data) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationError({name: "Not a POLICY setting." for name in unknown})
    settings_lock(practice=practice)
    row = policy_get(practice=practice)
    before = policy_values(row)
    if "place_of_service" in data and data["place_of_service"] not in codes.PLACE_OF_SERVICE_CODES:
        raise ValidationError({"place_of_service": POS_MESSAGE})  # R33
    for name, value in data.items():
        setattr(row, name, value)
    row.full_clean()
    changes = _policy_changes(before, policy_values(row))
    if not changes:
        return []
    row.updated_at = timezone.now()
    row.save()
    _check_engine_accepts(practice)
    audit.record_for(actor, "billing_policy.update", obj=row, changed_fields=changes)
    _reconcile_after_commit(practice)
    return changes


@transaction.atomic
def policy_reset(*, practice: Practice, actor: Membership) -> list[str]:
    """Back to the spec's defaults: the practice's row is deleted (no row = defaults).
    Audits the fields that change; enqueues the progress reconcile on commit."""
    settings_lock(practice=practice)
    row = BillingPolicy.objects.for_practice(practice).first()
    if row is None:
        return []
    changes = _policy_changes(policy_values(row), policy_defaults())
    row_id = row.pk
    BillingPolicy.objects.for_practice(practice).delete()
    audit.record_for(
        actor,
        "billing_policy.reset",
        object_type="billing.billingpolicy",
        object_id=row_id,
        changed_fields=changes,
    )
    if changes:
        _reconcile_after_commit(practice)
    return changes
