"""Frozen dataclasses in and out of the billing engine: facts, POLICY settings and the result.

Constructors check the few invariants the engine relies on and raise ValueError; the command
line (`parse.py`) validates JSON first so that its messages can name the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, get_args

from billing.rules.codes import (
    CAP_LIMITS,
    PLACE_OF_SERVICE_CODES,
    QUALIFYING_VISIT_CODES,
    REFERENCE_AMOUNTS,
)

Performer = Literal["clinical_staff", "physician"]
Mdm = Literal["low", "moderate", "high"]
DateOfServiceMode = Literal["last_day_of_month", "threshold_date"]
Program = Literal["ccm", "pcm", "apcm"]  # R38

PERFORMERS: frozenset[str] = frozenset(get_args(Performer))
MDM_LEVELS: frozenset[str] = frozenset(get_args(Mdm))
DATE_OF_SERVICE_MODES: frozenset[str] = frozenset(get_args(DateOfServiceMode))
PROGRAMS: frozenset[str] = frozenset(get_args(Program))
CENT = Decimal("0.01")
NO_AMOUNT = Decimal("0.00")  # codes the spec gives no verified amount for


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month; which instants belong to it depends on the practice time zone (R1)."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12 and 1 <= self.year <= 9998):
            raise ValueError(f"month out of range: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """Parse "YYYY-MM"."""
        if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
            raise ValueError(f"month must be YYYY-MM, got {text!r}")
        return cls(int(text[:4]), int(text[5:]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Consent:
    """R5/R7: consent date and optional revocation date (local dates)."""

    given_on: date | None
    revoked_on: date | None = None


@dataclass(frozen=True, slots=True)
class InitiatingVisit:
    """R8/R9: the initiating (or most recent qualifying) visit with the billing practitioner."""

    on: date | None
    code: str | None = None  # None: visit type not checked (R9)


@dataclass(frozen=True, slots=True)
class CarePlan:
    """R11/R23: the comprehensive care plan."""

    established_on: date | None
    substantially_revised_on: date | None = None
    shared_with_patient: bool = True


@dataclass(frozen=True, slots=True)
class Patient:
    """Facts about the patient that hold for the month."""

    chronic_conditions: tuple[str, ...]  # ICD-10-CM, care-plan priority order (R34)
    consent: Consent
    initiating_visit: InitiatingVisit
    care_plan: CarePlan
    mdm: Mdm | None = None
    qmb: bool = False  # R41: Qualified Medicare Beneficiary in the month (APCM)
    pcm_condition: str | None = None  # R43: the ICD-10-CM code PCM addresses

    def __post_init__(self) -> None:
        if self.mdm is not None and self.mdm not in MDM_LEVELS:
            raise ValueError(f"unknown mdm {self.mdm!r}")
        # R4/R34 compare codes exactly, so normalise them once here.
        codes = tuple(code.strip().upper() for code in self.chronic_conditions)
        if not all(codes):
            raise ValueError("chronic condition codes must not be empty")
        object.__setattr__(self, "chronic_conditions", codes)
        if self.pcm_condition is not None:
            # R43 compares it with chronic_conditions, normalised the same way.
            pcm_condition = self.pcm_condition.strip().upper()
            if not pcm_condition:
                raise ValueError("the PCM condition must not be empty")
            object.__setattr__(self, "pcm_condition", pcm_condition)


@dataclass(frozen=True, slots=True)
class TimeEntry:
    """One logged stretch of CCM work; `started_at` is an aware instant (UTC from the app)."""

    started_at: datetime
    minutes: int
    performer: Performer
    practitioner: str  # the billing practitioner the entry is logged under (R14)
    face_to_face: bool = False
    # R15 POLICY: only read when Policy.exclude_all_face_to_face is off. Unknown = assume the
    # face-to-face minutes belong to a billed visit, the safe side.
    in_billed_visit: bool = True
    # R37: the clock minute the entry starts in (whole minutes since the epoch, seconds
    # dropped); it occupies start_minute .. start_minute + minutes - 1. Derived, once.
    start_minute: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.started_at.utcoffset() is None:
            raise ValueError("started_at must be timezone-aware")
        if self.minutes < 0:
            raise ValueError("minutes must be >= 0")
        if self.performer not in PERFORMERS:
            raise ValueError(f"unknown performer {self.performer!r}")
        object.__setattr__(self, "start_minute", int(self.started_at.timestamp() // 60))

    @classmethod
    def trusted(
        cls,
        started_at: datetime,
        minutes: int,
        performer: Performer,
        practitioner: str,
        face_to_face: bool,
        start_minute: int,
    ) -> TimeEntry:
        """An entry from rows the database already holds to these invariants (the month
        close's loader: an aware timestamptz, minutes >= 0 and the performer kind are column
        constraints, the clock minute computed by the query): the same object as the
        constructor makes, without re-checking 2,000,000 entries of a 100k close (the checks
        were most of building them). Anything else (the command line, JSON, tests) uses the
        constructor."""
        entry = _new_entry(cls)
        _set_started_at(entry, started_at)
        _set_minutes(entry, minutes)
        _set_performer(entry, performer)
        _set_practitioner(entry, practitioner)
        _set_face_to_face(entry, face_to_face)
        _set_in_billed_visit(entry, True)  # the constructor's default (R15)
        _set_start_minute(entry, start_minute)
        return entry


# The slots' own setters: a frozen dataclass refuses setattr, and these skip __init__.
_new_entry = object.__new__
_SLOTS = vars(TimeEntry)
_set_started_at = _SLOTS["started_at"].__set__
_set_minutes = _SLOTS["minutes"].__set__
_set_performer = _SLOTS["performer"].__set__
_set_practitioner = _SLOTS["practitioner"].__set__
_set_face_to_face = _SLOTS["face_to_face"].__set__
_set_in_billed_visit = _SLOTS["in_billed_visit"].__set__
_set_start_minute = _SLOTS["start_minute"].__set__


@dataclass(frozen=True, slots=True)
class OtherService:
    """A non-CCM-engine service billed for the patient with a date of service in the month."""

    code: str
    practitioner: str


def _no_fees() -> Mapping[str, Decimal]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """R26: the practice's amounts in USD; codes not listed use the spec's reference amounts."""

    amounts: Mapping[str, Decimal] = field(default_factory=_no_fees)
    # Reference amounts overlaid with the practice's, resolved once (the engine's hot path).
    prices: Mapping[str, Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for code, amount in self.amounts.items():
            if not isinstance(amount, Decimal) or not amount.is_finite():
                raise ValueError(f"fee for {code} must be a finite Decimal")
            if amount < 0 or amount != amount.quantize(CENT):
                raise ValueError(f"fee for {code} must be >= 0 in whole cents")
        # Two decimals everywhere, so sums and products print as cents ("10.00", not "10.0").
        cents = {code: amount.quantize(CENT) for code, amount in self.amounts.items()}
        object.__setattr__(self, "amounts", MappingProxyType(cents))
        object.__setattr__(self, "prices", MappingProxyType({**REFERENCE_AMOUNTS, **cents}))

    def amount(self, code: str) -> Decimal:
        """The practice's amount for a code, else the reference amount, else zero."""
        return self.prices.get(code, NO_AMOUNT)


