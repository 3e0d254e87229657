"""Patient list, search and chart with 10,000 patients in each of two practices.

Prints p50/p95 server time (in-process, warm) and the query count per request, and each
page's ratio to two references measured in the same run: the bare SQL fetch of a patient's
row by primary key, and GET /healthz (the request stack with one `SELECT 1`). Creates two
bench practices once (idempotent; the demo data generator) in the dev DB or DATABASE_URL's,
and the issue-17 chart rows (medications and reconciliations, care team and permissions,
call windows, contact attempts, after-contact summaries, care transitions) for the patients
whose charts are measured; the chart of a patient without them shows the query count is fixed.
"""

import datetime as dt
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import _setup
from django.db import connection, transaction
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from careplans.models import CareTransition, TransitionKind
from ccm.models import Membership, Practice, Role, User
from ccm.months import month_of
from patients.demo import Staff, seed_patients
from patients.models import (
    CallWindow,
    CallWindowKind,
    CareContact,
    ChangeAction,
    Channel,
    ContactCategory,
    Medication,
    MedicationChange,
    MedicationReconciliation,
    MedicationSource,
    MedicationStatus,
    Patient,
    PermissionMethod,
    ReconciledWith,
    ShareScope,
    SharingPermission,
)
from timelog.models import ContactAttempt, ContactSummary, Outcome, Party, ShareMethod

PATIENTS = 10_000
CHARTED = 2_000  # the charts measured: each with the issue-17 rows below
N = 60

# (name, RxNorm code, dose, route, frequency): a chronic-care patient's usual medicines.
MEDICINES = (
    ("Metformin", "861007", "500 mg", "oral", "twice daily with meals"),
    ("Lisinopril", "314076", "10 mg", "oral", "once daily"),
    ("Atorvastatin", "617312", "40 mg", "oral", "at bedtime"),
    ("Amlodipine", "197361", "5 mg", "oral", "once daily"),
    ("Furosemide", "310429", "40 mg", "oral", "every morning"),
    ("Metoprolol succinate", "866427", "50 mg", "oral", "once daily"),
    ("Insulin glargine", "285018", "20 units", "subcutaneous", "at bedtime"),
    ("Albuterol", "745679", "2 puffs", "inhaled", "every 6 hours as needed"),
    ("Levothyroxine", "966247", "75 mcg", "oral", "before breakfast"),
    ("Apixaban", "1364441", "5 mg", "oral", "twice daily"),
)
PRESCRIBERS = ("Dr. Ana Ruiz", "Dr. Samuel Okafor", "Dr. Helen Park", "Dr. Priya Nair")
CAREGIVERS = (("Maria", "Daughter"), ("James", "Son"), ("Linda", "Spouse"), ("Rosa", "Niece"))
# Outcomes of outreach calls, in about the proportions coordinators see.
OUTCOMES = (Outcome.REACHED, Outcome.REACHED, Outcome.NO_ANSWER, Outcome.VOICEMAIL)


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


def _phone(n: int) -> str:
    return f"+1212555{100 + n % 100:04d}"  # the 555-01xx numbers are for fiction


