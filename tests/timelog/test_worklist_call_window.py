"""The worklist's "call window open now" filter and its "Call now" marker: windows in the
practice's zone, do-not-call windows win, no extra query."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CallWindowFactory
from tests.helpers import token_client
from tests.timelog.conftest import NOW, make_enrolled
from timelog import selectors

# NOW: Tuesday 2026-10-20, 11:00 in New York (EDT).
pytestmark = pytest.mark.usefixtures("frozen", "scoped")
OCTOBER = dt.date(2026, 10, 1)
TUESDAY = 1


def _window(patient, kind="best", days=(TUESDAY,), start=(10, 0), end=(12, 0)):
    return CallWindowFactory(
        patient=patient,
        kind=kind,
        weekdays=list(days),
        starts_at=dt.time(*start),
        ends_at=dt.time(*end),
    )


@pytest.fixture
def cast(practice, physician, coordinator):
    def make(mrn):
        return make_enrolled(practice, physician, coordinator, mrn=mrn)

    open_now, monday, anytime, dialysis = make("A"), make("B"), make("C"), make("D")
    _window(open_now)
    _window(monday, days=[0])
    _window(dialysis)
    _window(dialysis, kind="do_not_call", start=(10, 30), end=(11, 30))
    return {"open": open_now, "monday": monday, "anytime": anytime, "dialysis": dialysis}


def _rows(practice, **kw):
    patients = selectors.worklist(practice=practice, month=OCTOBER, today=NOW.date(), **kw)
    return selectors.worklist_rows(patients, month=OCTOBER, today=NOW.date())


def test_open_now_keeps_patients_inside_a_best_time_or_without_windows(practice, cast):
    rows = _rows(practice, call_window="open")
    assert {r.patient.pk for r in rows} == {cast["open"].pk, cast["anytime"].pk}


def test_call_now_marks_only_an_open_best_time_window(practice, cast):
    marked = {r.patient.pk for r in _rows(practice) if r.call_now}
    assert marked == {cast["open"].pk}


def test_the_window_is_read_in_the_practices_zone(practice, cast):
    # 15:00 UTC on 2 November is 10:00 in New York (EST): still inside 10:00-12:00, and
    # outside the do-not-call 10:30-11:30; a Monday, so the Monday window is open too.
    with time_machine.travel(dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC), tick=False):
        _window(cast["open"], days=[0])
        rows = _rows(practice, call_window="open")
    assert {r.patient.pk for r in rows} == {cast["open"].pk, cast["monday"].pk, cast["anytime"].pk}


def test_the_filter_adds_no_query(practice, physician, coordinator):
    def grow(first, count):
        for n in range(first, first + count):
            patient = make_enrolled(practice, physician, coordinator, mrn=f"W-{n}")
            _window(patient)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            patients = selectors.worklist(
                practice=practice, month=OCTOBER, today=NOW.date(), call_window="open"
            )
            selectors.worklist_rows(patients[:25], month=OCTOBER, today=NOW.date())
        return len(ctx.captured_queries)

    grow(0, 2)
    few = queries()
    grow(2, 10)
    assert queries() == few == 1  # no open tasks: no next-task query


def test_the_page_filters_and_marks(coordinator_client, cast):
    page = coordinator_client.get("/worklist/?who=all&call_window=open").content.decode()
    assert "Lovelace-A" in page
    assert "Lovelace-C" in page
    assert "Lovelace-B" not in page
    assert "Lovelace-D" not in page
    assert page.count("Call now</span>") == 1
    assert 'value="open" selected' in page


def test_the_worklist_api_filters_by_an_open_call_window(practice, cast, coordinator):
    answer = token_client(coordinator).get("/api/v1/worklist/?month=2026-10&call_window=open")
    assert answer.status_code == 200, answer.json()
    ids = {row["patient"]["id"] for row in answer.json()["results"]}
    assert ids == {str(cast["open"].pk), str(cast["anytime"].pk)}


def test_the_worklist_api_refuses_an_unknown_call_window(cast, coordinator):
    answer = token_client(coordinator).get("/api/v1/worklist/?call_window=closed")
    assert answer.status_code == 400


@pytest.mark.parametrize("hour", [9, 10, 11, 12, 23])
def test_the_page_rows_mark_call_now_as_the_worklist_does(practice, cast, hour):
    """The page's rows read the windows with the row and decide in Python (the query keeps its
    shape whatever the time): the same marks as `worklist`'s SQL, at every hour."""
    now = dt.datetime(2026, 10, 20, hour, 15, tzinfo=practice.zone)
    full = selectors.worklist_rows(
        selectors.worklist(practice=practice, month=OCTOBER, today=NOW.date(), now=now),
        month=OCTOBER,
        today=NOW.date(),
    )
    paged = selectors.worklist_page_rows(
        [row.patient.pk for row in full],
        practice=practice,
        month=OCTOBER,
        today=NOW.date(),
        now=now,
    )
    assert [r.call_now for r in paged] == [r.call_now for r in full]
    assert paged == full
