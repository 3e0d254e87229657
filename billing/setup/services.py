"""The practice's billing setup, payers and usual charges: the admins' writes (validated,
audited with field names only), and `setup_problems`, what an 837 would be refused for.

Every write takes the practice row lock first (billing.fees.services.settings_lock), as the
fee schedule and POLICY writes do: one settings editor at a time per practice, so two first
saves cannot both insert, and a page's version check sees what the save will change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.fees.services import clean_code_amounts, replace_code_amounts, settings_lock
from billing.models import (
    BillingSetup,
    Claim,
    IsaQualifier,
    ProviderType,
    UsageIndicator,
    UsualCharge,
)
from billing.setup import rules
from billing.setup.selectors import billing_setup, medicare_payer_choices
from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, can
from ccm.validators import state_validator
from patients.models import Coverage, Payer, PayerKind

REQUIRED_MESSAGE = "This field is required."
TEXT_MESSAGE = (
    "Use letters, digits, spaces and common punctuation only: an 837 carries plain text, "
    "without the X12 separators ~ * : ^ >."
)
TOO_LONG_MESSAGE = "Enter at most {limit} characters (the 837 allows no more)."
RECEIVER_ID = re.compile(r"[A-Za-z0-9]{1,15}")
STATE_MESSAGE = "Use the two-letter state code, e.g. NY."
PAY_TO_ZIP_MESSAGE = "Enter the pay-to ZIP code as 5 or 9 digits, e.g. 10001 or 10001-1234."
PAY_TO_INCOMPLETE_MESSAGE = (
    "Give the whole pay-to address (street, city, state, ZIP) or leave all of it blank."
)
CHOICE_MESSAGE = "Choose one of the listed values."
MEDICARE_PAYER_MESSAGE = (
    "Choose the practice's Medicare contractor (an active payer of the kind "
    "'Medicare Part B contractor'): Part B claims go to it."
)
PRACTITIONER_MESSAGE = (
    "An individual billing provider needs an active physician of the practice with an NPI: "
    "the claims carry that physician's name and NPI."
)
NO_SETUP_MESSAGE = (
    "The practice has no billing setup yet: an admin enters the submitter, receiver and "
    "billing provider under Billing setup."
)
NO_TAX_ID_MESSAGE = (
    "The practice has no tax id (EIN): the billing provider loop needs it (practice settings)."
)

PAYER_ID = re.compile(r"[A-Za-z0-9]{2,80}")
PAYER_ID_MESSAGE = "Enter the payer id as 2 to 80 letters and digits, e.g. 01112."
PAYER_DUPLICATE_MESSAGE = "The practice already has a {kind} payer with the payer id {payer_id}."
PAYER_IN_SETUP_MESSAGE = (
    "This payer is the practice's Medicare contractor in the billing setup: choose another "
    "one there first."
)
PAYER_KIND_IN_USE_MESSAGE = (
    "This payer is already on coverage or claims, so its kind stays: add a new payer instead."
)

UNKNOWN_CODE_MESSAGE = "{code} is not a code the practice bills."
CHARGE_MESSAGE = "Enter an amount above 0.00 with at most two decimals, e.g. 75.00."
CHARGE_TOO_LARGE_MESSAGE = "Enter an amount below 1,000,000.00."
MAX_CHARGE = Decimal("999999.99")  # UsualCharge.amount: 8 digits, 2 decimals
CENT = Decimal("0.01")
FEE_SCHEDULE = "fee schedule"  # the audit's word for "no usual charge: the fee schedule's"

# What a client sends to save the setup; medicare_payer and individual_practitioner are the
# practice's objects (or None), resolved by the page or the API.
SETUP_TEXT = {
    # field: (max length, required)
    "submitter_id": (15, True),
    "submitter_name": (60, True),
    "contact_name": (60, True),
    "contact_phone": (20, True),
    "receiver_id": (15, True),
    "receiver_name": (60, True),
    "address_line1": (55, True),
    "address_line2": (55, False),
    "city": (30, True),
    "state": (2, True),
    "postal_code": (10, True),
    "pay_to_line1": (55, False),
    "pay_to_line2": (55, False),
    "pay_to_city": (30, False),
    "pay_to_state": (2, False),
    "pay_to_postal_code": (10, False),
}
SETUP_CHOICES = {
    "submitter_qualifier": IsaQualifier,
    "receiver_qualifier": IsaQualifier,
    "usage": UsageIndicator,
    "provider_type": ProviderType,
}
SETUP_FIELDS: tuple[str, ...] = (
    *SETUP_TEXT,
    *SETUP_CHOICES,
    "accepts_assignment",
    "medicare_payer",
    "individual_practitioner",
)
PAY_TO_REQUIRED = ("pay_to_line1", "pay_to_city", "pay_to_state", "pay_to_postal_code")
# Fields with a rule of their own (which also bounds their length and characters).
CODED = frozenset(
    {
        "submitter_id",
        "receiver_id",
        "contact_phone",
        "state",
        "postal_code",
        "pay_to_state",
        "pay_to_postal_code",
    }
)
# A US number (PER04 "TE" carries its 10 digits), written as people write it: (555) 010-0100,
# 555.010.0100, +1 555 010 0100.
PHONE = re.compile(r"(?:\+?1[ .-]?)?(?:\([0-9]{3}\)|[0-9]{3})[ .-]?[0-9]{3}[ .-]?[0-9]{4}")
PHONE_MESSAGE = "Enter the EDI contact's 10-digit US phone number, e.g. (555) 010-0100."
# Printable ASCII without the X12 separators (segment ~, element *, component : or >,
# repetition ^).
X12_TEXT = re.compile(r"[ -)+-9;-=?-\]_-}]*")


class _Errors(dict[str, list[str]]):
    def add(self, field: str, message: str | None) -> None:
        if message:
            self.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self:
            raise ValidationError(dict(self))


# --- Billing setup -----------------------------------------------------------------------------


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return "" if value is None else str(value).strip()


def _clean_text(data: Mapping[str, Any], errors: _Errors) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, (limit, required) in SETUP_TEXT.items():
        value = _text(data, name)
        if name in ("state", "pay_to_state"):
            value = value.upper()
        values[name] = value
        if required and not value:
            errors.add(name, REQUIRED_MESSAGE)
        elif name in CODED:
            continue  # checked by their own rule, which bounds their length too
        elif not X12_TEXT.fullmatch(value):
            errors.add(name, TEXT_MESSAGE)
        elif len(value) > limit:
            errors.add(name, TOO_LONG_MESSAGE.format(limit=limit))
    return values


def _zip(value: str) -> str:
    """12345-6789 for nine digits, 12345 for five (what the pages show back)."""
    digits = rules.digits(value)
    return f"{digits[:5]}-{digits[5:]}" if len(digits) == 9 else digits


def _check_codes(values: dict[str, str], npi: str, errors: _Errors) -> None:
    errors.add("submitter_id", rules.submitter_problem(values["submitter_id"], npi))
    if values["receiver_id"] and not RECEIVER_ID.fullmatch(values["receiver_id"]):
        errors.add("receiver_id", rules.RECEIVER_MESSAGE)
    phone = values["contact_phone"]
    if phone and not PHONE.fullmatch(phone):
        errors.add("contact_phone", PHONE_MESSAGE)


def _check_billing_address(values: dict[str, str], errors: _Errors) -> None:
    po_box = rules.po_box_problem(values["address_line1"], values["address_line2"])
    errors.add("address_line1", po_box)
    if values["state"] and _bad_state(values["state"]):
        errors.add("state", STATE_MESSAGE)
    if values["postal_code"]:
        errors.add("postal_code", rules.zip_plus_4_problem(values["postal_code"]))


def _bad_state(value: str) -> bool:
    try:
        state_validator(value)
    except ValidationError:
        return True
    return not value.isascii()


def _check_pay_to(values: dict[str, str], errors: _Errors) -> None:
    """2010AB is optional: all of it or none; a PO Box is fine there."""
    given = [name for name in (*PAY_TO_REQUIRED, "pay_to_line2") if values[name]]
    if not given:
        return
    for name in PAY_TO_REQUIRED:
        if not values[name]:
            errors.add(name, PAY_TO_INCOMPLETE_MESSAGE)
    if values["pay_to_state"] and _bad_state(values["pay_to_state"]):
        errors.add("pay_to_state", STATE_MESSAGE)
    postal = values["pay_to_postal_code"]
    if postal and not re.fullmatch(r"[0-9]{5}(-?[0-9]{4})?", postal):
        errors.add("pay_to_postal_code", PAY_TO_ZIP_MESSAGE)


def _clean_choices(data: Mapping[str, Any], errors: _Errors) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, choices in SETUP_CHOICES.items():
        value = _text(data, name)
        if value not in choices.values:
            errors.add(name, CHOICE_MESSAGE)
        values[name] = value
    return values


def _medicare_payer_problem(practice: Practice, payer: Payer | None) -> str | None:
    ok = (
        payer is not None
        and payer.practice_id == practice.pk
        and payer.kind == PayerKind.MEDICARE
        and payer.is_active
    )
    return None if ok else MEDICARE_PAYER_MESSAGE


def _practitioner_problem(practice: Practice, member: Membership | None) -> str | None:
    ok = (
        member is not None
        and member.practice_id == practice.pk
        and member.is_active
        and can(member, Capability.BILL_AS_PRACTITIONER)
        and bool(member.npi)
    )
    return None if ok else PRACTITIONER_MESSAGE


def _clean_setup(practice: Practice, data: Mapping[str, Any]) -> dict[str, Any]:
    """Every field checked; all the problems at once (ValidationError by field)."""
    unknown = sorted(set(data) - set(SETUP_FIELDS))
    errors = _Errors({name: ["Not a billing setup field."] for name in unknown})
    values: dict[str, Any] = {**_clean_text(data, errors), **_clean_choices(data, errors)}
    individual = values["provider_type"] == ProviderType.INDIVIDUAL
    member = data.get("individual_practitioner") if individual else None
    _check_codes(values, practice.billing_npi, errors)
    if member is not None and values["submitter_id"] == member.npi:
        errors.add("submitter_id", rules.SUBMITTER_MESSAGE)
    _check_billing_address(values, errors)
    _check_pay_to(values, errors)
    payer = data.get("medicare_payer")
    errors.add("medicare_payer", _medicare_payer_problem(practice, payer))
    if individual:
        errors.add("individual_practitioner", _practitioner_problem(practice, member))
    errors.raise_any()
    values["postal_code"] = _zip(values["postal_code"])
    if values["pay_to_postal_code"]:
        values["pay_to_postal_code"] = _zip(values["pay_to_postal_code"])
    accepts = data.get("accepts_assignment")
    values["accepts_assignment"] = True if accepts is None else bool(accepts)
    return {**values, "medicare_payer": payer, "individual_practitioner": member}


def setup_values(setup: BillingSetup) -> dict[str, Any]:
    """A setup's values by SETUP_FIELDS name (payer and practitioner as objects)."""
    return {name: getattr(setup, name) for name in SETUP_FIELDS}


