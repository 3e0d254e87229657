"""Progress toward the next threshold during the month, for the worklist and the chart.

`progress()` runs the engine's own steps for counting and choosing (R1, R5, R7, R8, R11,
R14-R27; for PCM R44) but skips the gates of step 2, so staff see how many minutes count and
how many are still needed while paperwork (consent, care plan) may still be in progress. A
month's claim is always decided by `evaluate()`; this never bills anything. An APCM month has
no time threshold (R41): its countable minutes are reported for information, with no next
threshold.
"""

from __future__ import annotations

from typing import NamedTuple

from billing.rules.engine import (
    TIMED_PROGRAMS,
    _best_per_track,
    _choice_key,
    _frame,
    _next_threshold,
    _tally,
    _windows,
)
from billing.rules.types import DEFAULT_POLICY, Minutes, NextThreshold, PatientMonth, Policy


class Progress(NamedTuple):
    minutes: Minutes  # countable minutes so far (R16 pools)
    next_threshold: NextThreshold | None  # None: every billable unit is reached (R27)
    simultaneous: int = 0  # R37: staff-pool minutes counted once because simultaneous


def progress(facts: PatientMonth, policy: Policy = DEFAULT_POLICY) -> Progress:
    """Countable minutes and the next threshold as if every gate passed (pure)."""
    frame = _frame(facts.month.year, facts.month.month, facts.timezone)
    tally = _tally(facts, policy, frame, _windows(facts, policy, frame))
    minutes = Minutes(tally.clinical_staff, tally.physician)
    program = TIMED_PROGRAMS.get(facts.program)
    if program is None:  # R41: APCM pays no time threshold
        return Progress(minutes, None, tally.simultaneous)
    options = _best_per_track(
        facts, policy, frame, minutes, program.tracks, program.lowest_threshold
    )
    if not options:  # R27: the staff pool is short of the first track's threshold
        first = program.first_track
        needed = first.threshold - minutes.staff_pool
        return Progress(minutes, NextThreshold(first.base, needed), tally.simultaneous)
    next_threshold = _next_threshold(min(options, key=_choice_key))
    return Progress(minutes, next_threshold, tally.simultaneous)
