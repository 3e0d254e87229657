"""X12 837P (005010X222A1): the practice's claims as one interchange, and its validation.

- The dataclasses describe one submission: the submitter and receiver (the practice's EDI
  enrolment), the billing provider (an organisation or an individual practitioner, with an
  optional pay-to address), and the claims, each with its destination payer, the other
  payers involved (Medicare secondary payer, a secondary insurance) and its frequency.
- `build_837` is a pure writer: dataclasses in, one interchange (ISA/IEA) with one group
  (GS/GE) and one transaction set (ST/SE) out, with every count and control number matching.
  `front_end_problems` is the contractor front-end check on the same dataclasses (pure).
- `load_submission` reads a practice's claims in a fixed number of queries;
  `outgoing_claims` picks what the next batch of a month carries (original, replacement).
- `validate_837` runs pyx12 as a library and returns its findings without PHI.

Claims go under one 2000A billing provider (HL 20), each patient as a self subscriber (HL 22,
no children) naming the claim's payer (2010BB): claims to different payers share the one
transaction set. The billing practitioner is the rendering provider (2310B), unless the
billing provider is that same practitioner.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.models import (
    BatchClaim,
    BillingSetup,
    Claim,
    ClaimFrequency,
    ClaimLine,
    ClaimStatus,
    CloseStatus,
    MonthClose,
    ProviderType,
    claim_control_number,
)
from billing.setup import rules as front_end
from billing.setup.selectors import billing_setup, usual_charges
from billing.setup.services import NO_SETUP_MESSAGE, setup_problems
from ccm.api_auth import StateConflict
from ccm.models import Practice
from ccm.months import month_label
from patients.models import CLAIM_FILING_INDICATOR, PRIMARY_KINDS, CoverageKind, PayerKind

VERSION = "005010X222A1"
SEGMENT, ELEMENT, COMPONENT, REPETITION = "~", "*", ":", "^"
MAX_POINTERS = 4  # R34: a line points to at most four diagnoses
MAX_DIAGNOSES = 12  # one HI segment holds twelve
REPLACING = frozenset({ClaimFrequency.REPLACEMENT, ClaimFrequency.VOID})  # carry REF*F8

NOT_CLOSED_MESSAGE = "{month} is not closed: close it before exporting the 837P."
NOTHING_READY_MESSAGE = (
    "{month} has no claim ready to send: the 837P carries the claims still marked ready."
)
REFUSED_MESSAGE = "The 837P was not created; fix first: {problems}"
MISSING_PRACTICE_MESSAGE = "the practice's {fields} (practice settings)"
MISSING_CLAIMS_MESSAGE = (
    "{count} claim(s) lack {fields} (the patients' demographics and coverage, the billing "
    "practitioners' names and NPIs)"
)
MEDICARE_PAYER_MESSAGE = (
    "{count} claim(s) go to Medicare Part B: choose the Medicare contractor (payer) in the "
    "billing setup"
)
INDIVIDUAL_MESSAGE = (
    "the billing provider is an individual practitioner: choose the practitioner (with an "
    "NPI) in the billing setup"
)
PAY_TO_MESSAGE = "the pay-to address needs a street, city, state and ZIP code, or none at all"
PAYER_CLAIM_NUMBER_MESSAGE = (
    "{count} corrected claim(s) go out as replacements (frequency 7): enter the payer claim "
    "control number on each (Correct, on the claim's page)"
)
INVALID_837_MESSAGE = (
    "The 837P failed validation against the 005010X222A1 guide, so it was not handed out and "
    "nothing was recorded. Fix: {fixes}"
)
# Where a person fixes what pyx12 names: by the element it names, else by the segment a
# finding starts with ("CLM segment 18, 1331: … (CLM05-01) …").
FIX_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), hint)
    for pattern, hint in (
        (r"\(CLM05-01\)", "the place of service on Billing > POLICY (R33)"),
        (r"^SV1 ", "a claim line's code, units or charge (Billing > Fee schedule)"),
        (r"^HI ", "a diagnosis code on a patient's conditions"),
        (r"^DMG ", "a patient's date of birth or sex"),
        (r"^N4 ", "a city, state or ZIP code (billing setup or a patient's address)"),
        (r"^N3 ", "an address line (billing setup or a patient's address)"),
        (r"^NM1 ", "a name or id (billing setup, payers, a practitioner or a patient)"),
        (r"^REF ", "the practice's tax id or a payer claim control number"),
        (r"^(SBR|OI|AMT) ", "a patient's coverage (payers, MSP type)"),
        (r"^(ISA|GS)\b", "the submitter and receiver ids of the billing setup"),
    )
)

SEX_CODES = {"female": "F", "male": "M"}  # anything else is U (unknown)
# X12 basic character set, less the delimiters used here (* : ^ ~).
_NOT_ALLOWED = re.compile(r"[^A-Z0-9 !\"&'()+,\-./;?=%@#$]")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\D")
# Titles and credentials around a practitioner's name ("Dr. Pat Physician MD").
_TITLES = {"DR", "MR", "MRS", "MS", "MISS"}
_CREDENTIALS = {"MD", "DO", "NP", "PA", "PAC", "PHD", "RN", "FNP", "APRN", "DDS", "DVM"}
_NOT_NAMES = frozenset(_TITLES | _CREDENTIALS | {"JR", "SR", "II", "III", "IV"})


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str
    postal_code: str
    line2: str = ""


@dataclass(frozen=True)
class Submitter:
    """Loop 1000A, ISA05/ISA06 and GS02: the id the contractor or clearinghouse assigned at
    EDI enrolment (never the NPI), with the EDI contact."""

    id: str
    name: str
    contact_name: str
    phone: str
    qualifier: str = "ZZ"


@dataclass(frozen=True)
class Receiver:
    """Loop 1000B, ISA07/ISA08 and GS03: the MAC or clearinghouse receiving the file."""

    id: str
    name: str
    qualifier: str = "ZZ"


@dataclass(frozen=True)
class BillingProvider:
    """Loop 2010AA: the practice (NM102 2) or a practitioner billing under a personal NPI
    (NM102 1: `name` is the last name); a street address with ZIP+4; 2010AB pay-to."""

    name: str
    npi: str
    tax_id: str  # EIN, with or without the dash
    address: Address
    first_name: str = ""
    person: bool = False
    pay_to: Address | None = None


@dataclass(frozen=True)
class Payer:
    """A payer as 2010BB or 2330B names it, with its claim filing indicator (SBR09)."""

    name: str
    payer_id: str
    filing_indicator: str = "MB"


@dataclass(frozen=True)
class Subscriber:
    """The patient, who is the subscriber (SBR02 18: self) of the destination coverage."""

    member_id: str  # the MBI for Medicare; the plan's member id otherwise
    last_name: str
    first_name: str
    date_of_birth: dt.date
    sex: str  # M, F or U
    address: Address


@dataclass(frozen=True)
class OtherPayer:
    """Loops 2320/2330A/2330B: another payer of the claim. For a Medicare secondary payer
    claim the primary insurer (P); else a secondary (S) or tertiary (T) coverage."""

    payer: Payer
    responsibility: str  # 2320 SBR01
    member_id: str  # 2330A NM109 (the patient is the other subscriber too)
    benefits_assigned: bool = True  # OI03
    group_number: str = ""
    paid_amount: Decimal | None = None  # AMT*D, only when the payer's payment is known


@dataclass(frozen=True)
class RenderingProvider:
    last_name: str
    first_name: str
    npi: str


@dataclass(frozen=True)
class ServiceLine:
    code: str  # CPT/HCPCS
    charge: Decimal  # the line's charge: the usual charge per unit times the units
    units: int


@dataclass(frozen=True)
class ClaimData:
    patient_control_number: str  # CLM01, at most 20 characters
    subscriber: Subscriber
    rendering_provider: RenderingProvider
    date_of_service: dt.date
    place_of_service: str
    diagnosis_codes: tuple[str, ...]  # R34: pointer order
    lines: tuple[ServiceLine, ...]  # R35: table order
    payer: Payer  # 2010BB: where the claim goes
    responsibility: str = "P"  # SBR01 of the destination payer: P, or S (Medicare secondary)
    msp_type: str = ""  # SBR05 when Medicare is secondary
    group_number: str = ""  # SBR03
    frequency: str = ClaimFrequency.ORIGINAL  # CLM05-3
    payer_claim_number: str = ""  # REF*F8 for a replacement (7) or a void (8)
    benefits_assigned: bool = True  # CLM08
    other_payers: tuple[OtherPayer, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class Submission:
    submitter: Submitter
    receiver: Receiver
    billing_provider: BillingProvider
    claims: tuple[ClaimData, ...]
    usage: str = "P"  # ISA15: P production, T test
    accepts_assignment: bool = True  # CLM07: A assigned, C not assigned


def text(value: str) -> str:
    """An X12 text element: ASCII upper case, basic character set, no delimiters."""
    ascii_only = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    upper = _SPACES.sub(" ", ascii_only.upper())  # tabs and newlines become spaces first
    return _SPACES.sub(" ", _NOT_ALLOWED.sub("", upper)).strip()


def identifier(value: str) -> str:
    """An identifier element (NPI, MBI, codes): letters and digits only, upper case."""
    return re.sub(r"[^A-Z0-9]", "", value.upper())


def amount(value: Decimal) -> str:
    """X12 R type: dollars and cents without trailing zeros (62.00 → 62, 47.50 → 47.5)."""
    return f"{value.quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")


def _segment(*elements: str) -> str:
    # Trailing empty elements are dropped (X12: no trailing separators).
    parts = list(elements)
    while parts and parts[-1] == "":
        parts.pop()
    return ELEMENT.join(parts)


def _address(address: Address) -> list[str]:
    return [
        _segment("N3", text(address.line1), text(address.line2)),
        _segment("N4", text(address.city), identifier(address.state), _digits(address.postal_code)),
    ]


def _digits(value: str) -> str:
    return _DIGITS.sub("", value)


def _name(entity: str, kind: str, last: str, first: str, qualifier: str, code: str) -> str:
    """An NM1 segment: entity code, person (1) or organisation (2), name, id qualifier, id."""
    return _segment("NM1", entity, kind, text(last), text(first), "", "", "", qualifier, code)


def _yes(value: bool) -> str:
    return "Y" if value else "N"


def _header(submission: Submission, reference: str, created_at: dt.datetime) -> list[str]:
    submitter, receiver = submission.submitter, submission.receiver
    provider = submission.billing_provider
    day, time = f"{created_at:%Y%m%d}", f"{created_at:%H%M}"
    segments = [
        _segment("BHT", "0019", "00", reference, day, time, "CH"),
        _name("41", "2", submitter.name, "", "46", identifier(submitter.id)),  # 1000A
        _segment("PER", "IC", text(submitter.contact_name), "TE", _digits(submitter.phone)),
        _name("40", "2", receiver.name, "", "46", identifier(receiver.id)),  # 1000B
        _segment("HL", "1", "", "20", "1"),
        _name(  # 2010AA: the practice, or the practitioner billing under a personal NPI
            "85",
            "1" if provider.person else "2",
            provider.name,
            provider.first_name if provider.person else "",
            "XX",
            identifier(provider.npi),
        ),
        *_address(provider.address),
        _segment("REF", "EI", _digits(provider.tax_id)),
    ]
    if provider.pay_to is not None:  # 2010AB: where the payments go (a PO Box is fine here)
        segments += [_segment("NM1", "87", "1" if provider.person else "2")]
        segments += _address(provider.pay_to)
    return segments


def _sbr(responsibility: str, group: str, msp_type: str, filing_indicator: str) -> str:
    """SBR: payer responsibility (01), self (02), group number (03), MSP type (05), claim
    filing indicator (09)."""
    elements = (responsibility, "18", text(group), "", msp_type, "", "", "", filing_indicator)
    return _segment("SBR", *elements)


def _other_payer(other: OtherPayer, patient: Subscriber) -> list[str]:
    """Loops 2320 (other subscriber information), 2330A (the patient as its subscriber) and
    2330B (the other payer)."""
    segments = [_sbr(other.responsibility, other.group_number, "", other.payer.filing_indicator)]
    if other.paid_amount is not None:
        segments.append(_segment("AMT", "D", amount(other.paid_amount)))
    return [
        *segments,
        # OI03 benefits assigned to the provider; OI06 Y: the release of information is signed.
        _segment("OI", "", "", _yes(other.benefits_assigned), "", "", "Y"),
        _name("IL", "1", patient.last_name, patient.first_name, "MI", identifier(other.member_id)),
        _name("PR", "2", other.payer.name, "", "PI", identifier(other.payer.payer_id)),
    ]


def _claim(claim: ClaimData, hl: int, submission: Submission) -> list[str]:
    patient, rendering = claim.subscriber, claim.rendering_provider
    provider = submission.billing_provider
    codes = [identifier(code) for code in claim.diagnosis_codes[:MAX_DIAGNOSES]]
    diagnoses = [f"{'ABK' if i == 0 else 'ABF'}{COMPONENT}{code}" for i, code in enumerate(codes)]
    # R34: every line points at the first four diagnoses.
    pointers = COMPONENT.join(str(n) for n in range(1, min(len(codes), MAX_POINTERS) + 1))
    place = COMPONENT.join((identifier(claim.place_of_service), "B", claim.frequency))
    control = text(claim.patient_control_number)[:20]
    sex = patient.sex if patient.sex in ("F", "M") else "U"
    # SBR05: the Medicare secondary payer type, only when Medicare is not primary.
    msp = claim.msp_type if claim.responsibility != "P" else ""
    assignment = "A" if submission.accepts_assignment else "C"  # CLM07
    clm = _segment(
        "CLM", control, amount(claim.total), "", "", place, "Y", assignment,
        _yes(claim.benefits_assigned), "Y",
    )  # fmt: skip
    segments = [
        _segment("HL", str(hl), "1", "22", "0"),
        _sbr(claim.responsibility, claim.group_number, msp, claim.payer.filing_indicator),
        _name(
            "IL", "1", patient.last_name, patient.first_name, "MI", identifier(patient.member_id)
        ),
        *_address(patient.address),
        _segment("DMG", "D8", f"{patient.date_of_birth:%Y%m%d}", sex),
        _name("PR", "2", claim.payer.name, "", "PI", identifier(claim.payer.payer_id)),
        clm,
    ]
    if claim.frequency in REPLACING:
        segments.append(_segment("REF", "F8", text(claim.payer_claim_number)))
    segments.append(_segment("HI", *diagnoses))
    # 2310B only when the rendering provider differs from the billing provider.
    if not (provider.person and identifier(rendering.npi) == identifier(provider.npi)):
        segments.append(
            _name("82", "1", rendering.last_name, rendering.first_name, "XX", rendering.npi)
        )
    for other in claim.other_payers:
        segments += _other_payer(other, patient)
    service_date = f"{claim.date_of_service:%Y%m%d}"
    for number, line in enumerate(claim.lines, start=1):
        # SV105 (place of service) is sent only when it differs from CLM05-1: never here.
        procedure = f"HC{COMPONENT}{identifier(line.code)}"
        segments += [
            _segment("LX", str(number)),
            _segment(
                "SV1", procedure, amount(line.charge), "UN", str(line.units), "", "", pointers
            ),
            _segment("DTP", "472", "D8", service_date),
        ]
    return segments


def _isa(submission: Submission, control: str, created_at: dt.datetime) -> str:
    submitter, receiver = submission.submitter, submission.receiver
    return _segment(
        "ISA", "00", " " * 10, "00", " " * 10,
        submitter.qualifier, identifier(submitter.id).ljust(15),
        receiver.qualifier, identifier(receiver.id).ljust(15),
        f"{created_at:%y%m%d}", f"{created_at:%H%M}", REPETITION, "00501", control, "0",
        submission.usage, COMPONENT,
    )  # fmt: skip


def build_837(submission: Submission, *, control_number: int, created_at: dt.datetime) -> str:
    """The 837P interchange for a submission (pure: no database, no settings, no clock)."""
    if not 0 < control_number < 10**9:
        raise ValueError("The interchange control number must be 1 to 999999999.")
    control = f"{control_number:09d}"
    body = _header(submission, control, created_at)
    for hl, claim in enumerate(submission.claims, start=2):
        body += _claim(claim, hl, submission)
    st = "0001"  # the only transaction set of the group
    transaction = [_segment("ST", "837", st, VERSION), *body]
    transaction.append(_segment("SE", str(len(transaction) + 1), st))
    group = _segment(
        "GS", "HC", identifier(submission.submitter.id), identifier(submission.receiver.id),
        f"{created_at:%Y%m%d}", f"{created_at:%H%M}", str(control_number), "X", VERSION,
    )  # fmt: skip
    segments = [
        _isa(submission, control, created_at),
        group,
        *transaction,
        _segment("GE", "1", str(control_number)),
        _segment("IEA", "1", control),
    ]
    return SEGMENT.join(segments) + SEGMENT


# --- the contractor's front-end rules (pure) ------------------------------------------------


def _claim_gaps(claim: ClaimData) -> set[str]:
    """Names of what a claim lacks for its payer's front end (never values: PHI)."""
    patient, address = claim.subscriber, claim.subscriber.address
    others = claim.other_payers
    required = {
        "MBI / member id": identifier(patient.member_id),
        "patient name": text(patient.last_name),
        "patient address": address.line1 and address.city and address.state,
        "patient ZIP code": address.postal_code,
        "practitioner name": text(claim.rendering_provider.last_name),
        "practitioner NPI": claim.rendering_provider.npi,
        "diagnoses": claim.diagnosis_codes,
        "lines": claim.lines,
        "payer id": identifier(claim.payer.payer_id),
        # MSP: Medicare is secondary to the insurer named in a 2320 loop, for a reason (SBR05).
        "Medicare secondary payer type": claim.responsibility == "P" or claim.msp_type,
        "primary insurer of a Medicare secondary payer claim": claim.responsibility == "P"
        or any(o.responsibility == "P" for o in others),
        "other insurance member id": all(identifier(o.member_id) for o in others),
        "other insurance payer id": all(identifier(o.payer.payer_id) for o in others),
        # REF*F8 of a replacement or void: the payer's number of the claim it replaces.
        "payer claim control number": claim.frequency not in REPLACING
        or text(claim.payer_claim_number),
    }
    return {label for label, value in required.items() if not value}


