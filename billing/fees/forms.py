"""HTML forms of the fee schedule and POLICY pages: parsing and validation only (the
services in billing.fees.services save)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms

from billing.fees.selectors import FEE_CODES, POLICY_FIELDS, FeeRow
from billing.fees.services import policy_defaults, policy_field
from billing.models import POS_MESSAGE
from ccm.versioning import VersionedFormMixin

AMOUNT_FIELD_MESSAGES = {
    "invalid": "Enter an amount in dollars and cents, e.g. 66.13.",
    "min_value": "Enter an amount of 0.00 or more.",
    "max_decimal_places": "Enter at most two decimals (whole cents).",
    "max_digits": "Enter an amount below 1,000,000.00.",
    "max_whole_digits": "Enter an amount below 1,000,000.00.",
}


def fee_field_name(code: str) -> str:
    return f"fee_{code}"


def fee_schedule_initial(rows: list[FeeRow]) -> dict[str, Decimal | None]:
    """The page's values: the practice's amount per code (None: the reference amount)."""
    return {fee_field_name(row.code): row.amount for row in rows}


class FeeScheduleForm(VersionedFormMixin):
    """One amount per billed code; blank means the spec's reference amount. Initial values:
    fee_schedule_initial(rows)."""

    def __init__(self, *args: Any, rows: list[FeeRow], read_only: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for row in rows:
            field = forms.DecimalField(
                required=False,
                min_value=Decimal("0"),
                max_digits=8,
                decimal_places=2,
                label=f"{row.code} practice amount (USD)",
                help_text=f"Blank: the reference amount, ${row.reference_amount}.",
                error_messages=AMOUNT_FIELD_MESSAGES,
                disabled=read_only,
            )
            field.widget.attrs.update({"inputmode": "decimal", "step": "0.01", "min": "0"})
            self.fields[fee_field_name(row.code)] = field

    def amounts(self) -> dict[str, Decimal | None]:
        """code → amount (None: use the reference amount), after is_valid()."""
        return {row.code: self.cleaned_data.get(fee_field_name(row.code)) for row in FEE_CODES}


def _shown(field: Any, value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if field.choices:
        return str(dict(field.choices).get(value, value))
    return str(value)


class PolicyForm(VersionedFormMixin):
    """The BillingPolicy fields (labels cite the rule ids); help texts show the spec's
    defaults. Initial values: policy_values() of the practice's row, or the defaults."""

    def __init__(self, *args: Any, read_only: bool = False, **kwargs: Any):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        defaults = policy_defaults()
        for name in POLICY_FIELDS:
            model_field = policy_field(name)
            field = cast(forms.Field, model_field.formfield())
            field.help_text = f"Spec default: {_shown(model_field, defaults[name])}."
            field.disabled = read_only
            self.fields[name] = field
        if "place_of_service" in self.fields:  # R33: a select of the CMS code set
            self.fields["place_of_service"].error_messages["invalid_choice"] = POS_MESSAGE
