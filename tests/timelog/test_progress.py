"""The worklist's stored progress (MonthProgress): every write keeps it equal to the engine,
the reconcile job heals what a write path missed, and concurrent writers never lose minutes."""

import datetime as dt
import threading
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import transaction

from billing.progress import services as progress_services
from billing.progress import tasks as progress_tasks
from ccm.tenancy import practice_scope
from patients import services as patient_services
from patients.models import Condition
from tests.factories import MembershipFactory, TimeEntryFactory, staff_time
from tests.helpers import start_in_threads
from tests.patients.conftest import CONSENT
from tests.timelog.conftest import NOW, log_time, make_enrolled
from timelog import contact_services, services
from timelog.models import Activity, MonthProgress, Outcome

UTC = dt.UTC
OCTOBER, SEPTEMBER = dt.date(2026, 10, 1), dt.date(2026, 9, 1)


def _stored(practice, patient, month=OCTOBER):
    return MonthProgress.objects.for_practice(practice).get(patient=patient, month=month)


def _assert_matches_the_engine(practice):
    """Every stored row equals a fresh computation by the engine."""
    rows = list(MonthProgress.objects.for_practice(practice))
    for row in rows:
        (fresh,) = progress_services.progress_compute(
            practice=practice, patient_ids=[row.patient_id], months=[row.month]
        )
        assert row.values() == fresh.values(), (row.month, row.values(), fresh.values())


@pytest.mark.usefixtures("frozen", "scoped")
class TestWritesRefreshTheStoredProgress:
    def test_logging_time_stores_the_engines_minutes_and_next_threshold(
        self, practice, coordinator, physician, enrolled
    ):
        log_time(practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 12)
        log_time(practice, physician, enrolled, dt.datetime(2026, 10, 6, 14, tzinfo=UTC), 10)
        row = _stored(practice, enrolled)
        # R16: staff and physician minutes pool toward 99490; 22 bill it, 99439 needs 40 (R20).
        assert (row.clinical_staff_minutes, row.physician_minutes, row.staff_pool) == (12, 10, 22)
        assert (row.next_code, row.minutes_needed) == ("99439", 18)
        _assert_matches_the_engine(practice)

    def test_moving_an_entry_to_another_month_refreshes_both(self, practice, coordinator, enrolled):
        entry = log_time(
            practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 12
        )
        services.time_entry_update(
            practice=practice,
            actor=coordinator,
            entry=entry,
            data={"started_at": dt.datetime(2026, 9, 28, 14, tzinfo=UTC)},
        )
        assert _stored(practice, enrolled).staff_pool == 0
        assert _stored(practice, enrolled, SEPTEMBER).staff_pool == 12
        _assert_matches_the_engine(practice)

    def test_deleting_an_entry_takes_its_minutes_off(self, practice, coordinator, enrolled):
        entry = log_time(
            practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 12
        )
        services.time_entry_delete(practice=practice, actor=coordinator, entry=entry)
        row = _stored(practice, enrolled)
        assert (row.staff_pool, row.next_code, row.minutes_needed) == (0, "99490", 20)

    def test_a_backdated_call_updates_later_months_last_contact(
        self, practice, coordinator, enrolled
    ):
        log_time(practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 5)
        assert _stored(practice, enrolled).last_contact_at is None  # chart review: no contact
        call = dt.datetime(2026, 9, 29, 14, tzinfo=UTC)
        log_time(practice, coordinator, enrolled, call, 5, activity=Activity.CALL_PATIENT)
        assert _stored(practice, enrolled).last_contact_at is None  # time alone: not reached
        contact_services.contact_attempt_record(
            practice=practice,
            actor=coordinator,
            patient=enrolled,
            data=contact_services.ContactInput(outcome=Outcome.REACHED),
            occurred_at=call,
        )
        assert _stored(practice, enrolled).last_contact_at == call
        assert _stored(practice, enrolled, SEPTEMBER).last_contact_at == call

    def test_an_adjustment_in_a_closed_month_changes_the_stored_minutes(
        self, practice, coordinator, enrolled
    ):
        entry = log_time(
            practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 25
        )
        services.month_lock(practice=practice, month=OCTOBER)
        services.time_adjust(
            practice=practice,
            actor=coordinator,
            entry=entry,
            corrected_minutes=15,
            reason="Call was logged twice",
        )
        assert _stored(practice, enrolled).staff_pool == 15

    def test_recording_consent_makes_later_minutes_count_at_once(
        self, practice, coordinator, physician
    ):
        patient = make_enrolled(practice, physician, coordinator, mrn="C-1", consent_on=None)
        log_time(practice, coordinator, patient, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 8)
        log_time(practice, coordinator, patient, dt.datetime(2026, 10, 12, 14, tzinfo=UTC), 9)
        assert _stored(practice, patient).staff_pool == 0  # R5: no consent, nothing counts
        consent = {**CONSENT, "given_on": dt.date(2026, 10, 10)}
        patient_services.consent_record(
            practice=practice, actor=coordinator, patient=patient, **consent
        )
        assert _stored(practice, patient).staff_pool == 9  # R5: from the consent on
        _assert_matches_the_engine(practice)

    def test_changing_the_billing_practitioner_refreshes_the_patients_months(
        self, practice, coordinator, physician, enrolled
    ):
        log_time(practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 22)
        before = _stored(practice, enrolled).values()
        other = MembershipFactory(practice=practice, role="physician", npi="1245319599")
        patient_services.patient_update(
            practice=practice,
            actor=coordinator,
            patient=enrolled,
            data={"billing_practitioner": other},
        )
        # R14: time done under another billing practitioner does not count for this one.
        assert _stored(practice, enrolled).values() != before
        _assert_matches_the_engine(practice)

    def test_condition_changes_and_revocation_keep_the_rows_equal_to_the_engine(
        self, practice, coordinator, enrolled
    ):
        log_time(practice, coordinator, enrolled, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 22)
        condition = Condition.objects.get(patient=enrolled, icd10_code="I10")
        patient_services.condition_resolve(
            practice=practice, actor=coordinator, condition=condition, resolved_on=NOW.date()
        )
        patient_services.condition_add(
            practice=practice, actor=coordinator, patient=enrolled, icd10_code="J44.9"
        )
        consent = enrolled.consents.get()
        patient_services.consent_revoke(
            practice=practice, actor=coordinator, consent=consent, revoked_on=NOW.date()
        )
        _assert_matches_the_engine(practice)

    def test_enrolling_adds_this_months_row_at_once(self, practice, coordinator, physician):
        patient = make_enrolled(practice, physician, coordinator, mrn="E-1")
        patient.status = "candidate"
        patient.save(update_fields=["status"])
        patient_services.patient_enroll(practice=practice, actor=coordinator, patient=patient)
        row = _stored(practice, patient)
        assert (row.staff_pool, row.next_code, row.minutes_needed) == (0, "99490", 20)


