"""HTML forms of the APCM attestations page: parsing only (billing.setup.apcm_services
checks every rule and saves)."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from billing.models import ApcmElement
from ccm.models import Membership

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATE_HELP = "Leave empty for today (in the practice's time zone)."


class PracticeAttestationForm(forms.Form):
    elements = forms.MultipleChoiceField(
        label="The practice offers",
        choices=ApcmElement.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick every element: APCM is billable only when the practice offers all.",
    )
    attested_on = forms.DateField(
        label="Attested on", required=False, widget=DATE, help_text=DATE_HELP
    )


class PractitionerAttestationForm(forms.Form):
    practitioner_id = forms.ChoiceField(label="Billing practitioner")
    attested_on = forms.DateField(
        label="Attested on", required=False, widget=DATE, help_text=DATE_HELP
    )

    def __init__(self, *args: Any, practitioners: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["practitioner_id"])
        field.choices = [("", "Choose…")] + [
            (str(m.pk), f"{m.user.display_name} (NPI {m.npi})") for m in practitioners
        ]


class WithdrawForm(forms.Form):
    withdrawn_on = forms.DateField(
        label="Withdrawn from",
        required=False,
        widget=DATE,
        help_text="The first day it no longer holds; empty: today.",
    )
