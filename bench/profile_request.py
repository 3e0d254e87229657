"""One request's cost in-process, as gunicorn runs it (DEBUG=0, the WSGI handler with every
middleware), with `/healthz` timed in the same run as the reference; optionally its cProfile.

Uses bench/worklist.py's practice (10,000 enrolled; seeded once) and a signed-in coordinator.
Prints the median ms per request of RUNS runs of N requests for each path, and the ratio to
/healthz; --profile prints the top functions of N more requests of the first path.

    python bench/profile_request.py [--n 50] [--runs 3] [--profile] [--sort tottime] \
        [--paths worklist,me,worklist_api] [--clock wall|cpu]
"""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "0")  # as gunicorn runs it (bench/_load.py)
os.environ.setdefault("CAREMONTH_DEV_SECRET", "1")
# As bench/_load.py runs gunicorn: no JSON request log line per request on stdout.
os.environ.setdefault("LOG_LEVEL", "WARNING")

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

import _load
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from django.utils import timezone

sys.path.append(str(Path(__file__).resolve().parent))  # _setup took bench/ off the path
import worklist as worklist_bench
from web_load import vacuum_worklist_tables

from ccm.models import Membership, Role
from ccm.months import month_label, month_of, previous_month


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--paths", default="worklist,me,worklist_api")
    # cpu: the profile counts this process's CPU only (waits on PostgreSQL left out).
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    month = previous_month(month_of(timezone.now(), "America/New_York"))
    m = month_label(month)
    practice, _ = worklist_bench.bench_practice("wl-a", month)
    vacuum_worklist_tables()
    staff = (
        Membership.objects.for_practice(practice)
        .filter(role=Role.COORDINATOR, user__email__startswith="staff")
        .select_related("user")
        .order_by("user__email")
        .first()
    )
    assert staff is not None
    session = _load.sign_in(staff.user)
    paths = {
        "healthz": "/healthz",
        "me": "/api/v1/me/",
        "worklist": f"/worklist/?who=all&month={m}",
        "worklist_htmx": f"/worklist/?who=all&month={m}&page=40",
        "worklist_api": f"/api/v1/worklist/?month={m}",
    }
    handler = WSGIHandler()
    factory = RequestFactory()

    def environ(name: str) -> dict:
        path, _, query = paths[name].partition("?")
        env = factory._base_environ(PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD="GET")
        if name != "healthz":
            env["HTTP_COOKIE"] = session.cookie
        if name == "worklist_htmx":
            env["HTTP_HX_REQUEST"] = "true"
            env["HTTP_HX_TARGET"] = "worklist"
        return env

    def one(name: str) -> None:
        status: list[str] = []
        body = handler(environ(name), lambda s, h, exc_info=None: status.append(s))
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        if not status[0].startswith("200"):
            raise SystemExit(f"{paths[name]}: {status[0]}")

    names = ["healthz", *[p for p in args.paths.split(",") if p]]
    per, cpu = _load.time_in_process(one, names, args.runs, args.n)
    ref, ref_cpu = statistics.median(per["healthz"]), statistics.median(cpu["healthz"])
    print(f"== in-process, DEBUG=0, median of {args.runs} x {args.n} requests")
    ratio = "/healthz"
    print(f"{'path':<15} {'wall ms':>8} {ratio:>9} {'cpu ms':>8} {ratio:>9}   runs (wall)")
    for name in names:
        ms, ms_cpu = statistics.median(per[name]), statistics.median(cpu[name])
        runs = " ".join(f"{v:.2f}" for v in per[name])
        wall, cpus = f"{ms:8.2f} {ms / ref:8.1f}x", f"{ms_cpu:8.2f} {ms_cpu / ref_cpu:8.1f}x"
        print(f"{name:<15} {wall} {cpus}   ({runs})")
    if args.profile:
        name = names[1]
        timer = time.process_time if args.clock == "cpu" else time.perf_counter
        profiler = cProfile.Profile(timer)
        profiler.enable()
        for _ in range(args.n):
            one(name)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
        print(f"\n== cProfile ({args.clock}) of {args.n} x {paths[name]} (sorted by {args.sort})")
        print(out.getvalue())


if __name__ == "__main__":
    main()
