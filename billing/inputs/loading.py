"""Load the records behind many patient-months and turn them into the engine's facts.

One loader for the worklist's progress (billing/progress) and the month close (billing/close):
a fixed number of queries whatever the number of patients, then `billing.inputs.facts` does
the mapping.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from decimal import Decimal
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import BigIntegerField, F, Func, QuerySet, TextField, Value
from django.db.models.functions import Cast, Coalesce
from psycopg.types.datetime import TimestamptzLoader

from billing import rules
from billing.inputs import facts
from billing.models import BillingPolicy, FeeSchedule, OtherService, PatientMonthFacts
from billing.setup import apcm
from careplans.models import CarePlanCopy, CarePlanVersion
from ccm.models import Practice
from ccm.months import last_day
from patients.models import Condition, Consent, Patient
from timelog.models import TimeAdjustment, TimeEntry
from timelog.selectors import adjusted

Key = tuple[Any, dt.date]  # (patient id, first day of the month)


def grouped(rows: Iterable[Any], *key: str) -> dict[Any, list[Any]]:
    """Named rows by one field, or by a tuple of fields."""
    out: dict[Any, list[Any]] = defaultdict(list)
    get = attrgetter(*key)
    for row in rows:
        out[get(row)].append(row)
    return out


def between(span: tuple[Any, Any], field: str = "patient_id") -> dict[str, Any]:
    """Filter arguments for ids from span[0] to span[1] (a foreign key has no __range)."""
    return {f"{field}__gte": span[0], f"{field}__lte": span[1]}


def fee_schedule(practice: Practice) -> rules.FeeSchedule:
    """R26: the practice's amounts over the spec's reference amounts."""
    amounts = FeeSchedule.objects.for_practice(practice).values_list("code", "amount")
    return rules.FeeSchedule({code: Decimal(amount) for code, amount in amounts})


# The engine's POLICY settings a practice stores (BillingPolicy's columns of the same names;
# the others keep the spec's defaults). One list for every reader: `policy` here and the
# one-patient refresh (billing.progress.one_patient), which reads them in SQL.
POLICY_COLUMNS: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(rules.Policy)
    if f.name in {column.name for column in BillingPolicy._meta.concrete_fields}
)


def policy(practice: Practice) -> rules.Policy:
    """The practice's POLICY choices (billing.models.BillingPolicy), or the spec's defaults."""
    row = BillingPolicy.objects.for_practice(practice).first()
    if row is None:
        return rules.DEFAULT_POLICY
    return rules.Policy(**{name: getattr(row, name) for name in POLICY_COLUMNS})


def _other_services(practice: Practice, ids: Any, months: Collection[dt.date]) -> Any:
    """`ids`: a list of patient ids, or a (first, last) id range."""
    first, last = min(months), last_day(max(months))
    which = between(ids) if isinstance(ids, tuple) else {"patient_id__in": ids}
    rows = (
        OtherService.objects.for_practice(practice)
        .filter(**which, service_on__range=(first, last))
        .values_list("patient_id", "service_on", "code", "practitioner_id", "outside_npi")
    )
    out: dict[Key, list[rules.OtherService]] = defaultdict(list)
    for patient_id, day, code, practitioner_id, npi in rows:
        who = str(practitioner_id) if practitioner_id else f"npi:{npi or 'unknown'}"
        out[(patient_id, day.replace(day=1))].append(rules.OtherService(code, who))
    return out


def _month_facts(practice: Practice, ids: list[Any], months: Collection[dt.date]) -> Any:
    """(patient, month) -> (CCM billed elsewhere, MDM level or None), as plain tuples."""
    rows = (
        PatientMonthFacts.objects.for_practice(practice)
        .filter(patient_id__in=ids, month__in=months)
        .values_list("patient_id", "month", "ccm_billed_elsewhere", "mdm")
    )
    return {(pk, month): (elsewhere, mdm or None) for pk, month, elsewhere, mdm in rows}


def _care_plan_days(practice: Practice, ids: list[Any]) -> tuple[Any, Any]:
    """Per patient: the days care plan versions were signed, and copies were given (R11)."""
    signed: dict[Any, list[dt.date]] = defaultdict(list)
    versions = CarePlanVersion.objects.for_practice(practice).filter(
        patient_id__in=ids, signed_on__isnull=False
    )
    for patient_id, day in versions.values_list("patient_id", "signed_on"):
        signed[patient_id].append(day)
    copies: dict[Any, list[dt.date]] = defaultdict(list)
    given = CarePlanCopy.objects.for_practice(practice).filter(patient_id__in=ids)
    for patient_id, day in given.values_list("patient_id", "given_on"):
        copies[patient_id].append(day)
    return signed, copies


def load_patient_months(
    *,
    practice: Practice,
    patient_ids: Collection[Any],
    months: Collection[dt.date],
    fees: rules.FeeSchedule | None = None,
) -> tuple[list[Any], dict[Key, rules.PatientMonth]]:
    """The patients (billing practitioner, visit) and the engine's facts for every
    (patient, month) asked for. Eleven queries (one of them the APCM attestations), no writes."""
    if not patient_ids or not months:
        return [], {}
    patients = list(
        Patient.objects.for_practice(practice)
        .filter(pk__in=patient_ids)
        .only("pk", "billing_practitioner_id", "initiating_visit_on", "initiating_visit_code")
        .order_by("pk")
    )
    ids = [p.pk for p in patients]
    month_entries: QuerySet[Any] = adjusted(  # Any: the stubs cannot see the annotation
        TimeEntry.objects.for_practice(practice).filter(
            patient_id__in=ids, billing_month__in=months
        ),
        practice,
    )
    entries = grouped(
        # In time order: the engine's R37 check then needs no sort (billing.rules.engine).
        month_entries.order_by("started_at").values_list(
            "patient_id",
            "billing_month",
            "started_at",
            "minutes",
            "effective_minutes",
            "performer_kind",
            "practitioner_id",
            "face_to_face",
            "activity",
            named=True,
        ),
        "patient_id",
        "billing_month",
    )
    conditions = grouped(
        Condition.objects.for_practice(practice)
        .filter(patient_id__in=ids)
        .order_by("position", "created_at")
        .values_list("patient_id", "icd10_code", "is_chronic", "status", named=True),
        "patient_id",
    )
    consents = grouped(
        Consent.objects.for_practice(practice)
        .filter(patient_id__in=ids)
        .order_by()
        .values_list("patient_id", "given_on", "revoked_on", "created_at", named=True),
        "patient_id",
    )
    signed, copies = _care_plan_days(practice, ids)
    others = _other_services(practice, ids, months)
    month_facts = _month_facts(practice, ids, months)
    attested = apcm.in_force(practice, months)  # R39
    fees = fees if fees is not None else fee_schedule(practice)
    out: dict[Key, rules.PatientMonth] = {}
    for patient in patients:
        for month in months:
            elsewhere, mdm = month_facts.get((patient.pk, month), (False, None))
            out[(patient.pk, month)] = facts.patient_month(
                zone_name=practice.time_zone,
                month=month,
                patient=patient,
                conditions=conditions.get(patient.pk, []),
                consents=consents.get(patient.pk, []),
                entries=entries.get((patient.pk, month), []),
                care_plan=facts.care_plan_for_month(
                    signed.get(patient.pk, []), copies.get(patient.pk, []), month
                ),
                other_services=others.get((patient.pk, month), ()),
                ccm_billed_elsewhere=elsewhere,
                mdm=mdm,
                fee_schedule=fees,
                apcm_attested=attested.attested(patient.billing_practitioner_id, month),
            )
    return patients, out


def plain_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a values_list() queryset as psycopg returns them, without Django's
    per-row converters and with psycopg's own (C) timestamptz loader: Django registers a
    Python subclass of it (to set the zone), which made parsing 200,000 `started_at` a
    third of a 10k close. The connection's zone is UTC (settings.USE_TZ), as Django sets
    it, so the instants are the same aware datetimes."""
    sql, params = queryset.query.sql_with_params()
    connection.ensure_connection()
    raw = connection.connection
    if raw is None or connection.timezone_name != "UTC":  # pragma: no cover (settings)
        return list(queryset)
    with raw.cursor() as cursor:
        cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        return cursor.fetchall()


