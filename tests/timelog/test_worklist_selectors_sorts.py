"""The worklist page's ids (`worklist_page_ids`: the keys the filter and sort need, stored or
joined) against the full worklist (`worklist`: every key as its own subquery, the reference)
for every sort x filter x call window x coordinator, over a practice where keys tie, some
patients have no progress row for the month, tasks are open, done or cancelled, and contacts
fall in earlier months."""

import datetime as dt
import itertools

import pytest

from patients.models import Status
from tests.factories import (
    CallWindowFactory,
    ContactAttemptFactory,
    MembershipFactory,
    PatientFactory,
    TaskFactory,
    TimeEntryFactory,
)
from tests.timelog.conftest import NOW, make_enrolled
from timelog import selectors
from timelog.models import MonthProgress

pytestmark = pytest.mark.usefixtures("frozen", "scoped")
OCTOBER = dt.date(2026, 10, 1)
UTC = dt.UTC


@pytest.fixture
def cast(practice, physician, coordinator):
    """31 patients: two coordinators, shared last names, equal minutes, equal due dates (also
    two open tasks of one patient due the same day)."""
    other = MembershipFactory(practice=practice, role="coordinator")
    patients = []
    for n in range(28):
        patient = make_enrolled(
            practice, physician, coordinator if n % 3 else other, mrn=f"S-{n:03}"
        )
        # Every 5th patient shares a last name with the one before (the name breaks ties).
        patient.last_name = f"Name-{(n - 1 if n % 5 == 0 and n else n) % 9}"
        patient.first_name = ("Ada", "Bea", "Cy")[n % 3]
        patient.save(update_fields=["last_name", "first_name"])
        patients.append(patient)
        if n % 4:  # a quarter have no time in October: no progress row for it
            start = dt.datetime(2026, 10, 2, 15, 0, tzinfo=UTC) + dt.timedelta(minutes=40 * n)
            TimeEntryFactory(
                patient=patient,
                performer=coordinator,
                practitioner=physician,
                started_at=start,
                minutes=(5, 12, 20, 25)[n % 4],  # equal minutes across patients
            )
        if n % 3 == 0:  # reached in August or September (a row-less month looks it up)
            month = 8 + n % 2
            at = dt.datetime(2026, month, 1 + n % 5, 15, 0, tzinfo=UTC)
            ContactAttemptFactory(patient=patient, occurred_at=at, recorded_by=coordinator)
        if n % 7 == 1:  # reached this month, long ago (no contact in 30 days)
            at = dt.datetime(2026, 10, 1, 15, 0, tzinfo=UTC)
            ContactAttemptFactory(patient=patient, occurred_at=at, recorded_by=coordinator)
        if n % 2 == 0:
            TaskFactory(patient=patient, due_on=dt.date(2026, 10, 1 + n % 4), kind="check_in")
        if n % 9 == 4:  # a second open task due the same day as the first (counted once)
            TaskFactory(patient=patient, due_on=dt.date(2026, 10, 1 + n % 4), kind="custom")
        if n % 5 == 0:  # a second open task, due earlier or later than the first
            TaskFactory(patient=patient, due_on=dt.date(2026, 9, 28 + n % 3), kind="custom")
        if n % 6 == 1:  # closed tasks never count
            TaskFactory(patient=patient, due_on=dt.date(2026, 9, 1), status="done")
            TaskFactory(patient=patient, due_on=dt.date(2026, 9, 2), status="cancelled")
        if n % 4 == 1:
            CallWindowFactory(patient=patient)
    # Left CCM during October (still on its worklist, R7), left before it, never enrolled.
    left = make_enrolled(practice, physician, coordinator, mrn="S-L1")
    for patient, status, on in (
        (left, Status.DISENROLLED, dt.date(2026, 10, 12)),
        (make_enrolled(practice, physician, coordinator, mrn="S-L2"), Status.DISENROLLED, None),
        (PatientFactory(practice=practice, mrn="S-C"), Status.CANDIDATE, None),
    ):
        patient.status, patient.status_on = status, on or dt.date(2026, 9, 3)
        patient.save(update_fields=["status", "status_on"])
    TaskFactory(patient=left, due_on=dt.date(2026, 9, 20), kind="check_in")
    return {"patients": patients, "coordinators": (None, coordinator, other)}


def test_some_patients_have_no_progress_row(cast, practice):
    rows = MonthProgress.objects.for_practice(practice).filter(month=OCTOBER).count()
    assert 0 < rows < len(cast["patients"])


@pytest.mark.parametrize("sort", list(selectors.WORKLIST_SORTS))
def test_page_ids_are_the_worklist_in_its_order(cast, practice, sort):
    for show, call_window, coordinator in itertools.product(
        selectors.WORKLIST_FILTERS, selectors.CALL_WINDOW_FILTERS, cast["coordinators"]
    ):
        kw = {"practice": practice, "month": OCTOBER, "today": NOW.date(), "now": NOW}
        kw.update(show=show, sort=sort, call_window=call_window, coordinator=coordinator)
        expected = [patient.pk for patient in selectors.worklist(**kw)]
        ids = selectors.worklist_page_ids(**kw)
        assert list(ids) == expected, (show, call_window, coordinator)
        assert ids.count() == len(expected)
        assert list(ids[3:9]) == expected[3:9]  # a page cut from the middle


@pytest.mark.parametrize("sort", list(selectors.WORKLIST_SORTS))
def test_a_month_without_rows_sorts_as_the_worklist(cast, practice, sort):
    """September: no patient has time in it, so every key is looked up or a default."""
    september = dt.date(2026, 9, 1)
    for show in selectors.WORKLIST_FILTERS:
        kw = {"practice": practice, "month": september, "today": NOW.date(), "now": NOW}
        kw.update(show=show, sort=sort)
        expected = [patient.pk for patient in selectors.worklist(**kw)]
        assert list(selectors.worklist_page_ids(**kw)) == expected, show


@pytest.mark.parametrize("sort", ["minutes", "needed", "due"])
def test_the_ids_cut_as_a_queryset_does(cast, practice, sort):
    kw = {"practice": practice, "month": OCTOBER, "today": NOW.date(), "now": NOW, "sort": sort}
    ids = selectors.worklist_page_ids(**kw)
    whole = list(ids)
    assert len(ids) == ids.count() == len(whole) == len(set(whole))
    assert ids[0] == whole[0]
    assert ids[len(whole) - 1] == whole[-1]
    assert ids[len(whole) : len(whole) + 5] == []
    assert ids[4:2] == []
    with pytest.raises(IndexError):
        ids[len(whole)]


@pytest.mark.parametrize("walk_from", [0, 10_000])
def test_by_due_read_either_way_is_the_worklist(cast, practice, monkeypatch, walk_from):
    """By next task due, a long list reads the open tasks in due order and a short one probes
    each patient's: both are the worklist in its order (0: every list is long here)."""
    monkeypatch.setattr(selectors, "_DUE_WALK_FROM", walk_from)
    for show, call_window, coordinator in itertools.product(
        selectors.WORKLIST_FILTERS, selectors.CALL_WINDOW_FILTERS, cast["coordinators"]
    ):
        kw = {"practice": practice, "month": OCTOBER, "today": NOW.date(), "now": NOW}
        kw.update(show=show, sort="due", call_window=call_window, coordinator=coordinator)
        expected = [patient.pk for patient in selectors.worklist(**kw)]
        ids = selectors.worklist_page_ids(**kw)
        assert list(ids) == expected, (show, call_window, coordinator)
        assert list(ids[3:9]) == expected[3:9]
