"""Worklist page and API at scale: two practices, each 10,000 enrolled patients and 200,000
time entries in one month, against the bare SQL aggregate behind the page.

Creates the two bench practices once (idempotent) in the dev DB or DATABASE_URL's: patients
from the seed_demo generator (`patients.demo.seed_patients`, one call), then 20 entries per
enrolled patient in last month in one INSERT ... SELECT (packed in 15-minute slots per
performer so none overlap), open and done tasks and contact attempts (SQL), then the
worklist's progress rows by the reconcile job (the engine), and call windows (issue 17) for
30% of the patients. Prints p50/p95 server time (in-process, warm) and the query count per
request, and the page / aggregate ratio. `ENROLLED` sets the size (bench/web_load.py and
bench/worklist_sorts.py seed 50,000 in about 13 minutes on a loaded machine; was ~30).
"""

import datetime as dt
import math
import statistics
import time
import zoneinfo
from typing import Any

import _setup
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ccm.models import Membership, Practice, Role, User
from ccm.months import month_bounds, month_label, month_of, previous_month
from ccm.tenancy import practice_scope
from patients.demo import Staff, seed_patients
from patients.models import CallWindow, CallWindowKind, Patient, Status
from billing.progress import services as progress_services
from timelog import reminders, services

from timelog.demo import ACTIVITIES, NOTES
from timelog.models import Task, TimeEntry

ENROLLED = 10_000
ENTRIES_PER_PATIENT = 20  # 200,000 entries in the month
PERFORMERS = 80  # 2,500 entries each: 15-minute slots fill 26 days of a 30-day month
N = 30


def _member(practice: Practice, email: str, role: str, npi: str = "") -> Membership:
    user, _ = User.objects.get_or_create(email=email)
    member, _ = Membership.objects.for_practice(practice).get_or_create(
        practice=practice, user=user, defaults={"role": role, "npi": npi}
    )
    return member


def bench_practice(slug: str, month: dt.date) -> tuple[Practice, Membership]:
    practice, _ = Practice.objects.get_or_create(
        slug=slug, defaults={"name": f"Worklist bench {slug}", "billing_npi": "1234567893"}
    )
    physician = _member(practice, f"physician@{slug}.bench", Role.PHYSICIAN, "1679576722")
    coordinators = tuple(
        _member(practice, f"coordinator{n}@{slug}.bench", Role.COORDINATOR) for n in range(2)
    )
    staff = [physician, *coordinators] + [
        _member(practice, f"staff{n}@{slug}.bench", Role.COORDINATOR) for n in range(_performers())
    ]
    start = time.perf_counter()
    # About 72% of the demo patients are enrolled: one call seeds nearly all of them (each
    # call draws every MRN's spec again, so growing 1,000 at a time from ENROLLED was most of
    # a 50k seed's time).
    count = math.ceil(ENROLLED / 0.71)
    while _enrolled(practice).count() < ENROLLED:
        seed_patients(
            practice=practice,
            staff=Staff(physician=physician, coordinators=coordinators),
            count=count,
            today=timezone.localdate(),
            prefix="WL",
        )
        count += max(1000, ENROLLED // 50)
    added = _seed_entries(practice, [*staff[3:], physician], month)
    if _seed_tasks_and_contacts(practice, coordinators[0], month):
        added = added or 1  # new contacts change the rows: reconcile
    windows = _seed_call_windows(practice)
    if windows:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE patients_callwindow")
        print(f"{slug}: seeded {windows} call windows")
    if added:
        outcome = progress_services.progress_reconcile(practice_id=practice.pk, months=[month])
        with connection.cursor() as cursor:
            # Fresh planner statistics after the bulk load, as autovacuum keeps them live.
            cursor.execute("ANALYZE")
        print(
            f"{slug}: seeded {added} entries in {month_label(month)}, then "
            f"{outcome.added} progress rows in {time.perf_counter() - start:.0f} s"
        )
    return practice, coordinators[0]


def _enrolled(practice: Practice) -> Any:
    # Enrolled before the month, so every one of them is on its worklist.
    return Patient.objects.for_practice(practice).filter(status=Status.ENROLLED)


def _performers() -> int:
    # 15-minute slots over 26 days hold 2,496 entries a performer: enough performers that the
    # month's entries never overlap (80 at 10,000 enrolled, 400 at 50,000).
    return max(PERFORMERS, math.ceil(ENROLLED / 125))


# The month's entries in one INSERT ... SELECT (a million at 50,000 enrolled: ORM objects took
# most of the seed's half hour). Entry n of the patient at row i (MRN order) goes to performer
# (i + n) % P in its slot n * ceil(N / P) + i / P: distinct per performer, so none overlap.
ENTRIES_SQL = """
WITH patients AS (
    SELECT id, billing_practitioner_id, row_number() OVER (ORDER BY mrn) - 1 AS i
    FROM patients_patient
    WHERE practice_id = %(practice)s AND status = 'enrolled'
    ORDER BY mrn
    LIMIT %(enrolled)s
), drawn AS (
    SELECT p.*, n, (p.i + n) %% %(count)s AS k,
           n * %(per_n)s + p.i / %(count)s AS slot,
           (%(minutes)s::int[])[1 + floor(random() * cardinality(%(minutes)s::int[]))::int] AS m,
           1 + floor(random() * cardinality(%(activities)s::text[]))::int AS a
    FROM patients p CROSS JOIN generate_series(0, %(per_patient)s - 1) AS n
)
INSERT INTO timelog_timeentry (
    id, practice_id, patient_id, performer_id, performer_kind, practitioner_id, started_at,
    minutes, ended_at, activity, note, face_to_face, source, billing_month, created_at,
    updated_at
)
SELECT gen_random_uuid(), %(practice)s, d.id, (%(performers)s::uuid[])[d.k + 1],
       CASE WHEN d.k = %(count)s - 1 THEN 'physician' ELSE 'clinical_staff' END,
       d.billing_practitioner_id, s.started, d.m, s.started + interval '1 minute' * d.m,
       (%(activities)s::text[])[d.a], (%(notes)s::text[])[d.a], false, 'manual',
       %(month)s, s.started, s.started
FROM drawn d, LATERAL (SELECT %(first)s::timestamptz + interval '15 minutes' * d.slot)
    AS s(started)
"""


def _seed_entries(practice: Practice, performers: list[Membership], month: dt.date) -> int:
    have = TimeEntry.objects.for_practice(practice).filter(billing_month=month).count()
    if have >= ENROLLED * ENTRIES_PER_PATIENT:
        return 0
    TimeEntry.objects.for_practice(practice).filter(billing_month=month).delete()
    first, _end = month_bounds(month, practice.time_zone)
    count = len(performers)  # the physician last
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [0.18])
        cursor.execute(
            ENTRIES_SQL,
            {
                "practice": practice.pk,
                "enrolled": ENROLLED,
                "count": count,
                "per_n": math.ceil(ENROLLED / count),
                "per_patient": ENTRIES_PER_PATIENT,
                "minutes": [2, 3, 4, 5, 6, 8, 10, 12, 14],
                "activities": ACTIVITIES,
                "notes": [NOTES[a] for a in ACTIVITIES],
                "performers": [m.pk for m in performers],
                "month": month,
                "first": first,
            },
        )
        return cursor.rowcount


