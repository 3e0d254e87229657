"""The worklist page and API cut a page from the ids (filter and sort keys only), then read the
rows of those ids: the same list as `selectors.worklist`, in a fixed number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ContactAttemptFactory, TaskFactory, TimeEntryFactory
from tests.timelog.conftest import NOW, make_enrolled
from timelog import selectors, views

pytestmark = pytest.mark.usefixtures("frozen")
OCTOBER = dt.date(2026, 10, 1)


def _patients(practice, physician, coordinator, first, count):
    """Patients with a spread of minutes, contacts and tasks (some with none of them)."""
    for n in range(first, first + count):
        patient = make_enrolled(practice, physician, coordinator, mrn=f"P-{n:03}")
        if n % 4:
            start = dt.datetime(2026, 10, 2, 15, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=40 * n)
            TimeEntryFactory(
                patient=patient,
                performer=coordinator,
                practitioner=physician,
                started_at=start,
                minutes=3 + 7 * (n % 5),
            )
        if n % 3 == 0:
            at = dt.datetime(2026, 9, 1 + n % 28, 15, 0, tzinfo=dt.UTC)
            ContactAttemptFactory(patient=patient, occurred_at=at, recorded_by=coordinator)
        if n % 2 == 0:
            TaskFactory(patient=patient, due_on=dt.date(2026, 10, 1 + n % 27), kind="check_in")


@pytest.mark.parametrize("sort", list(selectors.WORKLIST_SORTS))
@pytest.mark.parametrize("show", list(selectors.WORKLIST_FILTERS))
def test_the_page_path_lists_what_the_worklist_lists(
    practice, physician, coordinator, scoped, sort, show
):
    _patients(practice, physician, coordinator, 0, 12)
    for call_window in selectors.CALL_WINDOW_FILTERS:
        kw = {"practice": practice, "month": OCTOBER, "today": NOW.date(), "now": NOW}
        kw.update(show=show, sort=sort, call_window=call_window)
        full = selectors.worklist_rows(selectors.worklist(**kw), month=OCTOBER, today=NOW.date())
        ids = list(selectors.worklist_page_ids(**kw))
        assert ids == [row.patient.pk for row in full]
        paged = selectors.worklist_page_rows(
            ids, practice=practice, month=OCTOBER, today=NOW.date(), now=NOW
        )
        assert paged == full


def _page_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_page_and_the_api_run_a_fixed_number_of_queries(
    practice, physician, coordinator, coordinator_client
):
    _patients(practice, physician, coordinator, 0, 3)
    page = "/worklist/?who=all&month=2026-10"
    api = "/api/v1/worklist/?month=2026-10"
    coordinator_client.get(page)  # the first request starts the inactivity clock (a write)
    few = {url: _page_queries(coordinator_client, url) for url in (page, api)}
    _patients(practice, physician, coordinator, 3, 30)
    # session, memberships with the user, the count with the page's ids, the rows with their
    # next tasks (and, on the page, the header's running timer: read in the rows' statement
    # since issue 18, one query fewer), audit; a sort by a stored key or by next task due
    # reads its count first (one more).
    assert few == {page: 5, api: 5}
    for sort in selectors.WORKLIST_SORTS:
        more = 0 if sort == "name" else 1
        assert _page_queries(coordinator_client, f"{page}&sort={sort}") == few[page] + more
        assert _page_queries(coordinator_client, f"{api}&sort={sort}") == few[api] + more
        # A page past the last one: the count tells, then the last page's ids (one more).
        past = f"{page}&sort={sort}&page=9"
        assert _page_queries(coordinator_client, past) == few[page] + 1


def test_querysets_built_once_per_process_keep_practices_months_and_coordinators_apart(
    practice, other_practice, physician, coordinator
):
    """The page's querysets are built once per (practice, month, coordinator) and reused: a
    second practice, another month or another coordinator gets its own, never the first's."""
    from ccm.tenancy import practice_scope
    from tests.factories import MembershipFactory

    _patients(practice, physician, coordinator, 0, 3)
    other_physician = MembershipFactory(practice=other_practice, role="physician")
    other_coordinator = MembershipFactory(practice=other_practice, role="coordinator")
    _patients(other_practice, other_physician, other_coordinator, 10, 2)
    kw = {"month": OCTOBER, "today": NOW.date(), "now": NOW}

    def page(p, **more):
        with practice_scope(p):
            ids = list(selectors.worklist_page_ids(practice=p, **kw, **more))
            rows = selectors.worklist_page_rows(ids, practice=p, **kw)
        return [row.patient.mrn for row in rows]

    selectors._QUERYSETS.clear()
    for _ in range(2):  # built, then reused
        assert page(practice) == ["P-000", "P-001", "P-002"]
        assert page(other_practice) == ["P-010", "P-011"]
        assert page(other_practice, coordinator=coordinator) == []
        assert page(practice, coordinator=coordinator) == ["P-000", "P-001", "P-002"]
    with practice_scope(practice):
        rows = selectors.worklist_page_rows(
            list(selectors.worklist_page_ids(practice=practice, **kw)), practice=practice, **kw
        )
        minutes = [row.staff_pool for row in rows]
        september = {**kw, "month": dt.date(2026, 9, 1)}
        ids = list(selectors.worklist_page_ids(practice=practice, **september))
        rows = selectors.worklist_page_rows(ids, practice=practice, **september)
    assert minutes != [0, 0, 0]
    assert [row.staff_pool for row in rows] == [0, 0, 0]


