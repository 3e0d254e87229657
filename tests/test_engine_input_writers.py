"""Every writer of an engine input goes through `patients.engine_inputs.changing`: it locks the
patient and refreshes the months it touched (the helper and the real refresher run; a spy
records what they were asked)."""

import datetime as dt

import pytest
import time_machine

from billing.facts import services as facts_services
from careplans import services as plan_services
from ccm.models import Role
from ccm.tenancy import practice_scope
from patients import coverage_services, engine_inputs
from patients import services as patient_services
from patients.models import Condition, ConditionStatus, Consent, Patient, Status
from tests.careplans.conftest import COMPLETE
from tests.factories import PASSWORD, MembershipFactory, medicines_reconciled
from tests.patients.conftest import CONSENT
from tests.timelog.conftest import log_time, make_enrolled
from timelog import services as time_services
from timelog.models import Activity, TimeEntry

NOW = dt.datetime(2026, 10, 20, 15, 0, tzinfo=dt.UTC)
OCTOBER, SEPTEMBER = dt.date(2026, 10, 1), dt.date(2026, 9, 1)
TODAY = dt.date(2026, 10, 20)
EVERY = "every month with a row"
OUTSIDE_NPI = "1234567893"


class Spy:
    def __init__(self):
        self.locked, self.refreshed = [], []

    def clear(self):
        self.locked.clear()
        self.refreshed.clear()

    def months_of(self, patient):
        """What the writes asked to refresh for the patient (EVERY: no months named)."""
        return [
            EVERY if not months else set(months)
            for ids, months in self.refreshed
            if patient.pk in ids
        ]


@pytest.fixture
def clock(practice):
    with time_machine.travel(NOW, tick=False) as traveller, practice_scope(practice):
        yield traveller


@pytest.fixture
def spy(monkeypatch, clock):
    recorder = Spy()
    changing, refresher = engine_inputs.changing, engine_inputs._refresher

    def spied_changing(**kwargs):
        recorder.locked.append(list(kwargs["patient_ids"]))
        return changing(**kwargs)

    def spied_refresher(*, practice, patient_ids, months):
        recorder.refreshed.append((list(patient_ids), list(months)))
        refresher(practice=practice, patient_ids=patient_ids, months=months)

    monkeypatch.setattr(engine_inputs, "changing", spied_changing)
    monkeypatch.setattr(engine_inputs, "_refresher", spied_refresher)
    return recorder


@pytest.fixture
def patient(practice, physician, coordinator):
    with practice_scope(practice):
        return make_enrolled(practice, physician, coordinator)


def _went_through(spy, patient, *expected):
    assert [patient.pk] in spy.locked
    assert spy.months_of(patient) == list(expected)
    spy.clear()


def _fresh(patient):
    return Patient.objects.unscoped().get(pk=patient.pk)


pytestmark = pytest.mark.django_db


def test_patient_update_refreshes_only_for_the_billing_practitioner(spy, practice, admin, patient):
    other = MembershipFactory(practice=practice, role=Role.PHYSICIAN)
    data = {"billing_practitioner": other}
    patient_services.patient_update(practice=practice, actor=admin, patient=patient, data=data)
    _went_through(spy, patient, EVERY)
    data = {"first_name": "Augusta"}
    patient_services.patient_update(practice=practice, actor=admin, patient=patient, data=data)
    _went_through(spy, patient)  # locked, nothing for the engine changed: no refresh


def test_conditions(spy, practice, coordinator, patient):
    added = patient_services.condition_add(
        practice=practice, actor=coordinator, patient=patient, icd10_code="J44.9"
    )
    _went_through(spy, patient, EVERY)
    patient_services.condition_resolve(
        practice=practice, actor=coordinator, condition=added, resolved_on=TODAY
    )
    _went_through(spy, patient, EVERY)
    patient_services.conditions_sync(
        practice=practice, actor=coordinator, patient=patient, codes=["E11.9", "I10", "J44.9"]
    )
    _went_through(spy, patient, EVERY)  # J44.9 reactivated
    assert Condition.objects.get(pk=added.pk).status == ConditionStatus.ACTIVE


def test_consent_record_and_revoke(spy, practice, coordinator, patient):
    consent = patient_services.consent_record(
        practice=practice, actor=coordinator, patient=patient, **{**CONSENT, "given_on": TODAY}
    )
    _went_through(spy, patient, EVERY)
    patient_services.consent_revoke(
        practice=practice, actor=coordinator, consent=consent, revoked_on=TODAY
    )
    _went_through(spy, patient, EVERY)
    assert _fresh(patient).status == Status.DISENROLLED


