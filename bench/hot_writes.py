"""The coordinator's hot-path writes over the page (issue 18, target 4): logging time (the
chart's form), stopping the timer (a call, with its outcome) and completing a call task (its
minutes and outcome), each next to a trivial POST through the same middleware (discarding a
timer that is not running) measured in the same run.

In-process (`--mode inprocess`): warm, N requests each through Django's test client; prints
median and p95 ms, the ratio to the trivial POST and the queries per request.

Over HTTP (`--mode http`): a real gunicorn (2 workers, production settings, bench/_load.py)
and 1 and 4 concurrent users, each a bench member with its own session and patients. Every
timed request has its own precondition, made untimed just before it: a stop, a running timer
(started over HTTP by `POST /timer/start/`, then dated 3 minutes back, the member's earlier
timer entries removed so the new one never overlaps them); a completion, an open call task
(a pool created before the phase). Logged minutes and calls go in distinct 2-minute slots
from the month's first midnight (no overlap). Next to them in the same run: the trivial POST
and `GET /api/v1/me/`. Prints p50/p95 per run and the median of RUNS runs with the ratios.

`--queries` prints every query of one request of each kind (in-process). Uses the demo data
(`seed_demo`) in the dev database or DATABASE_URL's; bench members of the demo practice do
the writing, so the demo's own entries never clash with the bench's.

    python bench/hot_writes.py [--mode both|inprocess|http] [--runs 3] [--seconds 4]
        [--users 1,4]
"""

import argparse
import datetime as dt
import http.client
import itertools
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import _common
import _setup

sys.path.append(str(_setup.HERE))  # _setup took bench/ off the path (bench/patients.py)
import _load
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ccm.models import Membership, Role, User
from ccm.tenancy import practice_scope
from patients.models import Patient, Status
from timelog.models import (
    Activity,
    ContactAttempt,
    RunningTimer,
    Task,
    TaskKind,
    TaskStatus,
    TimeEntry,
)

N = 200
EMAIL = "hot-writes@demo.test"


def _bench_member(coordinator: Membership, u: int = 0) -> tuple[Membership, Client]:
    """The u-th bench member of the coordinator's practice (a coordinator), signed in."""
    practice = coordinator.practice
    email = EMAIL if u == 0 else EMAIL.replace("@", f"-{u}@")
    user, _ = User.objects.get_or_create(email=email)
    member, _ = Membership.objects.for_practice(practice).get_or_create(
        practice=practice, user=user, defaults={"role": Role.COORDINATOR}
    )
    client = Client()
    client.force_login(user)
    return member, client


def _clean(member: Membership) -> None:
    """The bench member's earlier writes (untimed): attempts, tasks, entries, a timer."""
    ContactAttempt.objects.unscoped().filter(recorded_by=member).delete()
    Task.objects.unscoped().filter(created_by=member).delete()
    TimeEntry.objects.unscoped().filter(performer=member).delete()
    RunningTimer.objects.unscoped().filter(membership=member).delete()


def _run(
    label: str, setup: Callable[[int], Any], post: Callable[[int, Any], Any], expect: int = 302
) -> list[float]:
    """`setup(i)` (untimed) prepares the i-th request, `post(i, prepared)` makes it."""
    times = []
    for i in range(N + 1):
        prepared = setup(i)
        start = time.perf_counter()
        response = post(i, prepared)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == expect, (label, response.status_code, response.content[:600])
        if i:  # the first one warms up
            times.append(elapsed)
    return times


def _queries(setup: Callable[[int], Any], post: Callable[[int, Any], Any], i: int) -> list[str]:
    prepared = setup(i)
    with CaptureQueriesContext(connection) as captured:
        post(i, prepared)
    return [q["sql"] for q in captured.captured_queries]


