"""Month close at scale: one practice, 10,000 enrolled patients and 200,000 time entries in
last month, closed by `billing.close.services.month_close`, then the month's 837P.

Runs in a throwaway database (created next to the dev DB or DATABASE_URL's, migrated,
dropped at the end), so every run times a first close. The data mix: patients, conditions,
consents and enrolment from the seed_demo generator (some enrolled during the month, a few
disenrolled), care plans from the demo generator (most signed with a copy given, some drafts,
a few none), 1.5 % of the consents removed, and per patient a month total drawn from four
bands (under 20 minutes, 20-39, 40-59, 60-80: 99439 add-ons) split over about 20 entries,
physician time for one patient in ten, a few face-to-face entries. Prints the close time,
patient-months per second, where the time went (engine, loading, the rest), the claims, the
idempotent re-close, and the 837P export and validation when `billing.exports.x12` is there.
Run from the repository root: .venv/bin/python bench/month_close.py
"""

import collections
import contextlib
import cProfile
import datetime as dt
import importlib
import io
import os
import pstats
import random
import time
from collections.abc import Iterator
from unittest import mock

import _common
import _setup  # noqa: F401 (Django set-up)
from django.core.exceptions import ValidationError
from django.db import connection
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


ENROLLED = 10_000
ENTRIES = 200_000  # in the month being closed
STAFF = 80  # clinical-staff performers; 2,500 entries each in 12-minute slots
SLOT = 12  # minutes between one performer's entry starts (longer entries push the next)
# (share of patients, month total minutes): under 20 bills nothing, 40+ adds 99439.
BANDS = ((0.12, (5, 19)), (0.50, (20, 39)), (0.28, (40, 59)), (0.10, (60, 80)))
PHYSICIAN_SHARE = 0.10  # patients with the billing physician's own time (some 30+: 99491)
FACE_TO_FACE_SHARE = 0.01  # entries flagged face-to-face (never count, R15)
NO_CONSENT_SHARE = 0.015
CLOSE_TARGET, EXPORT_TARGET = 30.0, 5.0


# --- The throwaway database ---------------------------------------------------------------


def throwaway_database() -> str:
    """Create and migrate `<db>_bench_month_close`; the connection then points at it."""
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"{old_name}_bench_month_close"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return old_name


# --- Data ---------------------------------------------------------------------------------


def _member(practice: Practice, email: str, role: str, npi: str = "") -> Membership:
    user = User.objects.create(email=email)
    return Membership.objects.for_practice(practice).create(
        practice=practice, user=user, role=role, npi=npi
    )


def bench_practice() -> tuple[Practice, Membership, list[Membership]]:
    practice = Practice.objects.create(
        slug="mc-bench",
        name="Month close bench",
        billing_npi="1234567893",
        tax_id="12-3456789",  # what the 837P's billing provider needs
        phone="+1 518 555 0100",
        address_line1="1 Main Street",
        city="Springfield",
        state="NY",
        postal_code="12345",
    )
    physician = _member(practice, "physician@mc.bench", Role.PHYSICIAN, "1679576722")
    User.objects.filter(pk=physician.user_id).update(full_name="Pat Physician")
    coordinators = tuple(
        _member(practice, f"coordinator{n}@mc.bench", Role.COORDINATOR) for n in range(2)
    )
    staff = [_member(practice, f"staff{n}@mc.bench", Role.COORDINATOR) for n in range(STAFF)]
    today = timezone.localdate()
    count = int(ENROLLED / 0.72)  # the generator enrols about 72 %
    while _enrolled(practice).count() < ENROLLED:
        seed_patients(
            practice=practice,
            staff=Staff(physician=physician, coordinators=coordinators),
            count=count,
            today=today,
            prefix="MC",
        )
        count += 20  # lands within a few patients of ENROLLED
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


