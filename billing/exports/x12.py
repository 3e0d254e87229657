"""X12 837P (005010X222A1) export of a closed billing month, and its validation with pyx12.

- The dataclasses describe one submission: the practice (submitter and billing provider),
  Medicare (receiver and payer), and the claims (the patient is the subscriber).
- `build_837` is a pure writer: dataclasses in, one interchange (ISA/IEA) with one group
  (GS/GE) and one transaction set (ST/SE) out, with every count and control number matching.
- `month_837` loads a practice's claims for a closed month in a fixed number of queries.
- `validate_837` runs pyx12 as a library and returns its findings without PHI.

Claims go under one 2000A billing provider (HL 20), each patient as a self subscriber (HL 22,
no children), with the billing practitioner as rendering provider (2310B).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from billing.models import Claim, ClaimLine, ClaimStatus, CloseStatus, MonthClose
from ccm.api_auth import StateConflict
from ccm.models import Practice
from ccm.months import month_label

VERSION = "005010X222A1"
SEGMENT, ELEMENT, COMPONENT, REPETITION = "~", "*", ":", "^"
DEFAULT_PAYER_ID = "MEDICARE"  # set X12_PAYER_ID to the MAC's payer id for the practice's state
DEFAULT_RECEIVER_ID = "MEDICARE"  # set X12_RECEIVER_ID to the MAC's or clearinghouse's id
MAX_POINTERS = 4  # R34: a line points to at most four diagnoses
MAX_DIAGNOSES = 12  # one HI segment holds twelve

NOT_CLOSED_MESSAGE = "{month} is not closed: close it before exporting the 837P."
NOTHING_READY_MESSAGE = (
    "{month} has no claim ready to send: the 837P carries the claims still marked ready."
)
MISSING_PRACTICE_MESSAGE = "The practice's {fields} must be filled in before exporting the 837P."
MISSING_CLAIMS_MESSAGE = (
    "{count} claim(s) cannot be exported: {fields} missing. Complete the patients' "
    "demographics and the billing practitioners' names and NPIs first."
)
SETTING_MESSAGE = "{name} must be 1 to {length} letters or digits."
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
        (r"^N4 ", "a city, state or ZIP code (practice settings or a patient's address)"),
        (r"^N3 ", "an address line (practice settings or a patient's address)"),
        (r"^NM1 ", "a name or NPI (practice settings, a practitioner or a patient)"),
        (r"^REF ", "the practice's tax id (practice settings)"),
        (r"^(ISA|GS)\b", "the X12 settings (X12_SENDER_ID, X12_RECEIVER_ID)"),
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
class BillingProvider:
    """The practice: submitter (1000A, by its NPI) and billing provider (2010AA)."""

    name: str
    npi: str
    tax_id: str  # EIN, with or without the dash
    address: Address
    phone: str
    contact_name: str = ""


@dataclass(frozen=True)
class Payer:
    """Medicare: receiver (1000B, ISA08, GS03) and payer (2010BB)."""

    payer_id: str = DEFAULT_PAYER_ID
    receiver_id: str = DEFAULT_RECEIVER_ID
    name: str = "MEDICARE"


@dataclass(frozen=True)
class Subscriber:
    """The patient, who is the Medicare subscriber (SBR02 18: self)."""

    member_id: str  # the MBI
    last_name: str
    first_name: str
    date_of_birth: dt.date
    sex: str  # M, F or U
    address: Address


@dataclass(frozen=True)
class RenderingProvider:
    last_name: str
    first_name: str
    npi: str


@dataclass(frozen=True)
class ServiceLine:
    code: str  # CPT/HCPCS
    charge: Decimal
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

    @property
    def total(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class Submission:
    billing_provider: BillingProvider
    payer: Payer
    claims: tuple[ClaimData, ...]
    usage: str = "P"  # ISA15: P production, T test


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


def _header(submission: Submission, reference: str, created_at: dt.datetime) -> list[str]:
    provider, payer = submission.billing_provider, submission.payer
    npi = identifier(provider.npi)
    day, time = f"{created_at:%Y%m%d}", f"{created_at:%H%M}"
    return [
        _segment("BHT", "0019", "00", reference, day, time, "CH"),
        _name("41", "2", provider.name, "", "46", npi),  # 1000A submitter (ETIN: the NPI)
        _segment("PER", "IC", text(provider.contact_name), "TE", _digits(provider.phone)),
        _name("40", "2", payer.name, "", "46", identifier(payer.receiver_id)),  # 1000B
        _segment("HL", "1", "", "20", "1"),
        _name("85", "2", provider.name, "", "XX", npi),  # 2010AA billing provider
        *_address(provider.address),
        _segment("REF", "EI", _digits(provider.tax_id)),
    ]


def _claim(claim: ClaimData, hl: int, payer: Payer) -> list[str]:
    patient, rendering = claim.subscriber, claim.rendering_provider
    codes = [identifier(code) for code in claim.diagnosis_codes[:MAX_DIAGNOSES]]
    diagnoses = [f"{'ABK' if i == 0 else 'ABF'}{COMPONENT}{code}" for i, code in enumerate(codes)]
    # R34: every line points at the first four diagnoses.
    pointers = COMPONENT.join(str(n) for n in range(1, min(len(codes), MAX_POINTERS) + 1))
    place = COMPONENT.join((identifier(claim.place_of_service), "B", "1"))  # B: professional
    control = text(claim.patient_control_number)[:20]
    sex = patient.sex if patient.sex in ("F", "M") else "U"
    segments = [
        _segment("HL", str(hl), "1", "22", "0"),
        _segment("SBR", "P", "18", "", "", "", "", "", "", "MB"),  # primary, self, Part B
        _name(
            "IL", "1", patient.last_name, patient.first_name, "MI", identifier(patient.member_id)
        ),
        *_address(patient.address),
        _segment("DMG", "D8", f"{patient.date_of_birth:%Y%m%d}", sex),
        _name("PR", "2", payer.name, "", "PI", identifier(payer.payer_id)),
        _segment("CLM", control, amount(claim.total), "", "", place, "Y", "A", "Y", "Y"),
        _segment("HI", *diagnoses),
        _name("82", "1", rendering.last_name, rendering.first_name, "XX", rendering.npi),
    ]
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
    sender = identifier(submission.billing_provider.npi).ljust(15)
    receiver = identifier(submission.payer.receiver_id).ljust(15)
    return _segment(
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender, "ZZ", receiver,
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
        body += _claim(claim, hl, submission.payer)
    st = "0001"  # the only transaction set of the group
    transaction = [_segment("ST", "837", st, VERSION), *body]
    transaction.append(_segment("SE", str(len(transaction) + 1), st))
    sender = identifier(submission.billing_provider.npi)
    receiver = identifier(submission.payer.receiver_id)
    group = _segment(
        "GS", "HC", sender, receiver, f"{created_at:%Y%m%d}", f"{created_at:%H%M}",
        str(control_number), "X", VERSION,
    )  # fmt: skip
    segments = [
        _isa(submission, control, created_at),
        group,
        *transaction,
        _segment("GE", "1", str(control_number)),
        _segment("IEA", "1", control),
    ]
    return SEGMENT.join(segments) + SEGMENT


# --- loading a closed month ---------------------------------------------------------------


def _setting(name: str, default: str, length: int) -> str:
    value = identifier(str(getattr(settings, name, default)))
    if not 1 <= len(value) <= length:
        raise ImproperlyConfigured(SETTING_MESSAGE.format(name=name, length=length))
    return value


def payer_from_settings() -> Payer:
    """Medicare's ids from X12_PAYER_ID and X12_RECEIVER_ID (ISA08 holds 15 characters)."""
    return Payer(
        payer_id=_setting("X12_PAYER_ID", DEFAULT_PAYER_ID, 80),
        receiver_id=_setting("X12_RECEIVER_ID", DEFAULT_RECEIVER_ID, 15),
    )


