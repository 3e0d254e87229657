"""Month close on a real Celery worker, SIGKILLed half-way: a new worker given the same task
finishes it, and the month's outcomes, claims and lines equal an uninterrupted close's.

The kill is made deterministic with a table lock: once the first batch has committed, the
test takes `LOCK TABLE billing_claimline IN SHARE MODE`, so the worker's next batch blocks
inside its transaction (outcomes and claims inserted, not committed) and is killed there.
The killed worker's message stays unacked in Redis for the visibility timeout (an hour,
ccm/settings.py), so the recovery is the documented one: enqueue the same task again.
When the whole worker dies (main process and pool child, SIGKILL to its process group),
nobody enqueues it: the periodic re-queue finds the close's heartbeat stale and does.
"""

import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing.close import services, tasks
from billing.demo import part_b_for_uncovered
from billing.models import Claim, ClaimLine, CloseStatus, MonthClose, Outcome
from careplans.demo import seed_care_plans
from ccm.models import Role
from ccm.months import month_bounds, month_label, month_of, previous_month
from patients.demo import Staff, seed_patients
from patients.models import Patient, Status
from tests.factories import MembershipFactory
from tests.helpers import database_url, wait_for
from timelog.models import MonthLock, PerformerKind, TimeEntry

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real broker)"),
    pytest.mark.django_db(transaction=True),  # the worker must see committed rows
]

PATIENTS = 2_200  # about 1,600 enrolled: four batches of up to 500 (services.BATCH)
BATCH = 500


@pytest.fixture(autouse=True)
def _batches_of_500(monkeypatch):
    """Batches of 500 here and in the workers (MONTH_CLOSE_BATCH, read at start): several
    batches, so a kill lands between them, without seeding 10,000 patients."""
    monkeypatch.setattr(services, "BATCH", BATCH)
    monkeypatch.setenv("MONTH_CLOSE_BATCH", str(BATCH))


WAIT = 40  # seconds for any one step; the test takes about 30 s on a busy 2-core machine


def _month(practice):
    return previous_month(month_of(timezone.now(), practice.time_zone))


def _seed(practice, physician, coordinator, month):
    """Demo patients and plans (some plans missing or unsigned, some consents dated in the
    month); per enrolled patient 1-4 entries of 2-30 minutes, some by the physician, so some
    months fall short of 20 minutes, most bill 99490 and some add 99439."""
    seed_patients(
        practice=practice,
        staff=Staff(physician=physician, coordinators=(coordinator,)),
        count=PATIENTS,
        today=timezone.localdate(),
        prefix="W",
    )
    part_b_for_uncovered(practice)  # seed_patients bulk-creates patients without coverage
    seed_care_plans(practice=practice, physician=physician, coordinators=[coordinator])
    staff = [MembershipFactory(practice=practice, role=Role.COORDINATOR) for _ in range(8)]
    rng = random.Random("month-close-worker")
    cursor = dict.fromkeys(
        [physician.pk] + [m.pk for m in staff], month_bounds(month, practice.time_zone)[0]
    )
    entries = []
    patients = Patient.objects.for_practice(practice).filter(status=Status.ENROLLED)
    for n, patient in enumerate(patients.order_by("mrn")):
        for k in range(rng.randint(1, 4)):
            performer = physician if k == 0 and n % 9 == 0 else staff[(n + k) % len(staff)]
            minutes, started = rng.randint(2, 30), cursor[performer.pk]
            cursor[performer.pk] = started + dt.timedelta(minutes=31)  # entries never overlap
            assert month_of(started, practice.time_zone) == month, "add performers"
            entries.append(
                TimeEntry(
                    practice=practice,
                    patient=patient,
                    performer=performer,
                    performer_kind=PerformerKind.PHYSICIAN
                    if performer == physician
                    else PerformerKind.CLINICAL_STAFF,
                    practitioner=physician,
                    started_at=started,
                    minutes=minutes,
                    ended_at=started + dt.timedelta(minutes=minutes),
                    activity="call_patient",
                    billing_month=month,
                    created_at=started,
                )
            )
    TimeEntry.objects.unscoped().bulk_create(entries, batch_size=2000)


def _snapshot(practice, month):
    outcomes = sorted(
        (
            str(o.patient_id),
            o.billable,
            tuple(o.blocked_by),
            tuple(o.reasons),
            o.clinical_staff_minutes,
            o.physician_minutes,
            o.next_code,
            o.minutes_needed,
        )
        for o in Outcome.objects.for_practice(practice).filter(month=month)
    )
    claims = sorted(
        (
            str(c.patient_id),
            str(c.billing_practitioner_id),
            c.date_of_service,
            c.place_of_service,
            tuple(c.diagnosis_codes),
            c.amount,
        )
        for c in Claim.objects.for_practice(practice).filter(month=month)
    )
    lines = sorted(
        (
            str(line.claim.patient_id),
            line.position,
            line.code,
            line.units,
            line.minutes,
            line.charge,
            line.explanation,
        )
        for line in ClaimLine.objects.for_practice(practice)
        .filter(claim__month=month)
        .select_related("claim")
    )
    close = MonthClose.objects.for_practice(practice).get(month=month)
    totals = (close.status, close.patients_total, close.patients_done, close.claims, close.amount)
    return outcomes, claims, lines, totals


