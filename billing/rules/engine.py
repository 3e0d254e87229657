"""The billing engine: one pure function from a patient-month's facts to claim lines.

`evaluate(facts, policy)` evaluates the month under its one program (R38). CCM follows the
spec's normative evaluation order: month bounds (R1), gates (R3-R30), per-entry exclusions
(R5, R7, R8, R11, R14, R15), pools (R16, R37), options and choice (R19-R26), then claim
fields (R32-R36). PCM takes the same path with its own gates (R43, R45 in place of R3, R4,
R29, R30) and tracks (R44 in place of R19-R25). APCM evaluates gates only (R39, R40 through
the CCM gates R5, R7, R8, R9, R11, R28; R41, R42) and bills one level code (R41); its time
entries are not read. Rule ids refer to ../shared/spec/billing-rules.md. No clock, database
or settings are read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from billing.rules.codes import (
    APCM_ALL_CODES,
    APCM_BUNDLED_CODES,
    APCM_BUNDLED_FAMILIES,
    APCM_CODES,
    APCM_ONE_CONDITION,
    APCM_TWO_CONDITIONS,
    APCM_TWO_CONDITIONS_QMB,
    CCM_CODES,
    COMPLEX_MDM_LEVELS,
    COMPLEX_TRACK,
    MAX_DIAGNOSIS_POINTERS,
    MIN_CHRONIC_CONDITIONS,
    OVERSIGHT_CODES,
    PCM_CODES,
    PCM_STAFF_TRACK,
    PCM_TRACKS,
    STAFF_TRACK,
    TRACKS,
    VISIT_LOOKBACK_YEARS,
    CapSource,
    Pool,
    Track,
)
from billing.rules.types import (
    DEFAULT_POLICY,
    NO_AMOUNT,
    Line,
    Minutes,
    Month,
    NextThreshold,
    PatientMonth,
    Policy,
    Result,
    TimeEntry,
    new_line,
    new_minutes,
    new_next_threshold,
    new_result,
)

ONE_DAY = timedelta(days=1)
# Enum members as plain names: `Pool.STAFF` is a class-attribute lookup through the enum
# machinery, several times slower than a global, and the hot path asks for them per month.
STAFF_POOL = Pool.STAFF
PHYSICIAN_POOL = Pool.PHYSICIAN
CAP_99437 = CapSource.POLICY_99437
CAP_99489 = CapSource.POLICY_99489
CAP_99425 = CapSource.POLICY_99425
CAP_99427 = CapSource.POLICY_99427
# Builds a NamedTuple from a ready tuple without the Python-level __new__ (hot path only).
_new_tuple = tuple.__new__


class Windows(NamedTuple):
    """Instants (UTC) bounding which in-month entries count (R5, R7, R8, R11)."""

    consent_from: datetime  # R5: earlier entries do not count
    revoked_after: datetime  # R7: entries at or after this instant do not count
    visit_from: datetime  # R8: earlier entries do not count
    plan_from: datetime  # R11 POLICY: earlier entries do not count


@dataclass(frozen=True, slots=True)
class Frame:
    """The service month resolved in the practice time zone (R1)."""

    zone_name: str
    first_day: date
    last_day: date
    start: datetime  # first instant of first_day, UTC
    end: datetime  # first instant of the next month, UTC
    # First instant (UTC) of every local day of the month, index day - 1, resolved once.
    day_starts: tuple[datetime, ...] = field(repr=False, compare=False)
    # The windows of the common patient, whose consent, visit and plan all lie before the
    # month: every in-month entry is inside them (see `_windows`).
    open_windows: Windows = field(repr=False, compare=False)

    def instant(self, day: date) -> datetime:
        """First instant of a local day, clamped to the month (only in-month entries matter)."""
        if day <= self.first_day:
            return self.start
        if day > self.last_day:
            return self.end
        return self.day_starts[day.day - 1]

    def instant_after(self, day: date) -> datetime:
        """First instant of the local day after `day`, clamped to the month."""
        if day >= self.last_day:
            return self.end
        if day < self.first_day:
            return self.start
        return self.day_starts[day.day]  # the next day, in the same month


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=8192)
def _day_start(day: date, zone_name: str) -> datetime:
    # fold=0 maps a local midnight skipped by a DST gap onto the transition instant, which
    # is exactly the first instant of that local day; a property test checks this.
    return datetime(day.year, day.month, day.day, tzinfo=_zone(zone_name)).astimezone(UTC)


def month_frame(month: Month, zone_name: str) -> Frame:
    """Month bounds in UTC for a practice time zone; raises ZoneInfoNotFoundError if unknown."""
    return _frame(month.year, month.month, zone_name)


@lru_cache(maxsize=4096)
def _frame(year: int, month: int, zone_name: str) -> Frame:
    # Keyed on plain ints: hashing them is cheaper than hashing the Month dataclass.
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - ONE_DAY
    day_starts = tuple(
        _day_start(date(year, month, day), zone_name) for day in range(1, last.day + 1)
    )
    start, end = day_starts[0], _day_start(following, zone_name)
    return Frame(
        zone_name=zone_name,
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        day_starts=day_starts,
        open_windows=Windows(start, end, start, start),
    )


def local_date(instant: datetime, zone_name: str) -> date:
    """The calendar date of an instant in the practice time zone (R1)."""
    return instant.astimezone(_zone(zone_name)).date()


# --- Gates (evaluation order step 2). Each returns a reason clause or None. ---

Gate = Callable[[PatientMonth, Policy, Frame], "str | None"]


def _gate_r3(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    if facts.ccm_billed_elsewhere:
        return "another practitioner has already billed CCM for this patient this month"
    for service in facts.other_services:
        # R3: our own CCM codes in other_services are this engine's earlier output.
        if service.code in CCM_CODES and service.practitioner != facts.billing_practitioner:
            return f"{service.code} was billed by another practitioner this month"
    return None


def condition_count(conditions: tuple[str, ...], by_category: bool) -> int:
    """R4: distinct chronic conditions, by ICD-10-CM 3-character category when by_category."""
    # Patient has already stripped and upper-cased the codes.
    if by_category:
        return len({code[:3] for code in conditions})
    return len({code.replace(".", "") for code in conditions})


def _gate_r4(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    count = condition_count(facts.patient.chronic_conditions, policy.conditions_by_category)
    if count >= MIN_CHRONIC_CONDITIONS:
        return None
    how = "ICD-10-CM categories" if policy.conditions_by_category else "distinct codes"
    return f"{_count(count, 'chronic condition')} counted by {how}; CCM needs at least 2"


def _gate_r5(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    given_on = facts.patient.consent.given_on
    if given_on is None:
        return f"no {PROGRAM_NAMES[facts.program]} consent is on file"  # R5, R40
    if given_on > frame.last_day:
        return f"consent is dated {given_on}, after this month"
    return None


def _gate_r7(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    revoked_on = facts.patient.consent.revoked_on
    if revoked_on is not None and revoked_on < frame.first_day:
        return f"consent was revoked on {revoked_on}, before this month"
    return None


@lru_cache(maxsize=4096)
def one_year_before(day: date) -> date:
    """R8: the same month and day one year earlier; Feb 29 becomes Feb 28."""
    return years_before(day, 1)


@lru_cache(maxsize=4096)
def years_before(day: date, years: int) -> date:
    """R8, R40: the same month and day `years` earlier; Feb 29 becomes Feb 28."""
    if day.year <= years:
        return date.min
    if day.month == 2 and day.day == 29:
        return date(day.year - years, 2, 28)
    return day.replace(year=day.year - years)


def _gate_r8(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    visit_on = facts.patient.initiating_visit.on
    given_on = facts.patient.consent.given_on
    if visit_on is None:
        return "no initiating or recent qualifying visit is on record"
    if visit_on > frame.last_day:
        return f"the initiating visit ({visit_on}) is after this month"
    if given_on is None:
        return None  # R5 reports the missing consent
    # R40: APCM looks back three years, CCM and PCM one (same POLICY for the boundary day).
    years = VISIT_LOOKBACK_YEARS[facts.program]
    limit = years_before(given_on, years)
    too_old = visit_on < limit if policy.visit_year_inclusive else visit_on <= limit
    if too_old:
        span = "one year" if years == 1 else f"{NUMBER_WORDS[years]} years"
        return (
            f"the last qualifying visit ({visit_on}) is more than {span} before consent "
            f"({given_on}); an initiating visit is needed"
        )
    return None


def _gate_r9(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    code = facts.patient.initiating_visit.code
    if code is not None and code not in policy.qualifying_visit_codes:
        return f"the initiating visit code {code} is not a qualifying visit type"
    return None


def _gate_r11(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    plan = facts.patient.care_plan
    if plan.established_on is None:
        return "no comprehensive care plan is on file"
    if plan.established_on > frame.last_day:
        return f"the care plan was established on {plan.established_on}, after this month"
    if not plan.shared_with_patient:
        return "the care plan has not been shared with the patient"
    return None


def _gate_r28(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    for service in facts.other_services:
        if service.code not in OVERSIGHT_CODES:
            continue
        # R28 POLICY: by default it blocks whoever billed it.
        if policy.oversight_blocks_any_practitioner or (
            service.practitioner == facts.billing_practitioner
        ):
            return f"{service.code} (care plan oversight or ESRD) was billed this month"
    return None


def _gate_r29(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    for service in facts.other_services:
        if service.code in PCM_CODES and service.practitioner == facts.billing_practitioner:
            return f"PCM {service.code} was billed by the same practitioner this month"
    return None


def _gate_r30(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    for service in facts.other_services:
        if service.code not in APCM_CODES:
            continue
        if service.practitioner == facts.billing_practitioner:
            return f"APCM {service.code} was billed by the same practitioner this month"
        if policy.apcm_by_other_practitioner_blocks:
            return f"APCM {service.code} was billed by another practitioner this month"
    return None


def _gate_r39(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    failures = []
    if not facts.apcm_attested:
        failures.append(
            "the practitioner's focal-point attestation and the practice's attestation of the "
            "APCM service elements are not both on file"
        )
    blocks_other_care = policy.other_care_management_blocks_apcm  # R39 POLICY
    if blocks_other_care and facts.ccm_billed_elsewhere:
        failures.append("another practitioner has billed CCM for this patient this month")
    for service in facts.other_services:
        # As R3: the billing practitioner's own codes are not "another practitioner's".
        if service.practitioner == facts.billing_practitioner:
            continue
        if service.code in APCM_ALL_CODES:
            failures.append(f"APCM {service.code} was billed by another practitioner this month")
        elif blocks_other_care and service.code in OTHER_CARE_MANAGEMENT_CODES:
            failures.append(f"{service.code} was billed by another practitioner this month")
    return "; ".join(dict.fromkeys(failures)) or None


def _gate_r41(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    if facts.patient.chronic_conditions:
        return None
    return "no chronic condition is on the list, and an APCM claim needs a diagnosis"


def _gate_r42(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    bundled = [
        service.code
        for service in facts.other_services
        if service.code in APCM_BUNDLED_CODES and service.practitioner == facts.billing_practitioner
    ]
    if not bundled:
        return None
    families = [
        f"{family} ({', '.join(sorted(set(bundled) & codes))})"
        for family, codes in APCM_BUNDLED_FAMILIES.items()
        if codes.intersection(bundled)
    ]
    return (
        f"APCM bundles {', '.join(families)}, billed by the same practitioner this month; "
        "withdraw one of them"
    )


def _gate_r43(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    condition = facts.patient.pcm_condition
    if condition is None:
        return "no principal condition is recorded for PCM"
    if condition not in facts.patient.chronic_conditions:
        return f"the PCM condition {condition} is not on the chronic-condition list"
    return None


def _gate_r45(facts: PatientMonth, policy: Policy, frame: Frame) -> str | None:
    for service in facts.other_services:
        same = service.practitioner == facts.billing_practitioner
        if service.code in CCM_CODES and same:  # the mirror of R29
            return f"CCM {service.code} was billed by the same practitioner this month"
        if service.code in APCM_ALL_CODES:  # the mirror of R30
            if same:
                return f"APCM {service.code} was billed by the same practitioner this month"
            if policy.apcm_by_other_practitioner_blocks_pcm:
                return f"APCM {service.code} was billed by another practitioner this month"
    return None


PATIENT_GATES: tuple[tuple[str, Gate], ...] = (
    ("R3", _gate_r3),
    ("R4", _gate_r4),
    ("R5", _gate_r5),
    ("R7", _gate_r7),
    ("R8", _gate_r8),
    ("R9", _gate_r9),
    ("R11", _gate_r11),
)
# Only consulted when other services were billed this month.
SERVICE_GATES: tuple[tuple[str, Gate], ...] = (
    ("R28", _gate_r28),
    ("R29", _gate_r29),
    ("R30", _gate_r30),
)
GATES = PATIENT_GATES + SERVICE_GATES
# R43: PCM's gates, as CCM's without R3, R4, R29, R30; R45 (with R28) in their place.
PCM_PATIENT_GATES: tuple[tuple[str, Gate], ...] = (
    ("R5", _gate_r5),
    ("R7", _gate_r7),
    ("R8", _gate_r8),
    ("R9", _gate_r9),
    ("R11", _gate_r11),
    ("R43", _gate_r43),
)
PCM_SERVICE_GATES: tuple[tuple[str, Gate], ...] = (("R28", _gate_r28), ("R45", _gate_r45))
PCM_GATES = PCM_PATIENT_GATES + PCM_SERVICE_GATES
# R39: CCM or PCM billed by another practitioner (POLICY).
OTHER_CARE_MANAGEMENT_CODES = CCM_CODES | PCM_CODES
# Only these codes can fail a service gate (R3, R28, R29, R30); any other service never blocks.
BLOCKING_SERVICE_CODES = CCM_CODES | OVERSIGHT_CODES | PCM_CODES | APCM_CODES


def _gates_pass(facts: PatientMonth, policy: Policy, frame: Frame) -> bool:
    """True only if every gate passes: a quick test for the common month, no messages.

    False means "run the gate functions", which decide and explain; so this may be stricter
    than the gates (e.g. R4 only looks at the first two codes) but never more lenient.
    """
    if facts.ccm_billed_elsewhere:  # R3
        return False
    for service in facts.other_services:  # R3, R28, R29, R30
        if service.code in BLOCKING_SERVICE_CODES:
            return False
    patient = facts.patient
    conditions = patient.chronic_conditions
    if len(conditions) < 2:  # R4
        return False
    if policy.conditions_by_category:
        if conditions[0][:3] == conditions[1][:3]:
            return False
    elif conditions[0].replace(".", "") == conditions[1].replace(".", ""):
        return False
    last_day = frame.last_day
    consent = patient.consent
    given_on = consent.given_on
    if given_on is None or given_on > last_day:  # R5
        return False
    revoked_on = consent.revoked_on
    if revoked_on is not None and revoked_on < frame.first_day:  # R7
        return False
    visit = patient.initiating_visit
    visit_on = visit.on
    if visit_on is None or visit_on > last_day:  # R8
        return False
    if visit_on <= given_on:  # a visit after consent is never more than a year before it
        limit = one_year_before(given_on)
        if visit_on < limit if policy.visit_year_inclusive else visit_on <= limit:
            return False
    code = visit.code
    if code is not None and code not in policy.qualifying_visit_codes:  # R9
        return False
    plan = patient.care_plan
    established_on = plan.established_on
    # R11
    return established_on is not None and established_on <= last_day and plan.shared_with_patient


# --- Entries (steps 1 and 3). ---


def _windows(facts: PatientMonth, policy: Policy, frame: Frame) -> Windows:
    patient = facts.patient
    consent = patient.consent
    given_on = consent.given_on
    visit_on = patient.initiating_visit.on
    # The common patient: consent before the month, not revoked, no visit after consent
    # inside the month, plan time counted. Every window then opens at the month start.
    if (
        given_on is not None
        and given_on < frame.first_day
        and consent.revoked_on is None
        and policy.count_minutes_before_care_plan
        and (visit_on is None or visit_on <= given_on or visit_on <= frame.first_day)
    ):
        return frame.open_windows
    established_on = patient.care_plan.established_on
    if consent.given_on is None:
        consent_from = frame.end  # R5: no consent, nothing counts
    elif policy.count_minutes_on_consent_date:
        consent_from = frame.instant(consent.given_on)
    else:
        consent_from = frame.instant_after(consent.given_on)
    if consent.revoked_on is None:
        revoked_after = frame.end
    elif policy.count_minutes_on_revocation_date:
        revoked_after = frame.instant_after(consent.revoked_on)
    else:
        revoked_after = frame.instant(consent.revoked_on)
    # R8: only a visit after consent (consent by phone, visit later) withholds minutes.
    visit_from = frame.start
    if visit_on is not None and consent.given_on is not None and visit_on > consent.given_on:
        visit_from = frame.instant(visit_on)
    plan_from = frame.start
    if not policy.count_minutes_before_care_plan:
        plan_from = frame.end if established_on is None else frame.instant(established_on)
    return Windows(consent_from, revoked_after, visit_from, plan_from)


class Tally(NamedTuple):
    """Countable minutes per performer and withheld minutes per rule id (None: nothing).

    Under R37 the minutes are distinct clock minutes: `physician` is the physician pool and
    `clinical_staff` the staff pool's other minutes, so their sum is the staff pool.
    """

    clinical_staff: int
    physician: int
    excluded: dict[str, int] | None
    # R37: minutes counted once because they were simultaneous, per pool (0: none).
    simultaneous: int = 0  # staff pool
    simultaneous_physician: int = 0  # physician pool


def _exclusions(entry: TimeEntry, practitioner: str, policy: Policy, windows: Windows) -> list[str]:
    """Step 3: every rule that withholds this in-month entry (R14, R15, R5, R7, R8, R11).

    `_tally` inlines these same tests in its slow path (a call per entry costs too much
    there); change both together.
    """
    started = entry.started_at
    rules = []
    if entry.practitioner != practitioner:
        rules.append("R14")
    if entry.face_to_face and (policy.exclude_all_face_to_face or entry.in_billed_visit):
        rules.append("R15")
    if started < windows.consent_from:
        rules.append("R5")
    if started >= windows.revoked_after:
        rules.append("R7")
    if started < windows.visit_from:
        rules.append("R8")
    if started < windows.plan_from:
        rules.append("R11")
    return rules


def _tally(facts: PatientMonth, policy: Policy, frame: Frame, windows: Windows) -> Tally:
    """Sum countable minutes; the engine's hot loop, so the common entry takes a fast path."""
    # The windows lie inside the month, so two comparisons place the common entry.
    month_start, month_end = frame.start, frame.end
    if windows is frame.open_windows:
        count_from, count_until = month_start, month_end
    else:
        count_from = max(windows.consent_from, windows.visit_from, windows.plan_from)
        count_until = windows.revoked_after
    practitioner = facts.billing_practitioner
    clinical_staff = physician = 0
    excluded: dict[str, int] = {}
    counted: list[TimeEntry] = []  # R37: the entries that occupy clock minutes
    count = counted.append
    for entry in facts.time_entries:
        started = entry.started_at
        if (
            count_from <= started < count_until
            and not entry.face_to_face
            and entry.practitioner == practitioner
        ):
            count(entry)
            if entry.performer == "physician":
                physician += entry.minutes
            else:
                clinical_staff += entry.minutes
            continue
        # R1: another month's entry is ignored silently; R18: so is a zero-minute one.
        minutes = entry.minutes
        if not minutes or started < month_start or started >= month_end:
            continue
        # `_exclusions`, inlined: every rule that withholds the entry gets its minutes.
        counted_here = True
        if entry.practitioner != practitioner:
            excluded["R14"] = excluded.get("R14", 0) + minutes
            counted_here = False
        if entry.face_to_face and (policy.exclude_all_face_to_face or entry.in_billed_visit):
            excluded["R15"] = excluded.get("R15", 0) + minutes
            counted_here = False
        if started < windows.consent_from:
            excluded["R5"] = excluded.get("R5", 0) + minutes
            counted_here = False
        if started >= windows.revoked_after:
            excluded["R7"] = excluded.get("R7", 0) + minutes
            counted_here = False
        if started < windows.visit_from:
            excluded["R8"] = excluded.get("R8", 0) + minutes
            counted_here = False
        if started < windows.plan_from:
            excluded["R11"] = excluded.get("R11", 0) + minutes
            counted_here = False
        if counted_here:  # e.g. face-to-face outside a billed visit under the R15 switch
            count(entry)
            if entry.performer == "physician":
                physician += minutes
            else:
                clinical_staff += minutes
    if len(counted) > 1 and policy.simultaneous_minutes_once:
        distinct = _distinct_pools(counted)  # R37
        if distinct is not None:
            staff_pool, physician_pool = distinct
            return _new_tuple(
                Tally,
                (
                    staff_pool - physician_pool,
                    physician_pool,
                    excluded or None,
                    clinical_staff + physician - staff_pool,
                    physician - physician_pool,
                ),
            )
    return _new_tuple(Tally, (clinical_staff, physician, excluded or None, 0, 0))


