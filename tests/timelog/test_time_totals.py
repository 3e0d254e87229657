"""'My time' totals by month: this month's minutes on top (counted toward CCM or not), and the
last months in a table; one member's or everyone's, in a fixed number of queries."""

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import PatientFactory, TimeEntryFactory
from timelog.models import TimeAdjustment, TimeEntry

pytestmark = pytest.mark.usefixtures("frozen")  # 2026-10-20
_slot = itertools.count()


def _entry(patient, performer, *, day=19, month=10, minutes=10, **kw):
    start = dt.datetime(2026, month, day, 12, tzinfo=dt.UTC) + dt.timedelta(
        minutes=next(_slot) * 20
    )
    return TimeEntryFactory(
        patient=patient,
        performer=performer,
        practitioner=patient.billing_practitioner,
        started_at=start,
        minutes=minutes,
        **kw,
    )


def test_my_time_shows_the_months_total_counted_and_not(coordinator_client, enrolled, coordinator):
    _entry(enrolled, coordinator, minutes=15)
    _entry(enrolled, coordinator, minutes=10, face_to_face=True)
    _entry(enrolled, coordinator, minutes=5, activity="enrollment_outreach")
    html = coordinator_client.get("/time/?month=2026-10").content.decode()
    assert "Total October 2026: 30 min</strong> in 3 entries" in html
    assert "15 min count toward CCM, 15 min do not" in html


def test_totals_by_month_cover_the_last_six_months_and_only_mine(
    coordinator_client, enrolled, coordinator, physician
):
    _entry(enrolled, coordinator, month=9, minutes=20)
    _entry(enrolled, coordinator, month=10, minutes=7)
    _entry(enrolled, physician, month=10, minutes=30, performer_kind="physician")
    html = coordinator_client.get("/time/?month=2026-10").content.decode()
    assert "Total October 2026: 7 min</strong> in 1 entry." in html
    table = html[html.index('id="by-month-h"') :]
    assert table.count('<tr><th scope="row">') == 6
    assert "September 2026</a></th>\n        <td>1</td><td>20</td><td>20</td><td>0</td>" in table
    assert "May 2026" in table
    assert "April 2026" not in table
    everyone = coordinator_client.get("/time/?month=2026-10&who=all").content.decode()
    assert "Total October 2026: 37 min</strong> in 2 entries" in everyone


def test_totals_count_adjustments(coordinator_client, enrolled, coordinator, admin):
    entry = _entry(enrolled, coordinator, minutes=20)
    TimeAdjustment.objects.unscoped().create(
        practice=entry.practice,
        entry=entry,
        patient=enrolled,
        minutes_delta=-5,
        reason="Ended early",
        actor=admin,
    )
    html = coordinator_client.get("/time/?month=2026-10").content.decode()
    assert "Total October 2026: 15 min</strong>" in html


def test_another_practices_time_is_not_in_the_totals(
    coordinator_client, enrolled, coordinator, outsider
):
    theirs = PatientFactory(practice=outsider.practice)
    _entry(enrolled, coordinator, minutes=10)
    TimeEntryFactory(
        practice=outsider.practice,
        patient=theirs,
        performer=outsider,
        started_at=dt.datetime(2026, 10, 5, 12, tzinfo=dt.UTC),
        minutes=50,
    )
    html = coordinator_client.get("/time/?month=2026-10&who=all").content.decode()
    assert "Total October 2026: 10 min</strong>" in html


def test_totals_read_a_fixed_number_of_queries(coordinator_client, enrolled, coordinator):
    _entry(enrolled, coordinator, minutes=10)
    coordinator_client.get("/time/?month=2026-10")  # the session's activity stamp
    with CaptureQueriesContext(connection) as few:
        coordinator_client.get("/time/?month=2026-10")
    for month in (5, 6, 7, 8, 9, 10):
        for _ in range(3):
            _entry(enrolled, coordinator, month=month, minutes=5)
    with CaptureQueriesContext(connection) as many:
        html = coordinator_client.get("/time/?month=2026-10").content.decode()
    assert "Total October 2026: 25 min</strong>" in html
    assert len(many.captured_queries) == len(few.captured_queries)
    assert TimeEntry.objects.unscoped().count() == 19