def _reset(practice, month):
    """Forget the reference close, so the worker closes the month from scratch."""
    ClaimLine.objects.for_practice(practice).delete()
    Claim.objects.for_practice(practice).delete()
    Outcome.objects.for_practice(practice).delete()
    MonthClose.objects.for_practice(practice).delete()
    MonthLock.objects.for_practice(practice).delete()


class Workers:
    """Celery worker processes on one private queue; every one is killed at teardown."""

    def __init__(self, queue):
        self.queue, self.procs, self.logs = queue, [], []

    def start(self, pool="solo", **extra_env):
        """A worker (`pool="prefork"`: a main process and one child) in its own process group,
        whose default queue is the private one (so tasks it queues itself stay private)."""
        # A file, not a pipe: a pipe nobody reads could fill and stall the worker.
        log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ccm.settings", **extra_env}
        env["DATABASE_URL"] = database_url()
        env["CELERY_DEFAULT_QUEUE"] = self.queue
        env["PGAPPNAME"] = self.name(len(self.procs))  # libpq names its every connection
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ccm", "worker", "-Q", self.queue,
             "-n", f"{self.name(len(self.procs))}@%h", f"--pool={pool}", "--concurrency=1",
             "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        self.logs.append(log)
        return proc

    def name(self, index):
        return f"{self.queue}-{index}"

    def output(self):
        text = []
        for log in self.logs:
            log.seek(0)
            text.append(log.read().decode(errors="replace")[-3000:])
        return "\n---\n".join(text)

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # an idle worker exits at once
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # a pool child left behind
        for log in self.logs:
            log.close()


def _forget_unacked(queue):
    """Drop the killed worker's unacked message and the queue's keys from our Redis db, so
    nothing is restored to a queue nobody reads an hour from now (kombu's Redis layout)."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[2] == queue:  # [message, exchange, routing key]
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


@pytest.fixture
def workers():
    pool = Workers(f"test-month-close-{os.getpid()}")
    try:
        yield pool
    finally:
        pool.stop()
        _forget_unacked(pool.queue)


def _wait_for(what, check, workers):
    return wait_for(
        what, check, within=WAIT, every=0.02, log=lambda: f"worker output:\n{workers.output()}"
    )


def _worker_backends(worker, lock_pid):
    """The worker's backends (its PGAPPNAME), as {pid: (in a transaction, blocked by the
    blocker)}. With MONTH_CLOSE_WORKERS threads it has one per thread besides its main one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, xact_start IS NOT NULL, %s = ANY(pg_blocking_pids(pid))"
            " FROM pg_stat_activity WHERE application_name = %s",
            [lock_pid, worker],
        )
        return {pid: (in_transaction, blocked) for pid, in_transaction, blocked in cursor}


def _all_batches_blocked(worker, lock_pid):
    """The blocked backends once every batch in flight waits on the blocker's lock (a thread
    between batches holds no transaction; its next batch would block too), else []."""
    backends = _worker_backends(worker, lock_pid)
    blocked = [pid for pid, (_, is_blocked) in backends.items() if is_blocked]
    in_flight = [pid for pid, (in_transaction, _) in backends.items() if in_transaction]
    return blocked if blocked and set(in_flight) <= set(blocked) else []


def _backend_alive(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] > 0


def _outcomes(practice):
    return Outcome.objects.for_practice(practice).count()


def _status(practice):
    close = MonthClose.objects.for_practice(practice).first()
    return close.status if close else None


def _kill_mid_batch(practice, total, workers, kill):
    """Once the first batch has committed, block the next one inside its transaction (a
    table lock), `kill()` the worker there, and wait until PostgreSQL has rolled the dead
    worker's batch back. Returns the outcomes committed before the kill."""
    _wait_for("the first batch", lambda: _outcomes(practice) > 0, workers)
    worker = workers.name(len(workers.procs) - 1)  # the one running the close
    blocker = connection.get_new_connection(connection.get_connection_params())
    try:
        # Autocommit off: the lock lasts until rollback. Waits for a batch in flight.
        blocker.autocommit = False
        blocker.execute("LOCK TABLE billing_claimline IN SHARE MODE")
        lock_pid = blocker.info.backend_pid
        stuck = _wait_for(
            "the worker's batches to block",
            lambda: (
                _all_batches_blocked(worker, lock_pid) or _status(practice) == CloseStatus.CLOSED
            ),
            workers,
        )
        assert _status(practice) == CloseStatus.RUNNING, "closed before the lock: add patients"
        assert 1 <= len(stuck) <= settings.MONTH_CLOSE_WORKERS  # one per thread in a batch
        committed = _outcomes(practice)
        assert committed % services.BATCH == 0
        assert 0 < committed < total
        doomed = list(_worker_backends(worker, lock_pid))  # main connection and threads'
        kill()  # mid-batch: its outcomes and claims uncommitted
    finally:
        blocker.rollback()
        blocker.close()
    # PostgreSQL finds the client gone once the insert gets its lock: it rolls back and exits.
    _wait_for(
        "the dead worker's backends to end", lambda: not any(map(_backend_alive, doomed)), workers
    )
    return committed