def _practice_address(practice: Practice) -> Address:
    return Address(
        line1=practice.address_line1,
        line2=practice.address_line2,
        city=practice.city,
        state=practice.state,
        postal_code=practice.postal_code,
    )


def billing_provider(practice: Practice) -> BillingProvider:
    """The practice as submitter and billing provider; refuses missing required fields."""
    required = {
        "tax id (EIN)": practice.tax_id,
        "phone": practice.phone,
        "address": practice.address_line1,
        "city": practice.city,
        "state": practice.state,
        "ZIP code": practice.postal_code,
    }
    missing = [label for label, value in required.items() if not str(value).strip()]
    if missing:
        raise StateConflict(MISSING_PRACTICE_MESSAGE.format(fields=", ".join(missing)))
    return BillingProvider(
        name=practice.name,
        npi=practice.billing_npi,
        tax_id=practice.tax_id,
        address=_practice_address(practice),
        phone=practice.phone,
    )


def split_name(full_name: str) -> tuple[str, str]:
    """(last, first) from a user's full name: 'Dr. Pat Q. Physician, MD' → ('Physician', 'Pat')."""
    words = [
        w for w in full_name.split(",")[0].split() if re.sub(r"\W", "", w.upper()) not in _NOT_NAMES
    ]
    if not words:
        return "", ""
    return words[-1], words[0] if len(words) > 1 else ""