def _provider_problems(provider: BillingProvider) -> list[str]:
    address = provider.address
    required = {
        "tax id (EIN)": _digits(provider.tax_id),
        "billing NPI": identifier(provider.npi),
        "billing provider street, city and state": address.line1 and address.city and address.state,
    }
    missing = [label for label, value in required.items() if not value]
    problems = [MISSING_PRACTICE_MESSAGE.format(fields=", ".join(missing))] if missing else []
    problems += [front_end.zip_plus_4_problem(address.postal_code) or ""]
    problems += [front_end.po_box_problem(address.line1, address.line2) or ""]
    pay_to = provider.pay_to
    if pay_to is not None and not (pay_to.line1 and pay_to.city and pay_to.state):
        problems.append(PAY_TO_MESSAGE)
    return [p for p in problems if p]


def front_end_problems(submission: Submission) -> list[str]:
    """What a Medicare contractor or clearinghouse would reject at the door, beyond pyx12's
    syntax: the submitter id (not the NPI), the billing provider's ZIP+4 street address (no
    PO Box), and each claim's payer, member ids and coverage. Messages name what to fix,
    never a patient's data (pure)."""
    provider, submitter = submission.billing_provider, submission.submitter
    problems = [
        front_end.submitter_problem(identifier(submitter.id), identifier(provider.npi)) or "",
        "" if identifier(submission.receiver.id) else front_end.RECEIVER_MESSAGE,
        *_provider_problems(provider),
    ]
    gaps = [gap for gap in (_claim_gaps(claim) for claim in submission.claims) if gap]
    if gaps:
        fields = ", ".join(sorted(set().union(*gaps)))
        problems.append(MISSING_CLAIMS_MESSAGE.format(count=len(gaps), fields=fields))
    return [p for p in problems if p]