def test_the_htmx_rows_run_the_pages_queries_and_no_more(
    practice, physician, coordinator, coordinator_client
):
    """The htmx answer (rows alone, built in Python) reads the running timer itself, as the
    page's context processor does for the header: the same queries as the page, however many
    rows."""
    _patients(practice, physician, coordinator, 0, 3)
    page = "/worklist/?who=all&month=2026-10"
    coordinator_client.get(page)  # the first request starts the inactivity clock (a write)

    def htmx(url):
        with CaptureQueriesContext(connection) as ctx:
            response = coordinator_client.get(
                url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="worklist"
            )
        assert response.status_code == 200
        assert "<html" not in response.content.decode()
        return len(ctx.captured_queries)

    few = htmx(page)
    assert few == _page_queries(coordinator_client, page)
    _patients(practice, physician, coordinator, 3, 30)
    # session, memberships with the user, count with ids, rows with next tasks and the
    # running timer, audit (by next task due: the count first, one more)
    assert htmx(f"{page}&page=2") == htmx(f"{page}&sort=due") - 1 == few == 5


@pytest.mark.parametrize("sort", ["name"])
@pytest.mark.parametrize("show", list(selectors.WORKLIST_FILTERS))
def test_page_ids_cut_as_the_worklist_is_cut(
    practice, physician, coordinator, scoped, sort, show, django_assert_num_queries
):
    """The sort by name (any filter) reads the count and the expected page in one
    statement (compiled once): any cut equals the worklist's; a cut that is not the expected
    page is one more query."""
    _patients(practice, physician, coordinator, 0, 12)
    kw = {"practice": practice, "month": OCTOBER, "today": NOW.date(), "now": NOW}
    kw.update(show=show, sort=sort)
    full = [patient.pk for patient in selectors.worklist(**kw)]
    assert full  # every filter keeps some of these patients
    for number, size in ((1, 5), (2, 5), (3, 5), (9, 5), ("x", 5), (1, 50)):
        ids = selectors.worklist_page_ids(**kw)
        assert isinstance(ids, selectors.PageIds)
        ids.expect(number, size)
        page = number if isinstance(number, int) else 1
        start = (page - 1) * size
        with django_assert_num_queries(1):
            assert ids.count() == len(full)
        if start >= len(full):  # past the last page: the paginator cuts the last one
            start = (len(full) - 1) // size * size
            with django_assert_num_queries(1):
                assert ids[start : len(full)] == full[start:]
        else:
            stop = min(start + size, len(full))
            with django_assert_num_queries(0):
                assert ids[start:stop] == full[start:stop]
        with django_assert_num_queries(1):  # not the expected page
            assert ids[1:3] == full[1:3]
    ids = selectors.worklist_page_ids(**kw)
    with django_assert_num_queries(2):  # no page expected: the count, then the cut
        assert list(ids) == full
    assert ids[len(full) - 1] == full[-1]
    assert ids[len(full) :] == []


