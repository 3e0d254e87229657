"""HTML forms of the care team, permissions to share and contact preferences: parsing only
(rules and saving: patients.careteam_services)."""

from __future__ import annotations

from django import forms

from patients.models import (
    CallWindowKind,
    Channel,
    ContactCategory,
    PermissionMethod,
    ShareScope,
    Weekday,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
LANGUAGES_LIST = "language-suggestions"


def _language_field(label: str) -> forms.CharField:
    return forms.CharField(
        max_length=50,
        required=False,
        label=label,
        widget=forms.TextInput(attrs={"list": LANGUAGES_LIST, "autocomplete": "off"}),
        help_text="Choose from the list or type another language.",
    )


class ContactForm(forms.Form):
    """A care-team contact or caregiver."""

    category = forms.ChoiceField(choices=ContactCategory.choices, label="Kind of contact")
    name = forms.CharField(max_length=200)
    role = forms.CharField(
        max_length=100, required=False, help_text="Practitioners and agencies, e.g. Cardiologist."
    )
    organisation = forms.CharField(max_length=200, required=False)
    relationship = forms.CharField(
        max_length=100, required=False, help_text="Caregivers and family, e.g. Daughter."
    )
    phone = forms.CharField(max_length=32, required=False)
    fax = forms.CharField(max_length=32, required=False)
    secure_email = forms.CharField(
        max_length=254, required=False, label="Secure email (Direct address)"
    )
    language = _language_field("Language")
    is_representative = forms.BooleanField(
        required=False, label="The patient's representative (may act for the patient)"
    )
    note = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PermissionForm(forms.Form):
    """The patient's permission to share with one contact."""

    scopes = forms.MultipleChoiceField(
        choices=ShareScope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="What we may share",
    )
    method = forms.ChoiceField(choices=PermissionMethod.choices, label="How the patient told us")
    given_on = forms.DateField(widget=DATE, required=False, label="Given on")
    expires_on = forms.DateField(
        widget=DATE, required=False, label="Until", help_text="Blank: until revoked."
    )


class PermissionRevokeForm(forms.Form):
    revoked_on = forms.DateField(widget=DATE, required=False, label="Revoked on")


class PreferencesForm(forms.Form):
    """The patient's contact preferences."""

    preferred_channel = forms.ChoiceField(choices=Channel.choices, label="Preferred channel")
    preferred_language = _language_field("Preferred language")
    interpreter_needed = forms.BooleanField(required=False, label="Needs an interpreter")


class CallWindowForm(forms.Form):
    """A weekly window: best time to call, or do not call (the practice's zone)."""

    kind = forms.ChoiceField(choices=CallWindowKind.choices, label="Window")
    weekdays = forms.TypedMultipleChoiceField(
        choices=Weekday.choices,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Days",
    )
    starts_at = forms.TimeField(widget=TIME, required=False, label="From")
    ends_at = forms.TimeField(widget=TIME, required=False, label="To")
    note = forms.CharField(max_length=200, required=False)