# --- loading the claims a batch carries -----------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """A claim a batch carries and how: an original (1), or a replacement (7) or void (8) of
    the payer's claim `payer_claim_number`; `replaces` is the live batch entry it takes over."""

    claim_id: uuid.UUID
    frequency: str = ClaimFrequency.ORIGINAL
    payer_claim_number: str = ""
    replaces: uuid.UUID | None = None


def split_name(full_name: str) -> tuple[str, str]:
    """(last, first) from a user's full name: 'Dr. Pat Q. Physician, MD' → ('Physician', 'Pat')."""
    words = [
        w for w in full_name.split(",")[0].split() if re.sub(r"\W", "", w.upper()) not in _NOT_NAMES
    ]
    if not words:
        return "", ""
    return words[-1], words[0] if len(words) > 1 else ""


def _refused(problems: Iterable[str]) -> StateConflict:
    return StateConflict(REFUSED_MESSAGE.format(problems="; ".join(problems) + "."))


def outgoing_claims(
    practice: Practice, *, month: dt.date | None = None, claim_ids: Sequence[Any] | None = None
) -> list[Outgoing]:
    """The ready claims (of the month, or those chosen) the next batch carries, in creation
    order (two queries): those in no live batch as originals; those a confirmed re-close
    corrected after they were sent as replacements of the payer's claim (refused without its
    number); a voided claim the re-close bills again as a new original. A ready claim still
    in a live batch otherwise is already sent: never in a second interchange."""
    claims = Claim.objects.for_practice(practice).filter(status=ClaimStatus.READY)
    if month is not None:
        claims = claims.filter(month=month)
    if claim_ids is not None:
        claims = claims.filter(pk__in=claim_ids)
    live = {
        claim_id: (entry_id, frequency, sent_at)
        for entry_id, claim_id, frequency, sent_at in BatchClaim.objects.for_practice(practice)
        .filter(live=True, claim__in=claims)
        .values_list("id", "claim_id", "frequency", "created_at")
    }
    rows = claims.order_by("created_at", "id").values_list(
        "id", "corrected_at", "payer_claim_number"
    )
    out, unnumbered = [], 0
    for claim_id, corrected_at, number in rows:
        entry = live.get(claim_id)
        if entry is None:
            out.append(Outgoing(claim_id))
            continue
        entry_id, frequency, sent_at = entry
        if frequency == ClaimFrequency.VOID:
            out.append(Outgoing(claim_id, replaces=entry_id))
        elif corrected_at is not None and corrected_at > sent_at:
            unnumbered += not number
            out.append(Outgoing(claim_id, ClaimFrequency.REPLACEMENT, number, entry_id))
    if unnumbered:
        raise _refused([PAYER_CLAIM_NUMBER_MESSAGE.format(count=unnumbered)])
    return out


