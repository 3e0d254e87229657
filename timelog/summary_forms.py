"""The after-contact summary form (issue 17, item 7). Parsing only: the rules (required
parts, lengths, who may receive it, dates) are timelog.summary_services'."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms

from ccm.models import Practice
from patients.careteam_selectors import permissions_for
from patients.models import CareContact, Patient, ShareScope
from timelog import summary_selectors
from timelog.models import ShareMethod
from timelog.summary_services import MAX_LENGTHS


def _text(label: str, field: str, help_text: str = "") -> forms.CharField:
    attrs = {"rows": 3, "maxlength": MAX_LENGTHS[field]}
    return forms.CharField(
        label=label, required=False, help_text=help_text, widget=forms.Textarea(attrs=attrs)
    )


class RecipientField(forms.ModelChoiceField):
    """The patient (blank) or one of their caregivers, each labelled with whether the patient
    permits sharing summaries with them today."""

    permitted: frozenset[Any] = frozenset()

    def label_from_instance(self, obj: Any) -> str:
        contact = cast(CareContact, obj)
        who = f"{contact.name} ({contact.relationship})" if contact.relationship else contact.name
        if contact.pk in self.permitted:
            return f"{who}: permitted"
        return f"{who}: not permitted"


class SummaryForm(forms.Form):
    talked_about = _text("What we talked about", "talked_about")
    do_now = _text("What to do now", "do_now")
    watch_for = _text("What to watch for", "watch_for", "Symptoms or changes, and what to do.")
    whom_to_call = _text(
        "Whom to call",
        "whom_to_call",
        "The care team's number and its 24/7 number are printed on every summary.",
    )
    shared_with = RecipientField(
        queryset=CareContact.objects.none(), required=False, empty_label="The patient"
    )
    shared_method = forms.ChoiceField(choices=ShareMethod.choices, label="How it was shared")
    shared_on = forms.DateField(label="Shared on", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self, *args: Any, practice: Practice, patient: Patient, today: dt.date, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        field = cast(RecipientField, self.fields["shared_with"])
        field.label = "Given to"
        field.queryset = summary_selectors.summary_recipients(
            practice=practice, patient_id=patient.pk
        )
        permissions = permissions_for(practice=practice, patient_id=patient.pk)
        field.permitted = frozenset(
            p.contact_id for p in permissions if p.allows(ShareScope.SUMMARIES, today)
        )