# Open tasks for 40% of the patients (due over the month; a second, custom one for 10%), a
# done one for 20%; reached contacts for 60% over the month and the two before it, and an
# unanswered attempt this month for 10%. Patient i (MRN order) gets the same every seed.
# The first `enrolled` enrolled patients, numbered i = 0, 1, ... in MRN order.
PATIENTS_CTE = """
WITH patients AS (
    SELECT id, row_number() OVER (ORDER BY mrn) - 1 AS i
    FROM patients_patient
    WHERE practice_id = %(practice)s AND status = 'enrolled'
    ORDER BY mrn
    LIMIT %(enrolled)s
)"""

TASKS_SQL = (
    PATIENTS_CTE
    + """
INSERT INTO timelog_task (
    id, practice_id, patient_id, assignee_id, kind, title, due_on, month, status, origin,
    reason, completion_note, completed_at, completed_by_id, created_by_id, created_at
)
SELECT gen_random_uuid(), %(practice)s, p.id, %(assignee)s, t.kind, '',
       %(month)s::date + ((p.i * 7 + t.shift) %% 28)::int, %(month)s, t.status, 'manual', '', '',
       CASE WHEN t.status = 'done' THEN %(first)s::timestamptz END,
       CASE WHEN t.status = 'done' THEN %(assignee)s::uuid END, %(assignee)s, %(first)s
FROM patients p
JOIN (VALUES ('check_in', 'open', 0, 4), ('custom', 'open', 11, 1),
             ('follow_up_call', 'done', 3, 2)) AS t(kind, status, shift, share)
  ON p.i %% 10 < t.share
"""
)

