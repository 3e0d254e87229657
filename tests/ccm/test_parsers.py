"""JSON nesting is bounded: a deep body is a clear 400, never a RecursionError (500)."""

import json

import pytest

from careplans import services as plan_services
from careplans.models import CarePlanVersion
from ccm.parsers import MAX_DEPTH, TOO_DEEP_MESSAGE, nesting_depth
from ccm.tenancy import practice_scope
from tests.helpers import token_client
from tests.timelog.conftest import make_enrolled


@pytest.fixture
def draft(practice, physician, coordinator):
    with practice_scope(practice):
        patient = make_enrolled(practice, physician, coordinator)
        return plan_services.draft_start(practice=practice, actor=coordinator, patient=patient)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "\\"]]]"]', 1),  # brackets inside strings, escaped quotes
        ("[[[]], [[[]]]]", 4),
    ],
)
def test_nesting_depth_counts_levels_outside_strings(text, depth):
    assert nesting_depth(text.encode()) == depth


def _nested(levels: int) -> str:
    return '{"content": ' + "[" * levels + "]" * levels + "}"


def test_a_draft_patched_with_json_nested_5000_deep_is_a_400(coordinator, draft):
    before = dict(draft.content)
    response = token_client(coordinator).patch(
        f"/api/v1/care-plans/{draft.pk}/", _nested(5000), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": TOO_DEEP_MESSAGE}
    assert CarePlanVersion.objects.unscoped().get(pk=draft.pk).content == before


def test_nesting_up_to_the_bound_reaches_the_serializer(coordinator, draft):
    # MAX_DEPTH levels in all: the object around "content" is the first.
    response = token_client(coordinator).patch(
        f"/api/v1/care-plans/{draft.pk}/",
        _nested(MAX_DEPTH - 1),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() != {"detail": TOO_DEEP_MESSAGE}  # the serializer's answer


def test_a_deep_body_is_refused_on_every_json_api(coordinator, draft):
    body = json.dumps({"note": "x"})[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}"
    response = token_client(coordinator).post(
        "/api/v1/time-entries/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": TOO_DEEP_MESSAGE}
