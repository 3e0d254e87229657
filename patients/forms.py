"""HTML forms for patients: parsing and validation only (services save)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from ccm.csv_import_pages import UploadForm
from ccm.models import Membership, Practice
from ccm.versioning import VersionedFormMixin
from patients import coverage_selectors, selectors
from patients.models import ConsentMethod, CoverageKind, MspType, Patient, Payer, Status
from patients.services import CLINICAL_FIELDS, DEMOGRAPHIC_FIELDS, DISENROLL_REASON_MESSAGE

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _member_label(m: Membership) -> str:
    return m.user.full_name or m.user.email


class PatientForm(forms.ModelForm):
    conditions = forms.CharField(
        required=False,
        label="Chronic conditions (ICD-10-CM)",
        help_text="Codes separated by ; or commas, e.g. E11.9; I10",
    )

    class Meta:
        model = Patient
        fields = (*DEMOGRAPHIC_FIELDS, *CLINICAL_FIELDS)
        widgets = {
            "date_of_birth": DATE,
            "initiating_visit_on": DATE,
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(
        self, *args: Any, practice: Practice, clinical: bool, creating: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        physicians = cast(forms.ModelChoiceField, self.fields["billing_practitioner"])
        physicians.queryset = selectors.physician_choices(practice=practice)
        physicians.label_from_instance = _member_label  # type: ignore[assignment,method-assign]
        coordinators = cast(forms.ModelChoiceField, self.fields["coordinator"])
        coordinators.queryset = selectors.clinician_choices(practice=practice)
        coordinators.label_from_instance = _member_label  # type: ignore[assignment,method-assign]
        shown = patient_fields(clinical=clinical, creating=creating)
        for name in (*CLINICAL_FIELDS, "conditions"):
            if name not in shown:
                self.fields.pop(name, None)
                self.initial.pop(name, None)  # not on the page: not in its version either

    def _post_clean(self) -> None:
        # Model validation (with the practice-wide MRN rule) runs in the service.
        pass

    def condition_codes(self) -> list[str]:
        raw = self.cleaned_data.get("conditions") or ""
        return [c for c in raw.replace(",", ";").split(";") if c.strip()]


def patient_fields(*, clinical: bool, creating: bool = False) -> tuple[str, ...]:
    """The fields the patient form shows: billers see the demographics only."""
    shown = (*DEMOGRAPHIC_FIELDS, *CLINICAL_FIELDS) if clinical else DEMOGRAPHIC_FIELDS
    return (*shown, "conditions") if clinical and creating else shown


class PatientEditForm(VersionedFormMixin, PatientForm):
    """Editing a patient: carries the version of the fields shown, as opened."""


class ConditionForm(forms.Form):
    icd10_code = forms.CharField(max_length=10, label="ICD-10-CM code")
    is_chronic = forms.BooleanField(required=False, initial=True, label="Chronic")
    onset_date = forms.DateField(required=False, widget=DATE, label="Onset date")


class ConsentForm(forms.Form):
    method = forms.ChoiceField(choices=ConsentMethod.choices)
    given_on = forms.DateField(widget=DATE, label="Consent date")
    explained_service = forms.BooleanField(
        required=False, label="I explained that CCM is available and what it involves."
    )
    explained_cost_sharing = forms.BooleanField(
        required=False,
        label="I explained that Part B cost sharing (coinsurance, deductible) applies.",
    )
    explained_one_practitioner = forms.BooleanField(
        required=False,
        label="I explained that only one practitioner can provide and bill CCM in a month.",
    )
    explained_can_stop = forms.BooleanField(
        required=False,
        label="I explained that they may stop at any time, effective at the end of the month.",
    )
    signed_form = forms.FileField(
        required=False, label="Signed form (PDF, PNG or JPEG, up to 5 MB)"
    )


class RevokeForm(forms.Form):
    revoked_on = forms.DateField(widget=DATE, label="Revocation date")
    reason = forms.CharField(max_length=300, required=False, label="Reason (optional)")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)


class DisenrollForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Reason for disenrolling (required, kept in the enrollment history)",
        error_messages={"required": DISENROLL_REASON_MESSAGE},
    )


class PatientFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Status.choices], label="Status"
    )
    coordinator = forms.ModelChoiceField(
        queryset=Membership.objects.none(), required=False, label="Coordinator"
    )

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["coordinator"])
        field.queryset = selectors.clinician_choices(practice=practice)
        field.label_from_instance = _member_label  # type: ignore[assignment,method-assign]
        field.empty_label = "Anyone"


class PatientImportForm(UploadForm):
    file = forms.FileField(
        label="CSV file exported from the EHR",
        help_text="Up to 10 MB. One patient per row; ICD-10-CM codes separated by ;",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class CoverageForm(forms.Form):
    """A patient's insurance coverage (rules: patients.coverage_services)."""

    kind = forms.ChoiceField(choices=CoverageKind.choices, label="Coverage")
    payer = forms.ModelChoiceField(
        queryset=Payer.objects.none(),
        required=False,
        empty_label="(none)",
        help_text="Part B: blank bills the practice's Medicare contractor. QMB: Medicaid or blank.",
    )
    member_id = forms.CharField(
        max_length=80,
        required=False,
        label="Member id",
        help_text="Part B: the MBI (blank: the patient's MBI on file).",
    )
    group_number = forms.CharField(max_length=50, required=False, label="Group number")
    plan_name = forms.CharField(max_length=60, required=False, label="Plan name")
    msp_type = forms.ChoiceField(
        choices=[("", "(not MSP)"), *MspType.choices],
        required=False,
        label="Medicare secondary payer type",
        help_text="Only for other insurance primary, Medicare secondary (MSP).",
    )
    benefits_assigned = forms.BooleanField(
        required=False, initial=True, label="Assignment of benefits signed"
    )
    starts_on = forms.DateField(widget=DATE, label="Effective from")
    ends_on = forms.DateField(widget=DATE, required=False, label="Effective to")

    def __init__(self, *args: Any, practice: Practice, keep_payer: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        payer = cast(forms.ModelChoiceField, self.fields["payer"])
        payer.queryset = coverage_selectors.payer_choices(practice=practice, keep=keep_payer)


class CoverageEditForm(VersionedFormMixin, CoverageForm):
    """Editing a coverage: carries the version of the values it was opened with."""


class CoverageEndForm(forms.Form):
    ends_on = forms.DateField(widget=DATE, label="Last day of coverage")
