"""The daily outreach job: create due tasks idempotently, then one digest email per member.

Safe to run twice or in two workers at once: tasks are inserted with ON CONFLICT DO NOTHING
against the partial unique index "one open task per patient, kind and month", and a digest is
claimed by inserting its (practice, member, day) row before the email is sent. Emails carry
counts and links only: no names, no PHI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Value
from django.db.models.functions import Concat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, roles_with
from ccm.tenancy import practice_scope
from patients.careteam_selectors import caregivers, may_share
from patients.models import ShareScope
from timelog.models import ReminderDigest, Task, TaskKind, TaskOrigin, TaskStatus
from timelog.selectors import (
    FIRST_THRESHOLD,
    NO_CONTACT_DAYS,
    NO_PLAN_FLAG,
    REVIEW_DUE_FLAG,
    WorklistRow,
    worklist,
    worklist_rows,
)

BEHIND_PACE_AFTER_DAY = 10  # the issue: chase patients behind pace after the 10th
DIGEST_SUBJECT = "Your CareMonth outreach for {day}"
# Issue 17: after this many unanswered attempts in a month, suggest another channel or party.
UNANSWERED_LIMIT = 3
UNANSWERED_MARK = "unanswered"  # in the suggestion's text: finds tasks already annotated
TRY_ANOTHER_WAY = "{count} contacts unanswered this month: try text or the portal"
TRY_CAREGIVER = " or the caregiver ({relationship})"
# What a caregiver must be permitted to hear about for the call to reach them instead.
CAREGIVER_SCOPE = ShareScope.CARE_PLAN


@dataclass(frozen=True)
class Outcome:
    tasks_created: int
    digests_sent: int


def _suggestions(practice: Practice, rows: list[WorklistRow], today: dt.date) -> dict[object, str]:
    """Per patient with UNANSWERED_LIMIT or more unanswered attempts this month: try another
    channel, or a caregiver the patient permits us to talk to (two queries per such patient;
    there are few)."""
    found: dict[object, str] = {}
    for row in rows:
        if row.unanswered_attempts < UNANSWERED_LIMIT:
            continue
        text = TRY_ANOTHER_WAY.format(count=row.unanswered_attempts)
        permitted = [
            c
            for c in caregivers(practice=practice, patient_id=row.patient.pk)
            if may_share(practice=practice, contact=c, scope=CAREGIVER_SCOPE, on=today)
        ]
        if permitted:
            relationship = permitted[0].relationship or "family"
            text += TRY_CAREGIVER.format(relationship=relationship.lower())
        found[row.patient.pk] = text + "."
    return found


def _wanted_tasks(
    rows: list[WorklistRow],
    today: dt.date,
    month: dt.date,
    suggestions: dict[object, str] | None = None,
) -> list[Task]:
    """One task per (patient, kind) that a row calls for (reasons carry no PHI)."""
    suggestions = suggestions or {}
    tasks = []
    for row in rows:
        patient = row.patient
        reasons = []
        if today.day > BEHIND_PACE_AFTER_DAY and row.behind_pace:
            reasons.append(
                (
                    TaskKind.CHECK_IN,
                    f"Behind pace: {row.staff_pool} of {FIRST_THRESHOLD} minutes, "
                    f"{row.days_left} days left",
                )
            )
        if patient.pk in suggestions:
            reasons.append((TaskKind.FOLLOW_UP_CALL, suggestions[patient.pk]))
        elif f"No contact in {NO_CONTACT_DAYS} days" in row.flags:
            reasons.append((TaskKind.FOLLOW_UP_CALL, f"No contact in {NO_CONTACT_DAYS} days"))
        if "No consent on file" in row.flags:
            reasons.append((TaskKind.CONSENT_RENEWAL, "Enrolled without consent on file (R5)"))
        # One care plan task a month: a missing plan first, else a due review.
        if NO_PLAN_FLAG in row.flags:
            reasons.append((TaskKind.CARE_PLAN_REVIEW, "No signed care plan on file (R11)"))
        elif REVIEW_DUE_FLAG in row.flags:
            reasons.append((TaskKind.CARE_PLAN_REVIEW, "Care plan review due"))
        tasks += [
            Task(
                practice_id=patient.practice_id,
                patient=patient,
                assignee_id=patient.coordinator_id,
                kind=kind,
                due_on=today,
                month=month,
                origin=TaskOrigin.REMINDER,
                reason=reason,
            )
            for kind, reason in reasons
        ]
    return tasks


def send_reminders(*, practice_id: str, now: dt.datetime | None = None) -> Outcome:
    """Create today's outreach tasks for one practice, then send the digests (ids only in)."""
    practice = Practice.objects.get(pk=practice_id)
    now = now or timezone.now()
    today = practice.today(now)
    with practice_scope(practice), timezone.override(practice.zone):
        created = _create_tasks(practice, today.replace(day=1), today)
        sent = sum(
            _send_digest(practice, member, today, created) for member in _recipients(practice)
        )
    return Outcome(tasks_created=sum(created.values()), digests_sent=sent)


