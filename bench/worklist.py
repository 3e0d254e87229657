"""Worklist, chart and reminder job on the big demo (`seed_demo --patients 10000`).

Run after seeding: DATABASE_URL=... .venv/bin/python bench/worklist.py
Prints p50/p95 server time (in-process, warm) and the query count per request.
"""

import statistics
import time

import _setup
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ccm.models import Membership
from patients.models import Patient
from timelog import reminders

N = 10


def measure(label: str, client: Client, url: str) -> None:
    client.get(url)  # warm-up
    times = []
    for _ in range(N):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (label, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    print(
        f"{label:<36} p50 {statistics.median(times):7.1f} ms   "
        f"p95 {_setup.percentile(times, 0.95):7.1f} ms   {len(queries)} queries"
    )


def main() -> None:
    member = (
        Membership.objects.unscoped()
        .filter(user__email="coordinator@demo.test")
        .select_related("practice")
        .first()
    )
    if member is None:
        raise SystemExit("run `manage.py seed_demo --patients 10000` first")
    practice = member.practice
    enrolled = Patient.objects.unscoped().filter(practice=practice, status="enrolled").count()
    print(f"== {N} requests each; {enrolled} enrolled patients in the demo practice")
    client = Client()
    client.force_login(member.user)
    measure("worklist, my patients (page 1)", client, "/worklist/")
    measure("worklist, all patients (page 1)", client, "/worklist/?who=all")
    measure("worklist, all, behind pace", client, "/worklist/?who=all&show=behind")
    measure("worklist API, all", client, "/api/v1/worklist/")
    patient = Patient.objects.unscoped().filter(practice=practice, status="enrolled").first()
    assert patient is not None
    measure("patient chart with time panel", client, f"/patients/{patient.pk}/")
    start = time.perf_counter()
    outcome = reminders.send_reminders(practice_id=str(practice.pk))
    print(
        f"reminder job, demo practice: {time.perf_counter() - start:.1f} s "
        f"({outcome.tasks_created} tasks created, {outcome.digests_sent} digests)"
    )


if __name__ == "__main__":
    main()