_start_minute = attrgetter("start_minute")


def _occupied(entries: list[TimeEntry]) -> int:
    """R37: how many distinct clock minutes entries sorted by start occupy."""
    if not entries:
        return 0
    total = 0
    run_start = run_end = entries[0].start_minute
    for entry in entries:
        start = entry.start_minute
        end = start + entry.minutes
        if start > run_end:
            total += run_end - run_start
            run_start, run_end = start, end
        elif end > run_end:
            run_end = end
    return total + run_end - run_start


def _distinct_pools(counted: list[TimeEntry]) -> tuple[int, int] | None:
    """R37: (staff pool, physician pool) in distinct clock minutes, or None when no two
    counted entries share a minute (the common month: the sums stand)."""
    # Entries come in time order from billing.inputs.loading: one pass then proves that none
    # shares a minute, without sorting. Anything else (out of order, or an overlap) is
    # sorted and checked again.
    end = -1
    for entry in counted:
        start = entry.start_minute
        if start < end:
            break
        end = start + entry.minutes
    else:
        return None
    counted.sort(key=_start_minute)
    end = -1
    for entry in counted:
        start = entry.start_minute
        if start < end and entry.minutes:
            break
        if start + entry.minutes > end:
            end = start + entry.minutes
    else:
        return None
    physician_entries = [entry for entry in counted if entry.performer == "physician"]
    return _occupied(counted), _occupied(physician_entries)