@dataclass(frozen=True, slots=True)
class PatientMonth:
    """Everything the engine needs for one patient, one billing practitioner, one month."""

    month: Month
    timezone: str  # IANA name of the practice time zone (R1)
    billing_practitioner: str
    patient: Patient
    time_entries: tuple[TimeEntry, ...] = ()
    other_services: tuple[OtherService, ...] = ()
    ccm_billed_elsewhere: bool = False
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule)
    program: Program = "ccm"  # R38: the one program this month is evaluated under
    apcm_attested: bool = False  # R39: practitioner and practice APCM attestations

    def __post_init__(self) -> None:
        if self.program not in PROGRAMS:
            raise ValueError(f"unknown program {self.program!r}")


@dataclass(frozen=True, slots=True)
class Policy:
    """The spec's POLICY points, with the spec's defaults; a practice may change any of them."""

    conditions_by_category: bool = True  # R4: count ICD-10-CM 3-character categories
    count_minutes_on_consent_date: bool = True  # R5
    count_minutes_on_revocation_date: bool = True  # R7
    visit_year_inclusive: bool = True  # R8: a visit exactly one year before consent is in time
    qualifying_visit_codes: frozenset[str] = QUALIFYING_VISIT_CODES  # R9
    count_minutes_before_care_plan: bool = True  # R11
    exclude_all_face_to_face: bool = True  # R15: off = only face-to-face in a billed visit
    cap_99437: int = 2  # R22
    complex_requires_plan_change_in_month: bool = False  # R23
    cap_99489: int = 10  # R24
    oversight_blocks_any_practitioner: bool = True  # R28: off = same practitioner only
    apcm_by_other_practitioner_blocks: bool = True  # R30
    # R39: CCM or PCM billed by another practitioner (or ccm_billed_elsewhere) blocks APCM.
    other_care_management_blocks_apcm: bool = True
    oversight_blocks_apcm: bool = True  # R40: R28 applies to APCM months
    cap_99425: int = 2  # R44
    cap_99427: int = 2  # R44
    apcm_by_other_practitioner_blocks_pcm: bool = True  # R45: off = same practitioner only
    date_of_service_mode: DateOfServiceMode = "last_day_of_month"  # R32
    place_of_service: str = "11"  # R33
    simultaneous_minutes_once: bool = True  # R37: off = simultaneous minutes are summed

    def __post_init__(self) -> None:
        for name, limit in CAP_LIMITS.items():
            cap = getattr(self, name)
            if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= limit:
                raise ValueError(f"{name} must be a whole number from 0 to {limit}")
        if self.date_of_service_mode not in DATE_OF_SERVICE_MODES:
            raise ValueError(f"unknown date_of_service_mode {self.date_of_service_mode!r}")
        if self.place_of_service not in PLACE_OF_SERVICE_CODES:
            raise ValueError(f"unknown place of service {self.place_of_service!r}")


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class Line:
    """One claim line (R35) with the minutes it rests on and a biller-readable explanation."""

    code: str
    units: int
    minutes: int
    amount: Decimal  # units x the practice's fee, in cents
    explanation: str