def in_process(show: bool) -> None:
    coordinator, _, _ = _common.demo_coordinator()
    practice = coordinator.practice
    member, client = _bench_member(coordinator)
    _clean(member)
    # Patients without an open follow-up call this month: the bench opens and completes its own.
    busy = Task.objects.for_practice(practice).filter(
        kind=TaskKind.FOLLOW_UP_CALL, month=practice.this_month(), status=TaskStatus.OPEN
    )
    patients = list(
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED)
        .exclude(pk__in=busy.values("patient_id"))
        .order_by("mrn")[:20]
    )
    zone = practice.zone
    # Log time: one minute each, in slots after midnight of the month's first day (no clash).
    first = timezone.now().astimezone(zone).replace(day=1, hour=0, minute=0, second=0)
    first = first.replace(microsecond=0)

    def no_setup(i: int) -> None:
        return None

    def log_time(i: int, _: Any) -> Any:
        started = first + dt.timedelta(minutes=i % 1000)
        return client.post(
            f"/patients/{patients[i % len(patients)].pk}/time/new/",
            {
                "started_at": started.strftime("%Y-%m-%d %H:%M"),
                "minutes": "1",
                "activity": Activity.CHART_REVIEW,
                "note": "",
            },
        )

    def timer_setup(i: int) -> None:
        TimeEntry.objects.unscoped().filter(performer=member).delete()
        ContactAttempt.objects.unscoped().filter(recorded_by=member).delete()
        RunningTimer.objects.unscoped().filter(membership=member).delete()
        RunningTimer.objects.for_practice(practice).create(
            practice=practice,
            membership=member,
            patient=patients[i % len(patients)],
            started_at=timezone.now() - dt.timedelta(minutes=3),
        )

    def timer_stop(i: int, _: Any) -> Any:
        return client.post(
            "/timer/stop/",
            {"activity": Activity.CALL_PATIENT, "note": "", "outcome": "reached"},
        )

    def task_setup(i: int) -> Task:
        ContactAttempt.objects.unscoped().filter(recorded_by=member).delete()
        Task.objects.unscoped().filter(created_by=member).delete()
        TimeEntry.objects.unscoped().filter(performer=member).delete()
        today = practice.today()
        return Task.objects.for_practice(practice).create(
            practice=practice,
            patient=patients[i % len(patients)],
            kind=TaskKind.FOLLOW_UP_CALL,
            due_on=today,
            month=today.replace(day=1),
            assignee=member,
            created_by=member,
        )

    def task_complete(i: int, task: Task) -> Any:
        return client.post(
            f"/tasks/{task.pk}/complete/",
            {"note": "", "log_minutes": "5", "outcome": "reached", "cancel": ""},
        )

    def trivial(i: int, _: Any) -> Any:
        return client.post("/timer/discard/")  # no timer: a flash message and a redirect

    writes = [
        ("log time (POST time/new)", no_setup, log_time),
        ("stop timer (POST timer/stop, call)", timer_setup, timer_stop),
        ("complete call task (POST, minutes)", task_setup, task_complete),
    ]
    with practice_scope(practice):
        if show:
            _clean(member)
            for label, setup, post in writes:
                sqls = _queries(setup, post, 1000)
                print(f"== {label}: {len(sqls)} queries")
                for n, sql in enumerate(sqls, 1):
                    print(f"{n:3}. {sql[:400]}")
            _clean(member)
            return
        print(f"== {N} requests each (in-process, warm); reference: a trivial POST, same run")
        reference = _run("trivial POST", no_setup, trivial)
        ref50, ref95 = statistics.median(reference), _setup.percentile(reference, 0.95)
        print(
            f"{'trivial POST (timer/discard, none)':<38} "
            f"median {ref50:6.2f} ms   p95 {ref95:6.2f} ms"
        )
        for label, setup, post in writes:
            _clean(member)
            times = _run(label, setup, post)
            count = len(_queries(setup, post, N + 1))
            p50, p95 = statistics.median(times), _setup.percentile(times, 0.95)
            print(
                f"{label:<38} median {p50:6.2f} ms   p95 {p95:6.2f} ms   "
                f"ratio p50 {p50 / ref50:4.1f}x p95 {p95 / ref95:4.1f}x   {count} queries"
            )
        _clean(member)


# --- Over HTTP -------------------------------------------------------------------------------

