"""Billing engine throughput: evaluate generated patient-months and print the rate.

Run from the repo root:
    .venv/bin/python bench/engine.py [--count N] [--seed S] [--batch B] [--mix MIX]
Patient-months are generated with a deterministic random.Random(seed): 5-30 time entries
each, mostly established patients with some new enrolments and gaps, staff and physician
time, entries just outside the month, other practitioners, face-to-face minutes, other
services and fee schedules. `--mix` sets the programs (R38): "programs" (the default: 70 %
CCM, 15 % PCM, 15 % APCM, as a practice running the three side by side) or "ccm" (CCM only,
the figures before Part II). They are generated in batches (as a month close loads them) and
only `evaluate()` is timed, per program too. Target: >= 20,000 patient-months/s in one
process across the mix. The figure moves with whatever else runs on the machine; the median
batch is printed to show that.
"""

import argparse
import dataclasses
import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.rules import (
    DEFAULT_POLICY,
    CarePlan,
    Consent,
    FeeSchedule,
    InitiatingVisit,
    Month,
    OtherService,
    Patient,
    PatientMonth,
    Policy,
    TimeEntry,
    evaluate,
)

# The reference in the same run: the same batches with R37 (simultaneous minutes count once)
# off, i.e. the engine summing minutes as before R37, so its cost reads as a ratio.
WITHOUT_R37 = Policy(simultaneous_minutes_once=False)

ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]
CONDITIONS = ["E11.9", "I10", "I50.22", "N18.4", "J44.9", "F33.1", "E78.5", "M17.0", "E11.65"]
OTHER_CODES = (
    ["99457"] * 4 + ["99484", "99495", "99213", "99214", "G0439"] * 2 + ["99426", "G0182", "G0557"]
)
PRACTITIONERS = ["P1"] * 18 + ["P2"]
BATCH = 1_000
VISIT_CODES = ["99214"] * 6 + ["G0438"] * 3 + ["99213"] * 6 + ["99211"]
# R38: the share of each program per mix, in patient-months.
MIXES = {"programs": {"ccm": 0.70, "pcm": 0.15, "apcm": 0.15}, "ccm": {"ccm": 1.0}}


def _date_near(rng: random.Random, first: date, low: int, high: int) -> date:
    return first + timedelta(days=rng.randint(low, high))


def _patient(rng: random.Random, first: date) -> Patient:
    # Most patient-months are established enrolments; some are new this month and a few
    # have a gap (no consent, stale visit, revoked, no plan) so every path is exercised.
    kind = rng.random()
    if kind < 0.85:
        consent_on = _date_near(rng, first, -700, -20)
        visit_on = consent_on - timedelta(days=rng.randint(0, 300))
        plan_on = consent_on + timedelta(days=rng.randint(0, 15))
    else:
        consent_on = _date_near(rng, first, 0, 27)
        visit_on = consent_on + timedelta(days=rng.randint(-200, 5))
        plan_on = consent_on + timedelta(days=rng.randint(0, 3))
    gap = rng.random()
    return Patient(
        chronic_conditions=tuple(rng.sample(CONDITIONS, 1 if gap < 0.06 else rng.randint(2, 5))),
        consent=Consent(
            None if gap < 0.01 else consent_on,
            _date_near(rng, first, -10, 27) if 0.01 <= gap < 0.03 else None,
        ),
        initiating_visit=InitiatingVisit(
            None if 0.03 <= gap < 0.04 else visit_on,
            rng.choice(VISIT_CODES) if rng.random() < 0.3 else None,
        ),
        care_plan=CarePlan(
            None if 0.04 <= gap < 0.05 else plan_on,
            _date_near(rng, first, 0, 27) if rng.random() < 0.2 else None,
        ),
        mdm=rng.choice([None, None, "low", "moderate", "high"]),
    )


def _entries(rng: random.Random, first: date) -> tuple[TimeEntry, ...]:
    # Starts spread over the month plus a day either side, so month edges are exercised.
    start = datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(days=1)
    # In time order, as billing.inputs.loading delivers them (the R37 sweep then sorts nothing).
    entries = sorted(
        (
            start + timedelta(minutes=rng.randrange(0, 33 * 24 * 60)),
            min(60, 1 + int(rng.expovariate(1 / 2))),
        )
        for _ in range(rng.randint(5, 30))
    )
    return tuple(
        TimeEntry(
            started_at=started_at,
            minutes=minutes,
            performer="physician" if rng.random() < 0.2 else "clinical_staff",
            practitioner=rng.choice(PRACTITIONERS),
            face_to_face=rng.random() < 0.05,
        )
        for started_at, minutes in entries
    )


def _program_fields(rng: random.Random, program: str, patient: Patient) -> dict[str, object]:
    """R38-R43 inputs: a PCM month names its condition (a few not on the list, R43); an APCM
    month is mostly attested (R39), some patients are QMB (R41)."""
    if program == "pcm":
        conditions = patient.chronic_conditions
        condition = rng.choice(conditions) if rng.random() < 0.95 else "K21.9"
        return {"patient": dataclasses.replace(patient, pcm_condition=condition)}
    if program == "apcm":
        qmb = rng.random() < 0.2
        return {
            "patient": dataclasses.replace(patient, qmb=qmb),
            "apcm_attested": rng.random() < 0.95,
        }
    return {}


