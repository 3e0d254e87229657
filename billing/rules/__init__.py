"""Pure-Python billing engine (no Django) for CCM, PCM and APCM months (R1-R46): facts in,
claim lines with explanations out."""

from billing.rules.engine import evaluate
from billing.rules.types import (
    DEFAULT_POLICY,
    CarePlan,
    Consent,
    FeeSchedule,
    InitiatingVisit,
    Line,
    Minutes,
    Month,
    NextThreshold,
    OtherService,
    Patient,
    PatientMonth,
    Policy,
    Result,
    TimeEntry,
)

__all__ = [
    "DEFAULT_POLICY",
    "CarePlan",
    "Consent",
    "FeeSchedule",
    "InitiatingVisit",
    "Line",
    "Minutes",
    "Month",
    "NextThreshold",
    "OtherService",
    "Patient",
    "PatientMonth",
    "Policy",
    "Result",
    "TimeEntry",
    "evaluate",
]
