"""The daily outreach job after three unanswered contact attempts (issue 17): it suggests
another channel or a permitted caregiver, once however often it runs; emails carry counts."""

import datetime as dt

import pytest
from django.core import mail

from ccm.tenancy import practice_scope
from tests.factories import (
    CareContactFactory,
    ContactAttemptFactory,
    SharingPermissionFactory,
    TaskFactory,
)
from tests.timelog.conftest import make_enrolled
from timelog import reminders
from timelog.models import Task, TaskKind

pytestmark = pytest.mark.usefixtures("frozen")
UTC = dt.UTC


def _unanswered(patient, count=3):
    for n in range(count):
        at = dt.datetime(2026, 10, 5 + n, 14, tzinfo=UTC)
        outcome = "voicemail" if n % 2 else "no_answer"
        ContactAttemptFactory(
            patient=patient, occurred_at=at, outcome=outcome, recorded_by=patient.coordinator
        )


def _follow_ups(practice, patient):
    with practice_scope(practice):
        return list(
            Task.objects.filter(patient=patient, kind=TaskKind.FOLLOW_UP_CALL).values_list(
                "reason", flat=True
            )
        )


def _run(practice):
    return reminders.send_reminders(practice_id=str(practice.pk))


def test_three_unanswered_suggest_the_permitted_caregiver_once(practice, physician, coordinator):
    patient = make_enrolled(practice, physician, coordinator, mrn="U-1")
    daughter = CareContactFactory(patient=patient, relationship="Daughter")
    SharingPermissionFactory(contact=daughter, recorded_by=coordinator)
    _unanswered(patient)
    _run(practice)
    expected = [
        "3 contacts unanswered this month: try text or the portal or the caregiver (daughter)."
    ]
    assert _follow_ups(practice, patient) == expected
    _run(practice)
    assert _follow_ups(practice, patient) == expected


def test_without_permission_only_another_channel_is_suggested(practice, physician, coordinator):
    patient = make_enrolled(practice, physician, coordinator, mrn="U-2")
    CareContactFactory(patient=patient, relationship="Son")  # no permission on file
    _unanswered(patient)
    _run(practice)
    assert _follow_ups(practice, patient) == [
        "3 contacts unanswered this month: try text or the portal."
    ]


def test_two_unanswered_are_not_enough(practice, physician, coordinator):
    patient = make_enrolled(practice, physician, coordinator, mrn="U-3")
    _unanswered(patient, count=2)
    _run(practice)
    assert all("unanswered" not in r for r in _follow_ups(practice, patient))


def test_an_open_follow_up_is_annotated_once_and_the_digest_counts_it_without_phi(
    practice, physician, coordinator
):
    patient = make_enrolled(practice, physician, coordinator, mrn="U-4")
    TaskFactory(
        patient=patient,
        kind=TaskKind.FOLLOW_UP_CALL,
        due_on=dt.date(2026, 10, 19),
        assignee=coordinator,
        reason="Ask about the new inhaler",
    )
    _unanswered(patient, count=4)
    _run(practice)
    _run(practice)
    assert _follow_ups(practice, patient) == [
        "Ask about the new inhaler · 4 contacts unanswered this month: try text or the portal."
    ]
    (message,) = mail.outbox
    assert "1 where calls went unanswered" in message.body
    for phi in (patient.first_name, patient.last_name, patient.mrn):
        assert phi not in message.body