def test_the_headers_timer_read_compiled_once_equals_the_orms(
    practice, physician, coordinator, scoped, django_assert_num_queries
):
    """Every page's header reads the running timer with its patient: one query compiled once
    per practice, the same timer and patient as the ORM's query, none for another member."""
    from timelog import services
    from timelog.models import RunningTimer

    patient = make_enrolled(practice, physician, coordinator, mrn="T-9")
    assert services.timer_get(membership=coordinator) is None
    services.timer_start(practice=practice, actor=coordinator, patient=patient)

    def fields(obj):
        return [(f.attname, getattr(obj, f.attname)) for f in obj._meta.concrete_fields]

    expected = (
        RunningTimer.objects.for_practice(practice)
        .filter(membership=coordinator)
        .select_related("patient")
        .first()
    )
    with django_assert_num_queries(1):
        found = services.timer_get(membership=coordinator)
        assert found is not None
        assert fields(found) == fields(expected)
        assert fields(found.patient) == fields(expected.patient)
    assert services.timer_get(membership=physician) is None


def test_the_rows_query_is_compiled_once_and_never_prepared_on_the_server(
    practice, physician, coordinator, scoped, django_assert_num_queries
):
    """The page's rows: one query, compiled once per practice and month (its one parameter,
    the page's ids), not prepared on the server (a transaction-mode pooler would lose it);
    the patients and tasks it makes are what the ORM makes of the same columns (the others
    deferred)."""
    from patients.models import Patient
    from timelog.models import Task

    _patients(practice, physician, coordinator, 0, 6)
    kw = {"practice": practice, "month": OCTOBER, "today": NOW.date(), "now": NOW}
    ids = list(selectors.worklist_page_ids(**kw))
    for _ in range(3):
        with django_assert_num_queries(1):
            rows = selectors.worklist_page_rows(ids, **kw)
        assert [row.patient.pk for row in rows] == ids
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{practice.pk.hex}%"],
        )
        assert cursor.fetchone()[0] == 0
    assert selectors._page_rows_query(practice, OCTOBER) is selectors._page_rows_query(
        practice, OCTOBER
    )
    orm = Patient.objects.for_practice(practice).only(*selectors.ROW_FIELDS).get(pk=ids[0])
    made = rows[0].patient
    assert made == orm
    assert type(made) is Patient
    assert made.get_deferred_fields() == orm.get_deferred_fields()
    assert (made._state.db, made._state.adding) == (orm._state.db, orm._state.adding)
    fields = [f.attname for f in Patient._meta.concrete_fields if f.attname in made.__dict__]
    assert [getattr(made, f) for f in fields] == [getattr(orm, f) for f in fields]
    task = next(row.next_task for row in rows if row.next_task is not None)
    expected = (
        Task.objects.for_practice(practice).only(*selectors._NEXT_TASK_ATTNAMES).get(pk=task.pk)
    )
    assert task.get_deferred_fields() == expected.get_deferred_fields()
    assert [getattr(task, f) for f in selectors._NEXT_TASK_ATTNAMES] == [
        getattr(expected, f) for f in selectors._NEXT_TASK_ATTNAMES
    ]
    assert task.label == expected.label


def test_the_filters_kept_per_process_are_the_forms(coordinator_client):
    """The page's filter selects and its reading of the filters, kept per process for the
    values seen, are what the form gives for those values, on the first and later pages."""
    from urllib.parse import urlencode

    from django.http import QueryDict

    from timelog import worklist_render
    from timelog.forms import WorklistFilterForm

    cases = [
        {},
        {"page": "2"},
        {"who": "all", "show": "behind", "sort": "due", "call_window": "open"},
        {"who": "nobody", "sort": "bogus", "show": '"><script>'},
        {"month": "2026-10", "who": "all", "sort": "contact"},
        {"month": "x" * 40, "who": "all"},  # too long to keep: cleaned anew
    ]
    for _ in range(2):
        for params in cases:
            query = QueryDict(urlencode(params))
            form = WorklistFilterForm(query or None)
            data = form.cleaned_data if form.is_valid() else {}
            body = coordinator_client.get("/worklist/?" + urlencode(params)).content.decode()
            for name in ("who", "show", "sort", "call_window"):
                assert worklist_render.select(form[name]) in body, (params, name)
            kept, _ = views._worklist_filters(query)
            assert dict(kept) == data