# Rows, not model instances: 10,000 claims load in a fraction of the time (measured).
_COVERAGE_FIELDS = (
    "kind",
    "member_id",
    "group_number",
    "msp_type",
    "benefits_assigned",
    "payer__name",
    "payer__payer_id",
    "payer__kind",
)
_CLAIM_FIELDS = (
    "id",
    "date_of_service",
    "place_of_service",
    "diagnosis_codes",
    "payer_responsibility",
    "payer__name",
    "payer__payer_id",
    "payer__kind",
    *(f"coverage__{name}" for name in _COVERAGE_FIELDS),
    *(f"secondary_coverage__{name}" for name in _COVERAGE_FIELDS),
    "patient__mbi",
    "patient__last_name",
    "patient__first_name",
    "patient__date_of_birth",
    "patient__sex",
    "patient__address_line1",
    "patient__address_line2",
    "patient__city",
    "patient__state",
    "patient__postal_code",
    "billing_practitioner__npi",
    "billing_practitioner__user__full_name",
)


def _payer(name: str | None, payer_id: str | None, kind: str | None) -> Payer | None:
    if not payer_id or not kind:
        return None
    indicator = CLAIM_FILING_INDICATOR[PayerKind(kind)]
    return Payer(name=name or "", payer_id=payer_id, filing_indicator=indicator)


