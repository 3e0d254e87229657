"""The per-request fixed cost (issue 18, target 2b) cut without changing what a request sees:
the session store answers what Django's database store answers, the memberships query
compiled once returns what the ORM returns, /api/v1/me/ keeps its serializer's shape, and the
layout built once per role shows each role the links its capabilities allow."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import get_script_prefix, reverse, set_script_prefix
from django.utils import timezone

from ccm import context_processors
from ccm.apis import MeApi
from ccm.models import Membership, Role
from ccm.roles import Capability, can
from ccm.sessions import SessionStore
from ccm.tenancy import CompiledQuery, user_memberships
from tests.helpers import token_client

# --- The session store ---------------------------------------------------------------------


def test_the_app_uses_the_store():
    assert settings.SESSION_ENGINE == "ccm.sessions"


def test_a_live_session_loads_what_django_loads(db):
    written = DjangoStore()
    written["a"] = 1
    written["nested"] = {"b": [1, 2]}
    written.save()
    ours = SessionStore(written.session_key)
    assert (
        ours.load() == DjangoStore(written.session_key).load() == {"a": 1, "nested": {"b": [1, 2]}}
    )
    assert ours.session_key == written.session_key


@pytest.mark.parametrize("case", ["expired", "deleted", "unknown"])
def test_a_dead_session_loads_empty_and_loses_its_key(db, case):
    written = DjangoStore()
    written["a"] = 1
    written.save()
    key = written.session_key
    if case == "expired":
        Session.objects.filter(session_key=key).update(
            expire_date=timezone.now() - dt.timedelta(seconds=1)
        )
    elif case == "deleted":
        Session.objects.filter(session_key=key).delete()
    else:
        key = "x" * 32
    ours, django = SessionStore(key), DjangoStore(key)
    assert ours.load() == django.load() == {}
    assert ours.session_key is None
    assert django.session_key is None


def test_a_session_deleted_elsewhere_signs_out_at_once(coordinator_client):
    assert coordinator_client.get("/api/v1/me/").status_code == 200
    Session.objects.all().delete()  # another worker's sign-out, clearsessions
    assert coordinator_client.get("/api/v1/me/").status_code == 401
    assert coordinator_client.get("/home/").status_code == 302


def test_the_session_is_written_through_django(coordinator_client):
    coordinator_client.get("/api/v1/me/")
    key = coordinator_client.cookies[settings.SESSION_COOKIE_NAME].value
    stored = DjangoStore(key).load()
    assert "ccm_last_activity" in stored  # the inactivity clock, saved by Django's store


# --- The memberships query compiled once ---------------------------------------------------


def _fields(m: Membership) -> tuple:
    return (
        [(f.attname, getattr(m, f.attname)) for f in Membership._meta.concrete_fields],
        [(f.attname, getattr(m.practice, f.attname)) for f in m.practice._meta.concrete_fields],
        [(f.attname, getattr(m.user, f.attname)) for f in m.user._meta.concrete_fields],
    )


def _orm(user_id: uuid.UUID) -> list[Membership]:
    return list(user_memberships(user_id).select_related("user"))


def test_compiled_memberships_equal_the_orm(coordinator, outsider, django_assert_num_queries):
    # A second membership for the coordinator (another practice), and an inactive one.
    Membership.objects.for_practice(outsider.practice).create(
        user=coordinator.user, role=Role.BILLER
    )
    query = CompiledQuery(lambda u: user_memberships(u).select_related("user"), uuid.UUID(int=0))
    for user_id in (coordinator.user_id, outsider.user_id, coordinator.user_id, uuid.uuid4()):
        with django_assert_num_queries(1):
            compiled = query.run(user_id)
        expected = _orm(user_id)
        assert [_fields(m) for m in compiled] == [_fields(m) for m in expected]
        for m in compiled:  # the related rows come with it: no query to read them
            with django_assert_num_queries(0):
                assert m.practice.name
                assert m.user.email
    assert len(query.run(coordinator.user_id)) == 2
    coordinator.is_active = False
    coordinator.save()
    assert [m.practice_id for m in query.run(coordinator.user_id)] == [outsider.practice_id]


def test_compiled_query_refuses_a_query_without_its_parameter(db):
    query = CompiledQuery(lambda u: user_memberships(uuid.uuid4()), uuid.UUID(int=0))
    with pytest.raises(ValueError, match="not a query"):
        query.run(uuid.uuid4())


# --- /api/v1/me/ -------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["session", "token"])
def test_me_has_its_serializers_shape(coordinator, coordinator_client, auth):
    api = coordinator_client if auth == "session" else token_client(coordinator)
    body = api.get("/api/v1/me/").json()
    expected = MeApi.OutputSerializer(
        {
            "user": coordinator.user,
            "practice": coordinator.practice,
            "role": coordinator.role,
            "membership_id": coordinator.id,
            "auth": auth,
        }
    ).data
    assert body == expected
    assert list(body) == list(expected)


# --- The layout --------------------------------------------------------------------------

NAV_LABELS = {
    "careplans:signing-queue": Capability.EDIT_CLINICAL,
    "billing:month-list": Capability.VIEW_BILLING,
    "careplans:template-list": Capability.EDIT_CARE_PLAN_TEMPLATES,
    "ccm:member-list": Capability.MANAGE_MEMBERS,
    "ccm:practice-settings": Capability.MANAGE_PRACTICE,
    "ccm:token-list": Capability.MANAGE_API_TOKENS,
    "ccm:audit-list": Capability.VIEW_AUDIT,
}


@pytest.mark.parametrize("member", ["admin", "physician", "coordinator", "biller"])
def test_each_role_sees_the_links_its_capabilities_allow(request, member):
    membership = request.getfixturevalue(member)
    client = Client()
    client.force_login(membership.user)
    page = client.get("/home/").content.decode()
    for name in ("ccm:home", "timelog:worklist", "patients:patient-list", "timelog:task-list"):
        assert f'<a href="{reverse(name)}">' in page
    for name, capability in NAV_LABELS.items():
        assert (f'<a href="{reverse(name)}">' in page) is can(membership, capability), name
    for name in ("ccm:session-status", "ccm:session-keepalive", "account_logout", "mfa_index"):
        assert reverse(name) in page


def test_the_layout_is_built_once_per_role(coordinator_client, admin_client):
    context_processors._layout.cache_clear()
    coordinator_client.get("/home/")
    coordinator_client.get("/home/")
    admin_client.get("/home/")
    admin_client.get("/home/")
    info = context_processors._layout.cache_info()
    assert (info.misses, info.hits) == (2, 2)


def test_the_layout_follows_the_script_prefix():
    before = get_script_prefix()
    set_script_prefix("/ccm/")
    try:
        nav = context_processors._layout("/ccm/", Role.COORDINATOR).main_nav
    finally:
        set_script_prefix(before)
    assert '<a href="/ccm/worklist/">Worklist</a>' in nav
    assert (
        '<a href="/worklist/">Worklist</a>'
        in context_processors._layout("/", Role.COORDINATOR).main_nav
    )