def setup_initial(practice: Practice, setup: BillingSetup | None) -> dict[str, Any]:
    """The setup page's and the API's values (no writes): the stored setup, or a start
    from the practice's name, phone and address (the same every time, so the page's version
    check holds)."""
    if setup is not None:
        values = {name: getattr(setup, name) for name in SETUP_FIELDS}
        values["medicare_payer"] = setup.medicare_payer_id
        values["individual_practitioner"] = setup.individual_practitioner_id
        return values
    # A practice's own address and phone may not fit the 837's limits: the admin sees them
    # refused and shortens them.
    payers = list(medicare_payer_choices(practice=practice).values_list("pk", flat=True)[:2])
    return {
        **dict.fromkeys(SETUP_TEXT, ""),
        "submitter_name": practice.name,
        "contact_phone": practice.phone,
        "submitter_qualifier": IsaQualifier.MUTUALLY_DEFINED,
        "receiver_qualifier": IsaQualifier.MUTUALLY_DEFINED,
        "usage": UsageIndicator.TEST,
        "medicare_payer": payers[0] if len(payers) == 1 else None,
        "provider_type": ProviderType.ORGANIZATION,
        "accepts_assignment": True,
        "individual_practitioner": None,
        "address_line1": practice.address_line1,
        "address_line2": practice.address_line2,
        "city": practice.city,
        "state": practice.state,
        "postal_code": practice.postal_code,
    }


