import re

import pytest
from django.core.exceptions import ValidationError

from patients.validators import (
    ICD10_NOT_BILLABLE_MESSAGE,
    ICD10_UNKNOWN_MESSAGE,
    MBI_MESSAGE,
    normalize_icd10,
    normalize_mbi,
    validate_icd10,
    validate_mbi,
)


@pytest.mark.parametrize("mbi", ["1EG4-TE5-MK73", "1eg4te5mk73", "9AA0AA0AA99"])
def test_valid_mbis_pass(mbi):
    validate_mbi(mbi)


@pytest.mark.parametrize(
    "mbi",
    [
        "0EG4TE5MK73",  # position 1 must be 1-9
        "1SG4TE5MK73",  # S is never used
        "1EG4TE5MK7",  # too short
        "1EGATE5MK73",  # position 4 must be a digit
        "1EG4TE5MK7A",  # position 11 must be a digit
        "1EG4TE5M173",  # position 9 must be a letter
    ],
)
def test_bad_mbis_are_refused_without_echoing_the_value(mbi):
    with pytest.raises(ValidationError) as exc:
        validate_mbi(mbi)
    assert exc.value.messages == [MBI_MESSAGE]
    assert mbi not in MBI_MESSAGE


def test_mbi_is_stored_without_dashes_in_upper_case():
    assert normalize_mbi("1eg4-te5-mk73") == "1EG4TE5MK73"


@pytest.mark.parametrize(
    ("raw", "code"), [("e119", "E11.9"), ("I10", "I10"), (" n18.30", "N18.30")]
)
def test_icd10_codes_are_normalised_to_the_dotted_form(raw, code):
    assert normalize_icd10(raw) == code
    validate_icd10(raw)


def test_unknown_icd10_code_is_refused():
    with pytest.raises(ValidationError, match=re.escape(ICD10_UNKNOWN_MESSAGE)):
        validate_icd10("X99.999")


def test_icd10_category_is_not_billable():
    with pytest.raises(ValidationError, match=re.escape(ICD10_NOT_BILLABLE_MESSAGE)):
        validate_icd10("E11")
