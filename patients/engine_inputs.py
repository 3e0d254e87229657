"""The one way to change a billing engine input (time, consent, conditions, care plans, other
services, month facts, the billing practitioner, enrolment).

    with engine_inputs.changing(practice=practice, patient_ids=[patient.pk], months=[month]):
        ...write...

locks the patients' rows in id order (one order: two writers never deadlock, and the month
close, which takes the same locks, waits for writers in flight), lets the caller write, and on
a normal exit refreshes the worklist's stored progress of those patients before the caller's
transaction commits (nothing is refreshed when the block raises: the transaction rolls back).

A write that reads the row it changes may take that row and its patient's in one statement
(`lock_with_patient_or_404`, the row first: the order of every writer of such a row) and hand
the patient to `changing(locked=...)`; a write that claims a row by deleting it (a timer's
stop) deletes it in the patients' lock statement, once they are locked (`changing(claiming=)`).

The refresh lives in a higher app (billing/progress), which registers it when Django starts
(`BillingConfig.ready`): patients, careplans and timelog never import billing for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.transaction import TransactionManagementError
from django.http import Http404

from ccm.models import Practice
from patients.models import Patient


class Refresher(Protocol):
    def __call__(
        self, *, practice: Practice, patient_ids: Collection[Any], months: Collection[dt.date]
    ) -> None: ...


_refresher: Refresher | None = None


def register_refresher(refresher: Refresher) -> None:
    """Called once by the app that owns the worklist's progress (billing)."""
    global _refresher
    _refresher = refresher


def _locking(practice: Practice, patient_ids: Collection[Any], *, skip_locked: bool) -> Any:
    return (
        Patient.objects.for_practice(practice)
        .select_for_update(skip_locked=skip_locked)
        .filter(pk__in=list(patient_ids))
        .order_by("pk")  # the one lock order
    )


def lock_patients(
    practice: Practice,
    patient_ids: Collection[Any],
    *,
    skip_locked: bool = False,
    id_range: tuple[Any, Any] | None = None,
) -> list[Any]:
    """Lock the practice's patients' rows (in id order, until the transaction ends) without
    changing anything: the month close waits for writers in flight this way. `skip_locked`
    (the reconcile job) passes over patients a live write holds. The ids locked.

    `id_range` (first, last), in place of `patient_ids` (pass ()): every patient of the
    practice from first to last id, in the same id order: the month close locks a batch of
    sorted ids by its bounds, two parameters instead of thousands (the patients in between
    that are not in the batch are locked too: harmless, the batch's transaction is short, and
    the order is the one every writer takes)."""
    _require_transaction()
    if id_range is None:
        locking = _locking(practice, patient_ids, skip_locked=skip_locked)
    elif patient_ids:
        raise TypeError("lock_patients: patient_ids or id_range, not both.")
    else:
        first, last = id_range
        locking = (
            Patient.objects.for_practice(practice)
            .select_for_update(skip_locked=skip_locked)
            .filter(pk__gte=first, pk__lte=last)
            .order_by("pk")  # the one lock order
        )
    return list(locking.values_list("pk", flat=True))


def lock_patient_or_404(practice: Practice, patient_id: Any) -> Patient:
    """Lock one patient's row and return it fresh, or 404 when it is gone: a page that checks
    for a concurrent edit before calling a writer takes the row the writer locks first."""
    _require_transaction()
    patient = _locking(practice, [patient_id], skip_locked=False).first()
    if patient is None:
        raise Http404
    return patient


# Set on a patient row this module locked and returned with another row (`changing(locked=)`
# takes only those: a row read without the lock would let a write skip it).
_LOCKED = "_engine_inputs_locked"


def lock_with_patient_or_404(
    practice: Practice, queryset: models.QuerySet[Any], object_id: Any
) -> Any:
    """Lock one row of `queryset` (the practice's, with a `patient`) and its patient's row in
    one statement, the row then its patient (the order its other writers take them in: a
    page's versioned form or the API's If-Match pre-lock of the row, then the write's
    patient lock), and return the row with its patient fresh, or 404 when either is gone.
    Hand `row.patient` to `changing(locked=[...])`: it is not locked again."""
    _require_transaction()
    row = (
        queryset.filter(practice_id=practice.pk, pk=object_id)
        .select_related("patient")
        .select_for_update(of=("self", "patient"))  # the one statement, in this order
        .first()
    )
    if row is None or row.patient.practice_id != practice.pk:
        raise Http404
    setattr(row.patient, _LOCKED, True)
    return row