def generate(rng: random.Random, mix: dict[str, float] | None = None) -> PatientMonth:
    """One random but plausible patient-month (CCM unless a mix is given)."""
    year, month = rng.choice([2025, 2026]), rng.randint(1, 12)
    first = date(year, month, 1)
    others = tuple(
        OtherService(rng.choice(OTHER_CODES), rng.choice(PRACTITIONERS))
        for _ in range(rng.choice([0, 0, 0, 1, 2]))
    )
    fees = FeeSchedule({"99487": Decimal("180.00")}) if rng.random() < 0.1 else FeeSchedule()
    program = "ccm"
    if mix is not None and len(mix) > 1:
        program = rng.choices(list(mix), weights=list(mix.values()))[0]
    patient = _patient(rng, first)
    facts = PatientMonth(
        month=Month(year, month),
        timezone=rng.choice(ZONES),
        billing_practitioner="P1",
        patient=patient,
        time_entries=_entries(rng, first),
        other_services=others,
        ccm_billed_elsewhere=rng.random() < 0.01,
        fee_schedule=fees,
    )
    if program == "ccm":
        return facts
    return dataclasses.replace(facts, program=program, **_program_fields(rng, program, patient))


def _timed(months: list[PatientMonth], policy: Policy) -> float:
    """Seconds per patient-month to evaluate a batch under a policy."""
    started = time.perf_counter()
    for month in months:
        evaluate(month, policy)
    return (time.perf_counter() - started) / len(months)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--mix", choices=sorted(MIXES), default="programs")
    args = parser.parse_args()
    mix = MIXES[args.mix]
    rng = random.Random(args.seed)
    codes: Counter[str] = Counter()
    billable = entries = done = 0
    batch_seconds: list[float] = []
    reference_seconds: list[float] = []
    simultaneous = 0
    by_program: dict[str, list[float]] = {program: [] for program in mix}  # seconds per month
    counts: Counter[str] = Counter()
    while done < args.count:
        # Like a month close: load a batch of patient-months, then evaluate them.
        months = [generate(rng, mix) for _ in range(min(args.batch, args.count - done))]
        # Alternate which runs first, so neither gets the warmer caches every time.
        if len(batch_seconds) % 2:
            reference_seconds.append(_timed(months, WITHOUT_R37))
        started = time.perf_counter()
        results = [evaluate(month, DEFAULT_POLICY) for month in months]
        batch_seconds.append((time.perf_counter() - started) / len(months))
        for program in mix:  # the same months again, one program at a time
            subset = [month for month in months if month.program == program]
            counts[program] += len(subset)
            if subset:
                by_program[program].append(_timed(subset, DEFAULT_POLICY))
        if len(batch_seconds) % 2:
            reference_seconds.append(_timed(months, WITHOUT_R37))
        simultaneous += sum("R37" in result.blocked_by for result in results)
        done += len(months)
        entries += sum(len(month.time_entries) for month in months)
        billable += sum(result.billable for result in results)
        codes.update(line.code for result in results for line in result.lines)
    elapsed = sum(batch_seconds) * args.count / len(batch_seconds)
    median = statistics.median(batch_seconds)
    rate = args.count / elapsed
    print(f"patient-months evaluated : {args.count:,} (seed {args.seed}, batches of {args.batch})")
    shares = ", ".join(f"{program} {counts[program]:,}" for program in mix)
    print(f"mix                      : {args.mix} ({shares})")
    print(f"time entries             : {entries:,} ({entries / args.count:.1f} per month)")
    print(f"billable                 : {billable:,} ({100 * billable / args.count:.1f} %)")
    print(f"lines by code            : {dict(sorted(codes.items()))}")
    print(f"evaluate() time, total   : {elapsed:.3f} s (generation not timed)")
    print(f"patient-months per second: {rate:,.0f}")
    print(f"microseconds per month   : {1e6 * elapsed / args.count:.1f}")
    print(f"median batch             : {1 / median:,.0f}/s, {1e6 * median:.1f} us per month")
    print(f"target >= 20,000/s       : {'met' if rate >= 20_000 else 'NOT met'}")
    reference = statistics.median(reference_seconds)
    print(f"months where R37 counted : {simultaneous:,} ({100 * simultaneous / args.count:.1f} %)")
    print(f"reference, R37 off       : {1 / reference:,.0f}/s median batch (same run)")
    print(f"R37 on / off time ratio  : {median / reference:.2f}")
    for program, seconds in by_program.items():
        if seconds:
            rate_of = 1 / statistics.median(seconds)
            print(f"median batch, {program:<4} only  : {rate_of:,.0f}/s (same run)")


if __name__ == "__main__":
    main()