@pytest.fixture
def reference(practice, physician, coordinator):
    """The month's uninterrupted close (in-process), then the month from scratch for the
    workers: (month, snapshot)."""
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    month = _month(practice)
    _seed(practice, physician, coordinator, month)
    services.month_close(practice_id=practice.pk, month=month)
    expected = _snapshot(practice, month)
    outcomes, claims, lines, totals = expected
    assert totals[1] > 3 * services.BATCH  # several batches, so a kill can land between them
    assert 0 < len(claims) < len(outcomes)  # billable and not billable months
    assert {"99490", "99439"} <= {line[2] for line in lines}
    _reset(practice, month)
    return month, expected


def test_a_worker_killed_mid_close_is_finished_by_another_with_the_same_result(
    practice, reference, workers
):
    month, expected = reference
    totals = expected[3]
    first = workers.start()
    tasks.month_close.apply_async(args=[str(practice.pk), month_label(month)], queue=workers.queue)
    committed = _kill_mid_batch(
        practice, totals[1], workers, lambda: os.kill(first.pid, signal.SIGKILL)
    )
    first.wait(timeout=WAIT)
    assert _outcomes(practice) == committed
    assert _status(practice) == CloseStatus.RUNNING

    workers.start()
    tasks.month_close.apply_async(args=[str(practice.pk), month_label(month)], queue=workers.queue)
    _wait_for("the close", lambda: _status(practice) == CloseStatus.CLOSED, workers)

    assert _snapshot(practice, month) == expected
    close = MonthClose.objects.for_practice(practice).get(month=month)
    assert set(Outcome.objects.unscoped().values_list("close_id", flat=True)) == {close.pk}
    assert MonthClose.objects.unscoped().count() == 1


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def test_a_close_survives_the_death_of_the_whole_worker(practice, reference, workers):
    """Main process and pool child SIGKILLed mid-batch: the task stays unacked in Redis for
    the visibility timeout (an hour), and nobody presses a button. A new worker and the
    periodic re-queue (the beat's task, sent here every second instead of every 30 s) finish
    the close, with the claims of an uninterrupted close, well within 3 minutes."""
    month, expected = reference
    stale_after = 10  # seconds; production's 60 s is a setting (MONTH_CLOSE_STALE_AFTER)
    env = {"MONTH_CLOSE_STALE_AFTER": str(stale_after)}
    first = workers.start(pool="prefork", **env)
    tasks.month_close.apply_async(args=[str(practice.pk), month_label(month)], queue=workers.queue)
    _wait_for("the pool child", lambda: _children(first.pid), workers)
    pids: list[int] = []

    def kill_everything():
        # Read at the kill, while the pool child runs the blocked batch: a child seen at start
        # may have been a short-lived one (CI saw one vanish between two reads).
        pids.extend([first.pid, *_children(first.pid)])
        os.killpg(first.pid, signal.SIGKILL)  # the worker's process group: main and child

    _kill_mid_batch(practice, expected[3][1], workers, kill_everything)
    killed = time.monotonic()
    first.wait(timeout=WAIT)
    assert len(pids) == 2
    assert _status(practice) == CloseStatus.RUNNING

    workers.start(pool="prefork", **env)
    deadline, beat = killed + 180, 0.0
    while _status(practice) != CloseStatus.CLOSED:
        now = time.monotonic()
        assert now < deadline, f"not closed in 3 minutes:\n{workers.output()}"
        if now >= beat and not _queued(workers.queue):
            tasks.month_close_resume_stalled.apply_async(queue=workers.queue)
            beat = now + 1  # the beat's period, shortened
        time.sleep(0.1)
    finished = time.monotonic() - killed
    print(f"\nfull worker kill -> close finished in {finished:.1f} s")  # the figure

    assert _snapshot(practice, month) == expected
    close = MonthClose.objects.for_practice(practice).get(month=month)
    assert set(Outcome.objects.unscoped().values_list("close_id", flat=True)) == {close.pk}
    assert close.times_closed == 1


def _queued(queue):
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        return client.llen(queue)
    finally:
        client.close()
