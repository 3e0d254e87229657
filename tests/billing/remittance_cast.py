"""What the acknowledgment and remittance tests share: the X12 files of tests/billing/x12/
(built from the implementation guides' examples, each pyx12-valid) and a sent batch of three
claims whose ids give the patient control numbers those files name."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from billing.models import BatchClaim, Claim, ClaimStatus, MonthClose, SubmissionBatch
from tests.factories import PatientFactory

X12 = Path(__file__).parent / "x12"
MONTH = dt.date(2026, 9, 1)
SUBMITTED_AT = dt.datetime(2026, 10, 14, 15, 0, tzinfo=dt.UTC)
# The patient control numbers (CLM01) of the files: claim 1 paid in full, 2 partly paid
# (CO-45, PR-2), 3 denied (CO-97); FFFF…0004 is nobody's claim here (unmatched).
NUMBERS = {1: "0123456789ABCDEF0001", 2: "0123456789ABCDEF0002", 3: "0123456789ABCDEF0003"}
UNMATCHED = "FFFFFFFFFFFFFFFF0004"
AMOUNTS = {1: Decimal("62.00"), 2: Decimal("66.13"), 3: Decimal("66.13")}
BATCH_NUMBER = 17  # AK102 of the 999s, 2200B TRN02 of the 277CA


def x12(name: str) -> str:
    return (X12 / name).read_text()


def claim_id(number: str) -> uuid.UUID:
    return uuid.UUID(number.lower() + "0" * 12)


def sent_claim(
    practice: Any, practitioner: Any, number: str, amount: Decimal, **extra: Any
) -> Claim:
    close, _ = MonthClose.objects.for_practice(practice).get_or_create(
        practice=practice, month=MONTH, defaults={"status": "closed"}
    )
    fields: dict[str, Any] = {
        "billed_amount": amount,
        "status": ClaimStatus.SUBMITTED,
        "submitted_at": SUBMITTED_AT,
        **extra,
    }
    return Claim.objects.for_practice(practice).create(
        id=claim_id(number),
        practice=practice,
        close=close,
        patient=PatientFactory(practice=practice),
        month=MONTH,
        billing_practitioner=practitioner,
        date_of_service=dt.date(2026, 9, 30),
        place_of_service="11",
        diagnosis_codes=["E11.9", "I10"],
        amount=amount,
        **fields,
    )


def sent_batch(
    practice: Any, practitioner: Any, biller: Any
) -> tuple[list[Claim], SubmissionBatch]:
    """Claims 1-3 of September 2026, submitted in batch 17 (live, pending)."""
    claims = [sent_claim(practice, practitioner, NUMBERS[n], AMOUNTS[n]) for n in (1, 2, 3)]
    batch = SubmissionBatch.objects.for_practice(practice).create(
        practice=practice,
        month=MONTH,
        control_number=BATCH_NUMBER,
        usage="P",
        content="ISA*…*000000017*0*P*:~",
        sha256="0" * 64,
        claims=len(claims),
        total_charge=sum(AMOUNTS.values()),
        created_by=biller,
        created_at=SUBMITTED_AT,
    )
    for claim in claims:
        BatchClaim.objects.for_practice(practice).create(
            practice=practice, batch=batch, claim=claim, charge=claim.amount
        )
    return claims, batch


def fresh(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def batch_837(claims: list[Claim]) -> str:
    """The 837P of the claims (one transaction set, ST02 0001), by the app's own builder."""
    from billing.exports import x12 as b837

    address = b837.Address("1 MAIN ST", "NASHVILLE", "TN", "372010001")
    subscriber = b837.Subscriber("1EG4TE5MK73", "DOE", "JO", dt.date(1950, 1, 1), "F", address)
    provider = b837.BillingProvider("DEMO PRACTICE", "1234567893", "123456789", address)
    medicare = b837.Payer("NORIDIAN JE PART B", "01112")
    data = tuple(
        b837.ClaimData(
            patient_control_number=claim.control_number,
            subscriber=subscriber,
            rendering_provider=b837.RenderingProvider("PHYSICIAN", "PAT", "1679576722"),
            date_of_service=claim.date_of_service,
            place_of_service="11",
            diagnosis_codes=("E119", "I10"),
            lines=(b837.ServiceLine("99490", claim.amount, 1),),
            payer=medicare,
        )
        for claim in claims
    )
    submission = b837.Submission(
        submitter=b837.Submitter("CM00123", "DEMO PRACTICE", "BILLING OFFICE", "6155550100"),
        receiver=b837.Receiver("01112", "NORIDIAN JE PART B"),
        billing_provider=provider,
        claims=data,
    )
    return b837.build_837(submission, control_number=17, created_at=SUBMITTED_AT)
