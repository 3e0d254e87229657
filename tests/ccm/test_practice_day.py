"""The practice's day has one home (Practice.today, Practice.zone): the API, which runs in UTC,
and the pages, which run in the practice's zone, see the same day and the same month."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import pathlib
import zoneinfo

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import TaskFactory
from tests.timelog.conftest import make_enrolled
from timelog import selectors

# 02:30 UTC on 1 November: New York is still on 31 October, 22:30.
LATE_EVENING = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)
PRACTICE_DAY = dt.date(2026, 10, 31)
APPS = ("ccm", "patients", "careplans", "timelog", "billing")
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def late_evening():
    with time_machine.travel(LATE_EVENING, tick=False):
        yield


def _api(membership) -> APIClient:
    client = APIClient()
    client.force_authenticate(membership.user)
    client.force_login(membership.user)
    return client


def test_practice_today_is_the_day_in_its_zone_whatever_zone_runs(practice, late_evening):
    assert practice.zone == zoneinfo.ZoneInfo("America/New_York")
    for zone in (dt.UTC, zoneinfo.ZoneInfo("Asia/Tokyo"), practice.zone):
        with timezone.override(zone):
            assert practice.today() == PRACTICE_DAY
            assert practice.this_month() == dt.date(2026, 10, 1)


@pytest.mark.usefixtures("late_evening")
def test_api_and_page_list_the_same_tasks_due_today(
    practice, physician, coordinator, coordinator_client
):
    patient = make_enrolled(practice, physician, coordinator)
    today = TaskFactory(patient=patient, assignee=coordinator, due_on=PRACTICE_DAY)
    utc_day = TaskFactory(patient=patient, assignee=coordinator, due_on=LATE_EVENING.date())
    page = coordinator_client.get("/tasks/?view=today")
    api = _api(coordinator).get("/api/v1/tasks/", {"view": "today"}).json()
    assert [t.pk for t in page.context["page"].object_list] == [today.pk]
    assert [t["id"] for t in api["results"]] == [str(today.pk)] != [str(utc_day.pk)]


@pytest.mark.usefixtures("late_evening")
def test_api_and_page_default_to_the_same_month_and_day_on_the_worklist(
    practice, physician, coordinator, coordinator_client
):
    make_enrolled(practice, physician, coordinator)
    page = coordinator_client.get("/worklist/")
    api = _api(coordinator).get("/api/v1/worklist/").json()
    assert page.context["month"] == dt.date(2026, 10, 1)
    assert page.context["today"] == PRACTICE_DAY
    # October's last day: no day left, on the page and in the API alike (November, the UTC
    # month, would have 29).
    assert [r.days_left for r in page.context["rows"]] == [0]
    assert [r["days_left"] for r in api["results"]] == [0]


@pytest.mark.parametrize(
    "selector", [selectors.worklist, selectors.worklist_rows, selectors.task_list]
)
def test_day_dependent_selectors_take_today_explicitly(selector):
    # A default (timezone.localdate()) gives an API caller, in UTC, the wrong day.
    parameter = inspect.signature(selector).parameters["today"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is inspect.Parameter.empty


def _app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            # billing/rules is the pure engine: it gets zone names, it knows no Practice.
            if "migrations" not in path.parts and "rules" not in path.parts:
                yield path


def test_no_second_home_for_the_practice_day():
    """`timezone.localdate()` is the request's zone (UTC in the API); a `_today`/`_zone` helper
    is a copy of Practice.today/Practice.zone. Ask the practice instead."""
    found = []
    for path in _app_modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            name = ""
            if isinstance(node, ast.Attribute) and node.attr == "localdate":
                name = "localdate"
            elif isinstance(node, ast.FunctionDef) and node.name in ("_today", "_zone"):
                name = node.name
            if name:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert found == []
