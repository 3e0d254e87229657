"""The engine-input helper (patients.engine_inputs): locks the patients in id order, lets the
caller write, refreshes their progress through the refresher timelog registered."""

import datetime as dt
import re

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from billing.progress.services import progress_refresh
from patients import engine_inputs
from tests.factories import PatientFactory

OCTOBER = dt.date(2026, 10, 1)


@pytest.fixture
def calls(monkeypatch):
    """The registered refresher replaced by a recorder."""
    seen = []

    def record(*, practice, patient_ids, months):
        seen.append((practice.pk, list(patient_ids), list(months)))

    monkeypatch.setattr(engine_inputs, "_refresher", record)
    return seen


@pytest.fixture
def patients(practice):
    return [PatientFactory(practice=practice, mrn=f"L-{i}") for i in range(4)]


def _locks(queries):
    return [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]


def _in_id_order(sql):
    # ORDER BY the id column (or its position when only the id is selected), then the lock.
    return re.search(r'ORDER BY ("patients_patient"\."id"|1) ASC FOR UPDATE$', sql) is not None


def test_billing_registers_its_progress_refresh():
    assert engine_inputs._refresher is progress_refresh


@pytest.mark.django_db
def test_it_locks_the_practices_patients_in_id_order_then_refreshes_them(
    practice, other_practice, patients, calls
):
    foreign = PatientFactory(practice=other_practice, mrn="F-1")
    asked = [p.pk for p in reversed(patients)] + [foreign.pk]
    with (
        transaction.atomic(),
        CaptureQueriesContext(connection) as queries,
        engine_inputs.changing(practice=practice, patient_ids=asked) as change,
    ):
        assert calls == []  # the caller writes before the refresh
        (lock,) = _locks(queries.captured_queries)
    assert _in_id_order(lock)
    assert f"\"practice_id\" = '{practice.pk.hex}'" in lock  # for_practice
    in_order = sorted(p.pk for p in patients)
    assert [p.pk for p in change.patients] == in_order  # never the other practice's
    assert calls == [(practice.pk, in_order, [])]  # no months: every month with a row


@pytest.mark.django_db
def test_the_months_are_first_days_and_a_caller_may_add_one(practice, patients, calls):
    (patient, *_rest) = patients
    with (
        transaction.atomic(),
        engine_inputs.changing(
            practice=practice, patient_ids=[patient.pk], months=[dt.date(2026, 9, 14)]
        ) as change,
    ):
        change.add_month(dt.date(2026, 10, 31))
    assert calls == [(practice.pk, [patient.pk], [dt.date(2026, 9, 1), OCTOBER])]


@pytest.mark.django_db
def test_no_refresh_when_the_write_raises_or_changed_nothing(practice, patients, calls):
    ids = [patients[0].pk]
    with transaction.atomic():
        with (
            pytest.raises(ValueError, match="refused"),
            engine_inputs.changing(practice=practice, patient_ids=ids),
        ):
            raise ValueError("refused")
        with engine_inputs.changing(practice=practice, patient_ids=ids) as change:
            change.nothing_changed()
    assert calls == []


@pytest.mark.django_db
def test_the_one_locked_patient_is_the_fresh_row_or_404(practice, other_practice, patients):
    foreign = PatientFactory(practice=other_practice, mrn="F-1")
    with transaction.atomic():
        type(patients[0]).objects.unscoped().filter(pk=patients[0].pk).update(first_name="Fresh")
        with engine_inputs.changing(practice=practice, patient_ids=[patients[0].pk]) as change:
            assert change.locked_patient().first_name == "Fresh"
            change.nothing_changed()
        with (
            pytest.raises(Http404),
            engine_inputs.changing(practice=practice, patient_ids=[foreign.pk]) as change,
        ):
            change.locked_patient()
        with pytest.raises(Http404):
            engine_inputs.lock_patient_or_404(practice, foreign.pk)
        assert engine_inputs.lock_patient_or_404(practice, patients[1].pk) == patients[1]


@pytest.mark.django_db
def test_lock_patients_locks_in_id_order_and_refreshes_nothing(practice, patients, calls):
    asked = [p.pk for p in reversed(patients)]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = engine_inputs.lock_patients(practice, asked)
    (lock,) = _locks(queries.captured_queries)
    assert _in_id_order(lock)
    assert locked == sorted(asked)
    assert calls == []


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_refuses(practice, patients):
    with (
        pytest.raises(TransactionManagementError),
        engine_inputs.changing(practice=practice, patient_ids=[patients[0].pk]),
    ):
        pass  # pragma: no cover
    with pytest.raises(TransactionManagementError):
        engine_inputs.lock_patients(practice, [patients[0].pk])


def test_without_a_registered_refresher_a_write_fails_closed(monkeypatch):
    monkeypatch.setattr(engine_inputs, "_refresher", None)
    with pytest.raises(Exception, match="No progress refresher registered"):
        engine_inputs._registered()
