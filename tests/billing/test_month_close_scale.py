"""The month close at scale (issue 18) keeps its shape: candidates one per patient, a fixed
number of queries per batch whatever its size, a cursor that reads only its batch's
outcomes, and the set-based loader giving the engine exactly what the general one gives
(adjusted minutes, enrolment outreach left out). Timings are in bench/month_close.py."""

import datetime as dt
import uuid
from unittest import mock

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from billing import rules
from billing.close import services
from billing.inputs.loading import load_month_batch, load_patient_months
from billing.models import Claim, ClaimLine, Outcome
from ccm.tenancy import practice_scope
from tests.billing.conftest import ready_patient
from tests.billing.test_month_close import AFTER, OCTOBER, _close, _snapshot
from tests.factories import PatientFactory, TimeEntryFactory, staff_time
from timelog import services as timelog_services
from timelog.models import TimeEntry


def _patients(practice, physician, coordinator, count, entries=3):
    """Enrolled, ready patients with `entries` October entries each (10 minutes apart)."""
    patients = [ready_patient(practice, physician, coordinator, f"S-{n}") for n in range(count)]
    start = dt.datetime(2026, 10, 5, 14, tzinfo=dt.UTC)
    for n, patient in enumerate(patients):
        for k in range(entries):
            at = start + dt.timedelta(days=n % 20, hours=k, minutes=n // 20)
            staff_time(patient, coordinator, physician, at, 8 + k)
    return patients


def _close_queries(practice):
    with CaptureQueriesContext(connection) as queries:
        _close(practice)
    return [q["sql"] for q in queries.captured_queries]


def test_candidates_are_one_per_patient_without_the_entries_ordering(
    practice, physician, coordinator
):
    patients = _patients(practice, physician, coordinator, 3, entries=4)
    with CaptureQueriesContext(connection) as queries, practice_scope(practice):
        ids = services._candidates(practice, OCTOBER)
    assert ids == sorted(p.pk for p in patients)
    # One statement over the patients (each id once), the month's time and kept claims
    # probed with EXISTS, without the entries' default ordering (it made one row per entry).
    [sql] = [q["sql"] for q in queries.captured_queries]
    assert sql.count("EXISTS") == 2
    assert "started_at" not in sql


@pytest.mark.parametrize("batch", [2, 3])
def test_a_batch_runs_the_same_queries_whatever_its_size(practice, physician, coordinator, batch):
    """Queries per batch do not grow with the batch (set-based loading, COPY writes): two
    batches of `batch` patients cost what two batches of one patient more cost."""
    _patients(practice, physician, coordinator, 2 * batch)
    with mock.patch.object(services, "BATCH", batch):
        few = len(_close_queries(practice))
    for model in (ClaimLine, Claim, Outcome):
        model.objects.unscoped().all().delete()
    from billing.models import MonthClose
    from timelog.models import MonthLock

    MonthClose.objects.unscoped().all().delete()
    MonthLock.objects.unscoped().all().delete()
    _patients_more = [ready_patient(practice, physician, coordinator, f"T-{n}") for n in range(2)]
    for n, patient in enumerate(_patients_more):
        at = dt.datetime(2026, 10, 25, 14, tzinfo=dt.UTC) + dt.timedelta(hours=n)
        staff_time(patient, coordinator, physician, at, 25)
    with mock.patch.object(services, "BATCH", batch + 1):
        more = len(_close_queries(practice))
    assert more == few


def test_a_second_worker_skips_what_the_first_closed_reading_its_window_only(
    practice, physician, coordinator
):
    patients = _patients(practice, physician, coordinator, 5)
    ids = sorted(p.pk for p in patients)
    with mock.patch.object(services, "BATCH", 2), practice_scope(practice):
        first, second = services.Cursor(ids), services.Cursor(ids)
        assert first.next_batch(practice, OCTOBER) == ids[:2]
        # The first worker's batch committed: outcomes for its two patients.
        for pk in ids[:2]:
            Outcome.objects.for_practice(practice).create(
                practice=practice,
                close=services._start(practice, OCTOBER, None),
                patient_id=pk,
                month=OCTOBER,
                billable=False,
            )
        with CaptureQueriesContext(connection) as queries:
            assert second.next_batch(practice, OCTOBER) == ids[2:4]
        # One outcome query per window read, each bounded by the window's ids.
        assert len(queries.captured_queries) == 2
        assert all(">=" in q["sql"] and "<=" in q["sql"] for q in queries.captured_queries)
        assert first.next_batch(practice, OCTOBER) == ids[2:4]  # not committed: still to do
        assert second.next_batch(practice, OCTOBER) == ids[4:]
        assert second.next_batch(practice, OCTOBER) == []
    assert second.position == len(ids)


def test_the_batch_loader_gives_the_engine_what_the_general_loader_gives(
    practice, physician, coordinator
):
    patients = sorted(_patients(practice, physician, coordinator, 3), key=lambda p: p.pk)
    outreach = TimeEntryFactory(
        patient=patients[1],
        performer=coordinator,
        practitioner=physician,
        started_at=dt.datetime(2026, 10, 28, 14, tzinfo=dt.UTC),
        minutes=15,
        activity="enrollment_outreach",
    )
    assert outreach.billing_month == OCTOBER
    ids = sorted(p.pk for p in patients)
    with practice_scope(practice):
        before, facts = load_month_batch(practice=practice, patient_ids=ids[1:], month=OCTOBER)
        assert [p.pk for p in before] == ids[1:]  # the batch only, in id order
        _rows, general = load_patient_months(practice=practice, patient_ids=ids, months=[OCTOBER])
        assert facts == {pk: general[(pk, OCTOBER)] for pk in ids[1:]}
        assert len(facts[patients[1].pk].time_entries) == 3  # outreach is never CCM time
        # A correction of the closed month: the batch loader sums it, as the general one.
        with time_machine.travel(AFTER, tick=False):
            timelog_services.month_lock(practice=practice, month=OCTOBER)
            entry = (
                TimeEntry.objects.for_practice(practice)
                .filter(patient=patients[2])
                .order_by("started_at")
                .first()
            )
            timelog_services.time_adjust(
                practice=practice,
                actor=coordinator,
                entry=entry,
                corrected_minutes=2,
                reason="typo",
            )
        _rows, adjusted = load_month_batch(practice=practice, patient_ids=ids, month=OCTOBER)
        _rows, general = load_patient_months(practice=practice, patient_ids=ids, months=[OCTOBER])
    assert adjusted == {pk: general[(pk, OCTOBER)] for pk in ids}
    assert [e.minutes for e in adjusted[patients[2].pk].time_entries] == [2, 9, 10]
    # The batch loader's entries skip the type's checks (TimeEntry.trusted): every field,
    # the derived clock minute too, is what the checking constructor makes.
    for pk in ids:
        for fast in adjusted[pk].time_entries:
            checked = rules.TimeEntry(
                started_at=fast.started_at,
                minutes=fast.minutes,
                performer=fast.performer,
                practitioner=fast.practitioner,
                face_to_face=fast.face_to_face,
            )
            assert fast == checked
            assert (fast.start_minute, fast.in_billed_visit) == (
                checked.start_minute,
                checked.in_billed_visit,
            )


@pytest.mark.parametrize("model", [Outcome, Claim])
def test_close_rows_linking_another_practice_are_refused_by_the_composite_keys(
    practice, other_practice, physician, coordinator, model
):
    """Outcome, Claim and ClaimLine keep only the same-practice composite foreign keys (the
    single-column ones were checked twice on each COPYed row): a foreign or missing patient or
    claim is still refused by the database, at once."""
    _patients(practice, physician, coordinator, 1)
    _close(practice)
    row = model.objects.for_practice(practice).get()
    outsider = PatientFactory(practice=other_practice)
    for patient_id in (outsider.pk, uuid.uuid4()):
        with pytest.raises(IntegrityError, match="same_practice"), transaction.atomic():
            model.objects.for_practice(practice).filter(pk=row.pk).update(patient_id=patient_id)
    line = ClaimLine.objects.for_practice(practice).first()
    with pytest.raises(IntegrityError, match="same_practice"), transaction.atomic():
        ClaimLine.objects.for_practice(practice).filter(pk=line.pk).update(claim_id=uuid.uuid4())


def test_a_close_in_big_batches_gives_what_small_batches_give(practice, physician, coordinator):
    _patients(practice, physician, coordinator, 5)
    with mock.patch.object(services, "BATCH", 1):
        _close(practice)
    expected = _snapshot(practice)
    for model in (ClaimLine, Claim, Outcome):
        model.objects.unscoped().all().delete()
    from billing.models import MonthClose
    from timelog.models import MonthLock

    MonthClose.objects.unscoped().all().delete()
    MonthLock.objects.unscoped().all().delete()
    close = _close(practice)
    assert _snapshot(practice) == expected
    assert close.patients_done == close.patients_total == 5


def _setting(name):
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "own_transactions",
    [pytest.param(True, marks=pytest.mark.django_db(transaction=True)), False],
)
def test_a_batch_commits_without_waiting_for_the_disk_and_the_finish_does(
    practice, physician, coordinator, settings, own_transactions
):
    """synchronous_commit is off in the batches' own transactions only: a crash loses at
    most the last batches (re-run), and the finish's durable commit flushes them all. Inside
    a caller's transaction (here the test's) the batches are savepoints: left as it is."""
    settings.MONTH_CLOSE_WORKERS = 1  # the batches on this connection
    _patients(practice, physician, coordinator, 3)
    seen = []
    real = services.load_month_batch

    def loading(**kwargs):
        seen.append(_setting("synchronous_commit"))
        return real(**kwargs)

    finishing = services._finish

    def finish(*args):
        seen.append(_setting("synchronous_commit"))
        return finishing(*args)

    with (
        mock.patch.object(services, "BATCH", 2),
        mock.patch.object(services, "load_month_batch", loading),
        mock.patch.object(services, "_finish", finish),
    ):
        _close(practice)
    assert seen == (["off", "off", "on"] if own_transactions else ["on", "on", "on"])
    assert _setting("synchronous_commit") == "on"
