"""HTML forms for other services, month facts and their CSV import: parsing only (the
services in billing.facts.services and billing.facts.imports validate and save)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from billing.facts.services import CODE_GROUPS, CODE_MESSAGE, code_label
from billing.models import MdmLevel
from ccm.csv_import_pages import UploadForm
from ccm.models import Membership, Practice
from ccm.versioning import VersionedFormMixin
from patients import selectors as patient_selectors

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _member_label(m: Membership) -> str:
    return m.user.full_name or m.user.email


def code_choices() -> list[Any]:
    """Codes grouped by the rule they fall under (an <optgroup> each)."""
    groups = [
        (label, [(code, f"{code} · {code_label(code)}") for code in codes])
        for label, codes in CODE_GROUPS
    ]
    return [("", "Choose a code"), *groups]


class OtherServiceForm(forms.Form):
    code = forms.ChoiceField(
        choices=code_choices, error_messages={"invalid_choice": CODE_MESSAGE}, label="Code"
    )
    service_on = forms.DateField(widget=DATE, label="Date of service")
    practitioner = forms.ModelChoiceField(
        queryset=Membership.objects.none(),
        required=False,
        label="Practitioner in this practice",
        empty_label="Outside practitioner (enter the NPI)",
    )
    outside_npi = forms.CharField(
        max_length=10,
        required=False,
        label="Outside practitioner's NPI",
        help_text="10 digits; only when the service was billed outside this practice.",
    )
    note = forms.CharField(
        max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note"
    )

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["practitioner"])
        field.queryset = patient_selectors.physician_choices(practice=practice)
        field.label_from_instance = _member_label  # type: ignore[assignment,method-assign]


class MonthFactsForm(VersionedFormMixin):
    ccm_billed_elsewhere = forms.BooleanField(
        required=False, label="Another practice billed CCM for this patient this month (R3)"
    )
    mdm = forms.ChoiceField(
        choices=[("", "Not documented"), *MdmLevel.choices],
        required=False,
        label="Billing practitioner's medical decision making (R23, complex CCM)",
    )

    def __init__(self, *args: Any, can_set_mdm: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_set_mdm:
            # A disabled field keeps its initial value whatever is posted (R23: clinical).
            self.fields["mdm"].disabled = True
            self.fields["mdm"].help_text = "Set by a physician or an admin."


class MonthChoiceForm(forms.Form):
    month = forms.CharField(
        max_length=7,
        label="Month",
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )


class OtherServiceImportForm(UploadForm):
    file = forms.FileField(
        label="CSV file exported from the practice-management system",
        help_text="Columns mrn, code, service_date, practitioner_npi, note. Up to 10 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