def _row_payer(row: dict[str, Any], prefix: str) -> Payer | None:
    return _payer(
        row[f"{prefix}payer__name"], row[f"{prefix}payer__payer_id"], row[f"{prefix}payer__kind"]
    )


def _other_payers(row: dict[str, Any], responsibility: str) -> tuple[OtherPayer, ...]:
    """MSP: the primary insurer (P); and a secondary coverage with its payer and member id
    (S, or T behind an MSP claim) so the claim can cross over."""
    out = []
    if row["coverage__kind"] == CoverageKind.OTHER_PRIMARY:
        insurer = _row_payer(row, "coverage__") or Payer(name="", payer_id="")
        out.append(
            OtherPayer(
                payer=insurer,
                responsibility="P",
                member_id=row["coverage__member_id"] or "",
                benefits_assigned=row["coverage__benefits_assigned"],
                group_number=row["coverage__group_number"] or "",
            )
        )
    second = _row_payer(row, "secondary_coverage__")
    kind = row["secondary_coverage__kind"]
    if second and kind and kind not in PRIMARY_KINDS and row["secondary_coverage__member_id"]:
        out.append(
            OtherPayer(
                payer=second,
                responsibility="T" if responsibility == "S" else "S",
                member_id=row["secondary_coverage__member_id"],
                benefits_assigned=row["secondary_coverage__benefits_assigned"],
                group_number=row["secondary_coverage__group_number"] or "",
            )
        )
    return tuple(out)