@pytest.mark.usefixtures("frozen")
class TestReconcile:
    def test_it_adds_missing_rows_corrects_stale_ones_and_a_rerun_changes_nothing(
        self, practice, coordinator, physician
    ):
        with practice_scope(practice):
            timed = make_enrolled(practice, physician, coordinator, mrn="P-1")
            staff_time(timed, coordinator, physician, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 21)
            quiet = make_enrolled(practice, physician, coordinator, mrn="P-2")
        # A write path that forgot to refresh, and a patient who never had time.
        MonthProgress.objects.unscoped().filter(patient=timed).update(staff_pool=3)
        MonthProgress.objects.unscoped().filter(patient=quiet).delete()
        with mock.patch.object(progress_services.logger, "warning") as warning:
            outcome = progress_services.progress_reconcile(
                practice_id=practice.pk, months=[OCTOBER]
            )
        assert (outcome.checked, outcome.added, outcome.corrected) == (2, 1, 1)
        warning.assert_called_once()
        assert _stored(practice, timed).staff_pool == 21
        assert _stored(practice, quiet).staff_pool == 0
        again = progress_services.progress_reconcile(practice_id=practice.pk, months=[OCTOBER])
        assert (again.added, again.corrected) == (0, 0)

    def test_the_hourly_run_only_adds_missing_rows(self, practice, coordinator, physician):
        with practice_scope(practice):
            timed = make_enrolled(practice, physician, coordinator, mrn="P-1")
            TimeEntryFactory(
                patient=timed,
                performer=coordinator,
                started_at=dt.datetime(2026, 10, 5, 14, tzinfo=UTC),
            )
            quiet = make_enrolled(practice, physician, coordinator, mrn="P-2")
        MonthProgress.objects.unscoped().filter(patient=timed).update(staff_pool=77)
        outcome = progress_services.progress_reconcile(
            practice_id=practice.pk, months=[OCTOBER], missing_only=True
        )
        assert (outcome.checked, outcome.added, outcome.corrected) == (1, 1, 0)
        assert _stored(practice, quiet).staff_pool == 0
        assert _stored(practice, timed).staff_pool == 77

    def test_by_default_it_checks_this_month_and_the_last_in_the_practices_zone(
        self, practice, coordinator, physician
    ):
        with practice_scope(practice):
            patient = make_enrolled(practice, physician, coordinator)
        # 03:30 UTC on November 1 is still October 31 in New York.
        with time_machine.travel(dt.datetime(2026, 11, 1, 3, 30, tzinfo=UTC), tick=False):
            progress_services.progress_reconcile(practice_id=practice.pk)
        months = MonthProgress.objects.unscoped().filter(patient=patient).values_list("month")
        assert sorted(m for (m,) in months) == [SEPTEMBER, OCTOBER]

    def test_the_command_reports_per_practice_and_refuses_bad_input(
        self, practice, coordinator, physician
    ):
        with practice_scope(practice):
            make_enrolled(practice, physician, coordinator)
        out = StringIO()
        call_command(
            "progress_reconcile", "--practice", practice.slug, "--month", "2026-10", stdout=out
        )
        assert out.getvalue().strip() == "sunrise: 1 checked, 1 added, 0 corrected."
        with pytest.raises(CommandError, match="YYYY-MM"):
            call_command("progress_reconcile", "--month", "October")
        with pytest.raises(CommandError, match="No practice"):
            call_command("progress_reconcile", "--practice", "nope")

    def test_the_beat_task_fans_out_one_task_per_practice_with_ids_only(
        self, practice, other_practice
    ):
        with mock.patch.object(progress_tasks.progress_reconcile_practice, "delay") as delay:
            assert progress_tasks.progress_reconcile(missing_only=True) == 2
        sent = sorted(call.args for call in delay.call_args_list)
        assert sent == sorted([(str(practice.pk), True), (str(other_practice.pk), True)])


