"""Map the app's records to the billing engine's facts (one mapping for worklist and close).

The engine (billing/rules/) is pure; this module is the Django side: it turns a patient, its
conditions, consents and time entries into `billing.rules.PatientMonth`. Ids become strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from billing import rules
from ccm.months import last_day

NO_PRACTITIONER = "none"


def _practitioner(membership_id: Any) -> str:
    return str(membership_id) if membership_id else NO_PRACTITIONER


def consent_for_month(consents: Iterable[Any], month: dt.date) -> rules.Consent:
    """R5/R7: the newest consent given by the month's end (else none on file)."""
    end = last_day(month)
    given = [c for c in consents if c.given_on <= end]
    if not given:
        return rules.Consent(None)
    newest = max(given, key=lambda c: (c.given_on, c.created_at))
    return rules.Consent(newest.given_on, newest.revoked_on)


def care_plan_for_month(
    signed_on: Iterable[dt.date], copies_given_on: Iterable[dt.date], month: dt.date
) -> rules.CarePlan:
    """R11: established when a version was first signed; revised when a later version was
    signed by the month's end; shared once the patient got a copy by the month's end."""
    end = last_day(month)
    days = sorted(signed_on)
    if not days:
        return rules.CarePlan(None, shared_with_patient=False)
    revisions = [day for day in days[1:] if day <= end]
    return rules.CarePlan(
        established_on=days[0],
        substantially_revised_on=revisions[-1] if revisions else None,
        shared_with_patient=any(day <= end for day in copies_given_on),
    )


def chronic_codes(conditions: Iterable[Any]) -> tuple[str, ...]:
    """R4/R34: active chronic conditions in problem-list order."""
    return tuple(c.icd10_code for c in conditions if c.is_chronic and c.status == "active")


def entry_fact(entry: Any) -> rules.TimeEntry:
    """One time entry as the engine sees it (minutes after audited adjustments, if loaded)."""
    effective = getattr(entry, "effective_minutes", None)
    return rules.TimeEntry(
        started_at=entry.started_at,
        minutes=entry.minutes if effective is None else effective,
        performer=entry.performer_kind,
        practitioner=_practitioner(entry.practitioner_id),
        face_to_face=entry.face_to_face,
    )


def entry_facts(rows: Iterable[Sequence[Any]]) -> tuple[rules.TimeEntry, ...]:
    """`entry_fact` and `engine_entries` over plain rows (the month close's loader): each
    (patient, activity, started_at, minutes after adjustments, performer kind, practitioner
    id as text or NO_PRACTITIONER, face to face, clock minute of the start), in time order,
    as `billing.inputs.loading.load_month_batch` selects them. Database rows already hold the
    engine type's invariants (column constraints), so they skip its checks (`trusted`)."""
    trusted = rules.TimeEntry.trusted
    return tuple(
        trusted(started_at, minutes, performer, practitioner, face, minute)
        for _patient, activity, started_at, minutes, performer, practitioner, face, minute in rows
        # R5: enrollment outreach happens before consent and is never CCM time.
        if activity != ENROLLMENT_OUTREACH
    )


ENROLLMENT_OUTREACH = "enrollment_outreach"


def engine_entries(entries: Iterable[Any]) -> list[Any]:
    """The time entries the engine sees, in order: `PatientMonth.time_entries` index them."""
    # R5: enrollment outreach happens before consent and is never CCM time.
    return [e for e in entries if e.activity != ENROLLMENT_OUTREACH]


def patient_month(
    *,
    zone_name: str,
    month: dt.date,
    patient: Any,
    conditions: Iterable[Any],
    consents: Iterable[Any],
    entries: Iterable[Any],
    care_plan: rules.CarePlan | None = None,
    other_services: Iterable[rules.OtherService] = (),
    ccm_billed_elsewhere: bool = False,
    mdm: Any = None,
    fee_schedule: rules.FeeSchedule | None = None,
    time_entries: tuple[rules.TimeEntry, ...] | None = None,
    apcm_attested: bool = False,
) -> rules.PatientMonth:
    """The engine's input for one patient-month (care plan: `care_plan_for_month`).
    `time_entries`: already mapped (`entry_facts`), in place of `entries`. `apcm_attested`:
    R39's attestations for the billing practitioner and month (billing.setup.apcm)."""
    facts_patient = rules.Patient(
        chronic_conditions=chronic_codes(conditions),
        consent=consent_for_month(consents, month),
        initiating_visit=rules.InitiatingVisit(
            patient.initiating_visit_on, patient.initiating_visit_code or None
        ),
        care_plan=care_plan or rules.CarePlan(None),
        mdm=mdm,
    )
    return rules.PatientMonth(
        month=rules.Month(month.year, month.month),
        timezone=zone_name,
        billing_practitioner=_practitioner(patient.billing_practitioner_id),
        patient=facts_patient,
        time_entries=(
            time_entries
            if time_entries is not None
            else tuple(entry_fact(e) for e in engine_entries(entries))
        ),
        other_services=tuple(other_services),
        ccm_billed_elsewhere=ccm_billed_elsewhere,
        fee_schedule=fee_schedule or rules.FeeSchedule(),
        apcm_attested=apcm_attested,
    )