def create_due_tasks(*, practice: Practice, now: dt.datetime | None = None) -> int:
    """Create today's outreach tasks for one practice without sending digests (demo data)."""
    now = now or timezone.now()
    with practice_scope(practice), timezone.override(practice.zone):
        created = _create_tasks(practice, practice.this_month(now), practice.today(now))
    return sum(created.values())


def _create_tasks(practice: Practice, month: dt.date, today: dt.date) -> dict[object, int]:
    """Insert the wanted tasks; returns the number created per assignee id."""
    rows = worklist_rows(
        worklist(practice=practice, month=month, today=today), month=month, today=today
    )
    suggestions = _suggestions(practice, rows, today)
    wanted = _wanted_tasks(rows, today, month, suggestions)
    before = _open_reminder_ids(practice, month)
    with transaction.atomic():
        # ON CONFLICT DO NOTHING: an open task of that kind and month already exists.
        Task.objects.bulk_create(wanted, ignore_conflicts=True)
        _annotate_follow_ups(month, suggestions)
    new = (
        Task.objects.filter(origin=TaskOrigin.REMINDER, month=month, status=TaskStatus.OPEN)
        .exclude(pk__in=before)
        .values("assignee_id")
        .annotate(n=Count("pk"))
    )
    counts = {row["assignee_id"]: row["n"] for row in new}
    if counts:
        audit.record(
            practice=practice,
            actor=None,
            action="reminders.tasks_created",
            object_type="timelog.task",
            object_id=str(sum(counts.values())),
        )
    return counts


def _annotate_follow_ups(month: dt.date, suggestions: dict[object, str]) -> None:
    """Add the suggestion to an open follow-up call that lacks one (a task made earlier for
    another reason); a re-run finds the mark and changes nothing."""
    for patient_id, text in suggestions.items():
        Task.objects.filter(
            patient_id=patient_id,
            kind=TaskKind.FOLLOW_UP_CALL,
            month=month,
            status=TaskStatus.OPEN,
        ).exclude(reason__contains=UNANSWERED_MARK).update(
            reason=Concat("reason", Value(" · " + text))
        )


def _open_reminder_ids(practice: Practice, month: dt.date) -> list[object]:
    return list(
        Task.objects.filter(
            origin=TaskOrigin.REMINDER, month=month, status=TaskStatus.OPEN
        ).values_list("pk", flat=True)
    )


def _recipients(practice: Practice) -> list[Membership]:
    """Active coordinators, and any other clinical member with open tasks."""
    with_tasks = Task.objects.filter(status=TaskStatus.OPEN).values("assignee_id")
    return list(
        Membership.objects.filter(is_active=True, user__is_active=True)
        .filter(
            Q(role__in=roles_with(Capability.COORDINATE_CARE))
            | Q(pk__in=with_tasks, role__in=roles_with(Capability.LOG_TIME))
        )
        .select_related("user")
        .order_by("pk")
    )


def _digest_counts(
    member: Membership, today: dt.date, created: dict[object, int]
) -> dict[str, int]:
    mine = Task.objects.filter(status=TaskStatus.OPEN, assignee=member)
    counts = mine.aggregate(
        open=Count("pk"),
        due_today=Count("pk", filter=Q(due_on=today)),
        overdue=Count("pk", filter=Q(due_on__lt=today)),
        try_another_way=Count("pk", filter=Q(reason__contains=UNANSWERED_MARK)),
    )
    counts["new_today"] = created.get(member.pk, 0)
    return counts


def _send_digest(
    practice: Practice, member: Membership, today: dt.date, created: dict[object, int]
) -> int:
    """Claim (practice, member, day) by inserting its row, then send; 0 when already claimed."""
    counts = _digest_counts(member, today, created)
    if not counts["open"]:
        return 0
    try:
        with transaction.atomic():
            digest = ReminderDigest.objects.create(
                practice=practice, membership=member, sent_on=today, counts=counts
            )
    except IntegrityError:
        return 0  # another run sent today's digest
    context = {
        "practice": practice,
        "counts": counts,
        "day": today,
        "tasks_url": settings.SITE_URL + reverse("timelog:task-list") + "?view=mine",
        "worklist_url": settings.SITE_URL + reverse("timelog:worklist"),
    }
    send_mail(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + DIGEST_SUBJECT.format(day=today),
        message=render_to_string("timelog/email/digest.txt", context),
        from_email=None,
        recipient_list=[member.user.email],
    )
    ReminderDigest.objects.filter(pk=digest.pk).update(sent_at=timezone.now())
    return 1


def practices_to_remind() -> list[str]:
    """Ids of every practice (the job fans out one task per practice)."""
    return [str(pk) for pk in Practice.objects.order_by("pk").values_list("pk", flat=True)]