def test_enrolment_transitions(spy, practice, coordinator, patient):
    patient_services.patient_disenroll(
        practice=practice, actor=coordinator, patient=patient, reason="Moved away"
    )
    _went_through(spy, patient, EVERY)
    Consent.objects.unscoped().filter(patient=patient).update(revoked_on=None)
    patient_services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
    _went_through(spy, patient, {OCTOBER})  # this month's row at once
    Patient.objects.unscoped().filter(pk=patient.pk).update(status=Status.CANDIDATE)
    patient_services.patient_decline(
        practice=practice, actor=coordinator, patient=_fresh(patient), reason=""
    )
    _went_through(spy, patient, EVERY)


def test_care_plan_signing_and_copy(spy, practice, coordinator, physician, patient):
    medicines_reconciled(patient, coordinator)  # R12: the plan's medication section
    draft = plan_services.draft_start(practice=practice, actor=coordinator, patient=patient)
    plan_services.draft_update(practice=practice, actor=coordinator, version=draft, data=COMPLETE)
    spy.clear()
    signed = plan_services.version_sign(
        practice=practice, actor=physician, version=draft, password=PASSWORD
    )
    _went_through(spy, patient, EVERY)
    plan_services.copy_record(
        practice=practice, actor=coordinator, version=signed, given_on=TODAY, method="mail"
    )
    _went_through(spy, patient, EVERY)


def test_time_entries(spy, practice, coordinator, patient):
    entry = log_time(
        practice, coordinator, patient, dt.datetime(2026, 10, 5, 14, tzinfo=dt.UTC), 12
    )
    _went_through(spy, patient, {OCTOBER})
    moved = {"started_at": dt.datetime(2026, 9, 25, 14, tzinfo=dt.UTC)}
    entry = time_services.time_entry_update(
        practice=practice, actor=coordinator, entry=entry, data=moved
    )
    _went_through(spy, patient, {SEPTEMBER, OCTOBER})  # the month it left and the new one
    time_services.month_lock(practice=practice, month=SEPTEMBER)
    time_services.time_adjust(
        practice=practice, actor=coordinator, entry=entry, corrected_minutes=5, reason="Typo"
    )
    _went_through(spy, patient, {SEPTEMBER})
    later = log_time(practice, coordinator, patient, dt.datetime(2026, 10, 6, 14, tzinfo=dt.UTC), 7)
    spy.clear()
    time_services.time_entry_delete(practice=practice, actor=coordinator, entry=later)
    _went_through(spy, patient, {OCTOBER})


def test_timer_stop(spy, clock, practice, coordinator, patient):
    time_services.timer_start(practice=practice, actor=coordinator, patient=patient)
    clock.shift(dt.timedelta(minutes=6))
    time_services.timer_stop(practice=practice, actor=coordinator, activity=Activity.CHART_REVIEW)
    _went_through(spy, patient, {OCTOBER})
    assert TimeEntry.objects.unscoped().get(patient=patient).minutes == 6


def test_other_services(spy, practice, biller, patient):
    service = facts_services.other_service_create(
        practice=practice,
        actor=biller,
        patient=patient,
        code="G0556",
        service_on=dt.date(2026, 10, 12),
        outside_npi=OUTSIDE_NPI,
    )
    _went_through(spy, patient, {OCTOBER})
    facts_services.other_service_delete(practice=practice, actor=biller, service=service)
    _went_through(spy, patient, {OCTOBER})
    facts_services.other_service_delete(practice=practice, actor=biller, service=service)
    _went_through(spy, patient)  # deleted already: nothing to refresh


def test_month_facts(spy, practice, biller, patient):
    def set_flag():
        facts_services.month_facts_set(
            practice=practice,
            actor=biller,
            patient=patient,
            month=OCTOBER,
            ccm_billed_elsewhere=True,
            mdm=None,
        )

    set_flag()
    _went_through(spy, patient, {OCTOBER})
    set_flag()
    _went_through(spy, patient)  # unchanged: nothing written, nothing refreshed


def test_coverage(spy, practice, biller, patient):
    # Coverage decides whether a month bills (and where it goes): every month is refreshed.
    coverage = coverage_services.coverage_create(
        practice=practice, actor=biller, patient=patient, kind="qmb", starts_on=SEPTEMBER
    )
    _went_through(spy, patient, EVERY)
    coverage_services.coverage_update(
        practice=practice, actor=biller, coverage=coverage, data={"plan_name": "QMB Plus"}
    )
    _went_through(spy, patient, EVERY)
    coverage_services.coverage_update(
        practice=practice, actor=biller, coverage=coverage, data={"plan_name": "QMB Plus"}
    )
    _went_through(spy, patient)  # unchanged: nothing written, nothing refreshed
    coverage_services.coverage_end(
        practice=practice, actor=biller, coverage=coverage, ends_on=TODAY
    )
    _went_through(spy, patient, EVERY)