TARGETS = {1: 50.0, 4: 150.0}  # p95 ms, issue 18 target 4
WRITES = ("log_time", "timer_stop", "task_complete")
REFERENCES = ("trivial_post", "me")
TASK_KINDS = (TaskKind.FOLLOW_UP_CALL, TaskKind.CHECK_IN, TaskKind.CONSENT_RENEWAL)


class _Slots:
    """Each phase's 2-minute slots (log time, a task's call) from the month's first midnight
    (`next` is safe across the users' threads: itertools.count under the GIL)."""

    def __init__(self, first: dt.datetime) -> None:
        self.first = first
        self.reset()

    def reset(self) -> None:
        self.count = itertools.count()

    def next(self) -> str:
        started = self.first + dt.timedelta(minutes=2 * next(self.count))
        assert started < timezone.now() - dt.timedelta(minutes=5), "out of slots this month"
        return started.strftime("%Y-%m-%dT%H:%M")


def _form(session: Any) -> dict[str, str]:
    return session.headers(**{"Content-Type": "application/x-www-form-urlencoded"})


def _encode(data: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(data).encode()


def _task_pool(practice: Any, member: Membership, patients: list[Patient], size: int) -> list[str]:
    """`size` open call tasks of the member (untimed), on (patient, kind, month) triples no
    open task holds (one open task per kind and month)."""
    today = practice.today()
    first = today.replace(day=1)
    # The months around this one (a task is due within a year of today).
    months = [(first + dt.timedelta(days=31 * k)).replace(day=1) for k in range(-11, 12)]
    taken = set(
        Task.objects.for_practice(practice)
        .filter(status=TaskStatus.OPEN, patient__in=patients)
        .values_list("patient_id", "kind", "month")
    )
    tasks = []
    for month, kind, patient in itertools.product(months, TASK_KINDS, patients):
        if len(tasks) == size:
            break
        if (patient.pk, kind, month) not in taken:
            tasks.append(
                Task(
                    practice=practice,
                    patient=patient,
                    kind=kind,
                    due_on=max(month, today - dt.timedelta(days=300)),
                    month=month,
                    assignee=member,
                    created_by=member,
                )
            )
    assert len(tasks) == size, "not enough free (patient, kind, month) triples for the pool"
    Task.objects.for_practice(practice).bulk_create(tasks)
    return [str(t.pk) for t in tasks]


def _scenario(
    name: str,
    practice: Any,
    member: Membership,
    session: Any,
    patients: list[Patient],
    slots: _Slots,
    port: int,
    pool: int,
) -> Callable[[int], Any]:
    """The request factory of one user (bench/_load.drive): `factory(n)` makes the n-th
    request's precondition (untimed) and returns the request."""
    form = _form(session)
    if name == "trivial_post":
        return lambda n: _load.Request("POST", "/timer/discard/", form, b"", ok=(302,))
    if name == "me":
        return _load.get("/api/v1/me/", session)
    if name == "log_time":

        def log_time(n: int) -> Any:
            body = {"started_at": slots.next(), "minutes": "1", "activity": "chart_review"}
            path = f"/patients/{patients[n % len(patients)].pk}/time/new/"
            return _load.Request("POST", path, form, _encode({**body, "note": ""}), ok=(302,))

        return log_time
    if name == "timer_stop":
        side = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        timers = RunningTimer.objects.for_practice(practice).filter(membership=member)
        stop = _encode({"activity": Activity.CALL_PATIENT, "note": "", "outcome": "reached"})

        def timer_stop(n: int) -> Any:
            # Untimed: the member's earlier timer entries go (the new one never overlaps
            # them), a timer starts over HTTP and is dated 3 minutes back.
            ContactAttempt.objects.for_practice(practice).filter(recorded_by=member).delete()
            TimeEntry.objects.for_practice(practice).filter(performer=member).delete()
            start = {"patient": str(patients[n % len(patients)].pk)}
            side.request("POST", "/timer/start/", body=_encode(start), headers=form)
            response = side.getresponse()
            response.read()
            assert response.status == 302, response.status
            assert timers.update(started_at=timezone.now() - dt.timedelta(minutes=3)) == 1
            return _load.Request("POST", "/timer/stop/", form, stop, ok=(302,))

        return timer_stop
    if name == "task_complete":
        tasks = _task_pool(practice, member, patients, pool)

        def task_complete(n: int) -> Any:
            if n >= len(tasks):  # the pool ran out: one more, untimed
                tasks.extend(_task_pool(practice, member, patients, 1))
            body = {
                "note": "",
                "log_minutes": "1",
                "log_started_at": slots.next(),
                "outcome": "reached",
                "cancel": "",
            }
            return _load.Request(
                "POST", f"/tasks/{tasks[n]}/complete/", form, _encode(body), ok=(302,)
            )

        return task_complete
    raise ValueError(name)


def over_http(levels: list[int], runs: int, seconds: float) -> None:
    coordinator, _, _ = _common.demo_coordinator()
    practice = coordinator.practice
    members = [_bench_member(coordinator, u)[0] for u in range(max(levels))]
    sessions = [_load.sign_in(m.user) for m in members]
    busy = Task.objects.for_practice(practice).filter(
        kind__in=TASK_KINDS, month=practice.this_month(), status=TaskStatus.OPEN
    )
    enrolled = list(
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED)
        .exclude(pk__in=busy.values("patient_id"))
        .order_by("mrn")
    )
    # Each member works on its own patients (coordinators share none: no lock waits).
    mine = [enrolled[u :: len(members)] for u in range(len(members))]
    first = timezone.now().astimezone(practice.zone).replace(day=1, hour=0, minute=0, second=0)
    slots = _Slots(first.replace(microsecond=0))
    names = [*REFERENCES, *WRITES]
    print(
        f"== over HTTP: gunicorn {_load.WORKERS} workers, {seconds:.0f} s per point, users "
        f"{','.join(map(str, levels))}, median of {runs} runs; "
        f"{len(enrolled)} patients, loadavg {_loadavg()}"
    )
    results: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
    with practice_scope(practice), _load.gunicorn() as port:
        for run in range(runs):
            for users in levels:
                for name in names:
                    for member in members:
                        _clean(member)
                    slots.reset()
                    pool = int(seconds * 60 / users) + 10  # more on the fly if need be
                    factories = [
                        _scenario(
                            name, practice, members[u], sessions[u], mine[u], slots, port, pool
                        )
                        for u in range(users)
                    ]
                    result = _load.drive(port, factories, seconds=seconds)
                    results.setdefault((name, users), []).append(
                        (result.p50, result.p95, len(result.times))
                    )
                    print(
                        f"  run {run + 1} {users} users {name:<14} p50 {result.p50:7.1f}   "
                        f"p95 {result.p95:7.1f} ms   n {len(result.times):4}"
                        + (f"   {result.errors} errors" if result.errors else ""),
                        flush=True,
                    )
        for member in members:
            _clean(member)
    print(f"\n== median of {runs} runs (loadavg {_loadavg()})")
    print(
        f"{'what':<14} {'users':>5} {'p50 ms':>8} {'p95 ms':>8}   {'p95/trivial':>11} "
        f"{'p95/me':>7}   target"
    )
    for name in names:
        for users in levels:
            p50, p95 = (statistics.median(r[i] for r in results[(name, users)]) for i in (0, 1))
            triv = statistics.median(r[1] for r in results[("trivial_post", users)])
            me = statistics.median(r[1] for r in results[("me", users)])
            target = TARGETS.get(users)
            verdict = ""
            if name in WRITES and target:
                verdict = f"<= {target:.0f} ms: {'met' if p95 <= target else 'NOT met'}"
            print(
                f"{name:<14} {users:>5} {p50:8.1f} {p95:8.1f}   {p95 / triv:10.2f}x "
                f"{p95 / me:6.2f}x   {verdict}"
            )


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("both", "inprocess", "http"), default="both")
    parser.add_argument("--queries", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--users", default="1,4")
    args = parser.parse_args()
    if args.queries or args.mode in ("both", "inprocess"):
        in_process(args.queries)
    if not args.queries and args.mode in ("both", "http"):
        over_http([int(u) for u in args.users.split(",")], args.runs, args.seconds)


if __name__ == "__main__":
    main()
