"""The worklist reads the member's running timer in its rows' statement (issue 18): the timer
it makes is `timer_get`'s, the page's header and timer column show it, and the page runs one
query fewer than with the timer read on its own."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ccm.tenancy import practice_scope
from tests.timelog.conftest import make_enrolled
from timelog import selectors, services

pytestmark = pytest.mark.usefixtures("frozen")
OCTOBER = dt.date(2026, 10, 1)


def _fields(obj, names=None):
    names = names or [f.attname for f in obj._meta.concrete_fields]
    return [(name, getattr(obj, name)) for name in names]


def test_the_timer_read_with_the_rows_is_timer_gets(
    practice, physician, coordinator, scoped, django_assert_num_queries
):
    patients = [make_enrolled(practice, physician, coordinator, mrn=f"T-{n}") for n in range(3)]
    ids = [p.pk for p in patients]
    kw = {"practice": practice, "month": OCTOBER, "today": dt.date(2026, 10, 15)}
    with django_assert_num_queries(1):
        rows, running = selectors.worklist_page_rows_and_timer(ids, membership=coordinator, **kw)
    assert running is None
    assert rows == selectors.worklist_page_rows(ids, **kw)

    # A timer on a patient that is not on the page: read all the same.
    other = make_enrolled(practice, physician, coordinator, mrn="T-other")
    services.timer_start(practice=practice, actor=coordinator, patient=other, note="50% done")
    expected = services.timer_get(membership=coordinator)
    assert expected is not None
    with django_assert_num_queries(1):
        rows, running = selectors.worklist_page_rows_and_timer(ids, membership=coordinator, **kw)
        assert running is not None
        assert _fields(running) == _fields(expected)
        shown = ["id", "practice_id", "first_name", "last_name"]
        assert _fields(running.patient, shown) == _fields(expected.patient, shown)
        assert running.elapsed_minutes() == expected.elapsed_minutes()
    assert rows == selectors.worklist_page_rows(ids, **kw)
    # Another member's timer is not this member's; no member asked: none read.
    _, theirs = selectors.worklist_page_rows_and_timer(ids, membership=physician, **kw)
    assert theirs is None
    _, unasked = selectors.worklist_page_rows_and_timer(ids, membership=None, **kw)
    assert unasked is None
    # No ids: no statement, the timer unread (the view reads it on its own).
    with django_assert_num_queries(0):
        assert selectors.worklist_page_rows_and_timer([], membership=coordinator, **kw) == (
            [],
            selectors.TIMER_UNREAD,
        )


def _get(client, url, **headers):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode(), len(ctx.captured_queries)


def test_the_page_shows_the_timer_read_with_its_rows(
    practice, physician, coordinator, coordinator_client
):
    patients = [make_enrolled(practice, physician, coordinator, mrn=f"T-{n}") for n in range(3)]
    timed = patients[1]
    page = "/worklist/?who=all&month=2026-10"
    coordinator_client.get(page)  # the first request starts the inactivity clock (a write)
    _, without = _get(coordinator_client, page)
    with practice_scope(practice):
        services.timer_start(practice=practice, actor=coordinator, patient=timed)
    html, queries = _get(coordinator_client, page)
    assert queries == without == 5  # session, memberships, count with ids, rows with timer, audit
    assert 'aria-label="Running timer"' in html
    assert f"{timed.first_name} {timed.last_name}</a>" in html
    assert html.count("timing…") == 1
    assert "Start timer for" not in html  # a timer runs: no start form in any row
    rows, htmx_queries = _get(
        coordinator_client, page, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="worklist"
    )
    assert htmx_queries == 5
    assert rows.count("timing…") == 1


def test_an_empty_page_reads_the_timer_on_its_own(
    practice, physician, coordinator, coordinator_client
):
    """No enrolled patient: no rows' statement, so the header's timer is its own query."""
    patient = make_enrolled(practice, physician, coordinator, mrn="T-0")
    with practice_scope(practice):
        services.timer_start(practice=practice, actor=coordinator, patient=patient)
    html, _ = _get(coordinator_client, "/worklist/?who=all&month=2026-10&show=reached")
    assert "No enrolled patients match." in html
    assert 'aria-label="Running timer"' in html