def _counted_entries(facts: PatientMonth, policy: Policy, frame: Frame) -> list[TimeEntry]:
    """The entries `_tally` counts, one by one (for R32's threshold date; off the hot path)."""
    windows = _windows(facts, policy, frame)
    return [
        entry
        for entry in facts.time_entries
        if entry.minutes > 0
        and frame.start <= entry.started_at < frame.end
        and not _exclusions(entry, facts.billing_practitioner, policy, windows)
    ]


# --- Options and choice (steps 5 and 6). ---


class Choice(NamedTuple):
    """The best option of one track (R26): its base code plus `units` add-on units."""

    track: Track
    pool: int  # minutes in the track's pool
    earned: int  # add-on units the pool earns before the cap
    cap: int
    units: int
    base_fee: Decimal
    addon_fee: Decimal
    total: Decimal
    key: tuple[Decimal, int, int, int]  # R26 ordering, smallest wins

    @property
    def label(self) -> str:
        """E.g. "99490 + 99439 x 2"."""
        if self.units == 0:
            return self.track.base
        return f"{self.track.base} + {self.track.addon} x {self.units}"


def _cap(track: Track, policy: Policy) -> int:
    cap_source = track.cap_source
    if cap_source is CAP_99437:
        return policy.cap_99437  # R22
    if cap_source is CAP_99489:
        return policy.cap_99489  # R24
    if cap_source is CAP_99425:
        return policy.cap_99425  # R44
    if cap_source is CAP_99427:
        return policy.cap_99427  # R44
    return track.fixed_cap  # R20


