"""Month close at scale: for each size N (patient-months), one practice with N enrolled
patients and 20 time entries each in last month, closed by
`billing.close.services.month_close`, next to the SQL floor measured in the same run.

Sizes: 1,000 and 10,000 by default; `--scale 50000,100000` adds sizes, BENCH_CLOSE_SIZES
(comma-separated) replaces the list. `--repeat 3` closes each size three times (reset in
between) and gives the median; `--profile` prints a cProfile top-15 of a close of the largest
size; `--exports` times the 837P, CSV and PDF of the smallest size of at least 1,000.

The SQL floor: one `INSERT ... SELECT` aggregating the month's minutes per patient into a temp
table, timed right before each close. Printed per size: the close, the floor, their ratio,
patient-months/s, where the close's time went (engine, loading, the rest); then the growth
exponents between sizes (log(t2/t1) / log(n2/n1): 1.0 is linear) and the idempotent re-close.

Runs in a throwaway database (created next to the dev DB or DATABASE_URL's, migrated,
dropped at the end), so every run times first closes; `--keep` keeps it and `--reuse` closes
its practices again without seeding (each close from a reset month; migrate it first if the
schema changed: DATABASE_URL=<db>_bench_month_close manage.py migrate). The data mix:
patients, conditions, consents and enrolment from the seed_demo generator (some enrolled during
the month, a few disenrolled), care plans from the demo generator (most signed with a copy
given, some drafts, a few none), 1.5 % of the consents removed, and per patient a month total
drawn from four bands (under 20 minutes, 20-39, 40-59, 60-80: 99439 add-ons) split over about
20 entries, physician time for one patient in ten, a few face-to-face entries (inserted with
COPY).
Run from the repository root: .venv/bin/python bench/month_close.py [--scale 50000,100000]
"""

import argparse
import collections
import contextlib
import cProfile
import datetime as dt
import gc
import importlib
import io
import itertools
import math
import os
import pstats
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from unittest import mock

import _setup  # noqa: F401 (Django set-up)
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from billing import rules
from billing.demo import part_b_for_uncovered
from billing.close import services
from billing.models import Claim, ClaimLine, Outcome
from careplans.demo import seed_care_plans
from ccm.models import Membership, Practice, Role, User
from ccm.months import month_bounds, month_label, month_of, previous_month
from ccm.tenancy import practice_scope
from patients.demo import Staff, seed_patients
from patients.models import Consent, Patient, Status
from timelog.demo import ACTIVITIES, NOTES
from timelog.models import PerformerKind, TimeEntry

DEFAULT_SIZES = (1_000, 10_000)
ENTRIES_PER_PATIENT = 20  # in the month being closed
PATIENTS_PER_STAFF = 125  # 2,500 entries each in 12-minute slots fill about 21 days
SLOT = 12  # minutes between one performer's entry starts (longer entries push the next)
# (share of patients, month total minutes): under 20 bills nothing, 40+ adds 99439.
BANDS = ((0.12, (5, 19)), (0.50, (20, 39)), (0.28, (40, 59)), (0.10, (60, 80)))
PHYSICIAN_SHARE = 0.10  # patients with the billing physician's own time (some 30+: 99491)
FACE_TO_FACE_SHARE = 0.01  # entries flagged face-to-face (never count, R15)
NO_CONSENT_SHARE = 0.015
# Issue 18: 100,000 patient-months in 60 s, at most 15x the floor, linear from 10k to 50k.
CLOSE_TARGET_100K, FLOOR_RATIO_TARGET, EXPONENT_TARGET = 60.0, 15.0, 1.1
EXPORT_TARGET = 5.0


# --- The throwaway database ---------------------------------------------------------------


def throwaway_database(*, reuse: bool = False) -> str:
    """Create and migrate `<db>_bench_month_close`; the connection then points at it (with
    `reuse`: point at the one a `--keep` run left, as it is).
    Without the entries' exclusion constraint (no overlapping entries of one performer): its
    GiST index took most of the server's time seeding millions of entries, the seed draws no
    overlap per performer, and the close never writes an entry."""
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_month_close"
    if reuse:
        connection.close()
        connection.settings_dict["NAME"] = connection.settings_dict["TEST"]["NAME"]
        return old_name
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    table = TimeEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'x'",
            [table],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    return old_name