CONTACTS_SQL = (
    PATIENTS_CTE  # noqa: S608 (constants joined; values are parameters)
    + """, attempts AS (
    SELECT p.id, (%(months)s::date[])[1 + p.i %% 3] AS month,
           (%(firsts)s::timestamptz[])[1 + p.i %% 3] + interval '1 hour' * ((p.i * 13) %% 600)
               AS occurred_at,
           'reached' AS outcome
    FROM patients p WHERE p.i %% 10 < 6
    UNION ALL
    SELECT p.id, %(month)s, %(first)s::timestamptz + interval '1 hour' * (610 + p.i %% 50),
           'voicemail'
    FROM patients p WHERE p.i %% 10 = 9
)
INSERT INTO timelog_contactattempt (
    id, practice_id, patient_id, occurred_at, month, direction, channel, party, outcome, note,
    recorded_by_id, created_at
)
SELECT gen_random_uuid(), %(practice)s, a.id, a.occurred_at, a.month, 'outbound', 'phone',
       'patient', a.outcome, '', %(recorder)s, a.occurred_at
FROM attempts a
"""
)


def _seed_tasks_and_contacts(practice: Practice, member: Membership, month: dt.date) -> bool:
    """Tasks and contact attempts, once (SQL); whether any were added."""
    if Task.objects.for_practice(practice).exists():
        return False
    months = [previous_month(previous_month(month)), previous_month(month), month]
    first = month_bounds(month, practice.time_zone)[0]
    common = {"practice": practice.pk, "enrolled": ENROLLED, "month": month, "first": first}
    with connection.cursor() as cursor:
        cursor.execute(TASKS_SQL, {**common, "assignee": member.pk})
        cursor.execute(
            CONTACTS_SQL,
            {
                **common,
                "recorder": member.pk,
                "months": months,
                "firsts": [month_bounds(m, practice.time_zone)[0] for m in months],
            },
        )
    return True


# (kind, weekdays, from, to, note) of the call windows; patient i % 10 < 3 has window i % 6
# (with the next one too when i % 4 == 0): best times, and do-not-call ones such as dialysis.
WINDOWS = (
    (CallWindowKind.BEST, [0, 1, 2, 3, 4], 9, 12, "Mornings"),
    (CallWindowKind.BEST, [0, 1, 2, 3, 4], 13, 17, "Afternoons"),
    (CallWindowKind.BEST, [1, 3], 10, 15, "Tuesdays and Thursdays"),
    (CallWindowKind.DO_NOT_CALL, [0, 2, 4], 7, 12, "Dialysis"),
    (CallWindowKind.BEST, [0, 1, 2, 3, 4, 5], 16, 19, "After work"),
    (CallWindowKind.DO_NOT_CALL, [6], 0, 23, "Church and family on Sundays"),
)


def _seed_call_windows(practice: Practice) -> int:
    """Call windows for 30% of the enrolled patients, once (bulk); how many were added."""
    if CallWindow.objects.for_practice(practice).exists():
        return 0
    windows = []
    patients = _enrolled(practice).order_by("mrn").values_list("pk", flat=True)[:ENROLLED]
    for i, pk in enumerate(patients):
        if i % 10 >= 3:
            continue
        for kind, days, start, end, note in WINDOWS[i % 6 : i % 6 + 1 + (i % 4 == 0)]:
            windows.append(
                CallWindow(
                    practice=practice,
                    patient_id=pk,
                    kind=kind,
                    weekdays=days,
                    starts_at=dt.time(start),
                    ends_at=dt.time(end),
                    note=note,
                )
            )
    CallWindow.objects.for_practice(practice).bulk_create(windows, batch_size=5000)
    return len(windows)


def _time(call, count: int = N) -> list[float]:
    call()  # warm-up
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _line(label: str, times: list[float], queries: int | None = None) -> None:
    tail = "" if queries is None else f"   {queries} queries"
    print(
        f"{label:<44} p50 {statistics.median(times):7.1f} ms   "
        f"p95 {_setup.percentile(times, 0.95):7.1f} ms{tail}"
    )


def measure(label: str, client: Client, url: str, **headers: str) -> list[float]:
    def get() -> None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (label, response.status_code)

    times = _time(get)
    with CaptureQueriesContext(connection) as queries:
        get()
    _line(label, times, len(queries))
    return times


AGGREGATE = """
SELECT patient_id,
       SUM(minutes) FILTER (WHERE performer_kind = 'clinical_staff'),
       SUM(minutes) FILTER (WHERE performer_kind = 'physician'),
       MAX(started_at) FILTER (WHERE activity IN ('call_patient', 'education'))
FROM timelog_timeentry
WHERE practice_id = %s AND billing_month = %s AND NOT face_to_face
      AND activity <> 'enrollment_outreach'
GROUP BY patient_id
"""


def bare_aggregate(practice: Practice, month: dt.date) -> list[float]:
    """The SQL a hand-written worklist would run: minutes and last contact per patient."""

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(AGGREGATE, [practice.pk, month])
            cursor.fetchall()

    times = _time(run)
    _line("bare SQL aggregate (minutes per patient)", times, 1)
    return times


