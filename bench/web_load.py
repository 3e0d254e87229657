"""The worklist and the coordinator's writes under concurrent use, over HTTP against a real
gunicorn (2 workers, production settings): 1, 4 and 8 concurrent users.

Uses bench/worklist.py's practice (10,000 enrolled, 200,000 entries last month; seeded once).
Each figure stands next to two references measured at the same concurrency in the same run:
`/api/v1/me/` (the per-request fixed cost of a signed-in API call) and `/healthz` (a trivial
request: one `SELECT 1`, no session). Prints p50/p95 ms and requests/s, the ratios, and the
median of RUNS runs.

    python bench/web_load.py [--seconds 4] [--runs 3] [--users 1,4,8] [--only worklist,log_time|all]
    python bench/web_load.py --enrolled 50000 --users 1 --only sorts   # sorts at 50k
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import _load
from django.conf import settings
from django.db import connection
from django.utils import timezone

sys.path.append(str(Path(__file__).resolve().parent))  # _setup took bench/ off the path
import worklist as worklist_bench

from ccm.models import Membership, Role
from ccm.months import month_label, month_of, previous_month
from patients.models import Patient, Status
from timelog.models import TimeEntry

# What `make bench` measures (about 5 minutes); `--only all` for every sort and filter.
DEFAULT = ("worklist", "worklist_api", "log_time", "sort_due", "sort_contact")
TARGET_P95_MS = 150
TARGET_RPS = 100


def _enrolled(practice) -> list[str]:
    rows = (
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED)
        .order_by("mrn")
        .values_list("pk", flat=True)[:200]
    )
    return [str(pk) for pk in rows]


# The tables a worklist page reads. Autovacuum keeps their visibility maps current in
# production; a freshly seeded bench database (or a machine with autovacuum off) has none, and
# its count of the list is then a heap scan instead of an index-only scan (8.7 ms against
# 1.5 ms at 10,000 enrolled): vacuumed once here, as autovacuum would have.
WORKLIST_TABLES = (
    "patients_patient",
    "timelog_monthprogress",
    "timelog_task",
    "timelog_contactattempt",
    "patients_consent",
    "patients_callwindow",
    "careplans_careplan",
    "careplans_careplanversion",
)


def vacuum_worklist_tables() -> None:
    with connection.cursor() as cursor:
        for table in WORKLIST_TABLES:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def scenarios(practice, month: dt.date, users: list[Membership]) -> dict[str, Callable]:
    """name -> (sessions) -> per-user request factories."""
    m = month_label(month)
    patients = _enrolled(practice)
    reads = {
        "healthz": "/healthz",
        "me": "/api/v1/me/",
        "worklist": f"/worklist/?who=all&month={m}",
        "worklist_mine": f"/worklist/?month={m}",
        "worklist_api": f"/api/v1/worklist/?month={m}",
        "sort_contact": f"/worklist/?who=all&show=no_contact&sort=contact&month={m}",
        "sort_due": f"/worklist/?who=all&sort=due&month={m}",
        "sort_minutes": f"/worklist/?who=all&sort=minutes&month={m}",
        "sort_needed": f"/worklist/?who=all&sort=needed&month={m}",
        "filter_behind": f"/worklist/?who=all&show=behind&month={m}",
        "filter_below": f"/worklist/?who=all&show=below&month={m}",
        "filter_reached": f"/worklist/?who=all&show=reached&month={m}",
        "filter_call_open": f"/worklist/?who=all&call_window=open&month={m}",
        "worklist_htmx_p40": f"/worklist/?who=all&month={m}&page=40",
    }
    out: dict[str, Callable] = {}
    for name, path in reads.items():
        headers = {"HX-Request": "true", "HX-Target": "worklist"} if "htmx" in name else {}
        if name == "healthz":
            out[name] = lambda sessions, path=path: [_load.get(path, None) for _ in sessions]
        else:
            out[name] = lambda sessions, path=path, headers=headers: [
                _load.get(path, s, **headers) for s in sessions
            ]
    out["log_time"] = lambda sessions: [
        _log_time(practice, s, patients, u) for u, s in enumerate(sessions)
    ]
    return out


# Writes: each user logs 1-minute entries for its own performer at distinct minutes of this
# month's first days (no two overlap, across runs too); they are deleted at the end.
_minute = itertools.count()


def _log_time(practice, session: _load.Session, patients: list[str], u: int) -> Callable:
    zone = practice.zone
    base = timezone.now().astimezone(zone).replace(day=1, hour=0, minute=0, second=0)
    headers = session.headers(
        **{"HX-Request": "true", "Content-Type": "application/x-www-form-urlencoded"}
    )

    def request(n: int) -> _load.Request:
        started = base + dt.timedelta(minutes=2 * next(_minute))
        body = urllib.parse.urlencode(
            {
                "started_at": started.strftime("%Y-%m-%dT%H:%M"),
                "minutes": "1",
                "activity": "chart_review",
                "note": "",
            }
        ).encode()
        patient = patients[(u * 17 + n) % len(patients)]
        return _load.Request("POST", f"/patients/{patient}/time/new/", headers, body, ok=(200, 302))

    return request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", default="1,4,8")
    parser.add_argument("--only", default="")
    parser.add_argument("--enrolled", type=int, default=worklist_bench.ENROLLED)
    args = parser.parse_args()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    month = previous_month(month_of(timezone.now(), "America/New_York"))
    slug = "wl-a" if args.enrolled == worklist_bench.ENROLLED else f"wl-{args.enrolled // 1000}k"
    worklist_bench.ENROLLED = args.enrolled
    practice, _ = worklist_bench.bench_practice(slug, month)
    vacuum_worklist_tables()
    staff = list(
        Membership.objects.for_practice(practice)
        .filter(role=Role.COORDINATOR, user__email__startswith="staff")
        .select_related("user")
        .order_by("user__email")[:8]
    )
    levels = [int(u) for u in args.users.split(",")]
    sessions = [_load.sign_in(m.user) for m in staff[: max(levels)]]
    all_scenarios = scenarios(practice, month, staff)
    wanted = [s for s in args.only.split(",") if s] or list(DEFAULT)
    if wanted == ["all"]:
        wanted = [n for n in all_scenarios if n not in ("healthz", "me")]
    if "sorts" in wanted:
        wanted = [n for n in all_scenarios if n.startswith(("sort_", "filter_"))] + ["worklist"]
    print(
        f"== {args.enrolled} enrolled ({slug}), {month_label(month)}; gunicorn "
        f"{_load.WORKERS} workers; {args.seconds:.0f} s per point, median of {args.runs} runs"
    )
    # results[name][users] = list of (p50, p95, rps) per run
    results: dict[str, dict[int, list[tuple[float, float, float]]]] = {}
    before = timezone.now()
    with _load.gunicorn() as port:
        for run in range(args.runs):
            for users in levels:
                for name in ["healthz", "me", *wanted]:
                    factories = all_scenarios[name](sessions[:users])
                    result = _load.drive(port, factories, seconds=args.seconds)
                    results.setdefault(name, {}).setdefault(users, []).append(
                        (result.p50, result.p95, result.rps)
                    )
                    print(
                        f"  run {run + 1} {users} users {name:<20} p50 {result.p50:7.1f}   "
                        f"p95 {result.p95:7.1f} ms   {result.rps:6.1f} req/s"
                        + (f"   {result.errors} errors" if result.errors else ""),
                        flush=True,
                    )
    TimeEntry.objects.for_practice(practice).filter(
        performer__in=staff, created_at__gte=before
    ).delete()
    print(f"\n== median of {args.runs} runs")
    print(
        f"{'what':<20} {'users':>5} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7}   "
        f"{'p95/me':>7} {'p95/healthz':>11} {'rps/me':>7}"
    )
    for name in ["healthz", "me", *wanted]:
        for users in levels:
            p50, p95, rps = (statistics.median(v) for v in zip(*results[name][users], strict=True))
            me95 = statistics.median(r[1] for r in results["me"][users])
            mers = statistics.median(r[2] for r in results["me"][users])
            hz95 = statistics.median(r[1] for r in results["healthz"][users])
            print(
                f"{name:<20} {users:>5} {p50:8.1f} {p95:8.1f} {rps:7.1f}   "
                f"{p95 / me95:6.2f}x {p95 / hz95:10.2f}x {rps / mers:6.2f}x"
            )
    print(
        f"targets: worklist p95 <= {TARGET_P95_MS} ms, >= {TARGET_RPS} req/s and <= 3x me's p95 "
        f"at 8 users; sorts/filters <= {TARGET_P95_MS} ms p95 at 1 user; me >= 300 req/s"
    )


if __name__ == "__main__":
    main()
