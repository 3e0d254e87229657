"""Patient list, search and chart with 10,000 patients in each of two practices.

Prints p50/p95 server time (in-process, warm) and the query count per request. Creates two
bench practices once (idempotent; the demo data generator) in the dev DB or DATABASE_URL's.
"""

import random
import statistics
import time

import _setup
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ccm.models import Membership, Practice, Role, User
from patients.demo import Staff, seed_patients
from patients.models import Patient

PATIENTS = 10_000
N = 60


def bench_practice(slug: str) -> tuple[Practice, Membership]:
    practice, _ = Practice.objects.get_or_create(
        slug=slug, defaults={"name": f"Bench {slug}", "billing_npi": "1234567893"}
    )
    staff = []
    for role in (Role.PHYSICIAN, Role.COORDINATOR):
        user, _ = User.objects.get_or_create(email=f"{role}@{slug}.bench")
        member, _ = Membership.objects.for_practice(practice).get_or_create(
            practice=practice,
            user=user,
            defaults={"role": role, "npi": "1679576722" if role == Role.PHYSICIAN else ""},
        )
        staff.append(member)
    start = time.perf_counter()
    added = seed_patients(
        practice=practice,
        staff=Staff(physician=staff[0], coordinators=(staff[1],)),
        count=PATIENTS,
        today=timezone.localdate(),
        prefix="BENCH",
    )
    if added:
        print(f"created {added} patients in {slug} in {time.perf_counter() - start:.1f} s")
    return practice, staff[1]


def measure(label: str, client: Client, urls: list[str]) -> None:
    client.get(urls[0])  # warm-up
    times = []
    for url in urls:
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (label, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(urls[-1])
    print(
        f"{label:<32} p50 {statistics.median(times):7.1f} ms   "
        f"p95 {_setup.percentile(times, 0.95):7.1f} ms   {len(queries)} queries"
    )


def main() -> None:
    practice, coordinator = bench_practice("bench-a")
    bench_practice("bench-b")
    client = Client()
    client.force_login(coordinator.user)
    rng = random.Random(7)
    ids = list(Patient.objects.for_practice(practice).values_list("id", flat=True)[:2000])
    print(f"== {N} requests each, {PATIENTS} patients per practice, 2 practices")
    measure("patient list, first page", client, ["/patients/"] * N)
    pages = [f"/patients/?page={rng.randint(1, 400)}" for _ in range(N)]
    measure("patient list, random page of 400", client, pages)
    searches = [
        f"/patients/?q={rng.choice(['smi', 'gar', 'john', 'BENCH-0', 'lee'])}" for _ in range(N)
    ]
    measure("search (name / MRN prefix)", client, searches)
    measure("search by date of birth", client, ["/patients/?q=1950-03-15"] * N)
    measure("patient chart", client, [f"/patients/{rng.choice(ids)}/" for _ in range(N)])


if __name__ == "__main__":
    main()
