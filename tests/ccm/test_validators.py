import pytest
from django.core.exceptions import ValidationError

from ccm.validators import (
    NPI_CHECK_MESSAGE,
    NPI_FORMAT_MESSAGE,
    TIME_ZONE_MESSAGE,
    npi_is_valid,
    validate_npi,
    validate_tax_id,
    validate_time_zone,
)


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "1679576722"])
def test_valid_npis_pass_the_check_digit(npi):
    assert npi_is_valid(npi)
    validate_npi(npi)


@pytest.mark.parametrize("npi", ["1234567890", "1245319590"])
def test_npi_with_wrong_check_digit_is_refused(npi):
    with pytest.raises(ValidationError, match=NPI_CHECK_MESSAGE):
        validate_npi(npi)


@pytest.mark.parametrize("npi", ["", "123", "12345678901", "12345678a3"])
def test_npi_must_be_ten_digits(npi):
    with pytest.raises(ValidationError, match=NPI_FORMAT_MESSAGE):
        validate_npi(npi)


def test_time_zone_must_be_an_iana_name():
    validate_time_zone("America/Chicago")
    with pytest.raises(ValidationError, match=TIME_ZONE_MESSAGE):
        validate_time_zone("Mars/Olympus_Mons")


@pytest.mark.parametrize("value", ["12-3456789", "123456789", ""])
def test_tax_id_accepts_ein_forms(value):
    validate_tax_id(value)


def test_tax_id_refuses_other_shapes():
    with pytest.raises(ValidationError):
        validate_tax_id("12-34567")