def _complex_allowed(facts: PatientMonth, policy: Policy, frame: Frame) -> bool:
    # R23: the R11 plan is already on file when we get here; MDM decides.
    if facts.patient.mdm not in COMPLEX_MDM_LEVELS:
        return False
    if not policy.complex_requires_plan_change_in_month:
        return True
    plan = facts.patient.care_plan
    return any(
        day is not None and frame.first_day <= day <= frame.last_day
        for day in (plan.established_on, plan.substantially_revised_on)
    )


def _best_units(base_fee: Decimal, addon_fee: Decimal, most: int) -> tuple[int, Decimal]:
    """R26 within one track: try every k from 0 to `most` add-on units, keep the best."""
    best_units, best_total = 0, base_fee
    total = base_fee
    for units in range(1, most + 1):
        total += addon_fee
        # Strictly more: a tie goes to fewer lines, then fewer units, i.e. the smaller k.
        if total > best_total:
            best_units, best_total = units, total
    return best_units, best_total


# The smallest base threshold of any track, so short months skip the tracks.
LOWEST_THRESHOLD = min(track.threshold for track in TRACKS)
PCM_LOWEST_THRESHOLD = min(track.threshold for track in PCM_TRACKS)


def _best_per_track(
    facts: PatientMonth,
    policy: Policy,
    frame: Frame,
    minutes: Minutes,
    tracks: tuple[Track, ...] = TRACKS,
    lowest_threshold: int = LOWEST_THRESHOLD,
) -> list[Choice]:
    """R19-R26 (PCM: R44 with R26): the best option of every track whose base threshold is
    met."""
    best: list[Choice] = []
    physician_pool = minutes.physician
    staff_pool = minutes.clinical_staff + physician_pool
    if staff_pool < lowest_threshold:
        return best  # R18: no track's threshold is met (the physician pool is never larger)
    prices = facts.fee_schedule.prices
    for index, track in enumerate(tracks):
        pool = staff_pool if track.pool is STAFF_POOL else physician_pool
        threshold = track.threshold
        if pool < threshold:
            continue  # R18: thresholds are met only in full
        if track is COMPLEX_TRACK and not _complex_allowed(facts, policy, frame):
            continue
        earned = (pool - threshold) // track.increment
        cap = _cap(track, policy)
        base_fee = prices.get(track.base, NO_AMOUNT)
        addon_fee = prices.get(track.addon, NO_AMOUNT)
        units, total = _best_units(base_fee, addon_fee, min(earned, cap))
        # R26 order: highest total, then fewer lines, fewer units, table order.
        key = (-total, 1 if units == 0 else 2, 1 + units, index)
        best.append(
            _new_tuple(Choice, (track, pool, earned, cap, units, base_fee, addon_fee, total, key))
        )
    return best