@dataclass(frozen=True, slots=True)
class NextThreshold:
    """R27: the next code within reach and the minutes it still needs."""

    code: str
    minutes_needed: int


@dataclass(frozen=True, slots=True)
class Minutes:
    """Countable minutes per pool after every exclusion (R16)."""

    clinical_staff: int
    physician: int

    @property
    def staff_pool(self) -> int:
        """R16: clinical-staff minutes plus the billing practitioner's own minutes."""
        return self.clinical_staff + self.physician

    @property
    def physician_pool(self) -> int:
        """R16: the billing practitioner's own minutes only."""
        return self.physician


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer for one patient-month."""

    lines: tuple[Line, ...]
    blocked_by: tuple[str, ...]  # rule ids, ascending rule number
    reasons: tuple[str, ...]  # one sentence per blocked_by id, same order
    next_threshold: NextThreshold | None
    minutes: Minutes
    date_of_service: date | None  # R32; None when nothing is billed
    place_of_service: str | None  # R33; None when nothing is billed
    diagnosis_pointers: tuple[str, ...]  # R34; empty when nothing is billed

    @property
    def billable(self) -> bool:
        """True exactly when there is at least one line."""
        return bool(self.lines)

    @property
    def total(self) -> Decimal:
        """Sum of the line amounts."""
        return sum((line.amount for line in self.lines), Decimal("0.00"))


# --- Fast constructors for the engine's hot path. ---
# A frozen dataclass's generated __init__ sets every field through object.__setattr__, which
# costs more than the rest of building a small result. These build the very same instances
# (same class, fields, equality, repr, immutability) by filling the slots directly, as copy
# and pickle do. They check nothing: the result types have no invariants to check.

_new = object.__new__
_set_line_code = Line.__dict__["code"].__set__
_set_line_units = Line.__dict__["units"].__set__
_set_line_minutes = Line.__dict__["minutes"].__set__
_set_line_amount = Line.__dict__["amount"].__set__
_set_line_explanation = Line.__dict__["explanation"].__set__
_set_next_code = NextThreshold.__dict__["code"].__set__
_set_next_minutes_needed = NextThreshold.__dict__["minutes_needed"].__set__
_set_minutes_clinical_staff = Minutes.__dict__["clinical_staff"].__set__
_set_minutes_physician = Minutes.__dict__["physician"].__set__
_set_result_lines = Result.__dict__["lines"].__set__
_set_result_blocked_by = Result.__dict__["blocked_by"].__set__
_set_result_reasons = Result.__dict__["reasons"].__set__
_set_result_next_threshold = Result.__dict__["next_threshold"].__set__
_set_result_minutes = Result.__dict__["minutes"].__set__
_set_result_date_of_service = Result.__dict__["date_of_service"].__set__
_set_result_place_of_service = Result.__dict__["place_of_service"].__set__
_set_result_diagnosis_pointers = Result.__dict__["diagnosis_pointers"].__set__


def new_line(code: str, units: int, minutes: int, amount: Decimal, explanation: str) -> Line:
    """The same as Line(code, units, minutes, amount, explanation), faster."""
    line: Line = _new(Line)
    _set_line_code(line, code)
    _set_line_units(line, units)
    _set_line_minutes(line, minutes)
    _set_line_amount(line, amount)
    _set_line_explanation(line, explanation)
    return line


def new_next_threshold(code: str, minutes_needed: int) -> NextThreshold:
    """The same as NextThreshold(code, minutes_needed), faster."""
    next_threshold: NextThreshold = _new(NextThreshold)
    _set_next_code(next_threshold, code)
    _set_next_minutes_needed(next_threshold, minutes_needed)
    return next_threshold


def new_minutes(clinical_staff: int, physician: int) -> Minutes:
    """The same as Minutes(clinical_staff, physician), faster."""
    minutes: Minutes = _new(Minutes)
    _set_minutes_clinical_staff(minutes, clinical_staff)
    _set_minutes_physician(minutes, physician)
    return minutes


def new_result(
    lines: tuple[Line, ...],
    blocked_by: tuple[str, ...],
    reasons: tuple[str, ...],
    next_threshold: NextThreshold | None,
    minutes: Minutes,
    date_of_service: date | None,
    place_of_service: str | None,
    diagnosis_pointers: tuple[str, ...],
) -> Result:
    """The same as Result(...) with the fields in declaration order, faster."""
    result: Result = _new(Result)
    _set_result_lines(result, lines)
    _set_result_blocked_by(result, blocked_by)
    _set_result_reasons(result, reasons)
    _set_result_next_threshold(result, next_threshold)
    _set_result_minutes(result, minutes)
    _set_result_date_of_service(result, date_of_service)
    _set_result_place_of_service(result, place_of_service)
    _set_result_diagnosis_pointers(result, diagnosis_pointers)
    return result