def _lock_and_claim(
    practice: Practice, patient_ids: Collection[Any], claiming: models.QuerySet[Any]
) -> list[Patient]:
    """Lock the patients (as `_locking`) and then delete `claiming`'s rows, in one statement:
    the DELETE waits for every patient lock (it is gated on their count), so two claims of a
    row behind one patient's lock delete it once (the second finds it gone: 0 rows)."""
    locking = _locking(practice, patient_ids, skip_locked=False)
    lock_sql, lock_params = locking.query.sql_with_params()
    claim_sql, claim_params = claiming.values("pk").query.sql_with_params()
    meta = claiming.model._meta
    table, pk = meta.db_table, meta.pk.column
    # Built from the two querysets' SQL and the model's own names (no input), parameters bound.
    sql = (
        f"WITH locked AS MATERIALIZED ({lock_sql}), "  # noqa: S608
        f'claimed AS (DELETE FROM "{table}" WHERE "{pk}" IN ({claim_sql}) '
        "AND (SELECT count(*) FROM locked) > 0 RETURNING 1) "
        "SELECT locked.*, (SELECT count(*) FROM claimed) AS claimed_rows "
        "FROM locked ORDER BY locked.id"
    )
    return list(Patient.objects.for_practice(practice).raw(sql, [*lock_params, *claim_params]))


class Change:
    """The patients locked for one change, and the months whose progress follows it."""

    def __init__(self, patients: list[Patient], months: Collection[dt.date] | None) -> None:
        self.patients = patients
        self.months: list[dt.date] | None = None if months is None else list(months)
        self.refresh = True
        self.changed: set[Any] | None = None  # None: every patient locked
        # The rows `changing(claiming=)` deleted once the patients were locked.
        self.claimed = getattr(patients[0], "claimed_rows", 0) if patients else 0

    def locked_patient(self) -> Patient:
        """The one patient locked (the fresh row), or 404 when it is gone."""
        if len(self.patients) != 1:
            raise Http404
        return self.patients[0]

    def add_month(self, day: dt.date) -> None:
        """Refresh this month too (known only once the write is validated, e.g. a moved entry)."""
        if self.months is not None:
            self.months.append(day.replace(day=1))

    def only_changed(self, patient_ids: Collection[Any]) -> None:
        """Refresh just these patients: those locked whose inputs the write changed, and any it
        created (a new row needs no lock: no one else sees it before the commit)."""
        self.changed = set(patient_ids)
        self.refresh = bool(self.changed)

    def nothing_changed(self) -> None:
        """The write left every engine input as it was: no refresh (it would change nothing)."""
        self.refresh = False


@contextmanager
def changing(
    *,
    practice: Practice,
    patient_ids: Collection[Any],
    months: Collection[dt.date] | None = None,
    locked: Collection[Patient] | None = None,
    claiming: models.QuerySet[Any] | None = None,
) -> Iterator[Change]:
    """Lock, let the caller write, refresh: see the module docstring. `months`: the months the
    write touches (later months with progress follow, as a contact changes their last
    contact); None: every month the patients have progress for. `locked`: the patients as
    `lock_with_patient_or_404` locked them in this transaction (not locked again).
    `claiming`: rows deleted in the lock's statement once the patients are locked
    (`Change.claimed` counts them: 0 when another write claimed them first)."""
    _require_transaction()
    if locked is not None:
        patients = sorted(locked, key=lambda p: p.pk)
        if claiming is not None or not all(getattr(p, _LOCKED, False) for p in patients):
            raise TransactionManagementError("Patients not locked by engine_inputs.")
        if {p.pk for p in patients} != set(patient_ids):
            raise TransactionManagementError("The locked patients are not the change's.")
    elif claiming is not None:
        patients = _lock_and_claim(practice, patient_ids, claiming)
    else:
        patients = list(_locking(practice, patient_ids, skip_locked=False))
    change = Change(patients, months)
    yield change
    if change.refresh:
        changed = change.changed
        _registered()(
            practice=practice,
            patient_ids=[p.pk for p in change.patients] if changed is None else sorted(changed),
            months=[m.replace(day=1) for m in change.months or ()],
        )


def _registered() -> Refresher:
    if _refresher is None:
        raise ImproperlyConfigured("No progress refresher registered (billing's AppConfig).")
    return _refresher


def _require_transaction() -> None:
    # The locks last until the caller's transaction ends; in autocommit they would end at once.
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError("Engine inputs change inside a transaction.")
