"""Field validators shared by the apps. Messages are constants so tests assert them."""

import re
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

NPI_FORMAT_MESSAGE = "An NPI is exactly 10 digits."
NPI_CHECK_MESSAGE = "This NPI's check digit is wrong; please re-check the number."
TIME_ZONE_MESSAGE = "Unknown time zone; use an IANA name such as America/New_York."
TAX_ID_MESSAGE = "Enter the tax id (EIN) as 9 digits, e.g. 12-3456789."
PHONE_MESSAGE = "Enter a phone number of 10 to 15 digits, e.g. (555) 123-4567."


def npi_is_valid(npi: str) -> bool:
    """CMS NPI check digit: Luhn over the prefix 80840 and the first 9 digits."""
    if not re.fullmatch(r"\d{10}", npi):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    # Luhn doubles every second digit counting from the right of the payload.
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def validate_npi(value: str) -> None:
    if not re.fullmatch(r"\d{10}", value or ""):
        raise ValidationError(NPI_FORMAT_MESSAGE, code="npi_format")
    if not npi_is_valid(value):
        raise ValidationError(NPI_CHECK_MESSAGE, code="npi_check")


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(TIME_ZONE_MESSAGE, code="time_zone")


def validate_tax_id(value: str) -> None:
    if value and not re.fullmatch(r"\d{2}-?\d{7}", value):
        raise ValidationError(TAX_ID_MESSAGE, code="tax_id")


def validate_phone(value: str) -> None:
    digits = re.sub(r"\D", "", value or "")
    if value and not 10 <= len(digits) <= 15:
        raise ValidationError(PHONE_MESSAGE, code="phone")


# US postal address parts, shared by practices and patients.
state_validator = RegexValidator(r"^[A-Z]{2}$", "Use the two-letter state code, e.g. NY.")
zip_validator = RegexValidator(r"^\d{5}(-\d{4})?$", "Enter a ZIP code: 12345 or 12345-6789.")
