"""What the audit write costs a request: requests/s of pages that audit, with and without it.

Each page is served in-process (warm) by the demo coordinator, as is and with the audit writes
(`ccm.audit.record` and the bulk insert behind `read_many`/`record_many`) replaced by no-ops,
alternating request by request (so both see the same machine load), 3 runs of N requests
each; the medians of requests/s and their ratio are printed. The bound
(issue 14): audit writes keep request throughput within 20% (ratio ≥ 0.80). Also the cost of
one `audit.record()` insert on its own, and the audit rows one list view writes (worklist,
patient list: one event each since issue 18, was one per patient shown). Uses the demo data
(`seed_demo`) in the dev database or DATABASE_URL's.

    python bench/audit.py                          # the above
    python bench/audit.py --who-saw 10000000       # issue 18: "who saw patient X" at 10M events

`--who-saw N` needs a throwaway database (DATABASE_URL naming one whose audit log is empty, e.g.
`createdb cm_audit_10m`; `--reuse` times again the events of an earlier run there): it
migrates it, seeds the demo, and generates N audit events in one
INSERT ... SELECT generate_series (indexes dropped during the load and rebuilt after, as a bulk
load does), spread over the last 12 months: 95% single-patient reads, 5% list views naming 50
patients each, over 100,000 patient ids. It then times, alternating, median of 3 runs (a new
patient each run): the who-saw query (`selectors.audit_event_list(patient_id=X, date_from,
date_to)`: count + first page of 50, as the page and API do), the same over all 12 months, the
audit API over HTTP in-process (admin token), and references: a bare indexed count of X's
single-patient events in the month, and `/api/v1/me/` with the same client.
"""

import argparse
import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any
from unittest import mock

import _common

from django.core.management import call_command
from django.db import connection
from django.test import Client

from ccm import audit, selectors, services
from ccm.models import AuditEvent, Membership
from ccm.tenancy import practice_scope
from patients.models import Patient

N = 100
RUNS = 3
BOUND = 0.80


def _no_record(**kwargs: Any) -> AuditEvent:
    return AuditEvent()


def _no_bulk(membership: Any, action: str, changed_fields: Any, events: Any) -> int:
    return len(events)


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, response.status_code
    return elapsed


def compare(label: str, call: Callable[[], Any]) -> float:
    """Requests alternate one by one between the two modes, so both see the same load."""
    no_audit = (
        mock.patch.object(audit, "record", _no_record),
        mock.patch.object(audit, "_insert", _no_bulk),  # behind read_many and record_many
    )
    call()  # warm-up
    with_audit, without = [], []
    for _ in range(RUNS):
        audited_s = reference_s = 0.0
        for _ in range(N):
            audited_s += _timed(call)
            with no_audit[0], no_audit[1]:
                reference_s += _timed(call)
        with_audit.append(N / audited_s)
        without.append(N / reference_s)
    audited, reference = statistics.median(with_audit), statistics.median(without)
    ratio = audited / reference
    print(
        f"{label:<36} audited {audited:6.1f} req/s   without audit write {reference:6.1f} req/s"
        f"   ratio {ratio:.3f}   cost {100 * (1 - ratio):4.1f}%"
    )
    return ratio


def insert_cost(coordinator: Membership) -> None:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(N):
            audit.record_for(coordinator, "patient.read", object_type="patients.patient")
        times.append((time.perf_counter() - start) * 1000 / N)
    print(f"{'one audit.record() insert':<36} {statistics.median(times):.3f} ms (median of {RUNS})")


def rows_per_view(browser: Client) -> None:
    """Audit rows one list view writes (before issue 18: one per patient shown)."""
    for label, url in (("GET /worklist/", "/worklist/"), ("GET /patients/", "/patients/")):
        browser.get(url)  # warm-up
        before = AuditEvent.objects.unscoped().count()
        assert browser.get(url).status_code == 200
        rows = AuditEvent.objects.unscoped().count() - before
        print(f"{'audit rows per ' + label:<36} {rows}")


# --- Who saw patient X, at N events ----------------------------------------------------------

