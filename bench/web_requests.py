"""Latency and query counts of the core pages and API, in-process (no network), warm.

Prints one line per endpoint: median and p95 milliseconds over N requests, and queries per
request. Uses the demo data (`seed_demo`) in the dev database or DATABASE_URL's.
"""

import statistics
import time

import _setup
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ccm import services
from ccm.models import Membership
from ccm.tenancy import practice_scope

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
    call_command("seed_demo", verbosity=0)
    coordinator = (
        Membership.objects.unscoped()
        .select_related("practice", "user")
        .get(user__email="coordinator@demo.test")
    )
    with practice_scope(coordinator.practice):
        _, raw = services.token_create(
            practice=coordinator.practice, actor=coordinator, membership=coordinator, name="bench"
        )
    browser = Client()
    browser.force_login(coordinator.user)
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    print(f"== {N} requests each (in-process, warm)")
    measure("GET /home/ (coordinator, session)", lambda: browser.get("/home/"))
    measure("GET /api/v1/me/ (session)", lambda: browser.get("/api/v1/me/"))
    measure("GET /api/v1/me/ (Bearer token)", lambda: api.get("/api/v1/me/"))
    measure("GET /healthz", lambda: browser.get("/healthz"))


if __name__ == "__main__":
    main()