@transaction.atomic
def billing_setup_save(
    *, practice: Practice, actor: Membership, data: Mapping[str, Any]
) -> list[str]:
    """Create or update the practice's one setup row from `data` (SETUP_FIELDS). Validates
    everything before writing (ValidationError by field, nothing saved); audits the names
    of the fields that changed. Returns them (empty: nothing changed)."""
    values = _clean_setup(practice, data)
    settings_lock(practice=practice)
    setup = billing_setup(practice)
    creating = setup is None
    if setup is None:
        setup = BillingSetup(practice=practice)
    before = {} if creating else setup_values(setup)
    changes = audit.changed(before, values) if not creating else sorted(values)
    if not changes:
        return []
    for name, value in values.items():
        setattr(setup, name, value)
    setup.updated_by, setup.updated_at = actor, timezone.now()
    setup.full_clean()
    setup.save()
    verb = "create" if creating else "update"
    audit.record_for(actor, f"billing_setup.{verb}", obj=setup, changed_fields=changes)
    return changes


def setup_problems(practice: Practice, setup: BillingSetup | None = None) -> list[str]:
    """What an 837 of the practice would be refused for, each a message for the biller (no
    writes; one query): no setup, or a stored value the rules refuse now (a payer
    deactivated since, the practice NPI changed to the submitter id, …). `setup`: the row
    when the caller has read it already."""
    setup = setup or billing_setup(practice)
    if setup is None:
        return [NO_SETUP_MESSAGE]
    values = setup_values(setup)
    values["individual_practitioner"] = setup.individual_practitioner
    try:
        _clean_setup(practice, values)
    except ValidationError as exc:
        problems = [m for messages in exc.message_dict.values() for m in messages]
    else:
        problems = []
    if not practice.tax_id:
        problems.append(NO_TAX_ID_MESSAGE)
    return list(dict.fromkeys(problems))


