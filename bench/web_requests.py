"""Latency and query counts of the core pages and API, in-process (no network), warm.

Prints one line per endpoint: median and p95 milliseconds over N requests, and queries per
request. Uses the demo data (`seed_demo`) in the dev database or DATABASE_URL's.
"""

import statistics
import time

import _common
import _setup
from django.db import connection
from django.test.utils import CaptureQueriesContext

N = 200


def measure(label: str, call) -> None:
    call()  # warm-up
    times = []
    for _ in range(N):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (label, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        call()
    print(
        f"{label:<34} median {statistics.median(times):6.2f} ms   "
        f"p95 {_setup.percentile(times, 0.95):6.2f} ms   {len(queries)} queries"
    )


def main() -> None:
    _, browser, api = _common.demo_coordinator()
    print(f"== {N} requests each (in-process, warm)")
    measure("GET /home/ (coordinator, session)", lambda: browser.get("/home/"))
    measure("GET /api/v1/me/ (session)", lambda: browser.get("/api/v1/me/"))
    measure("GET /api/v1/me/ (Bearer token)", lambda: api.get("/api/v1/me/"))
    measure("GET /healthz", lambda: browser.get("/healthz"))


if __name__ == "__main__":
    main()
