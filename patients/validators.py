"""Validators for patient data. Messages are constants (tests assert them); none echoes a value."""

from __future__ import annotations

import functools
import re
from types import ModuleType

from django.core.exceptions import ValidationError

MBI_MESSAGE = (
    "A Medicare Beneficiary Identifier has 11 characters in CMS's pattern "
    "(e.g. 1EG4-TE5-MK73); the letters S, L, O, I, B and Z are never used."
)
ICD10_UNKNOWN_MESSAGE = "Not an ICD-10-CM code; check the code (e.g. E11.9, I10)."
ICD10_NOT_BILLABLE_MESSAGE = (
    "This ICD-10-CM code is a category, not a billable code; pick a more specific code."
)
VISIT_CODE_MESSAGE = "Use a 5-character CPT/HCPCS code, e.g. 99214 or G0438."
MRN_MESSAGE = "Use letters, digits, . _ or - only."

# CMS MBI format: positions 1..11 = C A AN N A AN N A A N N, where C is 1-9, N is 0-9,
# A is a letter other than S, L, O, I, B, Z, and AN is either.
_A = "[AC-HJKMNP-RT-Y]"
_AN = "[0-9AC-HJKMNP-RT-Y]"
_MBI = re.compile(rf"^[1-9]{_A}{_AN}[0-9]{_A}{_AN}[0-9]{_A}{_A}[0-9][0-9]$")


def normalize_mbi(value: str) -> str:
    """Upper-case, without the dashes and spaces people type for readability."""
    return re.sub(r"[\s-]", "", value or "").upper()


def validate_mbi(value: str) -> None:
    if value and not _MBI.match(normalize_mbi(value)):
        raise ValidationError(MBI_MESSAGE, code="mbi")


def normalize_icd10(value: str) -> str:
    """E119 or e11.9 → E11.9 (the dotted form ICD-10-CM publishes)."""
    code = re.sub(r"\s", "", value or "").upper()
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    return code


@functools.cache
def _icd() -> ModuleType:
    # The ICD-10-CM package loads its whole code set at import (about 3 s): load on first use,
    # not at every process start.
    import simple_icd_10_cm

    return simple_icd_10_cm


def validate_icd10(value: str) -> None:
    code = normalize_icd10(value)
    icd = _icd()
    if not icd.is_valid_item(code):
        raise ValidationError(ICD10_UNKNOWN_MESSAGE, code="icd10_unknown")
    if not icd.is_leaf(code):
        raise ValidationError(ICD10_NOT_BILLABLE_MESSAGE, code="icd10_category")


def icd10_description(code: str) -> str:
    return str(_icd().get_description(normalize_icd10(code)))


def validate_visit_code(value: str) -> None:
    if value and not re.fullmatch(r"[0-9A-Z]\d{3}[0-9A-Z]", value.upper()):
        raise ValidationError(VISIT_CODE_MESSAGE, code="visit_code")