# --- Payers ------------------------------------------------------------------------------------

PAYER_FIELDS = ("name", "payer_id", "kind", "is_active")


def _clean_payer(data: Mapping[str, Any]) -> dict[str, Any]:
    errors = _Errors()
    name, payer_id, kind = (_text(data, key) for key in ("name", "payer_id", "kind"))
    if not name:
        errors.add("name", REQUIRED_MESSAGE)
    elif not X12_TEXT.fullmatch(name):
        errors.add("name", TEXT_MESSAGE)
    elif len(name) > 60:
        errors.add("name", TOO_LONG_MESSAGE.format(limit=60))
    if not PAYER_ID.fullmatch(payer_id):
        errors.add("payer_id", PAYER_ID_MESSAGE)
    if kind not in PayerKind.values:
        errors.add("kind", CHOICE_MESSAGE)
    errors.raise_any()
    active = data.get("is_active")
    return {
        "name": name,
        "payer_id": payer_id,
        "kind": kind,
        "is_active": True if active is None else bool(active),
    }


def _check_unique(practice: Practice, values: dict[str, Any], payer: Payer | None) -> None:
    others = Payer.objects.for_practice(practice).filter(
        payer_id=values["payer_id"], kind=values["kind"]
    )
    if payer is not None:
        others = others.exclude(pk=payer.pk)
    if others.exists():
        kind = PayerKind(values["kind"]).label
        message = PAYER_DUPLICATE_MESSAGE.format(kind=kind, payer_id=values["payer_id"])
        raise ValidationError({"payer_id": message})


