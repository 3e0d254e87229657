"""HTML forms of the core app: parsing and validation only (services save)."""

from __future__ import annotations

import zoneinfo
from typing import Any, cast

from allauth.mfa.totp.forms import ActivateTOTPForm
from allauth.mfa.totp.internal import auth as totp_auth
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from ccm.api_auth import ApplicationError
from ccm.models import Membership, Practice, Role
from ccm.services import PRACTICE_FIELDS
from ccm.versioning import VersionedFormMixin


def _zone_choices() -> list[tuple[str, str]]:
    zones = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc")
    )
    return [(z, z.replace("_", " ")) for z in zones]


class ActivateTotpForm(ActivateTOTPForm):
    """allauth's authenticator set-up form, keeping one pending secret until enrolment succeeds.

    allauth makes a new secret on every GET of the set-up page, so a reload, a second tab or
    any request that lands there (a browser's favicon or prefetch) made the code on screen
    stale and every code "incorrect". The pending secret lives in the server-side session only;
    allauth removes it when enrolment succeeds and logging out flushes it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.user = kwargs.pop("user")
        # Skips ActivateTOTPForm.__init__ on purpose: its only other step is the regeneration.
        forms.Form.__init__(self, *args, **kwargs)
        self.secret = totp_auth.get_totp_secret(regenerate=False)


class PracticeSettingsForm(VersionedFormMixin, forms.ModelForm):
    """The practice's settings; carries the version of the values it was opened with."""

    time_zone = forms.TypedChoiceField(choices=_zone_choices)

    class Meta:
        model = Practice
        fields = PRACTICE_FIELDS

    def clean_state(self) -> str:
        return str(self.cleaned_data.get("state") or "").upper()


class MemberInviteForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=150, required=False, label="Full name")
    role = forms.ChoiceField(choices=Role.choices)
    npi = forms.CharField(
        max_length=10, required=False, label="NPI (physicians)", help_text="10 digits."
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    npi = forms.CharField(max_length=10, required=False, label="NPI (physicians)")


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'EHR sync'.")
    membership = forms.ModelChoiceField(queryset=Membership.objects.none(), label="Acts as")

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["membership"])
        field.queryset = (
            Membership.objects.for_practice(practice)
            .filter(is_active=True)
            .select_related("user")
            .order_by("user__email")
        )


def _member_email(membership: Membership) -> str:
    return membership.user.email


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(queryset=Membership.objects.none(), required=False, label="User")
    patient = forms.CharField(
        max_length=100, required=False, label="Patient", help_text="Name or MRN."
    )
    action = forms.CharField(max_length=64, required=False)
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput({"type": "date"})
    )
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def __init__(self, *args: Any, practice: Practice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["actor"])
        field.queryset = Membership.objects.for_practice(practice).select_related("user")
        field.label_from_instance = _member_email  # type: ignore[assignment,method-assign]

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        actor = data.get("actor")
        return {
            "actor_id": actor.user_id if actor else None,
            "patient_search": data.get("patient") or "",
            "action": data.get("action") or "",
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }


# --- Errors on pages: the one renderer ---------------------------------------------------------
# A service refuses with a ValidationError, a StateConflict (a ValidationError too) or an
# ApplicationError. A page shows the refusal on the form that was posted (attach_errors), or,
# with no form to show again, as a flash message (flash_error). Views call these two only; the
# API has its own renderer (ccm.api_auth's exception handler).


def error_messages(exc: ValidationError | ApplicationError) -> list[str]:
    """The sentences of a service's refusal, as the user reads them."""
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [exc.message]


def attach_errors(form: forms.BaseForm, exc: ValidationError | ApplicationError) -> None:
    """Attach a service's refusal to the form: by its field when the form has the field, else
    above the form."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in error_messages(exc):
            form.add_error(None, message)


def flash_error(
    request: HttpRequest,
    exc: ValidationError | ApplicationError,
    *,
    each: bool = False,
    level: int = messages.ERROR,
) -> None:
    """Show a service's refusal as a flash message on the next page: its sentences in one
    message, or one message each (`each`, where the reasons are a list, e.g. enrolment)."""
    sentences = error_messages(exc)
    for text in sentences if each else [" ".join(sentences)]:
        messages.add_message(request, level, text)