class ChartRows:
    """The issue-17 rows of one practice's charted patients, inserted in bulk at the end."""

    def __init__(self, practice: Practice, recorder: Membership) -> None:
        self.practice, self.recorder = practice, recorder
        self.now, self.today = timezone.now(), practice.today()
        self.rows: dict[type[Model], list[Model]] = {}

    def add(self, row: Model) -> Any:
        self.rows.setdefault(type(row), []).append(row)
        return row

    def _at(self, days_ago: float, hour: int) -> dt.datetime:
        local = (self.now - dt.timedelta(days=days_ago)).astimezone(self.practice.zone)
        return local.replace(hour=hour, minute=(hour * 7) % 60, second=0, microsecond=0)

    def patient(self, rng: random.Random, n: int, pk: Any, last_name: str) -> None:
        p = {"practice": self.practice, "patient_id": pk}
        first, relationship = CAREGIVERS[n % len(CAREGIVERS)]
        caregiver = self.add(
            CareContact(
                **p,
                category=ContactCategory.CAREGIVER,
                name=f"{first} {last_name}",
                relationship=relationship,
                phone=_phone(n),
                language="Spanish" if n % 6 == 0 else "English",
                is_representative=relationship == "Daughter",
                created_by=self.recorder,
            )
        )
        self.add(
            SharingPermission(
                **p,
                contact=caregiver,
                scopes=[ShareScope.ALL]
                if n % 2
                else [ShareScope.CARE_PLAN, ShareScope.MEDICATIONS, ShareScope.SUMMARIES],
                method=PermissionMethod.WRITTEN if n % 3 else PermissionMethod.VERBAL,
                given_on=self.today - dt.timedelta(days=40 + n % 200),
                expires_on=self.today + dt.timedelta(days=325) if n % 5 == 0 else None,
                recorded_by=self.recorder,
            )
        )
        cardiologist = self.add(
            CareContact(
                **p,
                category=ContactCategory.PRACTITIONER,
                name=PRESCRIBERS[n % 3],
                role="Cardiologist",
                organisation="Heart Associates",
                phone=_phone(n + 1),
                fax=_phone(n + 2),
                secure_email="cardiology@direct.heart-associates.example",
                created_by=self.recorder,
            )
        )
        pharmacy = None
        if n % 2 == 0:
            pharmacy = self.add(
                CareContact(
                    **p,
                    category=ContactCategory.PHARMACY,
                    name=("Main Street Pharmacy", "Riverside Drugs")[n % 4 // 2],
                    phone=_phone(n + 3),
                    created_by=self.recorder,
                )
            )
        if n % 3 == 0:
            self.add(
                CareContact(
                    **p,
                    category=ContactCategory.AGENCY,
                    name="Sunrise Home Health",
                    role="Home health nursing",
                    phone=_phone(n + 4),
                    created_by=self.recorder,
                )
            )
        morning = n % 2 == 0
        self.add(
            CallWindow(
                **p,
                kind=CallWindowKind.BEST,
                weekdays=[0, 1, 2, 3, 4],
                starts_at=dt.time(9 if morning else 13),
                ends_at=dt.time(12 if morning else 17),
                note="Mornings" if morning else "Afternoons",
            )
        )
        if n % 4 == 1:
            self.add(
                CallWindow(
                    **p,
                    kind=CallWindowKind.DO_NOT_CALL,
                    weekdays=[0, 2, 4],
                    starts_at=dt.time(13),
                    ends_at=dt.time(16),
                    note="Dialysis",
                )
            )
        self._medicines(rng, n, p, caregiver, pharmacy)
        self._contacts(rng, n, p, caregiver, cardiologist)

    def _medicines(
        self, rng: random.Random, n: int, p: dict[str, Any], caregiver: Any, pharmacy: Any
    ) -> None:
        medicines = []
        for k, (name, code, dose, route, frequency) in enumerate(rng.sample(MEDICINES, 5)):
            stopped = k == 4 and n % 3 == 0
            starts_on = self.today - dt.timedelta(days=rng.randint(90, 1500))
            medicines.append(
                self.add(
                    Medication(
                        **p,
                        name=name,
                        rxnorm_code=code,
                        dose=dose,
                        route=route,
                        frequency=frequency,
                        prescriber=PRESCRIBERS[(n + k) % len(PRESCRIBERS)],
                        source=(MedicationSource.EHR, MedicationSource.PATIENT)[k % 2]
                        if k < 4
                        else MedicationSource.DISCHARGE,
                        starts_on=starts_on,
                        stops_on=self.today - dt.timedelta(days=20) if stopped else None,
                        status=MedicationStatus.STOPPED if stopped else MedicationStatus.ACTIVE,
                        created_by=self.recorder,
                    )
                )
            )
        for r, days_ago in enumerate((80, 20)[: 1 + n % 2]):
            at = self._at(days_ago, 10 + r)
            with_caregiver = r == 1 and n % 4 == 1
            reconciliation = self.add(
                MedicationReconciliation(
                    **p,
                    reconciled_at=at,
                    reconciled_on=at.date(),
                    performed_by=self.recorder,
                    reconciled_with=ReconciledWith.CAREGIVER
                    if with_caregiver
                    else (ReconciledWith.PATIENT, ReconciledWith.PHARMACY)[r if pharmacy else 0],
                    contact=caregiver if with_caregiver else (pharmacy if r else None),
                    sources="Pill bottles, pharmacy fill history, discharge summary",
                    discrepancies="Taking metoprolol once a day, not twice" if n % 5 == r else "",
                    note="Reviewed every medicine with the patient by phone.",
                )
            )
            lines = (
                (ChangeAction.CONFIRMED, "Taking as prescribed"),
                (ChangeAction.CHANGED, "dose 20 mg → 40 mg"),
                (ChangeAction.ADDED, "Started at discharge"),
                (ChangeAction.STOPPED, "Stopped by the cardiologist"),
            )
            for k, (action, detail) in enumerate(lines[: 2 + (n + r) % 3]):
                self.add(
                    MedicationChange(
                        practice=self.practice,
                        reconciliation=reconciliation,
                        medication=medicines[(k + r) % 5],
                        action=action,
                        detail=detail,
                    )
                )

    def _contacts(
        self, rng: random.Random, n: int, p: dict[str, Any], caregiver: Any, cardiologist: Any
    ) -> None:
        attempts = []
        for k, days_ago in enumerate(sorted(rng.sample(range(1, 61), 6), reverse=True)):
            outcome = Outcome.REACHED if k == 5 - n % 3 else rng.choice(OUTCOMES)
            to_caregiver = k % 3 == 2
            at = self._at(days_ago, rng.randint(9, 16))
            attempts.append(
                self.add(
                    ContactAttempt(
                        **p,
                        occurred_at=at,
                        month=month_of(at, self.practice.time_zone),
                        channel=Channel.PHONE,
                        party=Party.CAREGIVER if to_caregiver else Party.PATIENT,
                        contact=caregiver if to_caregiver else None,
                        outcome=outcome,
                        note="Discussed blood pressure readings and refills"
                        if outcome == Outcome.REACHED
                        else "",
                        recorded_by=self.recorder,
                    )
                )
            )
        reached = [a for a in attempts if a.outcome == Outcome.REACHED]
        if n % 3 == 0 and reached:
            call = reached[-1]
            self.add(
                ContactSummary(
                    **p,
                    contact_attempt=call,
                    language="es" if n % 6 == 0 else "en",
                    talked_about="Your blood pressure readings and your new water pill.",
                    do_now="Take furosemide every morning. Weigh yourself each day.",
                    watch_for="A weight gain of 3 pounds in a day, swollen ankles, short breath.",
                    whom_to_call="Your care coordinator, or the 24/7 line after hours.",
                    shared_with=caregiver if n % 2 else None,
                    shared_method=(ShareMethod.MAIL, ShareMethod.PORTAL)[n % 2],
                    shared_on=call.occurred_at.astimezone(self.practice.zone).date(),
                    created_by=self.recorder,
                )
            )
        if n % 4 == 0:
            occurred_on = self.today - dt.timedelta(days=10 + n % 40)
            self.add(
                CareTransition(
                    **p,
                    kind=TransitionKind.HOSPITAL_DISCHARGE,
                    occurred_on=occurred_on,
                    admitted_on=occurred_on - dt.timedelta(days=4),
                    facility="St. Mary's Hospital",
                    contact=cardiologist,
                    diagnoses="Heart failure exacerbation (I50.23)",
                    note="Diuretic dose increased; follow up with cardiology in 2 weeks.",
                    recorded_by=self.recorder,
                )
            )

    def save(self) -> int:
        """Insert everything, parents first; the number of rows."""
        order = (
            CareContact,
            SharingPermission,
            CallWindow,
            Medication,
            MedicationReconciliation,
            MedicationChange,
            ContactAttempt,
            ContactSummary,
            CareTransition,
        )
        with transaction.atomic():
            for model in order:
                manager: Any = model._default_manager
                manager.for_practice(self.practice).bulk_create(
                    self.rows.get(model, []), batch_size=2000
                )
        return sum(len(rows) for rows in self.rows.values())


def seed_chart_rows(practice: Practice, recorder: Membership, patient_ids: list[Any]) -> int:
    """The issue-17 rows of the charted patients that have no medicines yet (idempotent)."""
    have = set(
        Medication.objects.for_practice(practice)
        .filter(patient_id__in=patient_ids)
        .values_list("patient_id", flat=True)
    )
    names = dict(
        Patient.objects.for_practice(practice)
        .filter(pk__in=patient_ids)
        .values_list("pk", "last_name")
    )
    rows = ChartRows(practice, recorder)
    rng = random.Random(f"{practice.slug}-chart-rows")
    for n, pk in enumerate(patient_ids):
        if pk not in have:
            rows.patient(rng, n, pk, names[pk])
    added = rows.save()
    if added:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would after a bulk load
    return added


def _timed(
    label: str, call: Callable[[int], int | None], count: int = N, probes: int = 1
) -> list[float]:
    """Time `call(i)` `count` times after a warm-up; print p50/p95 and the query count of
    `probes` more calls (a range if they differ; for bare SQL, the count the call returns)."""
    call(0)  # warm-up
    times = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    counts = set()
    for i in range(count - probes, count):
        with CaptureQueriesContext(connection) as queries:
            returned = call(i)
        counts.add(returned or len(queries))
    shown = str(min(counts)) if len(counts) == 1 else f"{min(counts)}-{max(counts)}"
    print(
        f"{label:<38} p50 {statistics.median(times):7.1f} ms   "
        f"p95 {_setup.percentile(times, 0.95):7.1f} ms   {shown} queries"
    )
    return times


def measure(label: str, client: Client, urls: list[str], probes: int = 1) -> list[float]:
    def get(i: int) -> None:
        response = client.get(urls[i])
        assert response.status_code == 200, (label, response.status_code)

    return _timed(label, get, len(urls), probes)


def chart_queries(client: Client, practice: Practice, charted: list[Any], bare: list[Any]) -> None:
    """The chart's query count by the patient's status, with and without the issue-17 rows:
    one number per cell when no panel queries per row (the rows add only the prefetches
    Django skips for empty lists: permissions of contacts, changes of reconciliations)."""
    counts: dict[tuple[str, bool], set[int]] = {}
    for with_rows, ids in ((True, charted[::25]), (False, bare[::25])):
        statuses = dict(
            Patient.objects.for_practice(practice).filter(pk__in=ids).values_list("pk", "status")
        )
        for pk in ids:
            with CaptureQueriesContext(connection) as queries:
                client.get(f"/patients/{pk}/")
            counts.setdefault((statuses[pk], with_rows), set()).add(len(queries))

    def shown(cell: set[int] | None) -> str:
        if not cell:
            return "-"
        return str(min(cell)) if len(cell) == 1 else f"{min(cell)}-{max(cell)}"

    cells = [
        f"{status} {shown(counts.get((status, True)))}/{shown(counts.get((status, False)))}"
        for status in sorted({status for status, _ in counts})
    ]
    print(f"chart queries by status, with/without issue-17 rows: {', '.join(cells)}")


def bare_row(practice: Practice, ids: list[Any]) -> list[float]:
    """The SQL a hand-written chart starts with: the patient's row by primary key."""

    def fetch(i: int) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM patients_patient WHERE practice_id = %s AND id = %s",
                [practice.pk, ids[i % len(ids)]],
            )
            cursor.fetchall()
        return 1

    return _timed("reference: bare SQL patient row by pk", fetch)