def _claim_data(
    row: dict[str, Any], lines: tuple[ServiceLine, ...], payer: Payer, sending: Outgoing
) -> ClaimData:
    last, first = split_name(row["billing_practitioner__user__full_name"])
    advantage = row["coverage__kind"] == CoverageKind.MEDICARE_ADVANTAGE
    responsibility = row["payer_responsibility"] or "P"
    assigned = row["coverage__benefits_assigned"]
    return ClaimData(
        patient_control_number=claim_control_number(row["id"]),
        subscriber=Subscriber(
            # Medicare (Part B, or secondary to another insurer) knows the patient by the MBI.
            member_id=(row["coverage__member_id"] if advantage else row["patient__mbi"]) or "",
            last_name=row["patient__last_name"],
            first_name=row["patient__first_name"],
            date_of_birth=row["patient__date_of_birth"],
            sex=SEX_CODES.get(row["patient__sex"], "U"),
            address=Address(
                line1=row["patient__address_line1"],
                line2=row["patient__address_line2"],
                city=row["patient__city"],
                state=row["patient__state"],
                postal_code=row["patient__postal_code"],
            ),
        ),
        rendering_provider=RenderingProvider(
            last_name=last, first_name=first, npi=row["billing_practitioner__npi"]
        ),
        date_of_service=row["date_of_service"],
        place_of_service=row["place_of_service"],
        diagnosis_codes=tuple(row["diagnosis_codes"]),
        lines=lines,
        payer=payer,
        responsibility=responsibility,
        msp_type=(row["coverage__msp_type"] or "") if responsibility != "P" else "",
        group_number=(row["coverage__group_number"] or "") if advantage else "",
        frequency=sending.frequency,
        payer_claim_number=sending.payer_claim_number,
        benefits_assigned=True if assigned is None else assigned,  # no coverage row: Part B
        other_payers=_other_payers(row, responsibility),
    )


