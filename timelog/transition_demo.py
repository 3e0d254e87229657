"""Demo follow-up of care transitions (seed_demo, after careplans/transition_demo.py recorded
them with their tasks): the tasks of transitions more than two weeks old were done on time,
as if the transition had been recorded the day it happened."""

from __future__ import annotations

import datetime as dt

from ccm.demo import DemoSeed
from ccm.tenancy import practice_scope
from timelog.models import Task, TaskStatus
from timelog.transition_tasks import due_on, wanted_tasks

DONE_AFTER_DAYS = 14
DONE_NOTE = "Reached the patient; medicines reviewed against the discharge list."


def finish(demo: DemoSeed) -> None:
    """Close the older transitions' open follow-up tasks (idempotent: only open ones change)."""
    practice = demo.practices["demo"]
    cutoff = practice.today() - dt.timedelta(days=DONE_AFTER_DAYS)
    coordinator = demo.memberships["coordinator@demo.test"]
    with practice_scope(practice):
        tasks = (
            Task.objects.for_practice(practice)
            .filter(status=TaskStatus.OPEN, transition__occurred_on__lt=cutoff)
            .select_related("transition")
        )
        for task in tasks:
            transition = task.transition
            if transition is None:  # not reached: the filter follows the transition
                continue
            days = {w.kind: w.business_days for w in wanted_tasks(transition)}[task.kind]
            task.due_on = due_on(transition.occurred_on, days, transition.occurred_on)
            task.month = task.due_on.replace(day=1)
            task.status, task.completed_by, task.completion_note = (
                TaskStatus.DONE,
                coordinator,
                DONE_NOTE,
            )
            task.completed_at = dt.datetime.combine(task.due_on, dt.time(16), tzinfo=dt.UTC)
            task.save()
            demo.added["transition tasks done"] += 1
