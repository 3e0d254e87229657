"""The worklist API's filter, validated once per process for the values seen (issue 18): the
same values as its serializer gives, refused values refused every time."""

import uuid

import pytest
from django.http import QueryDict
from rest_framework.exceptions import ValidationError
from rest_framework.test import APIClient

from ccm.api import validated
from timelog import apis


def test_the_kept_fields_are_the_serializers():
    assert set(apis.WORKLIST_FILTER_FIELDS) == set(apis.WorklistApi.FilterSerializer().fields)


QUERIES = [
    "",
    "month=2026-10",
    "month=2026-10&sort=minutes&show=behind",
    f"coordinator={uuid.UUID(int=7)}&call_window=open",
    "sort=name&sort=due",  # the last value counts, as `validated` reads it
    "month=2026-10&unknown=1",
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_kept_filter_is_what_the_serializer_gives(query):
    apis._WORKLIST_FILTERS.clear()
    serializer = apis.WorklistApi.FilterSerializer
    expected = validated(serializer, QueryDict(query))
    for _ in range(2):  # validated, then kept
        assert dict(apis._worklist_filter(serializer, QueryDict(query))) == expected


@pytest.mark.parametrize("query", ["month=", "month=2026-13", "sort=nope", "coordinator=x"])
def test_a_refused_filter_is_refused_every_time_and_never_kept(query):
    apis._WORKLIST_FILTERS.clear()
    for _ in range(2):
        with pytest.raises(ValidationError):
            apis._worklist_filter(apis.WorklistApi.FilterSerializer, QueryDict(query))
    assert apis._WORKLIST_FILTERS == {}


def test_the_api_refuses_a_bad_filter_after_a_good_one(coordinator):
    client = APIClient()
    client.force_authenticate(coordinator.user)
    client.force_login(coordinator.user)
    assert client.get("/api/v1/worklist/?month=2026-10&sort=minutes").status_code == 200
    response = client.get("/api/v1/worklist/?month=2026-10&sort=nope")
    assert response.status_code == 400
    assert set(response.json()) == {"sort"}
    assert client.get("/api/v1/worklist/?month=2026-10&sort=minutes").status_code == 200
