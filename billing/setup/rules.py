"""The contractor front-end rules the app checks itself, beyond pyx12's syntax check: what a
MAC or clearinghouse rejects at the door (pure: values in, messages out, no PHI)."""

from __future__ import annotations

import re

# ASCII digits only: Python's \d also matches other scripts' digits.
ZIP_PLUS_4 = re.compile(r"^[0-9]{5}-?[0-9]{4}$")
# "PO Box", "P.O. Box", "Post Office Box", "POB 12", "Lock Box", "Box 12" at the start.
PO_BOX = re.compile(
    r"\b(p\.?\s*o\.?\s*b(ox)?|post\s+office\s+box|lock\s*box|drawer)\b|^\s*box\s+\d",
    re.IGNORECASE,
)
SUBMITTER_ID = re.compile(r"^[A-Za-z0-9]{2,15}$")

ZIP4_MESSAGE = "The billing provider ZIP code needs all nine digits (ZIP+4, e.g. 10001-1234)."
PO_BOX_MESSAGE = (
    "The billing provider address must be a street address: payers reject a PO Box there. "
    "Put the PO Box in the pay-to address."
)
SUBMITTER_MESSAGE = (
    "Enter the submitter id your Medicare contractor or clearinghouse assigned at EDI "
    "enrolment (2 to 15 letters and digits), not the practice NPI."
)
RECEIVER_MESSAGE = "Enter the receiver id of your Medicare contractor or clearinghouse."


def zip_plus_4_problem(postal_code: str) -> str | None:
    return None if ZIP_PLUS_4.match(postal_code.strip()) else ZIP4_MESSAGE


def po_box_problem(*lines: str) -> str | None:
    return PO_BOX_MESSAGE if any(PO_BOX.search(line or "") for line in lines) else None


def submitter_problem(submitter_id: str, billing_npi: str = "") -> str | None:
    value = submitter_id.strip()
    if not SUBMITTER_ID.match(value) or (billing_npi and value == billing_npi):
        return SUBMITTER_MESSAGE
    return None


def digits(value: str) -> str:
    return re.sub(r"[^0-9]", "", value)