def _billing_provider(practice: Practice, setup: BillingSetup) -> tuple[BillingProvider, list[str]]:
    """The billing provider of the setup (the practice, or its practitioner), and what
    the setup lacks to name one."""
    address = Address(
        line1=setup.address_line1,
        line2=setup.address_line2,
        city=setup.city,
        state=setup.state,
        postal_code=setup.postal_code,
    )
    pay_to = None
    if setup.pay_to_line1 or setup.pay_to_city or setup.pay_to_postal_code:
        pay_to = Address(
            line1=setup.pay_to_line1,
            line2=setup.pay_to_line2,
            city=setup.pay_to_city,
            state=setup.pay_to_state,
            postal_code=setup.pay_to_postal_code,
        )
    provider = BillingProvider(
        name=practice.name,
        npi=practice.billing_npi,
        tax_id=practice.tax_id,
        address=address,
        pay_to=pay_to,
    )
    if setup.provider_type != ProviderType.INDIVIDUAL:
        return provider, []
    member = setup.individual_practitioner
    if member is None or not member.npi:
        return replace(provider, name="", npi="", person=True), [INDIVIDUAL_MESSAGE]
    last, first = split_name(member.user.full_name)
    return replace(provider, name=last, first_name=first, npi=member.npi, person=True), []


def _lines(
    practice: Practice, claim_ids: Sequence[Any], usual: dict[str, Decimal]
) -> dict[Any, tuple[ServiceLine, ...]]:
    """Each claim's lines charged at the practice's usual charge (837P SV102: the amount per
    unit times the units; the line's own charge for a code without one)."""
    lines: dict[Any, list[ServiceLine]] = defaultdict(list)
    for claim_id, code, charge, units in (
        ClaimLine.objects.for_practice(practice)
        .filter(claim_id__in=claim_ids)
        .order_by("claim_id", "position")
        .values_list("claim_id", "code", "charge", "units")
    ):
        per_unit = usual.get(code)
        billed = per_unit * units if per_unit else charge
        lines[claim_id].append(ServiceLine(code=code, charge=billed, units=units))
    return {claim_id: tuple(rows) for claim_id, rows in lines.items()}


def load_submission(
    practice: Practice, outgoing: Sequence[Outgoing]
) -> tuple[Submission, list[str]]:
    """The claims to send as a submission under the practice's billing setup (six queries
    whatever their number: setup, usual charges (2), claims with coverage, lines), and what
    the setup lacks. Refuses a practice without billing setup."""
    setup = billing_setup(practice)
    if setup is None:
        raise StateConflict(NO_SETUP_MESSAGE)
    # The setup's own rules, as its page states them (one mechanism: billing.setup.services).
    setup_refusals = setup_problems(practice, setup)
    usual = usual_charges(practice)
    sending = {o.claim_id: o for o in outgoing}
    lines = _lines(practice, list(sending), usual)
    mac = setup.medicare_payer
    medicare = _payer(mac.name, mac.payer_id, mac.kind) if mac is not None else None
    rows = (
        Claim.objects.for_practice(practice)
        .filter(pk__in=list(sending))
        .order_by("created_at", "id")
        .values(*_CLAIM_FIELDS)
    )
    claims, without_payer = [], 0
    for row in rows:
        payer = _row_payer(row, "") or medicare
        if payer is None:
            without_payer += 1
            payer = Payer(name="MEDICARE", payer_id="")
        claims.append(_claim_data(row, lines.get(row["id"], ()), payer, sending[row["id"]]))
    provider, problems = _billing_provider(practice, setup)
    problems = list(dict.fromkeys([*setup_refusals, *problems]))
    if without_payer:
        problems.append(MEDICARE_PAYER_MESSAGE.format(count=without_payer))
    submission = Submission(
        submitter=Submitter(
            id=setup.submitter_id,
            name=setup.submitter_name,
            contact_name=setup.contact_name,
            phone=setup.contact_phone,
            qualifier=setup.submitter_qualifier,
        ),
        receiver=Receiver(
            id=setup.receiver_id, name=setup.receiver_name, qualifier=setup.receiver_qualifier
        ),
        billing_provider=provider,
        claims=tuple(claims),
        usage=setup.usage,
        accepts_assignment=setup.accepts_assignment,
    )
    return submission, problems


def prepare_837(
    practice: Practice,
    outgoing: Sequence[Outgoing],
    *,
    control_number: int,
    created_at: dt.datetime,
) -> tuple[Submission, str]:
    """The 837P of these claims (reads only; the caller stores it), checked against the
    contractor's front-end rules and validated with pyx12 before it is returned: a document
    a contractor would reject is never handed out; the StateConflict names what to fix
    (no PHI)."""
    submission, problems = load_submission(practice, outgoing)
    problems += front_end_problems(submission)
    if problems:
        raise _refused(problems)
    document = build_837(submission, control_number=control_number, created_at=created_at)
    findings = validate_837(document)
    if findings:
        raise StateConflict(INVALID_837_MESSAGE.format(fixes=fixes(findings)))
    return submission, document