PATIENTS = 100_000
LIST_EVERY = 20  # one event in 20 is a list view ...
LIST_SIZE = 50  # ... naming 50 patients
MONTHS = 12

# Patient i's id is md5(i) as a uuid: the generator and the timing agree without a table.
GENERATE = """
INSERT INTO ccm_auditevent
    (practice_id, actor_id, actor_email, role, action, object_type, object_id, patient_id,
     patient_ids, ip, user_agent, request_id, changed_fields, created_at)
SELECT %(practice)s, (%(actors)s::uuid[])[1 + g %% 4], 'bench@demo.test', 'coordinator',
       CASE WHEN g %% %(every)s = 0 THEN 'worklist.list' ELSE 'patient.read' END,
       'patients.patient', '',
       CASE WHEN g %% %(every)s = 0 THEN NULL
            ELSE md5(((hashint4(g) & 2147483647) %% %(patients)s)::text)::uuid END,
       CASE WHEN g %% %(every)s = 0 THEN ARRAY(
                SELECT md5(((hashint4(g * 64 + k) & 2147483647) %% %(patients)s)::text)::uuid
                FROM generate_series(1, %(size)s) AS k)
            ELSE '{}'::uuid[] END,
       '10.0.0.1', 'bench', '', '{}',
       %(start)s + (g::float8 / %(n)s) * (%(end)s - %(start)s)
FROM generate_series(1, %(n)s) AS g
"""


