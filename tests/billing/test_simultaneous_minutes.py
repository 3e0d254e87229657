"""R37 in the app: the month close, the worklist's stored progress and the chart count
simultaneous minutes once, through the engine (no second copy of the rule)."""

import datetime as dt

import pytest
import time_machine

from billing.close.services import month_close
from billing.models import Claim, ClaimLine, Outcome
from billing.progress.services import progress_refresh
from ccm.models import Role
from tests.billing.test_month_close import AFTER, OCTOBER, _cast
from tests.factories import MembershipFactory, TimeEntryFactory
from timelog.models import MonthProgress

CALL = dt.datetime(2026, 10, 12, 14, tzinfo=dt.UTC)


@pytest.fixture
def patient(practice, physician, coordinator):
    (patient,) = _cast(practice, physician, coordinator, count=1)  # 25 staff minutes on Oct 5
    return patient


def _entry(patient, performer, kind, minutes=30, started_at=CALL):
    return TimeEntryFactory(
        patient=patient,
        performer=performer,
        performer_kind=kind,
        practitioner=patient.billing_practitioner,
        started_at=started_at,
        minutes=minutes,
    )


def test_a_physician_and_nurse_on_one_call_close_to_99491_not_99490_with_add_ons(
    practice, physician, coordinator, patient
):
    # The cast's 25 staff minutes sit on Oct 5; the 30-minute call is logged by both.
    _entry(patient, physician, "physician")
    _entry(patient, coordinator, "clinical_staff")

    with time_machine.travel(AFTER, tick=False):
        month_close(practice_id=practice.pk, month=OCTOBER)

    lines = list(ClaimLine.objects.for_practice(practice).order_by("code"))
    # Summed: 85 staff-pool minutes → 99490 + 3 x 99439 capped at 2 ($167.01 > 99491).
    # Counted once: 55 staff-pool minutes → 99490 + 99439 ($116.57) vs 99491 ($82.16).
    assert [(line.code, line.units) for line in lines] == [("99439", 1), ("99490", 1)]
    outcome = Outcome.objects.for_practice(practice).get()
    assert "R37" in outcome.blocked_by
    assert "R37: 30 simultaneous minutes counted once in the staff pool." in lines[1].explanation
    assert Claim.objects.for_practice(practice).count() == 1


def test_two_coordinators_in_one_huddle_count_once_in_the_worklist_and_the_chart(
    practice, coordinator, patient, coordinator_client
):
    colleague = MembershipFactory(practice=practice, role=Role.COORDINATOR)
    _entry(patient, coordinator, "clinical_staff", minutes=15)
    _entry(patient, colleague, "clinical_staff", minutes=15)
    alone = _entry(patient, coordinator, "clinical_staff", 5, CALL + dt.timedelta(hours=3))

    with time_machine.travel(dt.datetime(2026, 10, 20, 15, tzinfo=dt.UTC), tick=False):
        progress_refresh(practice=practice, patient_ids=[patient.pk], months=[OCTOBER])
        row = MonthProgress.objects.unscoped().get(patient=patient, month=OCTOBER)
        assert row.staff_pool == 25 + 15 + 5  # not 60: the huddle counts once
        chart = coordinator_client.get(f"/patients/{patient.pk}/").content.decode()

    assert "R37: 15 simultaneous minutes counted once." in chart
    assert chart.count("Shares clock minutes with another entry") == 2
    assert chart.count(f"/time/{alone.pk}/edit/") == 1  # listed, not flagged


def test_the_practice_can_turn_r37_off_and_minutes_are_summed(practice, coordinator, patient):
    from billing.models import BillingPolicy

    BillingPolicy.objects.for_practice(practice).create(
        practice=practice, simultaneous_minutes_once=False
    )
    colleague = MembershipFactory(practice=practice, role=Role.COORDINATOR)
    _entry(patient, coordinator, "clinical_staff", minutes=15)
    _entry(patient, colleague, "clinical_staff", minutes=15)

    with time_machine.travel(dt.datetime(2026, 10, 20, 15, tzinfo=dt.UTC), tick=False):
        progress_refresh(practice=practice, patient_ids=[patient.pk], months=[OCTOBER])

    assert MonthProgress.objects.unscoped().get(patient=patient).staff_pool == 25 + 30
