"""HTML forms of the medication list and its reconciliation: parsing only (the rules are
patients.medication_services')."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django import forms

from ccm.forms import attach_errors
from ccm.versioning import VersionedFormMixin
from patients.forms import DATE
from patients.medication_services import CHANGEABLE_FIELDS, Review
from patients.models import (
    CareContact,
    ChangeAction,
    Medication,
    MedicationSource,
    MedicationStatus,
    ReconciledWith,
)

NEW_ROWS = 3  # blank rows for medicines found during a reconciliation (no JavaScript needed)
_TEXT = {"name": 200, "dose": 100, "route": 50, "frequency": 100, "instructions": 500}


class MedicationForm(forms.Form):
    """A medicine of the patient's list."""

    name = forms.CharField(max_length=200, help_text="With its strength, e.g. Metformin 500 mg")
    rxnorm_code = forms.CharField(
        max_length=12, required=False, label="RxNorm code", help_text="Digits, when known."
    )
    dose = forms.CharField(max_length=100, required=False, help_text="e.g. 1 tablet")
    route = forms.CharField(max_length=50, required=False, help_text="e.g. by mouth")
    frequency = forms.CharField(max_length=100, required=False, help_text="e.g. twice daily")
    instructions = forms.CharField(max_length=500, required=False)
    prescriber = forms.CharField(max_length=200, required=False)
    source = forms.ChoiceField(choices=MedicationSource.choices)
    starts_on = forms.DateField(widget=DATE, required=False, label="Started")


class MedicationEditForm(VersionedFormMixin, MedicationForm):
    """Editing a medicine: its status and stop date too; carries the version it was opened
    with."""

    status = forms.ChoiceField(choices=MedicationStatus.choices)
    stops_on = forms.DateField(widget=DATE, required=False, label="Stopped")


class MedicationStopForm(forms.Form):
    stops_on = forms.DateField(widget=DATE, required=False, label="Stopped on")


_ACTIONS = [
    (ChangeAction.CONFIRMED, "Confirm"),
    (ChangeAction.CHANGED, "Change"),
    (ChangeAction.STOPPED, "Stop"),
]


@dataclass(frozen=True)
class ReviewRow:
    """One medicine of the reconciliation page with its bound fields."""

    medication: Medication
    action: forms.BoundField
    fields: list[forms.BoundField]


class ReconcileForm(forms.Form):
    """A reconciliation: with whom, sources, discrepancies, note; for each active medicine
    (`<id>-action` and its new `<id>-dose` …) and NEW_ROWS blank rows (`new-N-name` …)."""

    reconciled_with = forms.ChoiceField(choices=ReconciledWith.choices, label="Reconciled with")
    contact = forms.ModelChoiceField(
        queryset=CareContact.objects.none(),
        required=False,
        empty_label="(none)",
        label="Contact",
        help_text="The caregiver, pharmacy or prescriber, when one of the patient's contacts.",
    )
    sources = forms.CharField(
        max_length=300,
        required=False,
        label="Sources reviewed",
        help_text="e.g. pill bottles, discharge summary, pharmacy fill history",
    )
    discrepancies = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Discrepancies found"
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(
        self,
        *args: Any,
        medications: Sequence[Medication],
        contacts: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.medications = list(medications)
        cast(forms.ModelChoiceField, self.fields["contact"]).queryset = contacts
        for medication in self.medications:
            key = str(medication.pk)
            self.fields[f"{key}-action"] = forms.ChoiceField(
                choices=_ACTIONS,
                initial=ChangeAction.CONFIRMED,
                widget=forms.RadioSelect,
                label=medication.name,
            )
            for name in CHANGEABLE_FIELDS:
                self.fields[f"{key}-{name}"] = forms.CharField(
                    max_length=_TEXT[name],
                    required=False,
                    initial=getattr(medication, name),
                    label=name.capitalize(),
                )
        for index in range(NEW_ROWS):
            for name in ("name", "dose", "route", "frequency"):
                self.fields[f"new-{index}-{name}"] = forms.CharField(
                    max_length=_TEXT[name], required=False, label=name.capitalize()
                )
            self.fields[f"new-{index}-rxnorm_code"] = forms.CharField(
                max_length=12, required=False, label="RxNorm code"
            )
            self.fields[f"new-{index}-source"] = forms.ChoiceField(
                choices=MedicationSource.choices, initial=MedicationSource.PATIENT, label="Source"
            )

    def review_rows(self) -> Iterator[ReviewRow]:
        for medication in self.medications:
            key = str(medication.pk)
            yield ReviewRow(
                medication,
                self[f"{key}-action"],
                [self[f"{key}-{name}"] for name in CHANGEABLE_FIELDS],
            )

    def attach(self, exc: Any) -> None:
        """A service refusal on the fields it names: a medicine's (by id) on its action, a
        new row's field it does not show on the row's name."""
        if not hasattr(exc, "error_dict"):
            attach_errors(self, exc)
            return
        for key, errors in exc.error_dict.items():
            names = (key, f"{key}-action", f"{key.rsplit('-', 1)[0]}-name")
            target = next((n for n in names if n in self.fields), None)
            for error in errors:
                self.add_error(target, error)

    def new_rows(self) -> list[list[forms.BoundField]]:
        names = ("name", "dose", "route", "frequency", "rxnorm_code", "source")
        return [[self[f"new-{i}-{n}"] for n in names] for i in range(NEW_ROWS)]

    def service_data(self) -> dict[str, Any]:
        """The cleaned input as medication_reconcile's arguments (blank new rows dropped)."""
        data = self.cleaned_data
        reviews = [
            Review(
                medication_id=m.pk,
                action=data[f"{m.pk}-action"],
                changes={name: data[f"{m.pk}-{name}"] for name in CHANGEABLE_FIELDS},
            )
            for m in self.medications
        ]
        additions = []
        for index in range(NEW_ROWS):
            row = {
                name: data[f"new-{index}-{name}"]
                for name in ("name", "dose", "route", "frequency", "rxnorm_code", "source")
            }
            if any(row[n] for n in ("name", "dose", "route", "frequency", "rxnorm_code")):
                additions.append(row)
        return {
            "reconciled_with": data["reconciled_with"],
            "contact": data.get("contact"),
            "sources": data["sources"],
            "discrepancies": data["discrepancies"],
            "note": data["note"],
            "reviews": reviews,
            "additions": additions,
        }
