"""HTML forms for time and tasks: parsing and validation only (services save)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms

from ccm.models import Membership, Practice
from ccm.versioning import VersionedFormMixin
from patients.selectors import clinician_choices
from timelog.models import MAX_ENTRY_MINUTES, Activity, TaskKind
from timelog.selectors import CALL_WINDOW_FILTERS, TASK_VIEWS, WORKLIST_FILTERS, WORKLIST_SORTS

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
FACE_TO_FACE_HELP = (
    "Face-to-face time is not CCM time (R15): it is kept on the record but never counts "
    "toward billing. Log it as part of the visit instead."
)


def _member_label(m: Membership) -> str:
    return m.user.full_name or m.user.email


def _minutes(min_value: int = 1, **kwargs: Any) -> forms.IntegerField:
    """Whole minutes of one entry (its maximum is the model's)."""
    return forms.IntegerField(min_value=min_value, max_value=MAX_ENTRY_MINUTES, **kwargs)


def _note(rows: int = 3) -> forms.CharField:
    return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": rows}))


class TimeEntryForm(forms.Form):
    started_at = forms.DateTimeField(
        label="Started", widget=DATETIME, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
    )
    minutes = _minutes(help_text=f"Whole minutes, 1 to {MAX_ENTRY_MINUTES}.")
    activity = forms.ChoiceField(choices=[("", "— choose —"), *Activity.choices])
    note = _note()
    face_to_face = forms.BooleanField(
        required=False, label="This was face-to-face time", help_text=FACE_TO_FACE_HELP
    )


class TimeEntryEditForm(VersionedFormMixin, TimeEntryForm):
    """Editing an entry: carries the version of the entry as opened."""


class AdjustmentForm(forms.Form):
    corrected_minutes = _minutes(0, label="Correct minutes", help_text="0 voids the entry.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class TimerStartForm(forms.Form):
    patient = forms.UUIDField(widget=forms.HiddenInput)
    activity = forms.ChoiceField(
        choices=[("", "— pick later —"), *Activity.choices], required=False
    )


class TimerStopForm(forms.Form):
    activity = forms.ChoiceField(choices=[("", "— choose —"), *Activity.choices])
    note = _note()
    minutes = _minutes(
        required=False,
        help_text="Only for a timer left running: lower the minutes to the time really spent.",
    )
    confirm = forms.BooleanField(required=False, label="I checked the minutes")


class WorklistFilterForm(forms.Form):
    month = forms.CharField(required=False)
    who = forms.ChoiceField(
        choices=[("mine", "My patients"), ("all", "All patients")], required=False
    )
    show = forms.ChoiceField(choices=list(WORKLIST_FILTERS.items()), required=False)
    sort = forms.ChoiceField(choices=list(WORKLIST_SORTS.items()), required=False)
    call_window = forms.ChoiceField(
        choices=list(CALL_WINDOW_FILTERS.items()), required=False, label="Call window"
    )


class _AssigneeMixin:
    fields: dict[str, forms.Field]

    def _assignees(self, practice: Practice) -> None:
        field = cast(forms.ModelChoiceField, self.fields["assignee"])
        field.queryset = clinician_choices(practice=practice)
        field.label_from_instance = _member_label  # type: ignore[assignment,method-assign]


class TaskForm(_AssigneeMixin, forms.Form):
    kind = forms.ChoiceField(choices=TaskKind.choices)
    title = forms.CharField(required=False, max_length=200, help_text="Required for custom tasks.")
    due_on = forms.DateField(widget=DATE, label="Due")
    assignee = forms.ModelChoiceField(queryset=Membership.objects.none(), required=False)

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._assignees(practice)


class TaskReassignForm(VersionedFormMixin, _AssigneeMixin, forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=Membership.objects.none(), required=False, empty_label="Nobody"
    )

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._assignees(practice)


class TaskCompleteForm(VersionedFormMixin, forms.Form):
    note = _note(rows=2)
    log_minutes = _minutes(
        required=False, label="Minutes spent on the call (logged as CCM time, ending now)"
    )
    cancel = forms.BooleanField(required=False, label="Cancel the task instead")


class TaskFilterForm(forms.Form):
    view = forms.ChoiceField(choices=list(TASK_VIEWS.items()), required=False)


def default_start(now: dt.datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M")