# Rows, not model instances: 10,000 claims load in a fraction of the time (measured).
_CLAIM_FIELDS = (
    "id",
    "date_of_service",
    "place_of_service",
    "diagnosis_codes",
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


def _claim_data(row: dict[str, Any], lines: tuple[ServiceLine, ...]) -> ClaimData:
    last, first = split_name(row["billing_practitioner__user__full_name"])
    return ClaimData(
        patient_control_number=row["id"].hex[:20].upper(),
        subscriber=Subscriber(
            member_id=row["patient__mbi"],
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
    )


def _month_claims(practice: Practice, month: dt.date) -> tuple[ClaimData, ...]:
    """The month's claims ready to send (not yet marked submitted, paid, denied or
    withdrawn) with their lines, in two queries whatever their number."""
    lines: dict[Any, list[ServiceLine]] = defaultdict(list)
    for claim_id, code, charge, units in (
        ClaimLine.objects.for_practice(practice)
        .filter(claim__month=month, claim__status=ClaimStatus.READY)
        .order_by("claim_id", "position")
        .values_list("claim_id", "code", "charge", "units")
    ):
        lines[claim_id].append(ServiceLine(code=code, charge=charge, units=units))
    rows = (
        Claim.objects.for_practice(practice)
        .filter(month=month, status=ClaimStatus.READY)
        .order_by("created_at", "id")
        .values(*_CLAIM_FIELDS)
    )
    return tuple(_claim_data(row, tuple(lines[row["id"]])) for row in rows)


def _gaps(claim: ClaimData) -> set[str]:
    """Names of the required fields a claim lacks (never their values: PHI)."""
    patient, address = claim.subscriber, claim.subscriber.address
    required = {
        "MBI": patient.member_id,
        "patient name": text(patient.last_name),
        "patient address": address.line1 and address.city and address.state,
        "patient ZIP code": address.postal_code,
        "practitioner name": text(claim.rendering_provider.last_name),
        "practitioner NPI": claim.rendering_provider.npi,
        "diagnoses": claim.diagnosis_codes,
        "lines": claim.lines,
    }
    return {label for label, value in required.items() if not value}


def month_submission(practice: Practice, month: dt.date) -> Submission:
    """The closed month's claims as a submission (three queries: close, claims, lines)."""
    month = month.replace(day=1)
    closed = (
        MonthClose.objects.for_practice(practice)
        .filter(month=month, status=CloseStatus.CLOSED)
        .exists()
    )
    if not closed:
        raise StateConflict(NOT_CLOSED_MESSAGE.format(month=month_label(month)))
    provider = billing_provider(practice)
    data = _month_claims(practice, month)
    if not data:
        raise StateConflict(NOTHING_READY_MESSAGE.format(month=month_label(month)))
    gaps = [_gaps(claim) for claim in data]
    incomplete = [gap for gap in gaps if gap]
    if incomplete:
        fields = ", ".join(sorted(set().union(*incomplete)))
        raise StateConflict(MISSING_CLAIMS_MESSAGE.format(count=len(incomplete), fields=fields))
    usage = str(getattr(settings, "X12_USAGE_INDICATOR", "P"))
    if usage not in ("P", "T"):
        raise ImproperlyConfigured("X12_USAGE_INDICATOR must be P (production) or T (test).")
    return Submission(
        billing_provider=provider, payer=payer_from_settings(), claims=data, usage=usage
    )


def month_837(
    practice: Practice,
    month: dt.date,
    *,
    control_number: int,
    created_at: dt.datetime | None = None,
) -> str:
    """The 837P of a closed month's claims (reads only; the caller records the export).

    Validated with pyx12 before it is returned: a document a contractor would reject is
    never handed out; the ValidationError names what to fix (no PHI)."""
    submission = month_submission(practice, month)
    document = build_837(
        submission, control_number=control_number, created_at=created_at or timezone.now()
    )
    findings = validate_837(document)
    if findings:
        raise StateConflict(INVALID_837_MESSAGE.format(fixes=fixes(findings)))
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
def _quiet_pyx12() -> Iterator[None]:
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
    with _quiet_pyx12(), contextlib.redirect_stdout(io.StringIO()):
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
