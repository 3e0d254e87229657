"""`{% transition_task_link task as link %}`: where a care transition's task is worked (the
medication reconciliation page, the transitions timeline), for the task page."""

from __future__ import annotations

from django import template

from timelog.models import Task
from timelog.transition_tasks import TaskLink, task_link

register = template.Library()


@register.simple_tag
def transition_task_link(task: Task) -> TaskLink | None:
    return task_link(task)
