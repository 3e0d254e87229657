"""Every worklist sort and filter at scale, in-process: the page (GET /worklist/, warm) and its
two id queries alone (the count and the page's ids, `timelog.selectors.worklist_page_ids`),
next to /api/v1/me/ and a bare SQL count of the practice's patients measured in the same run.

Uses bench/worklist.py's practice for the size asked (seeded once, in SQL: a minute or two at
50,000 enrolled). Prints p50/p95 ms per run and the median of RUNS runs, with the ratios.

    python bench/worklist_sorts.py [--enrolled 50000] [--runs 3] [--requests 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _setup
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

sys.path.append(str(Path(__file__).resolve().parent))  # _setup took bench/ off the path
import worklist as worklist_bench

from ccm.months import month_label, month_of, previous_month
from ccm.tenancy import practice_scope
from timelog import selectors

CASES = {
    "name": "",
    "sort_minutes": "sort=minutes",
    "sort_needed": "sort=needed",
    "sort_contact": "sort=contact",
    "sort_due": "sort=due",
    "no_contact_by_contact": "show=no_contact&sort=contact",
    "filter_below": "show=below",
    "filter_reached": "show=reached",
    "filter_behind": "show=behind",
    "filter_no_contact": "show=no_contact",
    "filter_call_open": "call_window=open",
    "behind_by_due": "show=behind&sort=due",
    "below_by_contact": "show=below&sort=contact",
}


def _times(call: Callable[[], object], count: int) -> list[float]:
    call()  # warm
    out = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--enrolled", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    month = previous_month(month_of(timezone.now(), "America/New_York"))
    slug = "wl-a" if args.enrolled == worklist_bench.ENROLLED else f"wl-{args.enrolled // 1000}k"
    worklist_bench.ENROLLED = args.enrolled
    practice, coordinator = worklist_bench.bench_practice(slug, month)
    client = Client()
    client.force_login(coordinator.user)
    m = month_label(month)
    today = practice.today()
    cases = {k: v for k, v in CASES.items() if not args.only or k in args.only.split(",")}

    def page(query: str) -> Callable[[], object]:
        def get() -> None:
            response = client.get(f"/worklist/?who=all&month={m}&{query}")
            assert response.status_code == 200, response.status_code

        return get

    def ids(query: str) -> Callable[[], object]:
        params = dict(p.split("=") for p in query.split("&") if p)

        def run() -> None:
            with practice_scope(practice):
                queryset = selectors.worklist_page_ids(
                    practice=practice, month=month, today=today, **params
                )
                queryset.count()
                list(queryset[:25])

        return run

    def me() -> None:
        assert client.get("/api/v1/me/").status_code == 200

    def bare_count() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM patients_patient WHERE practice_id = %s", [practice.pk]
            )
            cursor.fetchall()

    # results[name] = [(p50, p95) per run]
    results: dict[str, list[tuple[float, float]]] = {}
    print(f"== {args.enrolled} enrolled ({slug}), {m}; {args.requests} requests a point")
    for run in range(args.runs):
        points = {"me": me, "bare_count": bare_count}
        for name, query in cases.items():
            points[f"{name} page"] = page(query)
            points[f"{name} ids"] = ids(query)
        for name, call in points.items():
            times = _times(call, args.requests)
            p50, p95 = statistics.median(times), _setup.percentile(times, 0.95)
            results.setdefault(name, []).append((p50, p95))
            print(f"  run {run + 1} {name:<32} p50 {p50:7.1f}  p95 {p95:7.1f} ms", flush=True)
    me95 = statistics.median(r[1] for r in results["me"])
    count95 = statistics.median(r[1] for r in results["bare_count"])
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\n== median of {args.runs} runs; load average {' '.join(load)}")
    print(f"{'what':<32} {'p50':>7} {'p95':>7}   {'p95/me':>7} {'p95/count':>9}")
    for name, values in results.items():
        p50 = statistics.median(v[0] for v in values)
        p95 = statistics.median(v[1] for v in values)
        print(f"{name:<32} {p50:7.1f} {p95:7.1f}   {p95 / me95:6.2f}x {p95 / count95:8.2f}x")
    print("target: every sort and filter <= 150 ms p95 (1 user) at 50,000 enrolled")


if __name__ == "__main__":
    main()