class PatientRow(NamedTuple):
    """What the month close needs of a patient (no model instance on its hot path)."""

    pk: Any
    billing_practitioner_id: Any
    initiating_visit_on: dt.date | None
    initiating_visit_code: str


def load_month_batch(
    *,
    practice: Practice,
    patient_ids: Collection[Any],
    month: dt.date,
    fees: rules.FeeSchedule | None = None,
) -> tuple[list[PatientRow], dict[Any, rules.PatientMonth]]:
    """`load_patient_months` for one month and a batch of patients, set-based: every query
    selects the id range of the batch (first to last id: no list of ids as parameters) and
    returns plain tuples; rows of patients outside the batch are dropped here. The patients
    in id order, and the engine's facts by patient id. Ten queries (one of them the APCM
    attestations of every practitioner), no writes."""
    wanted = set(patient_ids)
    if not wanted:
        return [], {}
    span = (min(wanted), max(wanted))
    patients = [
        PatientRow(*row)
        for row in Patient.objects.for_practice(practice)
        .filter(pk__range=span)
        .order_by("pk")
        .values_list(
            "pk", "billing_practitioner_id", "initiating_visit_on", "initiating_visit_code"
        )
        if row[0] in wanted
    ]
    month_entries: QuerySet[Any] = TimeEntry.objects.for_practice(practice).filter(
        **between(span), billing_month=month
    )
    # Adjustments (corrections in a closed month) are rare: a correlated sum per entry only
    # when the batch has any. The patients are locked, so none appears in between.
    corrected = TimeAdjustment.objects.for_practice(practice).filter(
        **between(span), entry__billing_month=month
    )
    if corrected.exists():
        month_entries = adjusted(month_entries, practice).annotate(counted=F("effective_minutes"))
    else:
        month_entries = month_entries.annotate(counted=F("minutes"))
    month_entries = month_entries.annotate(
        # Ids as text: 40,000 rows a batch are grouped and mapped without a UUID object each.
        patient_text=Cast("patient_id", TextField()),
        practitioner_text=Coalesce(
            Cast("practitioner_id", TextField()),
            Value(facts.NO_PRACTITIONER),
            output_field=TextField(),
        ),
        # The engine's clock minute (rules.TimeEntry.start_minute: whole minutes since the
        # epoch), exact, without the session's time zone.
        start_minute=Func(
            F("started_at"),
            template="floor(extract(epoch FROM %(expressions)s) / 60)::bigint",
            output_field=BigIntegerField(),
        ),
    )
    # In time order: the engine's R37 check then needs no sort (billing.rules.engine).
    rows = plain_rows(
        month_entries.order_by("patient_id", "started_at").values_list(
            "patient_text",
            "activity",
            "started_at",
            "counted",
            "performer_kind",
            "practitioner_text",
            "face_to_face",
            "start_minute",
        )
    )
    entries = {patient: facts.entry_facts(group) for patient, group in groupby(rows, itemgetter(0))}
    conditions = grouped(
        Condition.objects.for_practice(practice)
        .filter(**between(span))
        .order_by("patient_id", "position", "created_at")
        .values_list("patient_id", "icd10_code", "is_chronic", "status", named=True),
        "patient_id",
    )
    consents = grouped(
        Consent.objects.for_practice(practice)
        .filter(**between(span))
        .order_by()
        .values_list("patient_id", "given_on", "revoked_on", "created_at", named=True),
        "patient_id",
    )
    signed: dict[Any, list[dt.date]] = defaultdict(list)
    versions = CarePlanVersion.objects.for_practice(practice).filter(
        **between(span), signed_on__isnull=False
    )
    for patient_id, day in versions.order_by().values_list("patient_id", "signed_on"):
        signed[patient_id].append(day)
    copies: dict[Any, list[dt.date]] = defaultdict(list)
    given = CarePlanCopy.objects.for_practice(practice).filter(**between(span))
    for patient_id, day in given.order_by().values_list("patient_id", "given_on"):
        copies[patient_id].append(day)
    others = _other_services(practice, span, [month])
    attested = apcm.in_force(practice, [month])  # R39: one query for every practitioner
    month_facts = {
        pk: (elsewhere, mdm or None)
        for pk, elsewhere, mdm in PatientMonthFacts.objects.for_practice(practice)
        .filter(**between(span), month=month)
        .values_list("patient_id", "ccm_billed_elsewhere", "mdm")
    }
    fees = fees if fees is not None else fee_schedule(practice)
    out: dict[Any, rules.PatientMonth] = {}
    for patient in patients:
        pk = patient.pk
        elsewhere, mdm = month_facts.get(pk, (False, None))
        out[pk] = facts.patient_month(
            zone_name=practice.time_zone,
            month=month,
            patient=patient,
            conditions=conditions.get(pk, []),
            consents=consents.get(pk, []),
            entries=(),
            time_entries=entries.get(str(pk), ()),
            care_plan=facts.care_plan_for_month(signed.get(pk, []), copies.get(pk, []), month),
            other_services=others.get((pk, month), ()),
            ccm_billed_elsewhere=elsewhere,
            mdm=mdm,
            fee_schedule=fees,
            apcm_attested=attested.attested(patient.billing_practitioner_id, month),
        )
    return patients, out
