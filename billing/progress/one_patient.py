"""One patient's engine input in one query: the worklist refresh after a coordinator's write.

`billing.inputs.loading` loads many patients in ten queries (the close and the reconcile);
after a single write (a time entry, a contact, a task's call) the refresh needs one patient,
whose rows are few, so the same records (and the practice's fee schedule, policy and the
patient's coverage and contacts) come back as one UNION ALL of plain tuples, each branch
scoped to the practice. Every branch fills the same typed slots; `kind` says which record a
row is. The facts are then built by `billing.inputs.facts`, as the loader builds them, so the
engine sees the same input (tests/billing/test_progress_one_patient.py compares the two).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    TextField,
    UUIDField,
    Value,
)
from django.db.models.functions import Cast, JSONObject

from billing import rules
from billing.inputs import facts, loading
from billing.models import (
    ApcmPracticeAttestation,
    ApcmPractitionerAttestation,
    BillingPolicy,
    FeeSchedule,
    OtherService,
    PatientMonthFacts,
)
from billing.setup import apcm
from careplans.models import CarePlanCopy, CarePlanVersion
from ccm.models import Practice
from ccm.months import last_day
from patients.models import Condition, Consent, Coverage, CoveragePriority, Patient
from patients.selectors import CoverageInForce
from timelog.models import UNANSWERED, ContactAttempt, MonthProgress, Outcome, TimeEntry
from timelog.selectors import adjusted

# The typed slots every branch fills (None where a record has nothing to put).
SLOTS: dict[str, Any] = {
    "s_month": DateField(),
    "s_d1": DateField(),
    "s_d2": DateField(),
    "s_ts": DateTimeField(),
    "s_n1": IntegerField(),
    "s_n2": IntegerField(),
    "s_t1": TextField(),
    "s_t2": TextField(),
    "s_u": UUIDField(),
    "s_b": BooleanField(),
    "s_x": DecimalField(max_digits=8, decimal_places=2),  # FeeSchedule.amount
    "s_o": IntegerField(),  # ordering within a kind, before s_d1 and s_ts
}


class Row(NamedTuple):
    """One row of the union (slots typed by SLOTS; Any: each kind fills different ones)."""

    kind: str
    month: Any
    d1: Any
    d2: Any
    ts: Any
    n1: Any
    n2: Any
    t1: Any
    t2: Any
    u: Any
    b: Any
    x: Any
    o: Any


def _branch(queryset: QuerySet[Any], kind: str, **slots: Any) -> QuerySet[Any]:
    """`queryset` as rows of the union: its kind, then every slot (given ones from `slots`)."""
    values = {
        # Typed NULLs: a UNION resolves two untyped NULLs as text, then fails on a date.
        name: slots[name] if name in slots else Cast(Value(None), output)
        for name, output in SLOTS.items()
    }
    return (
        queryset.order_by()
        .annotate(s_kind=Value(kind, output_field=CharField()), **values)
        .values_list("s_kind", *SLOTS)
    )


@dataclass
class PatientInput:
    """What the refresh of one patient needs, by kind of record."""

    patient: Row | None = None
    progress_months: list[dt.date] = field(default_factory=list)
    entries: dict[dt.date, list[Any]] = field(default_factory=lambda: defaultdict(list))
    conditions: list[Any] = field(default_factory=list)
    consents: list[Any] = field(default_factory=list)
    signed: list[dt.date] = field(default_factory=list)
    copies: list[dt.date] = field(default_factory=list)
    others: dict[dt.date, list[rules.OtherService]] = field(
        default_factory=lambda: defaultdict(list)
    )
    month_facts: dict[dt.date, Row] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)
    contacts: list[Row] = field(default_factory=list)
    policy: rules.Policy = rules.DEFAULT_POLICY
    coverages: list[Row] = field(default_factory=list)
    # R39: (kind, practitioner id or None, attested on, withdrawn on), as apcm.InForce reads.
    attestations: list[tuple[str, Any, dt.date, dt.date | None]] = field(default_factory=list)


class _Entry(NamedTuple):
    started_at: dt.datetime
    minutes: int
    effective_minutes: int
    performer_kind: str
    practitioner_id: Any
    face_to_face: bool
    activity: str


class _Condition(NamedTuple):
    icd10_code: str
    is_chronic: bool
    status: str


class _Consent(NamedTuple):
    given_on: dt.date
    revoked_on: dt.date | None
    created_at: dt.datetime


class _Patient(NamedTuple):
    billing_practitioner_id: Any
    initiating_visit_on: dt.date | None
    initiating_visit_code: str


# Stand-ins the query is built with once (building its 15 branches through the ORM costs
# more than running it); each run swaps in the practice, the patient and the first month.
_PRACTICE = uuid.UUID(int=0x5EAC71CE)
_PATIENT = uuid.UUID(int=0x9A71E47)
_SINCE = dt.date(1901, 1, 1)
_compiled: dict[bool, tuple[str, tuple[Any, ...]]] = {}


def load(practice: Practice, patient_id: Any, since: dt.date | None) -> PatientInput:
    """The patient's records in one query: month-bound ones from `since` on (None: all),
    and the months from after `since` that have a progress row (the refresh follows them)."""
    bounded = since is not None
    if bounded not in _compiled:
        query = _union(_PRACTICE, _PATIENT, _SINCE if bounded else None).query
        _compiled[bounded] = query.sql_with_params()
    sql, stand_ins = _compiled[bounded]
    real = {_PRACTICE: practice.pk, _PATIENT: patient_id, _SINCE: since}
    params = [real.get(p, p) if isinstance(p, uuid.UUID | dt.date) else p for p in stand_ins]
    found = PatientInput()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for values in cursor.fetchall():
            _add(found, Row(*values))
    return found


def _union(practice: Any, patient_id: Any, since: dt.date | None) -> QuerySet[Any]:
    """The query behind `load`, every branch scoped to the practice (`practice`: its id)."""
    pid = {"patient_id": patient_id}
    in_months = (lambda name: {f"{name}__gte": since}) if since else (lambda name: {})
    later = {"month__gt": since} if since else {}
    entries = adjusted(
        TimeEntry.objects.for_practice(practice).filter(**pid, **in_months("billing_month")),
        practice,
    )
    reached_later = ContactAttempt.objects.for_practice(practice).filter(
        patient_id=OuterRef("patient_id"),
        month=OuterRef("month"),
        outcome=Outcome.REACHED,
        occurred_at__gt=OuterRef("occurred_at"),
    )
    contacts = (
        ContactAttempt.objects.for_practice(practice)
        .filter(**pid)
        .order_by()
        .values("month")
        .annotate(
            c_last=Max("occurred_at", filter=Q(outcome=Outcome.REACHED)),
            c_unanswered=Count("pk", filter=Q(Q(outcome__in=UNANSWERED), ~Exists(reached_later))),
        )
    )
    policy = JSONObject(**{name: F(name) for name in loading.POLICY_COLUMNS})
    branches = [
        _branch(
            Patient.objects.for_practice(practice).filter(pk=patient_id),
            "patient",
            s_u=F("billing_practitioner_id"),
            s_d1=F("initiating_visit_on"),
            s_t1=F("initiating_visit_code"),
        ),
        _branch(
            MonthProgress.objects.for_practice(practice).filter(**pid, **later),
            "progress",
            s_month=F("month"),
        ),
        _branch(
            entries,
            "entry",
            s_month=F("billing_month"),
            s_ts=F("started_at"),
            s_n1=F("minutes"),
            s_n2=F("effective_minutes"),
            s_t1=F("performer_kind"),
            s_t2=F("activity"),
            s_u=F("practitioner_id"),
            s_b=F("face_to_face"),
        ),
        _branch(
            Condition.objects.for_practice(practice).filter(**pid),
            "condition",
            s_t1=F("icd10_code"),
            s_t2=F("status"),
            s_b=F("is_chronic"),
            s_o=F("position"),
            s_ts=F("created_at"),
        ),
        _branch(
            Consent.objects.for_practice(practice).filter(**pid),
            "consent",
            s_d1=F("given_on"),
            s_d2=F("revoked_on"),
            s_ts=F("created_at"),
        ),
        _branch(
            CarePlanVersion.objects.for_practice(practice).filter(**pid, signed_on__isnull=False),
            "signed",
            s_d1=F("signed_on"),
        ),
        _branch(
            CarePlanCopy.objects.for_practice(practice).filter(**pid),
            "copy",
            s_d1=F("given_on"),
        ),
        _branch(
            OtherService.objects.for_practice(practice).filter(**pid, **in_months("service_on")),
            "other",
            s_d1=F("service_on"),
            s_t1=F("code"),
            s_t2=F("outside_npi"),
            s_u=F("practitioner_id"),
        ),
        _branch(
            PatientMonthFacts.objects.for_practice(practice).filter(**pid, **in_months("month")),
            "facts",
            s_month=F("month"),
            s_b=F("ccm_billed_elsewhere"),
            s_t1=F("mdm"),
        ),
        _branch(
            FeeSchedule.objects.for_practice(practice),
            "fee",
            s_t1=F("code"),
            s_x=F("amount"),
        ),
        _branch(
            contacts,
            "contact",
            s_month=F("month"),
            s_ts=F("c_last"),
            s_n1=F("c_unanswered"),
        ),
        _branch(
            BillingPolicy.objects.for_practice(practice),
            "policy",
            s_t1=Cast(policy, TextField()),
        ),
        _branch(
            ApcmPracticeAttestation.objects.for_practice(practice),
            apcm.PRACTICE_KIND,
            s_d1=F("attested_on"),
            s_d2=F("withdrawn_on"),
        ),
        _branch(
            ApcmPractitionerAttestation.objects.for_practice(practice),
            apcm.PRACTITIONER_KIND,
            s_u=F("practitioner_id"),
            s_d1=F("attested_on"),
            s_d2=F("withdrawn_on"),
        ),
        _branch(
            Coverage.objects.for_practice(practice).filter(**pid),
            "coverage",
            s_d1=F("starts_on"),
            s_d2=F("ends_on"),
            s_t1=F("priority"),
            s_t2=F("kind"),
            s_ts=F("created_at"),
        ),
    ]
    return branches[0].union(*branches[1:], all=True).order_by("s_kind", "s_o", "s_d1", "s_ts")


def _add(found: PatientInput, row: Row) -> None:
    kind = row.kind
    if kind == "entry":
        found.entries[row.month].append(
            _Entry(row.ts, row.n1, row.n2, row.t1, row.u, row.b, row.t2)
        )
    elif kind == "patient":
        found.patient = row
    elif kind == "progress":
        found.progress_months.append(row.month)
    elif kind == "condition":
        found.conditions.append(_Condition(row.t1, row.b, row.t2))
    elif kind == "consent":
        found.consents.append(_Consent(row.d1, row.d2, row.ts))
    elif kind == "signed":
        found.signed.append(row.d1)
    elif kind == "copy":
        found.copies.append(row.d1)
    elif kind == "other":
        who = str(row.u) if row.u else f"npi:{row.t2 or 'unknown'}"
        found.others[row.d1.replace(day=1)].append(rules.OtherService(row.t1, who))
    elif kind == "facts":
        found.month_facts[row.month] = row
    elif kind == "fee":
        found.fees[row.t1] = Decimal(row.x)
    elif kind == "contact":
        found.contacts.append(row)
    elif kind == "policy":
        found.policy = rules.Policy(**json.loads(row.t1))
    elif kind == "coverage":
        found.coverages.append(row)
    elif kind in (apcm.PRACTICE_KIND, apcm.PRACTITIONER_KIND):
        found.attestations.append((kind, row.u, row.d1, row.d2))


def patient_month(
    practice: Practice, found: PatientInput, patient: Row, month: dt.date, fees: rules.FeeSchedule
) -> rules.PatientMonth:
    """The engine's facts for one month, as `billing.inputs.loading` builds them (`patient`:
    the found patient row)."""
    extra = found.month_facts.get(month)
    return facts.patient_month(
        zone_name=practice.time_zone,
        month=month,
        patient=_Patient(patient.u, patient.d1, patient.t1 or ""),
        conditions=found.conditions,
        consents=found.consents,
        entries=found.entries.get(month, []),
        care_plan=facts.care_plan_for_month(found.signed, found.copies, month),
        other_services=found.others.get(month, ()),
        ccm_billed_elsewhere=bool(extra and extra.b),
        mdm=(extra.t1 or None) if extra else None,
        fee_schedule=fees,
        apcm_attested=apcm.InForce(found.attestations).attested(patient.u, month),
    )


def coverage_in_force(found: PatientInput, month: dt.date) -> CoverageInForce:
    """As `patients.selectors.coverage_in_force` for this patient and month."""
    first = month.replace(day=1)
    last = last_day(first)
    by: dict[str, Coverage] = {}
    for row in found.coverages:  # in (starts_on, created_at) order: later starts overwrite
        if row.d1 <= last and (row.d2 is None or row.d2 >= first):
            by[row.t1] = Coverage(priority=row.t1, kind=row.t2, starts_on=row.d1, ends_on=row.d2)
    return CoverageInForce(
        primary=by.get(CoveragePriority.PRIMARY), secondary=by.get(CoveragePriority.SECONDARY)
    )


def months_wanted(found: PatientInput, months: Collection[dt.date]) -> set[dt.date]:
    """The months given, and every later one with a progress row (all of them: none given)."""
    return {m.replace(day=1) for m in months} | set(found.progress_months)