def _plans(rng: random.Random, count: int) -> list[tuple[int, int]]:
    """(staff minutes, entries) per patient, entries adding up to ENTRIES."""
    totals = [rng.randint(*_band(rng.random())) for _ in range(count)]
    entries = [min(total, ENTRIES // count) for total in totals]
    short, i = ENTRIES - sum(entries), 0
    while short:  # the under-20 months have fewer entries: others take the rest
        if entries[i % count] < totals[i % count]:
            entries[i % count] += 1
            short -= 1
        i += 1
    return list(zip(totals, entries, strict=True))


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def seed_entries(
    practice: Practice, physician: Membership, staff: list[Membership], month: dt.date
) -> int:
    rng = random.Random("month-close-bench")
    patients = list(_enrolled(practice).order_by("mrn")[:ENROLLED])
    first, end = month_bounds(month, practice.time_zone)
    cursor: dict[object, dt.datetime] = collections.defaultdict(lambda: first)
    entries = _common.EntryBatches(practice, month, rng)
    n = 0

    def add(patient: Patient, performer: Membership, minutes: int) -> None:
        started = cursor[performer.pk]
        cursor[performer.pk] = started + dt.timedelta(minutes=max(SLOT, minutes + 1))
        assert cursor[performer.pk] <= end, "the month is full: add performers"
        entries.add(
            patient,
            performer,
            physician=performer == physician,
            started=started,
            minutes=minutes,
            face_to_face_share=FACE_TO_FACE_SHARE,
        )

    for patient, (total, count) in zip(patients, _plans(rng, len(patients)), strict=True):
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


def remove_some_consents(practice: Practice) -> int:
    """Consent not on file (R5) for a deterministic few of the enrolled patients."""
    ids = list(_enrolled(practice).order_by("mrn").values_list("pk", flat=True))
    step = round(1 / NO_CONSENT_SHARE)
    deleted, _ = Consent.objects.unscoped().filter(patient_id__in=ids[::step]).delete()
    return deleted


# --- Timing -------------------------------------------------------------------------------


@contextlib.contextmanager
def accumulate(target: object, name: str, totals: dict[str, float], key: str) -> Iterator[None]:
    """Patch `target.name` with a wrapper that adds its wall time to totals[key]."""
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


def timed_close(practice: Practice, month: dt.date):
    totals: dict[str, float] = collections.defaultdict(float)
    with (
        accumulate(rules, "evaluate", totals, "engine"),
        accumulate(services, "load_patient_months", totals, "loading"),
        accumulate(services, "_candidates", totals, "candidates"),
    ):
        start, cpu = time.perf_counter(), time.process_time()
        close = services.month_close(practice_id=practice.pk, month=month)
        elapsed = time.perf_counter() - start
        totals["python cpu"] = time.process_time() - cpu
    return close, elapsed, totals


def profile_close(practice: Practice, month: dt.date) -> None:
    """Over target: where the time goes, from a fresh close under cProfile."""
    _reset_close(practice, month)
    profiler = cProfile.Profile()
    profiler.runcall(services.month_close, practice_id=practice.pk, month=month)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    print(out.getvalue())


def _reset_close(practice: Practice, month: dt.date) -> None:
    from billing.models import MonthClose
    from timelog.models import MonthLock

    ClaimLine.objects.for_practice(practice).delete()
    Claim.objects.for_practice(practice).delete()
    Outcome.objects.for_practice(practice).delete()
    MonthClose.objects.for_practice(practice).filter(month=month).delete()
    MonthLock.objects.for_practice(practice).filter(month=month).delete()


def describe_outcomes(practice: Practice, month: dt.date) -> None:
    outcomes = Outcome.objects.for_practice(practice).filter(month=month)
    billable = outcomes.filter(billable=True).count()
    blocked: collections.Counter[str] = collections.Counter()
    for rules_hit in outcomes.filter(billable=False).values_list("blocked_by", flat=True):
        blocked[",".join(rules_hit) or "(under threshold)"] += 1
    codes: collections.Counter[str] = collections.Counter()
    for code, units in ClaimLine.objects.for_practice(practice).values_list("code", "units"):
        codes[code] += units
    print(f"  outcomes: {outcomes.count()} ({billable} billable)")
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


def run() -> None:
    start = time.perf_counter()
    practice, physician, staff = bench_practice()
    month = previous_month(month_of(timezone.now(), practice.time_zone))
    added = seed_entries(practice, physician, staff, month)
    part_b_for_uncovered(practice)  # seed_patients bulk-creates patients without coverage
    no_consent = remove_some_consents(practice)
    with connection.cursor() as cursor:
        # What autovacuum has long done to a past month's rows: planner statistics, and the
        # visibility map that lets index-only scans skip the heap.
        cursor.execute("VACUUM ANALYZE")
    print(
        f"seeded {_enrolled(practice).count():,} enrolled patients, {added:,} entries in "
        f"{month_label(month)} ({no_consent} consents removed) in "
        f"{time.perf_counter() - start:.0f} s"
    )

    close, elapsed, totals = timed_close(practice, month)
    months = close.patients_total
    rest = elapsed - totals["engine"] - totals["loading"] - totals["candidates"]
    print(
        f"month close: {elapsed:.1f} s (target < {CLOSE_TARGET:.0f} s), {months:,} "
        f"patient-months, {months / elapsed:,.0f} patient-months/s"
    )
    print(
        f"  (this process's CPU: {totals['python cpu']:.1f} s; the rest is PostgreSQL and "
        f"waiting for a core: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    for label, seconds in (
        (f"engine (billing.rules.evaluate, {totals['engine calls']:.0f} calls)", totals["engine"]),
        ("loading (queries + facts mapping)", totals["loading"]),
        ("candidates (the month's patient ids)", totals["candidates"]),
        ("rest (lock, batch bookkeeping, inserts)", rest),
    ):
        print(f"  {label:<50} {seconds:6.2f} s  {100 * seconds / elapsed:5.1f} %")
    print(f"  claims: {close.claims:,}, total ${close.amount:,}")
    describe_outcomes(practice, month)

    start = time.perf_counter()
    again = services.month_close(practice_id=practice.pk, month=month)
    print(f"close again (idempotent no-op): {(time.perf_counter() - start) * 1000:.1f} ms")
    assert (again.pk, again.claims, again.amount) == (close.pk, close.claims, close.amount)

    billing_setup(practice)
    export_837(practice, month)
    export_csv_pdf(practice, month)
    if elapsed > CLOSE_TARGET:
        profile_close(practice, month)


def main() -> None:
    old_name = throwaway_database()
    try:
        run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
