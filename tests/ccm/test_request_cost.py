"""The fixed cost of a signed-in request: the session, then the user with their memberships and
practices in one query (Django's own user lookup only when that one cannot vouch for the
session), and the session written at most once a minute for the inactivity clock."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import HASH_SESSION_KEY
from django.test import Client
from django.utils import timezone

from ccm.middleware import LAST_ACTIVITY_KEY


def test_me_over_a_session_is_two_queries(coordinator_client, django_assert_num_queries):
    coordinator_client.get("/api/v1/me/")  # first request: the inactivity clock starts
    with django_assert_num_queries(2):  # the session; the user, memberships and practices
        response = coordinator_client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["auth"] == "session"


def test_a_password_change_still_signs_other_sessions_out(coordinator, coordinator_client):
    assert coordinator_client.get("/api/v1/me/").status_code == 200
    coordinator.user.set_password("another long passphrase 42")
    coordinator.user.save()
    assert coordinator_client.get("/api/v1/me/").status_code == 401
    assert coordinator_client.get("/home/").status_code == 302


def test_a_tampered_session_hash_is_signed_out(coordinator_client):
    session = coordinator_client.session
    session[HASH_SESSION_KEY] = "0" * 64
    session.save()
    assert coordinator_client.get("/api/v1/me/").status_code == 401


def test_a_deactivated_user_or_membership_is_signed_out(coordinator, coordinator_client):
    coordinator.user.is_active = False
    coordinator.user.save()
    assert coordinator_client.get("/api/v1/me/").status_code == 401
    coordinator.user.is_active = True
    coordinator.user.save()
    client = Client()
    client.force_login(coordinator.user)
    assert client.get("/api/v1/me/").status_code == 200
    coordinator.is_active = False
    coordinator.save()
    assert client.get("/api/v1/me/").status_code == 403  # signed in, no membership


@pytest.mark.parametrize(("seconds", "written"), [(59, False), (61, True)])
def test_activity_is_written_once_a_minute(coordinator_client, seconds, written):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        coordinator_client.get("/api/v1/me/")
        first = coordinator_client.session[LAST_ACTIVITY_KEY]
        traveller.shift(dt.timedelta(seconds=seconds))
        coordinator_client.get("/api/v1/me/")
        assert (coordinator_client.session[LAST_ACTIVITY_KEY] != first) is written
