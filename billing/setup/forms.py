"""HTML forms of the billing setup, payers and usual charges pages: parsing only (the
services in billing.setup.services check the rules and save)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms

from billing.fees.forms import AMOUNT_FIELD_MESSAGES
from billing.fees.selectors import FEE_CODE_NAMES
from billing.models import IsaQualifier, ProviderType, UsageIndicator
from billing.setup.selectors import (
    UsualChargeRow,
    medicare_payer_choices,
    practitioner_choices,
)
from billing.setup.services import SETUP_FIELDS, SETUP_TEXT
from ccm.models import Membership, Practice
from ccm.versioning import VersionedFormMixin
from patients.models import Payer, PayerKind

# The setup page's sections: (heading, what it is in the 837, fields).
SETUP_SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Submitter",
        "Who sends the file: loop 1000A, ISA06 and GS02.",
        ("submitter_id", "submitter_qualifier", "submitter_name", "contact_name", "contact_phone"),
    ),
    (
        "Receiver",
        "The Medicare contractor (MAC) or clearinghouse the file goes to: loop 1000B, ISA08 "
        "and GS03.",
        ("receiver_id", "receiver_qualifier", "receiver_name", "usage", "medicare_payer"),
    ),
    (
        "Billing provider",
        "Loop 2010AA: a street address with ZIP+4 (payers reject a PO Box here).",
        (
            "provider_type",
            "individual_practitioner",
            "accepts_assignment",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
        ),
    ),
    (
        "Pay-to address (optional)",
        "Loop 2010AB: where payments are mailed when it differs from the billing provider "
        "address. A PO Box is fine here. Leave all of it blank when there is none.",
        ("pay_to_line1", "pay_to_line2", "pay_to_city", "pay_to_state", "pay_to_postal_code"),
    ),
)

LABELS = {
    "submitter_id": "Submitter id",
    "submitter_qualifier": "Submitter id qualifier (ISA05)",
    "submitter_name": "Submitter name",
    "contact_name": "EDI contact name",
    "contact_phone": "EDI contact phone",
    "receiver_id": "Receiver id",
    "receiver_qualifier": "Receiver id qualifier (ISA07)",
    "receiver_name": "Receiver name",
    "usage": "Test or production (ISA15)",
    "medicare_payer": "Medicare payer (Part B claims)",
    "provider_type": "Billing provider type",
    "individual_practitioner": "Individual practitioner",
    "accepts_assignment": "Accepts Medicare assignment (CLM07)",
    "address_line1": "Billing provider street",
    "address_line2": "Street line 2",
    "city": "City",
    "state": "State",
    "postal_code": "ZIP+4",
    "pay_to_line1": "Pay-to street or PO Box",
    "pay_to_line2": "Pay-to line 2",
    "pay_to_city": "Pay-to city",
    "pay_to_state": "Pay-to state",
    "pay_to_postal_code": "Pay-to ZIP code",
}
HELP = {
    "submitter_id": "Assigned by your MAC or clearinghouse at EDI enrolment; not the NPI.",
    "contact_phone": "A US number, e.g. (555) 010-0100.",
    "receiver_id": "1 to 15 letters and digits, e.g. 01112 for Noridian JE Part B.",
    "usage": "T while the contractor tests your files; P once it approves production.",
    "medicare_payer": "Add it under Payers (kind: Medicare Part B contractor) if it is missing.",
    "individual_practitioner": "Only for an individual billing provider: its name and NPI go "
    "on the claims instead of the practice's.",
    "accepts_assignment": "Participating: Medicare pays the practice directly.",
    "state": "Two letters, e.g. NY.",
    "postal_code": "All nine digits, e.g. 10001-1234.",
    "pay_to_postal_code": "5 or 9 digits.",
}


def _practitioner_label(member: Membership) -> str:
    return f"{member.user.display_name} (NPI {member.npi})"


def _choice(choices: Any) -> forms.ChoiceField:
    return forms.ChoiceField(choices=choices)


class BillingSetupForm(VersionedFormMixin):
    """Every BillingSetup field the admin enters (initial: setup_initial())."""

    def __init__(self, *args: Any, practice: Practice, read_only: bool = False, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for name, (limit, required) in SETUP_TEXT.items():
            self.fields[name] = forms.CharField(max_length=limit, required=required)
        self.fields["submitter_qualifier"] = _choice(IsaQualifier.choices)
        self.fields["receiver_qualifier"] = _choice(IsaQualifier.choices)
        self.fields["usage"] = _choice(UsageIndicator.choices)
        self.fields["provider_type"] = _choice(ProviderType.choices)
        self.fields["accepts_assignment"] = forms.BooleanField(required=False)
        self.fields["medicare_payer"] = forms.ModelChoiceField(
            queryset=medicare_payer_choices(practice=practice), empty_label="Choose a payer"
        )
        practitioner = forms.ModelChoiceField(
            queryset=practitioner_choices(practice=practice),
            required=False,
            empty_label="None (organisation)",
        )
        practitioner.label_from_instance = _practitioner_label  # type: ignore[method-assign,assignment]
        self.fields["individual_practitioner"] = practitioner
        for name in SETUP_FIELDS:
            field = self.fields[name]
            field.label = LABELS[name]
            field.help_text = HELP.get(name, "")
            field.disabled = read_only
        self.fields["state"].widget.attrs.update({"size": "3", "autocomplete": "off"})
        self.fields["pay_to_state"].widget.attrs.update({"size": "3", "autocomplete": "off"})

    def sections(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        return [
            (heading, about, [self[name] for name in names])
            for heading, about, names in SETUP_SECTIONS
        ]


class PayerForm(VersionedFormMixin):
    """A payer's name, payer id and kind; on edit also whether it is active."""

    name = forms.CharField(max_length=60, label="Name")
    payer_id = forms.CharField(
        max_length=80,
        label="Payer id",
        help_text="As your clearinghouse or contractor lists it, e.g. 01112.",
    )
    kind = forms.ChoiceField(choices=PayerKind.choices, label="Kind")
    is_active = forms.BooleanField(
        required=False,
        label="Active",
        help_text="An inactive payer stays on past coverage and claims but cannot be chosen "
        "for new ones.",
    )

    def __init__(self, *args: Any, editing: bool = False, read_only: bool = False, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["is_active"]
        for field in self.fields.values():
            field.disabled = field.disabled or read_only


def payer_initial(payer: Payer) -> dict[str, Any]:
    return {
        "name": payer.name,
        "payer_id": payer.payer_id,
        "kind": payer.kind,
        "is_active": payer.is_active,
    }


CHARGE_FIELD_MESSAGES = {
    **AMOUNT_FIELD_MESSAGES,
    "min_value": "Enter an amount above 0.00, or leave it blank for the fee schedule amount.",
}


def charge_field_name(code: str) -> str:
    return f"charge_{code}"


def usual_charges_initial(rows: list[UsualChargeRow]) -> dict[str, Decimal | None]:
    return {charge_field_name(row.code): row.amount for row in rows}


class UsualChargesForm(VersionedFormMixin):
    """One usual charge per billed code; blank: the fee schedule amount is charged."""

    def __init__(
        self, *args: Any, rows: list[UsualChargeRow], read_only: bool = False, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        for row in rows:
            field = forms.DecimalField(
                required=False,
                min_value=Decimal("0.01"),
                max_digits=8,
                decimal_places=2,
                label=f"{row.code} usual charge (USD)",
                help_text=f"Blank: the fee schedule amount, ${row.fee_amount}.",
                error_messages=CHARGE_FIELD_MESSAGES,
                disabled=read_only,
            )
            field.widget.attrs.update({"inputmode": "decimal", "step": "0.01", "min": "0.01"})
            self.fields[charge_field_name(row.code)] = field

    def amounts(self) -> dict[str, Decimal | None]:
        """code → amount (None: the fee schedule amount), after is_valid()."""
        data = self.cleaned_data
        return {
            code: cast(Decimal | None, data.get(charge_field_name(code))) for code in FEE_CODE_NAMES
        }
