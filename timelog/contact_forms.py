"""HTML forms of contact attempts (issue 17): the contact fields of the timer's stop and a
task's completion, and the chart's "Log a contact" form. Parsing only (services save)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms

from ccm.models import Practice
from patients.careteam_selectors import care_contacts
from patients.models import CareContact, Channel
from timelog.contact_services import OUTCOME_MESSAGE, ContactInput, needs_outcome
from timelog.forms import DATETIME, TaskCompleteForm, TimerStopForm, _note
from timelog.models import Direction, Outcome, Party

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
END_BEFORE_START_MESSAGE = "The call must end after it starts."
MINUTES_OR_END_MESSAGE = "Give the call's minutes (or its end)."


def _contact_label(contact: CareContact) -> str:
    detail = contact.relationship or contact.role or contact.get_category_display()
    return f"{contact.name} ({detail})"


class ContactFieldsMixin:
    """Outcome, direction, channel, party and which of the patient's contacts."""

    fields: dict[str, forms.Field]
    cleaned_data: dict[str, Any]

    def _contact_fields(self, practice: Practice, patient_id: Any) -> None:
        self.fields["outcome"] = forms.ChoiceField(
            choices=[("", "— outcome —"), *Outcome.choices], required=False, label="Outcome"
        )
        # Left out of a post (an older form, a script): the usual outbound call to the patient.
        self.fields["direction"] = forms.ChoiceField(
            choices=Direction.choices, initial=Direction.OUTBOUND, required=False
        )
        self.fields["channel"] = forms.ChoiceField(
            choices=Channel.choices, initial=Channel.PHONE, required=False
        )
        self.fields["party"] = forms.ChoiceField(
            choices=Party.choices, initial=Party.PATIENT, label="With", required=False
        )
        contact = forms.ModelChoiceField(
            queryset=care_contacts(practice=practice, patient_id=patient_id),
            required=False,
            empty_label="— the patient —",
            label="Who (care contact)",
        )
        contact.label_from_instance = _contact_label  # type: ignore[assignment,method-assign]
        self.fields["contact"] = contact

    def contact_input(self, note: str = "") -> ContactInput | None:
        """The contact to record, or None when no outcome was given."""
        data = self.cleaned_data
        if not data.get("outcome"):
            return None
        return ContactInput(
            outcome=data["outcome"],
            direction=data.get("direction") or Direction.OUTBOUND,
            channel=data.get("channel") or Channel.PHONE,
            party=data.get("party") or Party.PATIENT,
            contact=data.get("contact"),
            note=note,
        )


class TimerStopContactForm(ContactFieldsMixin, TimerStopForm):
    """The timer's stop: a call's outcome is asked for (the attempt is linked to the entry)."""

    def __init__(self, *args: Any, practice: Practice, patient_id: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._contact_fields(practice, patient_id)

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())
        if needs_outcome(data.get("activity") or "") and not data.get("outcome"):
            self.add_error("outcome", OUTCOME_MESSAGE)
        return data


class TaskCompleteContactForm(ContactFieldsMixin, TaskCompleteForm):
    """A task's completion: a call's start and minutes (or end), and its outcome."""

    log_started_at = forms.DateTimeField(
        required=False, label="Call started", widget=DATETIME, input_formats=DATETIME_FORMATS
    )
    log_ended_at = forms.DateTimeField(
        required=False,
        label="Call ended (instead of minutes)",
        widget=DATETIME,
        input_formats=DATETIME_FORMATS,
    )

    def __init__(
        self, *args: Any, practice: Practice, patient_id: Any, call: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.call = call
        self._contact_fields(practice, patient_id)
        self.fields["log_minutes"].label = "Minutes spent on the call (logged as CCM time)"

    def clean(self) -> dict[str, Any]:
        data = cast(dict[str, Any], super().clean())
        if data.get("cancel"):
            return data
        start, end = data.get("log_started_at"), data.get("log_ended_at")
        if start and end and data.get("log_minutes") is None:
            minutes = int((end - start) / dt.timedelta(minutes=1))
            if minutes < 1:
                self.add_error("log_ended_at", END_BEFORE_START_MESSAGE)
            else:
                data["log_minutes"] = minutes
        elif start and data.get("log_minutes") is None:
            self.add_error("log_minutes", MINUTES_OR_END_MESSAGE)
        if self.call and not data.get("outcome"):
            self.add_error("outcome", OUTCOME_MESSAGE)
        return data


class ContactAttemptForm(ContactFieldsMixin, forms.Form):
    """The chart's "Log a contact": when (default now), the contact fields and a note."""

    occurred_at = forms.DateTimeField(label="When", widget=DATETIME, input_formats=DATETIME_FORMATS)
    note = _note(rows=2)

    def __init__(self, *args: Any, practice: Practice, patient_id: Any, **kwargs: Any) -> None:
        # The chart holds several forms: ids of its own, so each label finds its field.
        kwargs.setdefault("auto_id", "attempt_%s")
        super().__init__(*args, **kwargs)
        self._contact_fields(practice, patient_id)
        self.fields["outcome"].required = True
        self.fields["outcome"].error_messages["required"] = OUTCOME_MESSAGE

    def attempt_input(self) -> ContactInput:
        """The attempt to record (the outcome is required here)."""
        found = self.contact_input(note=self.cleaned_data["note"])
        if found is None:
            raise forms.ValidationError(OUTCOME_MESSAGE)
        return found
