"""An insert of one event (a list's read, most requests' only event) takes scalar
parameters (issue 18); its row is the one the many-event statement writes for it."""

from __future__ import annotations

import pytest

from ccm import audit
from ccm.models import AuditEvent
from tests.factories import PatientFactory

COLUMNS = [
    "practice_id",
    "actor_id",
    "actor_email",
    "role",
    "action",
    "ip",
    "user_agent",
    "request_id",
    "changed_fields",
    "object_type",
    "object_id",
    "patient_id",
    "patient_ids",
]


def _row(action: str) -> dict:
    [event] = AuditEvent.objects.unscoped().filter(action=action).values(*COLUMNS)
    event.pop("action")
    return event


@pytest.mark.parametrize(
    "event",
    [
        ("patients.patient", "", None, "ids"),  # a list's read: its patients
        ("patients.patient", "one", "one", []),  # one object of one patient
        ("ccm.practice", "x", None, []),  # no patient
    ],
)
def test_one_event_is_the_row_the_many_event_statement_writes(coordinator, practice, event):
    shown = [str(PatientFactory(practice=practice).pk) for _ in range(3)]
    object_type, object_id, patient_id, ids = event
    if object_id == "one":
        object_id = patient_id = shown[0]
    ids = shown if ids == "ids" else ids
    one = (object_type, object_id, patient_id, ids)
    assert audit._insert(coordinator, "x.one", ["b", "a"], [one]) == 1
    # The same event as the second of two: the many-event statement.
    other = ("ccm.practice", "y", None, [])
    assert audit._insert(coordinator, "x.many", ["b", "a"], [other, one]) == 2
    many = [
        e
        for e in AuditEvent.objects.unscoped().filter(action="x.many").values(*COLUMNS)
        if e["object_id"] != "y"
    ]
    assert len(many) == 1
    many[0].pop("action")
    assert _row("x.one") == many[0]
    assert _row("x.one")["changed_fields"] == ["a", "b"]