# --- Data ---------------------------------------------------------------------------------


def _member(practice: Practice, email: str, role: str, npi: str = "") -> Membership:
    user = User.objects.create(email=email)
    return Membership.objects.for_practice(practice).create(
        practice=practice, user=user, role=role, npi=npi
    )


# Seeding only: no foreign-key triggers on the COPYs (the rows are consistent by construction,
# and per-row checks made the server the bottleneck of a 100k seed). The close keeps them.
NO_TRIGGERS = "SET LOCAL session_replication_role = replica"


def _copy_bulk_create(real):
    """QuerySet.bulk_create through COPY while seeding (the demo generators insert hundreds of
    thousands of rows; compiling them as parameters took most of a 100k seed). Falls back to
    the real one for conflict handling or a pk the database assigns."""

    def bulk_create(self, objs, batch_size=None, **options):
        objs = list(objs)
        fields = self.model._meta.concrete_fields
        if not objs or options or any(getattr(o, "pk", None) is None for o in objs):
            return real(self, objs, batch_size=batch_size, **options)
        quote = connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in fields)
        sql = f"COPY {quote(self.model._meta.db_table)} ({names}) FROM STDIN"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(NO_TRIGGERS)
            with cursor.cursor.copy(sql) as copy:
                for obj in objs:
                    copy.write_row(
                        [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
                    )
        for obj in objs:
            obj._state.adding, obj._state.db = False, self.db
        return objs

    return bulk_create


@contextlib.contextmanager
def copy_inserts() -> Iterator[None]:
    from django.db.models.query import QuerySet

    with mock.patch.object(QuerySet, "bulk_create", _copy_bulk_create(QuerySet.bulk_create)):
        yield


def bench_practice(size: int) -> tuple[Practice, Membership, list[Membership]]:
    """A practice with `size` enrolled patients (and the generator's others around them)."""
    practice = Practice.objects.create(
        slug=f"mc-bench-{size}",
        name=f"Month close bench {size}",
        billing_npi="1234567893",
        tax_id="12-3456789",  # what the 837P's billing provider needs
        phone="+1 518 555 0100",
        address_line1="1 Main Street",
        city="Springfield",
        state="NY",
        postal_code="12345",
    )
    tag = f"{size}.mc.bench"
    physician = _member(practice, f"physician@{tag}", Role.PHYSICIAN, "1679576722")
    User.objects.filter(pk=physician.user_id).update(full_name="Pat Physician")
    coordinators = tuple(
        _member(practice, f"coordinator{n}@{tag}", Role.COORDINATOR) for n in range(2)
    )
    staff = [
        _member(practice, f"staff{n}@{tag}", Role.COORDINATOR)
        for n in range(max(2, size // PATIENTS_PER_STAFF))
    ]
    today = timezone.localdate()
    count = int(size / 0.72)  # the generator enrols about 72 %
    while _enrolled(practice).count() < size:
        seed_patients(
            practice=practice,
            staff=Staff(physician=physician, coordinators=coordinators),
            count=count,
            today=today,
            prefix="MC",
        )
        count += max(20, size // 500)  # lands within a few patients of size
    seed_care_plans(practice=practice, physician=physician, coordinators=coordinators, today=today)
    return practice, physician, staff


def _enrolled(practice: Practice):
    return Patient.objects.for_practice(practice).filter(status=Status.ENROLLED)


def _band(roll: float) -> tuple[int, int]:
    for share, band in BANDS:
        if roll < share:
            return band
        roll -= share
    return BANDS[-1][1]


def _plans(rng: random.Random, count: int, entries_total: int) -> list[tuple[int, int]]:
    """(staff minutes, entries) per patient, entries adding up to entries_total."""
    totals = [rng.randint(*_band(rng.random())) for _ in range(count)]
    entries = [min(total, entries_total // count) for total in totals]
    short, i = entries_total - sum(entries), 0
    while short:  # the under-20 months have fewer entries: others take the rest
        if entries[i % count] < totals[i % count]:
            entries[i % count] += 1
            short -= 1
        i += 1
    return list(zip(totals, entries, strict=True))


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


class EntryCopy:
    """Seeded time entries (as timelog.demo.demo_entry makes them: a random activity with its
    stock note, face to face in FACE_TO_FACE_SHARE, created as they start), written with COPY
    in chunks: 2,000,000 entries as model instances and bulk_create would take minutes."""

    FLUSH_AT = 50_000
    COLUMNS = (
        "practice_id", "id", "patient_id", "performer_id", "performer_kind", "practitioner_id",
        "started_at", "minutes", "ended_at", "activity", "note", "face_to_face", "source",
        "billing_month", "created_at", "updated_at",
    )  # fmt: skip

    def __init__(self, practice: Practice, month: dt.date, rng: random.Random) -> None:
        self.practice, self.month, self.rng = practice, month, rng
        self.rows: list[tuple] = []
        self.added = 0

    def add(self, patient: Patient, performer: Membership, *, physician: bool, started, minutes):
        activity = self.rng.choice(ACTIVITIES)
        face_to_face = self.rng.random() < FACE_TO_FACE_SHARE
        self.rows.append((
            self.practice.pk, uuid.uuid4(), patient.pk, performer.pk,
            PerformerKind.PHYSICIAN if physician else PerformerKind.CLINICAL_STAFF,
            patient.billing_practitioner_id, started, minutes,
            started + dt.timedelta(minutes=minutes), activity, NOTES[activity], face_to_face,
            "manual", self.month, started, started,
        ))  # fmt: skip
        if len(self.rows) >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> int:
        table = TimeEntry._meta.db_table
        sql = f"COPY {table} ({', '.join(self.COLUMNS)}) FROM STDIN"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(NO_TRIGGERS)
            with cursor.cursor.copy(sql) as copy:
                for row in self.rows:
                    copy.write_row(row)
        self.added, self.rows = self.added + len(self.rows), []
        return self.added


def seed_entries(
    practice: Practice, physician: Membership, staff: list[Membership], month: dt.date, size: int
) -> int:
    rng = random.Random(f"month-close-bench-{size}")
    patients = list(
        _enrolled(practice).order_by("mrn").only("pk", "billing_practitioner_id")[:size]
    )
    first, end = month_bounds(month, practice.time_zone)
    cursor: dict[object, dt.datetime] = collections.defaultdict(lambda: first)
    laps: collections.Counter[object] = collections.Counter()
    entries = EntryCopy(practice, month, rng)
    n = 0

    def add(patient: Patient, performer: Membership, minutes: int) -> None:
        started = cursor[performer.pk]
        if started + dt.timedelta(minutes=max(SLOT, minutes + 1)) > end:
            # The one physician's month is full (from 50k): from the month's start again, a
            # few minutes later each time (another patient's; the exclusion is off, above).
            laps[performer.pk] += 1
            started = first + dt.timedelta(minutes=5 * laps[performer.pk])
        cursor[performer.pk] = started + dt.timedelta(minutes=max(SLOT, minutes + 1))
        entries.add(
            patient, performer, physician=performer == physician, started=started, minutes=minutes
        )

    plans = _plans(rng, len(patients), ENTRIES_PER_PATIENT * len(patients))
    for patient, (total, count) in zip(patients, plans, strict=True):
        doctor = rng.random() < PHYSICIAN_SHARE and count > 2
        if doctor:  # one or two of the entries are the physician's own (R7, R16)
            visits = rng.choice((1, 2))
            for minutes in _split(rng, rng.randint(5, 36), visits):
                add(patient, physician, minutes)
            count -= visits
        for minutes in _split(rng, total, count):
            add(patient, staff[n % len(staff)], minutes)
            n += 1
    return entries.flush()


def remove_some_consents(practice: Practice, size: int) -> int:
    """Consent not on file (R5) for a deterministic few of the enrolled patients."""
    ids = list(_enrolled(practice).order_by("mrn").values_list("pk", flat=True)[:size])
    step = round(1 / NO_CONSENT_SHARE)
    deleted, _ = Consent.objects.unscoped().filter(patient_id__in=ids[::step]).delete()
    return deleted


def seed(size: int) -> tuple[Practice, dt.date]:
    start = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str) -> None:
        steps[name] = time.perf_counter() - start - sum(steps.values())

    with copy_inserts():
        practice, physician, staff = bench_practice(size)
    step("patients and care plans")
    month = previous_month(month_of(timezone.now(), practice.time_zone))
    added = seed_entries(practice, physician, staff, month, size)
    step("entries")
    with copy_inserts():
        part_b_for_uncovered(practice)  # seed_patients bulk-creates patients without coverage
    no_consent = remove_some_consents(practice, size)
    step("coverage and consents")
    with connection.cursor() as cursor:
        # What autovacuum has long done to a past month's rows: planner statistics, and the
        # visibility map that lets index-only scans skip the heap.
        cursor.execute("VACUUM ANALYZE")
    step("vacuum")
    print(
        f"seeded {_enrolled(practice).count():,} enrolled patients, {added:,} entries in "
        f"{month_label(month)} ({no_consent} consents removed) in "
        f"{time.perf_counter() - start:.0f} s ("
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in steps.items())
        + ")"
    )
    return practice, month


# --- Timing -------------------------------------------------------------------------------


def sql_floor(practice: Practice, month: dt.date) -> float:
    """The reference: one INSERT ... SELECT aggregating the month's minutes per patient into a
    temp table (what any close must at least read), timed in the same run."""
    table = TimeEntry._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE close_floor (patient_id uuid, minutes int) ON COMMIT DROP"
        )
        start = time.perf_counter()
        cursor.execute(
            f"INSERT INTO close_floor SELECT patient_id, sum(minutes) FROM {table} "  # noqa: S608
            "WHERE practice_id = %s AND billing_month = %s GROUP BY patient_id",
            [practice.pk, month],
        )
        return time.perf_counter() - start


@contextlib.contextmanager
def accumulate(target: object, name: str, totals: dict[str, float], key: str) -> Iterator[None]:
    """Patch `target.name` with a wrapper that adds its wall time to totals[key] (no-op when
    the target has no such name: the bench also runs against older code)."""
    if not hasattr(target, name):
        yield
        return
    real = getattr(target, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start
            totals[f"{key} calls"] += 1

    with mock.patch.object(target, name, timed):
        yield


LOADERS = ("load_patient_months", "load_month_batch")


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (user + system, from
    /proc: the server runs on this machine), or NaN where it cannot be read. On a shared,
    loaded machine the two CPU figures say more than the wall time."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu() -> float:
    """CPU seconds of every PostgreSQL process on this machine so far, the backends that have
    ended included (the postmaster's reaped children): the close's threads each have their
    own connection (settings.MONTH_CLOSE_WORKERS), closed when the thread ends. Other
    databases' work counts too: read it on a quiet machine. NaN where /proc cannot be read."""
    total, ticks = 0, os.sysconf("SC_CLK_TCK")
    try:
        names = os.listdir("/proc")
    except OSError:
        return math.nan
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                head, rest = stat.read().rsplit(")", 1)
        except OSError:
            continue  # ended meanwhile
        if not head.endswith("(postgres"):
            continue
        fields = rest.split()
        total += int(fields[11]) + int(fields[12])
        if fields[1] == "1" or not _is_postgres(fields[1]):  # the postmaster
            total += int(fields[13]) + int(fields[14])
    return total / ticks


def _is_postgres(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip() == "postgres"
    except OSError:
        return False


def timed_close(practice: Practice, month: dt.date):
    totals: dict[str, float] = collections.defaultdict(float)
    server = backend_cpu()
    everything = server_cpu()
    with contextlib.ExitStack() as stack:
        stack.enter_context(accumulate(rules, "evaluate", totals, "engine"))
        for name in LOADERS:
            stack.enter_context(accumulate(services, name, totals, "loading"))
        stack.enter_context(accumulate(services, "_candidates", totals, "candidates"))
        start, cpu = time.perf_counter(), time.process_time()
        close = services.month_close(practice_id=practice.pk, month=month)
        elapsed = time.perf_counter() - start
        totals["python cpu"] = time.process_time() - cpu
    totals["server cpu"] = backend_cpu() - server
    totals["all server cpu"] = server_cpu() - everything
    return close, elapsed, totals


def engine_only(practice: Practice, month: dt.date) -> tuple[float, float, int]:
    """The close's own Python work without its writes, after it: this process's CPU time for
    loading every candidate's facts (load_month_batch: the ORM's side of its queries and
    turning the rows into the engine's facts; the server's time is not in it), then for
    `rules.evaluate` over all of them (the engine alone, no database)."""
    from billing.inputs import loading

    gc.disable()  # as the close does
    with practice_scope(practice):
        ids = services._candidates(practice, month)
        fees, policy = loading.fee_schedule(practice), loading.policy(practice)
        facts: dict = {}
        load = 0.0
        for start in range(0, len(ids), services.BATCH):
            chunk = ids[start : start + services.BATCH]
            began = time.process_time()
            _rows, batch = loading.load_month_batch(
                practice=practice, patient_ids=chunk, month=month, fees=fees
            )
            load += time.process_time() - began
            facts.update(batch)
    began = time.process_time()
    for fact in facts.values():
        rules.evaluate(fact, policy)
    engine = time.process_time() - began
    gc.enable()
    return load, engine, len(facts)


def profile_close(practice: Practice, month: dt.date, top: int = 15) -> None:
    """Where the time goes, from a fresh close under cProfile. In one thread
    (MONTH_CLOSE_WORKERS=1): cProfile follows only the thread that starts it, and with the
    close's worker threads it would show the main thread waiting on them."""
    _reset_close(practice, month)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    with mock.patch.object(settings, "MONTH_CLOSE_WORKERS", 1):
        profiler.runcall(services.month_close, practice_id=practice.pk, month=month)
    print(f"profiled close, one thread (cProfile slows it): {time.perf_counter() - start:.1f} s")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def _reset_close(practice: Practice, month: dt.date) -> None:
    from billing.models import MonthClose
    from timelog.models import MonthLock

    ClaimLine.objects.for_practice(practice).delete()
    Claim.objects.for_practice(practice).delete()
    Outcome.objects.for_practice(practice).delete()
    MonthClose.objects.for_practice(practice).filter(month=month).delete()
    MonthLock.objects.for_practice(practice).filter(month=month).delete()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE billing_outcome, billing_claim, billing_claimline")


def describe_outcomes(practice: Practice, month: dt.date) -> None:
    outcomes = Outcome.objects.for_practice(practice).filter(month=month)
    billable = outcomes.filter(billable=True).count()
    blocked: collections.Counter[str] = collections.Counter()
    for rules_hit in outcomes.filter(billable=False).values_list("blocked_by", flat=True):
        blocked[",".join(rules_hit) or "(under threshold)"] += 1
    codes: collections.Counter[str] = collections.Counter()
    for code, units in ClaimLine.objects.for_practice(practice).values_list("code", "units"):
        codes[code] += units
    print(f"  outcomes: {outcomes.count():,} ({billable:,} billable)")
    print(
        "  not billable, by blocking rules: "
        + ", ".join(f"{k} {v}" for k, v in blocked.most_common(8))
    )
    print("  claim line units by code: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())))


def billing_setup(practice: Practice) -> None:
    """The EDI ids and street address (ZIP+4) an 837P is built with (billing.setup)."""
    from billing.models import BillingSetup
    from patients.models import Payer, PayerKind

    mac = Payer.objects.for_practice(practice).create(
        practice=practice, name="Noridian JE Part B", payer_id="01112", kind=PayerKind.MEDICARE
    )
    BillingSetup.objects.for_practice(practice).create(
        practice=practice, submitter_id="CMBENCH01", submitter_name="Month close bench",
        contact_name="Bench Biller", contact_phone="5185550100", receiver_id="01112",
        receiver_name="Noridian JE Part B", medicare_payer=mac, address_line1="1 Main Street",
        city="Springfield", state="NY", postal_code="12345-0100",
    )  # fmt: skip


def export_837(practice: Practice, month: dt.date) -> None:
    try:
        x12 = importlib.import_module("billing.exports.x12")
    except ImportError:
        x12 = None
    if x12 is None or not hasattr(x12, "month_837"):
        print("837P export: billing.exports.x12 not available")
        return
    start = time.perf_counter()
    try:
        text = x12.month_837(practice, month, control_number=1)
    except ValidationError as error:  # the messages name fields, never values (no PHI)
        print(f"837P export refused: {'; '.join(error.messages)}")
        return
    elapsed = time.perf_counter() - start
    segments = text.count("~")
    print(
        f"837P export: {elapsed:.2f} s (target < {EXPORT_TARGET:.0f} s), "
        f"{len(text.encode()):,} bytes, {segments:,} segments"
    )
    if not hasattr(x12, "validate_837"):
        print("837P validation: billing.exports.x12.validate_837 not available")
        return
    start = time.perf_counter()
    problems = x12.validate_837(text)
    elapsed = time.perf_counter() - start
    verdict = "passed" if not problems else f"FAILED with {len(problems)} problems"
    print(f"837P validation: {elapsed:.2f} s, {verdict}")
    for problem in problems[:5]:
        print(f"  {problem}")


def export_csv_pdf(practice: Practice, month: dt.date) -> None:
    """The two other downloads of the closed month, built as the view builds them."""
    from billing.claims.selectors import month_claims
    from billing.exports import services as exports
    from billing.models import MonthClose

    with practice_scope(practice):
        start = time.perf_counter()
        claims = list(month_claims(practice, month))
        size = sum(len(chunk) for chunk in exports.csv_lines(claims))
        print(f"CSV export: {time.perf_counter() - start:.2f} s, {size:,} bytes")
        close = MonthClose.objects.get(month=month)
        start = time.perf_counter()
        claims = list(month_claims(practice, month))
        pdf = exports.render_pdf(practice, close, claims)
        print(f"PDF summary: {time.perf_counter() - start:.2f} s, {len(pdf):,} bytes")


def seeded(size: int) -> tuple[Practice, dt.date]:
    """The practice of `size` a `--keep` run seeded (for `--reuse`)."""
    practice = Practice.objects.get(slug=f"mc-bench-{size}")
    return practice, previous_month(month_of(timezone.now(), practice.time_zone))


def bench_size(size: int, repeat: int, *, reuse: bool = False) -> dict[str, float]:
    """Seed a practice of `size` (or take the kept one), close it `repeat` times (reset in
    between), each right after its floor; print the median and return it."""
    practice, month = seeded(size) if reuse else seed(size)
    closes, floors, cpus = [], [], []
    workers = getattr(settings, "MONTH_CLOSE_WORKERS", 1)  # older code: one thread
    for attempt in range(repeat):
        if attempt or reuse:
            _reset_close(practice, month)
        floor = sql_floor(practice, month)
        close, elapsed, totals = timed_close(practice, month)
        floors.append(floor)
        closes.append(elapsed)
        cpus.append((totals["python cpu"], totals["server cpu"], totals["all server cpu"]))
        months = close.patients_total
        rest = elapsed - totals["engine"] - totals["loading"] - totals["candidates"]
        print(
            f"  close #{attempt + 1}: {elapsed:.2f} s, floor {floor:.3f} s, "
            f"ratio {elapsed / floor:.1f}x, {months / elapsed:,.0f} patient-months/s; "
            f"CPU of this process {totals['python cpu']:.2f} s, of its PostgreSQL backend "
            f"{totals['server cpu']:.2f} s and of all PostgreSQL processes "
            f"{totals['all server cpu']:.2f} s ({workers} thread(s)), "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        parts = (
            (f"engine ({totals['engine calls']:.0f} calls)", totals["engine"]),
            ("loading", totals["loading"]),
            ("candidates", totals["candidates"]),
            ("rest (lock, bookkeeping, writes)", rest),
        )
        if workers > 1:  # the timers add up the threads' overlapping times: no "rest"
            parts = parts[:3]
            print("    summed over the threads: ", end="")
        print("    " + ", ".join(f"{k} {v:.2f} s ({100 * v / elapsed:.0f} %)" for k, v in parts))
    elapsed, floor = statistics.median(closes), statistics.median(floors)
    cpu = [statistics.median(column) for column in zip(*cpus, strict=True)]
    print(
        f"  CPU (median): this process {cpu[0]:.2f} s, its PostgreSQL backend {cpu[1]:.2f} s, "
        f"all PostgreSQL processes {cpu[2]:.2f} s"
    )
    print(
        f"month close {size:,}: {elapsed:.2f} s (median of {repeat}), floor {floor:.3f} s, "
        f"ratio {elapsed / floor:.1f}x (target <= {FLOOR_RATIO_TARGET:.0f}x), "
        f"{close.patients_total / elapsed:,.0f} patient-months/s"
        + (f" (target 100k <= {CLOSE_TARGET_100K:.0f} s)" if size >= 100_000 else "")
    )
    print(f"  claims: {close.claims:,}, total ${close.amount:,}")
    load, engine, months = engine_only(practice, month)
    print(
        f"  without writes (CPU of this process): engine alone over {months:,} patient-months "
        f"{engine:.2f} s ({engine / floor:.1f}x the floor), loading their facts {load:.2f} s "
        f"({load / floor:.1f}x); both {(engine + load) / floor:.1f}x the floor"
    )
    describe_outcomes(practice, month)
    start = time.perf_counter()
    again = services.month_close(practice_id=practice.pk, month=month)
    print(f"  close again (idempotent no-op): {(time.perf_counter() - start) * 1000:.1f} ms")
    assert (again.pk, again.claims, again.amount) == (close.pk, close.claims, close.amount)
    return {"close": elapsed, "floor": floor, "practice": practice, "month": month}


def _sizes(scale: str) -> list[int]:
    env = os.environ.get("BENCH_CLOSE_SIZES")
    sizes = [int(n) for n in env.split(",")] if env else list(DEFAULT_SIZES)
    if scale:
        sizes += [int(n) for n in scale.split(",")]
    return sorted(set(sizes))


def run(args: argparse.Namespace) -> None:
    results = {}
    for size in _sizes(args.scale):
        print(f"== {size:,} patient-months")
        results[size] = bench_size(size, args.repeat, reuse=args.reuse)
    sizes = sorted(results)
    for small, big in itertools.pairwise(sizes):
        span = math.log(big / small)
        close = math.log(results[big]["close"] / results[small]["close"]) / span
        floor = math.log(results[big]["floor"] / results[small]["floor"]) / span
        verdict = f" (target <= {EXPONENT_TARGET})" if small >= 10_000 else ""
        print(
            f"growth exponent {small:,} -> {big:,}: close {close:.2f}{verdict}, floor {floor:.2f}"
        )
    if args.exports:
        size = next((n for n in sizes if n >= 1_000), sizes[0])
        practice, month = results[size]["practice"], results[size]["month"]
        billing_setup(practice)
        export_837(practice, month)
        export_csv_pdf(practice, month)
    if args.profile:
        size = sizes[-1]
        print(f"== cProfile of a close of {size:,} patient-months")
        profile_close(results[size]["practice"], results[size]["month"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="", help="more sizes, e.g. 50000,100000")
    parser.add_argument("--repeat", type=int, default=1, help="closes per size (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    parser.add_argument("--exports", action="store_true", help="837P, CSV and PDF times")
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded database (for --reuse)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="close the sizes a --keep run seeded, no seeding"
    )
    args = parser.parse_args()
    old_name = throwaway_database(reuse=args.reuse)
    try:
        run(args)
    finally:
        if not (args.keep or args.reuse):
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