def _in_thread(target):
    threads, errors = start_in_threads([target])
    return threads[0], errors


@pytest.mark.django_db(transaction=True)
def test_two_people_logging_at_once_never_lose_minutes(practice, coordinator, physician):
    """The first writer holds the patient lock until it commits; the second recomputes after
    and sees both entries (without the lock its stale total would win)."""
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
    nurse = MembershipFactory(practice=practice, role="coordinator")
    first_wrote, release = threading.Event(), threading.Event()

    def first():
        with time_machine.travel(NOW, tick=False), practice_scope(practice), transaction.atomic():
            log_time(practice, coordinator, patient, dt.datetime(2026, 10, 5, 14, tzinfo=UTC), 12)
            first_wrote.set()
            release.wait(10)

    def second():
        with time_machine.travel(NOW, tick=False), practice_scope(practice):
            log_time(practice, nurse, patient, dt.datetime(2026, 10, 6, 14, tzinfo=UTC), 9)

    one, errors_one = _in_thread(first)
    assert first_wrote.wait(10)
    two, errors_two = _in_thread(second)
    two.join(0.5)
    assert two.is_alive()  # waiting for the patient lock
    release.set()
    one.join(10)
    two.join(10)
    assert errors_one == errors_two == []
    assert _stored(practice, patient).staff_pool == 21


@pytest.mark.django_db(transaction=True)
def test_reconcile_skips_a_patient_a_live_write_holds(practice, coordinator, physician):
    with practice_scope(practice):
        busy = make_enrolled(practice, physician, coordinator, mrn="B-1")
        free = make_enrolled(practice, physician, coordinator, mrn="B-2")
    MonthProgress.objects.unscoped().all().delete()
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            list(type(busy).objects.unscoped().select_for_update().filter(pk=busy.pk))
            locked.set()
            release.wait(10)

    holder, errors = _in_thread(hold)
    assert locked.wait(10)
    try:
        with time_machine.travel(NOW, tick=False):
            outcome = progress_services.progress_reconcile(
                practice_id=practice.pk, months=[OCTOBER]
            )
    finally:
        release.set()
        holder.join(10)
    assert errors == []
    assert (outcome.checked, outcome.added) == (1, 1)
    stored = MonthProgress.objects.unscoped().values_list("patient_id", flat=True)
    assert list(stored) == [free.pk]