def _sql(query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def generate(n: int, practice_id: Any, actors: list[str]) -> tuple[dt.datetime, dt.datetime]:
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = end - dt.timedelta(days=30 * MONTHS)
    _sql(
        "SELECT ccm_audit_partition_create(m::date) FROM generate_series("
        "date_trunc('month', %s AT TIME ZONE 'UTC'), date_trunc('month', %s AT TIME ZONE 'UTC'),"
        " interval '1 month') AS m",
        [start, end],
    )
    indexes = _sql(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = 'ccm_auditevent'::regclass AND NOT indisprimary"
    )
    began = time.perf_counter()
    for name, _definition in indexes:
        _sql(f"DROP INDEX {name}")
    _sql("SET maintenance_work_mem = '512MB'")
    params = {
        "practice": practice_id, "actors": actors, "every": LIST_EVERY, "patients": PATIENTS,
        "size": LIST_SIZE, "n": n, "start": start, "end": end,
    }  # fmt: skip
    _sql(GENERATE, params)
    loaded = time.perf_counter()
    for _name, definition in indexes:
        # pg_get_indexdef says ON ONLY for a partitioned table: that would make an empty,
        # invalid parent index; without ONLY, every partition gets its index.
        _sql(definition.replace(" ON ONLY ", " ON "))
    _sql("ANALYZE ccm_auditevent")
    print(
        f"generated {n:,} events in {loaded - began:.0f} s, indexes rebuilt in "
        f"{time.perf_counter() - loaded:.0f} s"
    )
    return start, end


def _ms(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _one_run(
    practice: Any,
    clients: tuple[Client, Client],
    patient: uuid.UUID,
    month_from: dt.date,
    month_to: dt.date,
) -> dict[str, float]:
    """One run's timings (ms) for one patient, the references first."""
    found = []

    def page(date_from: dt.date | None, date_to: dt.date | None) -> None:
        events = selectors.audit_event_list(
            practice=practice, patient_id=patient, date_from=date_from, date_to=date_to
        )
        found.append((events.count(), len(list(events[:50]))))

    api, browser = clients
    window = {"patient": str(patient), "date_from": str(month_from), "date_to": str(month_to)}
    lo = dt.datetime.combine(month_from, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(month_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    timings = {
        "reference: bare indexed count (X alone, month)": lambda: _sql(
            "SELECT count(*) FROM ccm_auditevent WHERE practice_id = %s AND patient_id = %s"
            " AND created_at >= %s AND created_at < %s",
            [practice.pk, patient, lo, hi],
        ),
        "who saw X, one month (count + page)": lambda: page(month_from, month_to),
        "who saw X, 12 months (count + page)": lambda: page(None, None),
        "reference: GET /api/v1/me/": lambda: api.get("/api/v1/me/"),
        "GET /api/v1/audit-events/?patient=X, month": lambda: api.get(
            "/api/v1/audit-events/", window
        ),
        "GET /audit/?patient=X, month (the page)": lambda: browser.get("/audit/", window),
    }
    result = {label: _ms(call) for label, call in timings.items()}
    print(f"patient {patient}: events found (count, page) month / 12 months: {found}")
    return result


def who_saw(n: int, *, reuse: bool = False) -> None:
    call_command("migrate", verbosity=0)
    existing = AuditEvent.objects.unscoped().count()
    if existing and not (reuse and existing >= n):
        raise SystemExit("--who-saw needs a throwaway database with an empty audit log")
    if not existing:
        call_command("seed_demo", verbosity=0)
    admin = (
        Membership.objects.unscoped()
        .select_related("practice", "user")
        .get(user__email="admin@demo.test")
    )
    practice = admin.practice
    actors = [str(m.user_id) for m in Membership.objects.unscoped().filter(practice=practice)[:4]]
    with practice_scope(practice):
        _, raw = services.token_create(
            practice=practice, actor=admin, membership=admin, name="bench"
        )
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    browser = Client()
    browser.force_login(admin.user)
    if existing:  # --reuse: the events of an earlier run; the same window
        newest = AuditEvent.objects.unscoped().filter(action="worklist.list")
        end = newest.order_by("-created_at").values_list("created_at", flat=True)[0]
        print(f"reusing the {existing:,} events of an earlier run")
    else:
        _start, end = generate(n, practice.pk, actors)
    total = AuditEvent.objects.unscoped().count()
    lists = AuditEvent.objects.unscoped().filter(action="worklist.list").count()
    print(f"audit log: {total:,} events ({lists:,} list views of {LIST_SIZE}), {MONTHS} months")
    month_to = (end - dt.timedelta(days=1)).date()
    month_from = month_to - dt.timedelta(days=30)
    figures: dict[str, list[float]] = {}
    api.get("/api/v1/me/")  # warm-up (token use stamp)
    browser.get("/audit/")
    for run in range(RUNS):
        patient = uuid.UUID(_sql("SELECT md5(%s::text)::uuid", [1000 + 7919 * run])[0][0].hex)
        runs = _one_run(practice, (api, browser), patient, month_from, month_to)
        for label, ms in runs.items():
            figures.setdefault(label, []).append(ms)
    reference = statistics.median(figures["reference: bare indexed count (X alone, month)"])
    me = statistics.median(figures["reference: GET /api/v1/me/"])
    for label, values in figures.items():
        median = statistics.median(values)
        base = me if "GET" in label else reference
        print(f"{label:<46} median {median:7.1f} ms   ratio to its reference {median / base:5.1f}")
    worst = max(statistics.median(v) for k, v in figures.items() if "who saw" in k)
    print(f"who-saw worst median {worst:.1f} ms: {'within' if worst <= 100 else 'OVER'} 100 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--who-saw", type=int, metavar="N", help="events to generate")
    parser.add_argument(
        "--reuse", action="store_true", help="--who-saw: time the events an earlier run made"
    )
    args = parser.parse_args()
    if args.who_saw:
        who_saw(args.who_saw, reuse=args.reuse)
        return
    coordinator, browser, api = _common.demo_coordinator()
    rows_per_view(browser)
    with practice_scope(coordinator.practice):
        patient = Patient.objects.order_by("last_name").first()
        assert patient is not None, "seed_demo made no patients"
    print(f"== {RUNS} runs of {N} requests each (in-process, warm), medians; bound ratio ≥ {BOUND}")
    ratios = [
        compare("GET chart /patients/<id>/", lambda: browser.get(f"/patients/{patient.pk}/")),
        compare("GET list /patients/ (one event)", lambda: browser.get("/patients/")),
        compare(
            "GET /api/v1/patients/<id>/ (token)", lambda: api.get(f"/api/v1/patients/{patient.pk}/")
        ),
    ]
    insert_cost(coordinator)
    worst = min(ratios)
    print(f"worst ratio {worst:.3f}: {'within' if worst >= BOUND else 'OVER'} the 20% bound")


if __name__ == "__main__":
    main()