@transaction.atomic
def payer_create(
    *, practice: Practice, actor: Membership, name: str, payer_id: str, kind: str
) -> Payer:
    """Add a payer to the practice (payer id unique per kind). Audited."""
    values = _clean_payer({"name": name, "payer_id": payer_id, "kind": kind})
    settings_lock(practice=practice)
    _check_unique(practice, values, None)
    payer = Payer(practice=practice, **values)
    payer.full_clean()
    payer.save()
    audit.write(actor, payer, "create", changed_fields=PAYER_FIELDS)
    return payer


def _payer_in_use(practice: Practice, payer: Payer) -> bool:
    coverage = Coverage.objects.for_practice(practice).filter(payer=payer).exists()
    return coverage or Claim.objects.for_practice(practice).filter(payer=payer).exists()


def _check_payer_change(practice: Practice, payer: Payer, values: dict[str, Any]) -> None:
    setup = billing_setup(practice)
    leaves_medicare = values["kind"] != PayerKind.MEDICARE or not values["is_active"]
    if setup is not None and setup.medicare_payer_id == payer.pk and leaves_medicare:
        field = "kind" if values["kind"] != payer.kind else "is_active"
        raise ValidationError({field: PAYER_IN_SETUP_MESSAGE})
    if values["kind"] != payer.kind and _payer_in_use(practice, payer):
        raise ValidationError({"kind": PAYER_KIND_IN_USE_MESSAGE})


@transaction.atomic
def payer_update(
    *, practice: Practice, actor: Membership, payer: Payer, data: Mapping[str, Any]
) -> list[str]:
    """Change a payer's name, payer id, kind or active flag (fields not given keep their
    value). A payer is never deleted: coverage and claims keep pointing at it; deactivate
    it instead. Audits the changed field names; returns them."""
    if payer.practice_id != practice.pk:
        raise ValidationError("This payer belongs to another practice.")
    unknown = sorted(set(data) - set(PAYER_FIELDS))
    if unknown:
        raise ValidationError({name: "Not a payer field." for name in unknown})
    settings_lock(practice=practice)
    payer = Payer.objects.for_practice(practice).select_for_update().get(pk=payer.pk)
    before = {name: getattr(payer, name) for name in PAYER_FIELDS}
    values = _clean_payer({**before, **data})
    _check_unique(practice, values, payer)
    _check_payer_change(practice, payer, values)
    changes = audit.changed(before, values)
    if not changes:
        return []
    for name, value in values.items():
        setattr(payer, name, value)
    payer.full_clean()
    payer.save()
    audit.write(actor, payer, "update", changed_fields=changes)
    return changes


# --- Usual charges -----------------------------------------------------------------------------


def _clean_charge(value: Any) -> Decimal | None:
    """None/blank → None (the fee schedule amount); else a Decimal > 0 in whole cents."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        raise ValueError(CHARGE_MESSAGE)  # binary floats are not money
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(CHARGE_MESSAGE) from exc
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise ValueError(CHARGE_MESSAGE)
    if amount > MAX_CHARGE:
        raise ValueError(CHARGE_TOO_LARGE_MESSAGE)
    return amount.quantize(CENT)


@transaction.atomic
def usual_charges_update(
    *, practice: Practice, actor: Membership, amounts: Mapping[str, Any]
) -> list[str]:
    """Replace the practice's usual charges (code → amount; missing or blank: the fee
    schedule amount is charged, the row is deleted). Validates everything before writing;
    audits "code:old->new". Charges are what a claim asks for (837P SV102), not what the
    engine prices with, so no worklist progress changes. Returns the change list."""
    wanted = clean_code_amounts(amounts, _clean_charge, UNKNOWN_CODE_MESSAGE)
    settings_lock(practice=practice)
    changes = replace_code_amounts(practice, UsualCharge, wanted, FEE_SCHEDULE)
    if changes:
        audit.record_for(
            actor, "usual_charges.update", object_type="billing.usualcharge", changed_fields=changes
        )
    return changes