def _ratio(label: str, page: list[float], aggregate: list[float]) -> None:
    p50 = statistics.median(page) / statistics.median(aggregate)
    p95 = _setup.percentile(page, 0.95) / _setup.percentile(aggregate, 0.95)
    print(f"  ratio {label:<36} p50 {p50:5.2f}x   p95 {p95:5.2f}x   (target <= 3x)")


def measure_write(practice: Practice, member: Membership) -> None:
    """Logging time through the service: validation, insert, progress refresh, audit."""
    patients = list(_enrolled(practice).order_by("mrn")[: N + 1])
    zone = zoneinfo.ZoneInfo(practice.time_zone)
    day = timezone.now().astimezone(zone).replace(hour=0, minute=5, second=0, microsecond=0)
    times = []
    with practice_scope(practice):
        for i, patient in enumerate(patients):
            start = time.perf_counter()
            services.time_entry_create(
                practice=practice,
                actor=member,
                patient=patient,
                started_at=day + dt.timedelta(minutes=i),
                minutes=1,
                activity="chart_review",
            )
            times.append((time.perf_counter() - start) * 1000)
        for entry in TimeEntry.objects.filter(performer=member, started_at__gte=day):
            services.time_entry_delete(practice=practice, actor=member, entry=entry)
    _line("log time (service, with progress refresh)", times[1:])


def main() -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # digests: not stdout
    this_month = month_of(timezone.now(), "America/New_York")
    month = previous_month(this_month)
    practice, coordinator = bench_practice("wl-a", month)
    other, _ = bench_practice("wl-b", month)
    entries = TimeEntry.objects.for_practice(practice).filter(billing_month=month).count()
    print(
        f"== {N} requests each; per practice (2): {_enrolled(practice).count()} enrolled, "
        f"{entries} entries in {month_label(month)}"
    )
    client = Client()
    client.force_login(coordinator.user)
    m = month_label(month)
    aggregate = bare_aggregate(practice, month)
    first = measure("worklist page, all, first page", client, f"/worklist/?who=all&month={m}")
    behind = measure(
        "worklist page, all, behind pace", client, f"/worklist/?who=all&show=behind&month={m}"
    )
    measure("worklist page, mine, first page", client, f"/worklist/?month={m}")
    measure(
        "worklist page, no contact, longest first",
        client,
        f"/worklist/?who=all&show=no_contact&sort=contact&month={m}",
    )
    measure(
        "worklist page, sorted by next task due", client, f"/worklist/?who=all&sort=due&month={m}"
    )
    measure(
        "worklist htmx partial, page 40",
        client,
        f"/worklist/?who=all&month={m}&page=40",
        HX_Request="true",
        HX_Target="worklist",
    )
    api = measure("worklist API, first page", client, f"/api/v1/worklist/?month={m}")
    api_behind = measure(
        "worklist API, behind pace", client, f"/api/v1/worklist/?month={m}&show=behind"
    )
    measure("worklist page, this month", client, "/worklist/?who=all")
    # No stored rows at all (as in a month's first hour): contacts are looked up per patient.
    measure(
        "worklist page, month without rows, by contact",
        client,
        f"/worklist/?who=all&sort=contact&month={month_label(previous_month(month))}",
    )
    # Issue 17: patients one may call now (best-time window open or none, no do-not-call).
    open_now = measure(
        "worklist page, call window open now",
        client,
        f"/worklist/?who=all&call_window=open&month={m}",
    )
    open_mine = measure(
        "worklist page, mine, call window open now",
        client,
        f"/worklist/?call_window=open&month={m}",
    )
    for label, times in (
        ("page, first page", first),
        ("page, behind pace", behind),
        ("API, first page", api),
        ("API, behind pace", api_behind),
        ("page, call window open now", open_now),
        ("page, mine, call window open now", open_mine),
    ):
        _ratio(label, times, aggregate)
    patient = _enrolled(practice).first()
    assert patient is not None
    measure("patient chart with time panel", client, f"/patients/{patient.pk}/")
    measure_write(practice, coordinator)
    start = time.perf_counter()
    outcome = progress_services.progress_reconcile(practice_id=practice.pk, months=[month])
    print(
        f"nightly reconcile of {month_label(month)}: {time.perf_counter() - start:.1f} s "
        f"({outcome.checked} patient-months checked, {outcome.corrected} corrected)"
    )
    start = time.perf_counter()
    done = reminders.send_reminders(practice_id=str(practice.pk))
    print(
        f"reminder job, one practice: {time.perf_counter() - start:.1f} s "
        f"({done.tasks_created} tasks created, {done.digests_sent} digests)"
    )
    assert other.pk != practice.pk


if __name__ == "__main__":
    main()