def _ratio(label: str, page: list[float], healthz: list[float], row: list[float]) -> None:
    def ratio(reference: list[float]) -> str:
        p50 = statistics.median(page) / statistics.median(reference)
        p95 = _setup.percentile(page, 0.95) / _setup.percentile(reference, 0.95)
        return f"p50 {p50:7.1f}x  p95 {p95:7.1f}x"

    print(f"  ratio {label:<32} /healthz {ratio(healthz)}   / SQL row {ratio(row)}")


def main() -> None:
    practice, coordinator = bench_practice("bench-a")
    bench_practice("bench-b")
    client = Client()
    client.force_login(coordinator.user)
    rng = random.Random(7)
    ordered = Patient.objects.for_practice(practice).order_by("mrn").values_list("id", flat=True)
    ids = list(ordered[:CHARTED])
    start = time.perf_counter()
    added = seed_chart_rows(practice, coordinator, ids)
    if added:
        print(f"seeded {added} issue-17 chart rows in {time.perf_counter() - start:.1f} s")
    # The last patients by MRN have none of them: the same chart, empty panels.
    bare = list(ordered.reverse()[:CHARTED])
    assert not Medication.objects.for_practice(practice).filter(patient_id__in=bare).exists()
    print(f"== {N} requests each, {PATIENTS} patients per practice, 2 practices")
    row = bare_row(practice, ids)
    healthz = measure("reference: GET /healthz", client, ["/healthz"] * N)
    pages = {
        "patient list, first page": measure("patient list, first page", client, ["/patients/"] * N)
    }
    urls = [f"/patients/?page={rng.randint(1, 400)}" for _ in range(N)]
    pages["random page"] = measure("patient list, random page of 400", client, urls)
    urls = [
        f"/patients/?q={rng.choice(['smi', 'gar', 'john', 'BENCH-0', 'lee'])}" for _ in range(N)
    ]
    pages["search"] = measure("search (name / MRN prefix)", client, urls)
    urls = ["/patients/?q=1950-03-15"] * N
    pages["search by date of birth"] = measure("search by date of birth", client, urls)
    urls = [f"/patients/{rng.choice(ids)}/" for _ in range(N)]
    # Charts with 2 to 4 contacts, 1 or 2 reconciliations, 0 or 1 transition...: if the
    # query count of these 20 differs, a panel queries per row.
    pages["patient chart"] = measure("patient chart", client, urls, probes=20)
    urls = [f"/patients/{rng.choice(bare)}/" for _ in range(N)]
    pages["chart, no issue-17 rows"] = measure(
        "patient chart, no issue-17 rows", client, urls, probes=20
    )
    chart_queries(client, practice, ids, bare)
    for label, times in pages.items():
        _ratio(label, times, healthz, row)


if __name__ == "__main__":
    main()
