"""/readyz: PostgreSQL and Redis answer (200), or a 503 naming which is down, with no host,
address or error text; separate from /healthz (liveness); public like /healthz."""

import time
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client, override_settings

from ccm import metrics
from ccm.models import Role
from tests.factories import MembershipFactory

REDIS_REFUSED = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def _ready(client=None):
    response = (client or Client()).get("/readyz")
    return response, response.json()


@pytest.mark.django_db
def test_ready_when_database_and_redis_answer(settings):
    response, body = _ready()
    assert response.status_code == 200
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    expected = "ok" if settings.REDIS_URL else "not configured"
    assert body["checks"]["redis"] == expected


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:6379/13")
def test_redis_answering_is_ok():
    response, body = _ready()
    assert response.status_code == 200
    assert body["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_database_down_is_503_naming_the_database():
    failing = mock.patch.object(
        metrics, "_database_select_one", side_effect=OperationalError("host db.internal down")
    )
    with failing:
        response, body = _ready()
    assert response.status_code == 503
    assert body == {"status": "unavailable", "checks": {"database": "down", "redis": mock.ANY}}
    assert b"db.internal" not in response.content


@pytest.mark.django_db
@override_settings(REDIS_URL=REDIS_REFUSED)
def test_redis_down_is_503_naming_redis_without_its_address():
    response, body = _ready()
    assert response.status_code == 503
    assert body == {"status": "unavailable", "checks": {"database": "ok", "redis": "down"}}
    assert b"127.0.0.1" not in response.content


@pytest.mark.django_db
def test_a_frozen_database_answers_503_within_the_deadline():
    def frozen():
        time.sleep(1.5)

    with (
        mock.patch.object(metrics, "PROBE_TIMEOUT", 0.2),
        mock.patch.object(metrics, "_database_select_one", frozen),
    ):
        started = time.monotonic()
        response, body = _ready()
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert body["checks"]["database"] == "down"
    assert elapsed < 1.0


@pytest.mark.django_db
def test_readiness_needs_no_sign_in_and_skips_the_mfa_redirect(practice):
    # An admin without MFA is sent to set it up before anything else, but not here.
    client = Client()
    client.force_login(MembershipFactory(practice=practice, role=Role.ADMIN).user)
    assert client.get("/home/").status_code == 302
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_healthz_stays_the_plain_liveness_check():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