def month_837(
    practice: Practice,
    month: dt.date,
    *,
    control_number: int,
    created_at: dt.datetime | None = None,
) -> str:
    """The 837P the closed month's next batch would carry (reads only: the batch service
    stores and hands it out)."""
    month = month.replace(day=1)
    closed = (
        MonthClose.objects.for_practice(practice)
        .filter(month=month, status=CloseStatus.CLOSED)
        .exists()
    )
    if not closed:
        raise StateConflict(NOT_CLOSED_MESSAGE.format(month=month_label(month)))
    outgoing = outgoing_claims(practice, month=month)
    if not outgoing:
        raise StateConflict(NOTHING_READY_MESSAGE.format(month=month_label(month)))
    _submission, document = prepare_837(
        practice, outgoing, control_number=control_number, created_at=created_at or timezone.now()
    )
    return document


def fixes(findings: list[str], most: int = 3) -> str:
    """pyx12's findings (already free of PHI) with where to fix each, the first few."""
    parts = []
    for finding in findings[:most]:
        hint = next((h for pattern, h in FIX_HINTS if pattern.search(finding)), None)
        parts.append(f"{finding} -> check {hint}" if hint else finding)
    more = len(findings) - most
    return "; ".join(parts) + (f"; and {more} more." if more > 0 else ".")


# --- validation with pyx12 ---------------------------------------------------------------


@contextlib.contextmanager
def quiet_pyx12() -> Iterator[None]:
    """pyx12 logs freely (and its children propagate): keep it out of the app's logs."""
    logger = logging.getLogger("pyx12")
    saved = logger.level, logger.propagate, list(logger.handlers)
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    logger.handlers = [logging.NullHandler()]
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers = saved[2]


_SEGMENT_TEXT = re.compile(r'Segment ("?)([A-Z0-9]{2,3})[*][^"]*?\1 (not found|is empty)')


def _redacted(message: str, value: Any) -> str:
    # pyx12 quotes the offending value, or the segment's first element, in its messages;
    # either may be PHI (a name, an address line).
    if value and str(value) in message:
        message = message.replace(str(value), "…")
    return _SEGMENT_TEXT.sub(r"Segment \2 \3", message)


def _findings(report: dict[str, Any]) -> list[str]:
    """pyx12's JSON error tree flattened into one line per error."""
    out: list[str] = []
    for isa in report.get("interchanges", []):
        out += [f"ISA: {e['err_str']} (code {e['err_cde']})" for e in isa["errors"]]
        for gs in isa["groups"]:
            out += [f"GS: {e['err_str']} (code {e['err_cde']})" for e in gs["errors"]]
            for st in gs["transactions"]:
                out += [f"ST: {e['err_str']} (code {e['err_cde']})" for e in st["errors"]]
                for seg in st["segments"]:
                    where = f"{seg['seg_id']} segment {seg['seg_count']}"
                    out += [
                        f"{where}: {_redacted(e['err_str'], e['err_val'])} (code {e['err_cde']})"
                        for e in seg["errors"]
                    ]
                    out += [
                        f"{where}, {ele['ele_ref_num']}: "
                        f"{_redacted(e['err_str'], e['err_val'])} (code {e['err_cde']})"
                        for ele in seg["elements"]
                        for e in ele["errors"]
                    ]
    return out


def validate_837(document: str) -> list[str]:
    """pyx12's errors for an X12 document against its implementation guide (empty: valid).
    Nothing is written to disk, stdout or the logs."""
    import pyx12.errors
    import pyx12.params
    import pyx12.x12n_document

    # ParamsBase: pyx12's defaults only, never a config file from the home directory.
    params = pyx12.params.ParamsBase()
    report = io.StringIO()
    with quiet_pyx12(), contextlib.redirect_stdout(io.StringIO()):
        try:
            valid = pyx12.x12n_document.x12n_document(
                param=params,
                src_file=io.StringIO(document),
                fd_997=None,
                fd_html=None,
                fd_json=report,
            )
        except (pyx12.errors.EngineError, pyx12.errors.X12Error, pyx12.errors.X12PathError) as exc:
            # e.g. an unknown GS08 version: no map to validate against.
            return [f"pyx12 could not process the document: {type(exc).__name__}."]
    findings = _findings(json.loads(report.getvalue())) if report.getvalue() else []
    if not valid and not findings:
        findings = ["pyx12 rejected the document: it does not start with a valid ISA segment."]
    return findings
