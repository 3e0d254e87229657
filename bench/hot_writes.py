"""The coordinator's hot-path writes over the page (issue 18, target 4), in-process and warm:
logging time (the chart's form), stopping the timer (a call, with its outcome) and completing
a call task (its minutes and outcome), each next to a trivial POST through the same
middleware (discarding a timer that is not running) measured in the same run.

Prints median and p95 milliseconds over N requests, the ratio to the trivial POST and the
queries per request. `--queries` prints every query of one request of each kind. Uses the
demo data (`seed_demo`) in the dev database or DATABASE_URL's; a bench member of the demo
practice does the writing, so the demo's own entries never clash with the bench's.
"""

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import _common
import _setup
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


def _bench_member(coordinator: Membership) -> tuple[Membership, Client]:
    practice = coordinator.practice
    user, _ = User.objects.get_or_create(email=EMAIL)
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


def main() -> None:
    show = "--queries" in sys.argv
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


if __name__ == "__main__":
    main()
