"""Structured logs: each request's lines are JSON objects carrying request_id, view,
practice_id and user_id, and no patient name, MRN, id in a path, query string, email, IP or
user agent; a Celery task's lines carry its id and name; URLs stay redacted."""

import io
import json
import logging
import logging.config

import pytest
import structlog
from celery import shared_task

from ccm.logging_config import build_logging
from tests.helpers import token_client

log = structlog.get_logger("tests.ccm.test_logging")
stdlib_log = logging.getLogger("tests.ccm.test_logging.stdlib")


@shared_task(name="tests.ccm.logs_something")
def logs_something():
    log.info("task_says_hello")
    stdlib_log.warning("plain logging inside a task")


@pytest.fixture
def lines():
    """The JSON lines the production handler (settings.LOGGING with LOG_JSON) writes."""
    config = build_logging(json=True, level="INFO")
    stream = io.StringIO()
    # Built by the same factories dictConfig uses for settings.LOGGING.
    configurator = logging.config.DictConfigurator(config)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(config["formatters"]["structured"]))
    for name in config["handlers"]["console"]["filters"]:
        handler.addFilter(configurator.configure_filter(config["filters"][name]))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def parsed():
        text = stream.getvalue()
        return text, [json.loads(line) for line in text.splitlines() if line.strip()]

    yield parsed
    root.removeHandler(handler)
    root.setLevel(old_level)


def _finished(records, view):
    [line] = [r for r in records if r["event"] == "request_finished" and r.get("view") == view]
    return line


@pytest.mark.django_db
def test_a_request_logs_json_with_its_context_and_no_phi(lines, coordinator, coordinator_client):
    from tests.factories import PatientFactory

    patient = PatientFactory(
        practice=coordinator.practice, first_name="Quillon", last_name="Zebrowski", mrn="LOGMRN-9"
    )
    response = coordinator_client.get(
        f"/patients/{patient.pk}/?q=Zebrowski", HTTP_X_REQUEST_ID="req-abc-12345"
    )
    assert response.status_code == 200
    text, records = lines()
    line = _finished(records, "patients:patient-detail")
    assert line["request_id"] == "req-abc-12345" == response["X-Request-ID"]
    assert line["practice_id"] == str(coordinator.practice_id)
    assert line["user_id"] == str(coordinator.user_id)
    assert line["request"] == "GET /patients/<uuid:patient_id>/"
    assert line["code"] == 200
    assert line["level"] == "info"
    assert "timestamp" in line
    for needle in ("Quillon", "Zebrowski", "LOGMRN-9", str(patient.pk), coordinator.user.email):
        assert needle not in text, needle
    for record in records:
        assert "ip" not in record
        assert "user_agent" not in record


@pytest.mark.django_db
def test_an_unknown_path_is_logged_without_it(lines, coordinator_client):
    response = coordinator_client.get("/nowhere/LOGMRN-9/?q=Zebrowski")
    assert response.status_code == 404
    text, records = lines()
    line = _finished(records, "<unmatched>")
    assert line["request"] == "GET <unmatched>"
    assert line["code"] == 404
    assert "LOGMRN-9" not in json.dumps(line)
    # Django's own "Not Found: <path>" warning keeps the path, never the query.
    assert "Zebrowski" not in text


@pytest.mark.django_db
def test_an_api_request_by_token_names_the_tokens_practice_and_user(lines, biller):
    response = token_client(biller).get("/api/v1/patients/?search=LOGMRN-9")
    assert response.status_code == 200
    text, records = lines()
    [line] = [r for r in records if r["event"] == "request_finished"]
    assert line["practice_id"] == str(biller.practice_id)
    assert line["user_id"] == str(biller.user_id)
    assert line["view"].startswith("api")
    assert "LOGMRN-9" not in text


@pytest.mark.django_db
def test_lines_of_the_standard_library_carry_the_request_context_and_lose_queries(lines):
    structlog.contextvars.bind_contextvars(request_id="r-1", practice_id="p-1")
    try:
        stdlib_log.warning("fetching %s", "/patients/?q=Zebrowski")
    finally:
        structlog.contextvars.clear_contextvars()
    text, [record] = lines()
    assert record["event"] == "fetching /patients/"
    assert record["request_id"] == "r-1"
    assert record["practice_id"] == "p-1"
    assert "Zebrowski" not in text


class _Request:
    def __repr__(self):
        return "<WSGIRequest: GET '/patients/?q=Zebrowski'>"


def test_djangos_request_object_in_extra_is_not_logged(lines):
    # django.request and django.server pass the request as `extra`; its repr has the query.
    stdlib_log.warning("Not Found: %s", "/nowhere/?q=Zebrowski", extra={"request": _Request()})
    log.info("with_an_object", thing=_Request())
    text, records = lines()
    assert records[0]["event"] == "Not Found: /nowhere/"
    assert "request" not in records[0]
    assert records[1]["thing"] == "<WSGIRequest: GET '/patients/'>"
    assert "Zebrowski" not in text


def test_structured_values_lose_query_strings_and_reset_keys(lines):
    log.info("visited", path="/patients/?q=Zebrowski", link="/accounts/password/reset/key/1-x/")
    text, [record] = lines()
    assert record["path"] == "/patients/"
    assert "reset/key/1-x" not in text
    assert "Zebrowski" not in text


def test_a_tasks_lines_carry_its_id_and_name(lines):
    structlog.contextvars.bind_contextvars(request_id="outer-request")
    try:
        result = logs_something.apply()
        outer = structlog.contextvars.get_contextvars()
    finally:
        structlog.contextvars.clear_contextvars()
    _text, records = lines()
    mine = [r for r in records if r["event"] in ("task_says_hello", "plain logging inside a task")]
    assert len(mine) == 2
    for record in mine:
        assert record["task_id"] == result.id
        assert record["task"] == "tests.ccm.logs_something"
    # An eager task runs inside a request: the request's context is back afterwards.
    assert outer == {"request_id": "outer-request"}


def test_debug_console_lines_are_readable_not_json():
    config = build_logging(json=False, level="INFO")
    processors = config["formatters"]["structured"]["processors"]
    assert isinstance(processors[-1], structlog.dev.ConsoleRenderer)
