"""The spec's code table as data: thresholds, pools, unit caps, exclusions, reference amounts.

Everything here is a constant; `engine.py` reads it and never spells a code number itself.
Rule ids refer to ../shared/spec/billing-rules.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType


class Pool(enum.Enum):
    """Whose minutes feed a code (R16)."""

    STAFF = "staff"  # clinical staff + the billing practitioner's own minutes
    PHYSICIAN = "physician"  # the billing practitioner's own minutes only


@dataclass(frozen=True, slots=True)
class CodeRow:
    """One row of the spec's code table."""

    code: str
    description: str
    reference_amount: Decimal | None  # None: "not verified" in the spec


# Table order (R26 tie-break, R35 line order) is the order of this tuple.
CODE_TABLE: tuple[CodeRow, ...] = (
    CodeRow("99490", "non-complex CCM, first 20 min clinical-staff time", Decimal("66.13")),
    CodeRow("99439", "non-complex CCM add-on, each further 20 min staff time", Decimal("50.44")),
    # The spec marks 99491 as a CY2025 amount; every case holds for $76.13-$96.19.
    CodeRow(
        "99491", "non-complex CCM, first 30 min personally by the practitioner", Decimal("82.16")
    ),
    CodeRow("99437", "99491 add-on, each further 30 min personally", Decimal("63.13")),
    CodeRow("99487", "complex CCM, first 60 min clinical-staff time", Decimal("144.29")),
    CodeRow("99489", "complex CCM add-on, each further 30 min staff time", Decimal("78.16")),
    CodeRow("G0506", "CCM initiating visit add-on (never on the monthly claim)", None),
    CodeRow("99424", "PCM, first 30 min personally (reference only)", Decimal("87.51")),
    CodeRow(
        "99425", "PCM add-on, each further 30 min personally (reference only)", Decimal("61.46")
    ),
    CodeRow("99426", "PCM, first 30 min staff time (reference only)", None),
    CodeRow(
        "99427", "PCM add-on, each further 30 min staff time (reference only)", Decimal("45.42")
    ),
)

TABLE_ORDER: MappingProxyType[str, int] = MappingProxyType(
    {row.code: index for index, row in enumerate(CODE_TABLE)}
)

REFERENCE_AMOUNTS: MappingProxyType[str, Decimal] = MappingProxyType(
    {row.code: row.reference_amount for row in CODE_TABLE if row.reference_amount is not None}
)


class CapSource(enum.Enum):
    """Where a track's add-on unit cap comes from."""

    FIXED = "fixed"  # R20: CMS limit, not a POLICY point
    POLICY_99437 = "cap_99437"  # R22
    POLICY_99489 = "cap_99489"  # R24


@dataclass(frozen=True, slots=True)
class Track:
    """One of the three mutually exclusive CCM tracks (R25): a base code and its add-on."""

    name: str
    base: str
    addon: str
    pool: Pool
    threshold: int  # minutes for the base code
    increment: int  # minutes per add-on unit beyond the threshold
    fixed_cap: int  # used when cap_source is FIXED
    cap_source: CapSource
    base_rule: str
    addon_rule: str


STAFF_TRACK = Track(
    name="non-complex staff",
    base="99490",
    addon="99439",
    pool=Pool.STAFF,
    threshold=20,
    increment=20,
    fixed_cap=2,
    cap_source=CapSource.FIXED,
    base_rule="R19",
    addon_rule="R20",
)
PERSONAL_TRACK = Track(
    name="non-complex personal",
    base="99491",
    addon="99437",
    pool=Pool.PHYSICIAN,
    threshold=30,
    increment=30,
    fixed_cap=0,
    cap_source=CapSource.POLICY_99437,
    base_rule="R21",
    addon_rule="R22",
)
COMPLEX_TRACK = Track(
    name="complex",
    base="99487",
    addon="99489",
    pool=Pool.STAFF,
    threshold=60,
    increment=30,
    fixed_cap=0,
    cap_source=CapSource.POLICY_99489,
    base_rule="R23",
    addon_rule="R24",
)

# In table order of the base codes, which is the last R26 tie-break.
TRACKS: tuple[Track, ...] = (STAFF_TRACK, PERSONAL_TRACK, COMPLEX_TRACK)

# R3: any of these from another practitioner means CCM is billed elsewhere.
CCM_CODES = frozenset({"99490", "99439", "99491", "99437", "99487", "99489"})

# R28: care-plan oversight (G0181, G0182) and ESRD monthly services (90951-90970).
OVERSIGHT_CODES = frozenset({"G0181", "G0182"} | {str(code) for code in range(90951, 90971)})

# R29: principal care management.
PCM_CODES = frozenset({"99424", "99425", "99426", "99427"})

# R30: advanced primary care management.
APCM_CODES = frozenset({"G0556", "G0557", "G0558"})

# R9: qualifying initiating visits (POLICY default; 99211 and non-face-to-face are left out).
QUALIFYING_VISIT_CODES = frozenset(
    {str(code) for code in range(99202, 99206)}
    | {str(code) for code in range(99212, 99216)}
    | {str(code) for code in range(99341, 99351)}
    | {"G0438", "G0439", "G0402", "99495", "99496"}
)

# R23: MDM levels that allow complex CCM.
COMPLEX_MDM_LEVELS = frozenset({"moderate", "high"})

# R34: pointers per claim line.
MAX_DIAGNOSIS_POINTERS = 4

# R4: minimum number of chronic conditions.
MIN_CHRONIC_CONDITIONS = 2