# --- Result building. ---


class _Numerals(dict[int, str]):
    """int -> str(int). An f-string formats an int several times slower than it looks one up
    here, and explanations hold many small numbers; other numbers are formatted on demand.
    Only for values the engine computes (sums, constants): a POLICY cap may be a bool, which
    an f-string prints as "True", so caps and what is taken from them are formatted as is."""

    def __missing__(self, number: int) -> str:
        return str(number)


NUMERALS = _Numerals((number, str(number)) for number in range(1000))


def _word(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


def _count(count: int, noun: str) -> str:
    """E.g. "1 minute", "7 minutes", so explanations read aloud naturally."""
    return f"{count} {_word(count, noun)}"


# Step 3's exclusion rules, in rule-number order.
EXCLUSION_RULES = ("R5", "R7", "R8", "R11", "R14", "R15")
_choice_key = attrgetter("key")
_started_at = attrgetter("started_at")
NUMBER_WORDS = {1: "one", 2: "two", 3: "three"}
PROGRAM_NAMES = {"ccm": "CCM", "pcm": "PCM", "apcm": "APCM"}
# Rule id -> number, for sorting blocked_by in ascending rule number.
RULE_NUMBERS = {f"R{number}": number for number in range(1, 47)}
_rule_number = RULE_NUMBERS.__getitem__


def _money(amount: Decimal) -> str:
    return f"${amount}"  # fee schedules hold whole cents with two decimals


def _pool_detail(track: Track, clinical_staff: int, physician: int) -> str:
    if track.pool is PHYSICIAN_POOL:
        return (
            f"{NUMERALS[physician]} minutes spent personally by the billing practitioner "
            f"(clinical-staff minutes never count for {track.base})"
        )
    numerals = NUMERALS
    if not physician:
        who = f"clinical staff {numerals[clinical_staff]}"
    elif not clinical_staff:
        who = f"billing practitioner {numerals[physician]}"
    else:
        who = (
            f"clinical staff {numerals[clinical_staff]}, billing practitioner {numerals[physician]}"
        )
    return f"{numerals[clinical_staff + physician]} countable staff-pool minutes ({who})"


def _tie_reason(chosen: Choice, other: Choice) -> str:
    if chosen.key[1] != other.key[1]:
        return "fewer lines win"
    if chosen.key[2] != other.key[2]:
        return "fewer units win"
    return "table order decides"


def _comparison(chosen: Choice, others: list[Choice]) -> str:
    if not others:
        return ""
    parts = [
        f"the same as {other.label}, and {_tie_reason(chosen, other)}"
        if other.total == chosen.total
        else f"more than {other.label} ({_money(other.total)})"
        for other in others
    ]
    rule = chosen.track.choice_rule  # R25 for CCM, R44 for PCM
    return f" {rule}, R26: pays {_money(chosen.total)}, " + "; ".join(parts) + "."


def _leftover(track: Track, pool: int, earned: int, cap: int) -> str:
    """What happened to the minutes beyond the base threshold when no add-on line is billed."""
    capped = min(earned, cap)
    if capped > 0:
        return (
            f" R26: {_count(capped, 'earned ' + track.addon + ' unit')} left off: more "
            "units do not raise the payment under the practice's fee schedule."
        )
    left = pool - track.threshold
    if left > 0:
        return (
            f" {track.addon_rule}: the other {_count(left, 'minute')} do not reach a "
            f"{track.addon} unit ({NUMERALS[track.increment]} needed)."
        )
    return ""


def _not_counted(excluded: dict[str, int] | None) -> str:
    if not excluded:
        return ""
    parts = [
        f"{NUMERALS[excluded[rule]]} min ({rule})" for rule in EXCLUSION_RULES if rule in excluded
    ]
    return " Not counted: " + ", ".join(parts) + "."


# Per base code, the fixed end of its line's first sentence, e.g. " → 99490 for the first 20."
BASE_CONCLUSIONS = {
    track.base: f" → {track.base} for the first {track.threshold}." for track in TRACKS + PCM_TRACKS
}
TRACKS_BY_BASE = {track.base: track for track in TRACKS + PCM_TRACKS}

# The two texts below depend on a few small numbers only, which repeat from patient to
# patient, so they are memoised (pure functions of their arguments). Keyed on the base code,
# not the Track, whose dataclass hash is slow; typed, so a bool POLICY cap (printed "True")
# never shares an entry with the int 1.
EXPLANATION_CACHE_SIZE = 4096


@lru_cache(maxsize=EXPLANATION_CACHE_SIZE, typed=True)
def _base_text(
    base: str, clinical_staff: int, physician: int, mdm: str | None, units: int, cap: int
) -> str:
    """The base line's explanation before the R26 comparison and the minutes not counted."""
    track = TRACKS_BY_BASE[base]
    extra = f", {mdm} MDM and a care plan on file" if track is COMPLEX_TRACK else ""
    text = (
        f"R16, {track.base_rule}: {_pool_detail(track, clinical_staff, physician)}{extra}"
        f"{BASE_CONCLUSIONS[base]}"
    )
    if units == 0:
        pool = physician if track.pool is PHYSICIAN_POOL else clinical_staff + physician
        text += _leftover(track, pool, (pool - track.threshold) // track.increment, cap)
    return text


def _base_explanation(
    chosen: Choice,
    others: list[Choice],
    facts: PatientMonth,
    minutes: Minutes,
    excluded: dict[str, int] | None,
    simultaneous: str,
) -> str:
    track = chosen.track
    text = _base_text(
        track.base,
        minutes.clinical_staff,
        minutes.physician,
        facts.patient.mdm if track is COMPLEX_TRACK else None,
        chosen.units,
        chosen.cap,
    )
    if others:
        text += _comparison(chosen, others)
    if excluded:
        text += _not_counted(excluded)
    return text + simultaneous


def _addon_explanation(chosen: Choice) -> str:
    return _addon_text(chosen.track.base, chosen.pool, chosen.units, chosen.earned, chosen.cap)


@lru_cache(maxsize=EXPLANATION_CACHE_SIZE, typed=True)
def _addon_text(base: str, pool: int, units: int, earned: int, cap: int) -> str:
    track = TRACKS_BY_BASE[base]
    threshold = track.threshold
    used = threshold + track.increment * units
    numerals = NUMERALS
    text = (
        f"{track.addon_rule}: {track.addon} x {numerals[units]} for {numerals[units]} full "
        f"{numerals[track.increment]}-minute {'increment' if units == 1 else 'increments'} "
        f"after the first {numerals[threshold]} (minutes {numerals[threshold + 1]}-"
        f"{numerals[used]})"
    )
    if earned > cap:
        text += f"; {numerals[earned]} units earned but at most {cap} may be billed"
    elif units == earned and pool > used:
        text += f"; {_count(pool - used, 'minute')} do not reach another unit"
    if units < min(earned, cap):
        text += (
            f"; R26: {numerals[units]} of {min(earned, cap)} earned units billed "
            "because more do not raise the payment under the practice's fee schedule"
        )
    return text + "."


def _lines(
    chosen: Choice,
    others: list[Choice],
    facts: PatientMonth,
    minutes: Minutes,
    excluded: dict[str, int] | None,
    simultaneous: str,
) -> tuple[Line, ...]:
    track = chosen.track
    units = chosen.units
    addon_minutes = track.increment * units
    # R17/R35: the add-on line carries its increments, the base line the rest of the pool,
    # so no minute sits in two lines.
    base = new_line(
        track.base,
        1,
        chosen.pool - addon_minutes,
        chosen.base_fee,
        _base_explanation(chosen, others, facts, minutes, excluded, simultaneous),
    )
    if units == 0:
        return (base,)
    addon_amount = chosen.addon_fee * units
    addon = new_line(track.addon, units, addon_minutes, addon_amount, _addon_explanation(chosen))
    return (base, addon)


def _next_threshold(chosen: Choice) -> NextThreshold | None:
    """R27: in a billable month, the chosen track's next add-on increment, if below the cap."""
    if chosen.earned >= chosen.cap:
        return None
    track = chosen.track
    needed = track.threshold + track.increment * (chosen.earned + 1) - chosen.pool
    return new_next_threshold(track.addon, needed)


def _exclusion_reason(rule: str, minutes: int, facts: PatientMonth) -> str:
    patient = facts.patient
    if rule == "R5":
        given_on = patient.consent.given_on
        what = (
            "logged without consent" if given_on is None else f"logged before consent ({given_on})"
        )
    elif rule == "R7":
        what = f"logged after consent was revoked on {patient.consent.revoked_on}"
    elif rule == "R8":
        what = f"logged before the initiating visit on {patient.initiating_visit.on}"
    elif rule == "R11":
        established_on = patient.care_plan.established_on or "none on file"
        what = f"logged before the care plan was established ({established_on})"
    elif rule == "R14":
        what = "logged under another practitioner"
    else:
        what = "face-to-face"  # R15
    return f"{NUMERALS[minutes]} {'minute' if minutes == 1 else 'minutes'} {what} do not count"


def _simultaneous_clause(staff_pool: int, physician_pool: int) -> str:
    """R37's reason and explanation text: how many simultaneous minutes counted once."""
    text = f"{_count(staff_pool, 'simultaneous minute')} counted once in the staff pool"
    if physician_pool:
        text += f" and {NUMERALS[physician_pool]} in the physician pool"
    return text


def _date_of_service(chosen: Choice, facts: PatientMonth, policy: Policy, frame: Frame) -> date:
    """R32: last day of the month, or the local date the highest billed threshold was met."""
    if policy.date_of_service_mode == "last_day_of_month":
        return frame.last_day
    target = chosen.track.threshold + chosen.track.increment * chosen.units
    physician_only = chosen.track.pool is PHYSICIAN_POOL
    # Sorted by start, so the answer does not depend on entry order.
    entries = [
        entry
        for entry in sorted(_counted_entries(facts, policy, frame), key=_started_at)
        if not physician_only or entry.performer == "physician"
    ]
    if policy.simultaneous_minutes_once:
        # R37: the threshold is reached at the clock minute where the pool's count of
        # distinct minutes reaches it, in time order.
        minute = _minute_reaching(entries, target)
        if minute is not None:
            return local_date(datetime.fromtimestamp(minute * 60, UTC), frame.zone_name)
        return frame.last_day
    running = 0
    for entry in entries:
        running += entry.minutes
        if running >= target:
            return local_date(entry.started_at, frame.zone_name)
    return frame.last_day  # not reached: the chosen track's threshold was met


def _minute_reaching(entries: list[TimeEntry], target: int) -> int | None:
    """R37: the clock minute (since the epoch) at which entries sorted by start have occupied
    `target` distinct minutes, or None if they never do."""
    entries = sorted(entries, key=_start_minute)
    occupied = 0
    covered_until = -1  # the first minute after everything occupied so far
    for entry in entries:
        start = entry.start_minute
        end = start + entry.minutes
        if start < covered_until:
            start = covered_until  # the shared minutes were counted already
        if end <= start:
            continue
        if occupied + end - start >= target:
            return start + target - occupied - 1
        occupied += end - start
        covered_until = end
    return None


def simultaneous_entries(facts: PatientMonth, policy: Policy = DEFAULT_POLICY) -> tuple[int, ...]:
    """R37: indexes into `facts.time_entries` of the counted entries that share at least one
    clock minute with another counted entry (empty when the POLICY is off). For the chart."""
    if not policy.simultaneous_minutes_once:
        return ()
    frame = _frame(facts.month.year, facts.month.month, facts.timezone)
    windows = _windows(facts, policy, frame)
    counted = sorted(
        (
            (entry.start_minute, entry.start_minute + entry.minutes, index)
            for index, entry in enumerate(facts.time_entries)
            if entry.minutes > 0
            and frame.start <= entry.started_at < frame.end
            and not _exclusions(entry, facts.billing_practitioner, policy, windows)
        ),
    )
    shared: set[int] = set()
    reach_end, reach_index = -1, -1  # the entry reaching furthest so far (sorted by start)
    for start, end, index in counted:
        if start < reach_end:  # it shares a minute with that entry at least
            shared.update((index, reach_index))
        if end > reach_end:
            reach_end, reach_index = end, index
    return tuple(sorted(shared))


def diagnosis_pointers(conditions: tuple[str, ...]) -> tuple[str, ...]:
    """R34: the first four distinct codes of the condition list, in the order given."""
    if len(conditions) <= MAX_DIAGNOSIS_POINTERS and len(set(conditions)) == len(conditions):
        return conditions  # already distinct and short enough (tuples are immutable)
    return tuple(dict.fromkeys(conditions))[:MAX_DIAGNOSIS_POINTERS]


def _gate_clauses(
    facts: PatientMonth,
    policy: Policy,
    frame: Frame,
    gates: tuple[tuple[str, Gate], ...] = GATES,
    patient_gates: tuple[tuple[str, Gate], ...] = PATIENT_GATES,
) -> dict[str, str]:
    """Rule id -> the reason clause of every gate that fails."""
    clauses: dict[str, str] = {}
    for rule, gate in gates if facts.other_services else patient_gates:
        failure = gate(facts, policy, frame)
        if failure is not None:
            clauses[rule] = failure
    return clauses


def _result(
    clauses: dict[str, str],
    minutes: Minutes,
    next_threshold: NextThreshold | None,
    lines: tuple[Line, ...] = (),
    date_of_service: date | None = None,
    place_of_service: str | None = None,
    pointers: tuple[str, ...] = (),
) -> Result:
    rules: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    if clauses:
        rules = tuple(sorted(clauses, key=_rule_number)) if len(clauses) > 1 else tuple(clauses)
        reasons = tuple([f"{rule}: {clauses[rule]}." for rule in rules])
    return new_result(
        lines, rules, reasons, next_threshold, minutes, date_of_service, place_of_service, pointers
    )


class TimedProgram(NamedTuple):
    """What differs between the two timed programs on the shared path (R38): CCM and PCM."""

    gates: tuple[tuple[str, Gate], ...]
    patient_gates: tuple[tuple[str, Gate], ...]
    tracks: tuple[Track, ...]
    lowest_threshold: int
    first_track: Track  # R27: the nearest threshold (its pool holds every minute)


CCM = TimedProgram(GATES, PATIENT_GATES, TRACKS, LOWEST_THRESHOLD, STAFF_TRACK)
# R43-R45: PCM's gates and tracks on the CCM path.
PCM = TimedProgram(PCM_GATES, PCM_PATIENT_GATES, PCM_TRACKS, PCM_LOWEST_THRESHOLD, PCM_STAFF_TRACK)
TIMED_PROGRAMS = {"ccm": CCM, "pcm": PCM}


def evaluate(facts: PatientMonth, policy: Policy = DEFAULT_POLICY) -> Result:
    """Decide the claim lines for one patient-month under its program (pure: same facts,
    same result)."""
    program = facts.program  # R38: exactly one program, never chosen by the engine
    if program == "ccm":
        rules = CCM
        month = facts.month
        frame = _frame(month.year, month.month, facts.timezone)  # step 1, R1
        # Step 2 (the quick test is CCM's). Rule id -> reason clauses, joined by "; ".
        fast = _gates_pass(facts, policy, frame)
        clauses = {} if fast else _gate_clauses(facts, policy, frame)
    elif program == "pcm":
        rules = PCM
        month = facts.month
        frame = _frame(month.year, month.month, facts.timezone)  # R1
        clauses = _gate_clauses(facts, policy, frame, PCM_GATES, PCM_PATIENT_GATES)  # R43, R45
    else:
        return _evaluate_apcm(facts, policy)
    gate_failed = bool(clauses)
    clinical_staff, physician, excluded, simultaneous, simultaneous_physician = _tally(
        facts, policy, frame, _windows(facts, policy, frame)
    )  # steps 3 and 5 (R37)
    if excluded is not None:
        for rule, withheld in excluded.items():
            reason = _exclusion_reason(rule, withheld, facts)
            clauses[rule] = f"{clauses[rule]}; {reason}" if rule in clauses else reason
    minutes = new_minutes(clinical_staff, physician)
    if gate_failed:
        # Step 4: no number of minutes makes the month billable, so no next threshold.
        return _result(clauses, minutes, None)
    note = ""
    if simultaneous:  # step 6: R37 removed at least one minute
        what = _simultaneous_clause(simultaneous, simultaneous_physician)
        clauses["R37"] = what
        note = f" R37: {what}."
    # Step 5: R19-R26 for CCM, R44 (with R26) for PCM.
    options = _best_per_track(facts, policy, frame, minutes, rules.tracks, rules.lowest_threshold)
    if not options:
        first = rules.first_track
        staff_pool = clinical_staff + physician
        needed = first.threshold - staff_pool
        pool = (
            f"{NUMERALS[staff_pool]} countable staff-pool "
            f"{'minute' if staff_pool == 1 else 'minutes'}"
        )
        clauses["R27"] = (
            f"{pool} fall {NUMERALS[needed]} short of the {first.threshold} needed for {first.base}"
        )
        return _result(clauses, minutes, new_next_threshold(first.base, needed))
    if len(options) == 1:
        chosen, others = options[0], []
    else:
        chosen = min(options, key=_choice_key)  # R26
        others = [option for option in options if option is not chosen]
    if chosen.earned > chosen.cap:  # step 6: the cap withheld a unit of the billed track
        clauses[chosen.track.addon_rule] = (
            f"the pool earns {_count(chosen.earned, chosen.track.addon + ' unit')}; "
            f"at most {chosen.cap} may be billed"
        )
    conditions = facts.patient.chronic_conditions
    if rules is PCM:
        condition = facts.patient.pcm_condition
        note += f" R43: principal care management of {condition}."
        # R44: the PCM condition first, then the other distinct codes (R34's four at most).
        conditions = (condition, *conditions) if condition is not None else conditions
    return _result(
        clauses,
        minutes,
        _next_threshold(chosen),
        _lines(chosen, others, facts, minutes, excluded, note),
        frame.last_day
        if policy.date_of_service_mode == "last_day_of_month"
        else _date_of_service(chosen, facts, policy, frame),  # R32
        policy.place_of_service,  # R33
        diagnosis_pointers(conditions),  # R34
    )


# --- APCM (R39-R42): gates only, then one level code. ---

NO_MINUTES = new_minutes(0, 0)  # R41: an APCM month's time entries are not evaluated


def _apcm_gates(facts: PatientMonth, policy: Policy) -> list[tuple[str, Gate]]:
    """The APCM evaluation order's gates: R39, R40 (through R5, R7, R8, R9, R11, R28), R42,
    R41. A failed R40 gate is reported under its own id."""
    gates: list[tuple[str, Gate]] = [
        ("R39", _gate_r39),
        ("R5", _gate_r5),
        ("R7", _gate_r7),
        ("R8", _gate_r8),  # three-year look-back (R40)
        ("R9", _gate_r9),
    ]
    if facts.patient.chronic_conditions:  # R40: R11 when a condition exists (else R41)
        gates.append(("R11", _gate_r11))
    if policy.oversight_blocks_apcm:  # R40 POLICY: R28 applies to APCM
        gates.append(("R28", _gate_r28))
    gates.append(("R42", _gate_r42))
    gates.append(("R41", _gate_r41))
    return gates


def apcm_level(conditions: tuple[str, ...], qmb: bool, by_category: bool) -> str:
    """R41: G0556 for 0 or 1 chronic conditions (counted as R4), G0557 for 2 or more,
    G0558 for 2 or more and a Qualified Medicare Beneficiary."""
    if condition_count(conditions, by_category) < MIN_CHRONIC_CONDITIONS:
        return APCM_ONE_CONDITION
    return APCM_TWO_CONDITIONS_QMB if qmb else APCM_TWO_CONDITIONS


def _apcm_explanation(facts: PatientMonth, policy: Policy, code: str) -> str:
    patient = facts.patient
    count = condition_count(patient.chronic_conditions, policy.conditions_by_category)
    codes = ", ".join(dict.fromkeys(patient.chronic_conditions))
    qmb = ", a Qualified Medicare Beneficiary this month" if code == APCM_TWO_CONDITIONS_QMB else ""
    how = "ICD-10-CM category" if policy.conditions_by_category else "distinct code"
    return (
        f"R39, R40, R41: APCM for a patient with {_count(count, 'chronic condition')} "
        f"(counted by {how}: {codes}){qmb} → {code}; APCM attested; consent "
        f"{patient.consent.given_on}; initiating visit {patient.initiating_visit.on}, within "
        "three years of consent. No minutes are required."
    )


def _evaluate_apcm(facts: PatientMonth, policy: Policy) -> Result:
    """R1, then R39-R42 all collected; one line by R41 when none failed."""
    month = facts.month
    frame = _frame(month.year, month.month, facts.timezone)  # R1
    clauses: dict[str, str] = {}
    for rule, gate in _apcm_gates(facts, policy):
        failure = gate(facts, policy, frame)
        if failure is not None:
            clauses[rule] = failure
    if clauses:
        return _result(clauses, NO_MINUTES, None)  # APCM reports no next threshold
    patient = facts.patient
    code = apcm_level(patient.chronic_conditions, patient.qmb, policy.conditions_by_category)
    line = new_line(
        code,
        1,
        0,
        facts.fee_schedule.prices.get(code, NO_AMOUNT),
        _apcm_explanation(facts, policy, code),
    )
    return _result(
        clauses,
        NO_MINUTES,
        None,
        (line,),
        frame.last_day,  # R41: R32's last day of the month in every mode
        policy.place_of_service,  # R33
        diagnosis_pointers(patient.chronic_conditions),  # R34
    )
