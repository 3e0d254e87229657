"""HTML input for recording a care transition (the chart's form and its own page). Parsing
only: the rules (dates, the contact's patient, the document's real type) are the service's."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from careplans.models import TransitionKind
from careplans.transition_services import DOCUMENT_MAX_BYTES
from patients.models import CareContact

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ContactChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        contact: CareContact = obj
        detail = contact.role or contact.organisation
        return f"{contact.name} ({detail})" if detail else contact.name


class TransitionForm(forms.Form):
    kind = forms.ChoiceField(choices=TransitionKind.choices, label="Kind")
    occurred_on = forms.DateField(
        widget=DATE, label="Date", help_text="The discharge date, or the day of the visit."
    )
    admitted_on = forms.DateField(
        widget=DATE, required=False, label="Admitted on", help_text="Discharges and ED visits."
    )
    facility = forms.CharField(max_length=200, required=False, label="Hospital or facility")
    diagnoses = forms.CharField(
        max_length=500,
        required=False,
        label="Diagnoses",
        help_text="As on the summary, e.g. CHF exacerbation; pneumonia.",
    )
    contact = ContactChoiceField(
        queryset=CareContact.objects.none(),
        required=False,
        label="Specialist or practitioner",
        empty_label="— none —",
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Notes")
    document = forms.FileField(
        required=False,
        label=f"Discharge summary or visit note (PDF, PNG or JPEG, up to "
        f"{DOCUMENT_MAX_BYTES // (1024 * 1024)} MB)",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )

    def __init__(self, *args: Any, contacts: Any, **kwargs: Any) -> None:
        # The chart holds several forms: ids of its own, so each label finds its field.
        kwargs.setdefault("auto_id", "transition_%s")
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["contact"]).queryset = contacts
