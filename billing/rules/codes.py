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

# R22, R24: the most add-on units a POLICY cap may allow (the CMS MUE values the spec cites);
# a practice may lower a cap, never raise it past these.
CAP_LIMITS: dict[str, int] = {"cap_99437": 2, "cap_99489": 10}

# R33: the CMS place-of-service code set (CMS POS code set as of 2025; the same list pyx12
# checks CLM05-1 against). A claim with another code is rejected by the contractor.
PLACE_OF_SERVICE_CODES: dict[str, str] = {
    "01": "Pharmacy",
    "02": "Telehealth provided other than in patient's home",
    "03": "School",
    "04": "Homeless shelter",
    "05": "Indian Health Service free-standing facility",
    "06": "Indian Health Service provider-based facility",
    "07": "Tribal 638 free-standing facility",
    "08": "Tribal 638 provider-based facility",
    "09": "Prison/correctional facility",
    "10": "Telehealth provided in patient's home",
    "11": "Office",
    "12": "Home",
    "13": "Assisted living facility",
    "14": "Group home",
    "15": "Mobile unit",
    "16": "Temporary lodging",
    "17": "Walk-in retail health clinic",
    "18": "Place of employment/worksite",
    "19": "Off campus outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On campus outpatient hospital",
    "23": "Emergency room, hospital",
    "24": "Ambulatory surgical center",
    "25": "Birthing center",
    "26": "Military treatment facility",
    "27": "Outreach site/street",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "33": "Custodial care facility",
    "34": "Hospice",
    "41": "Ambulance, land",
    "42": "Ambulance, air or water",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "51": "Inpatient psychiatric facility",
    "52": "Psychiatric facility, partial hospitalization",
    "53": "Community mental health center",
    "54": "Intermediate care facility/individuals with intellectual disabilities",
    "55": "Residential substance abuse treatment facility",
    "56": "Psychiatric residential treatment center",
    "57": "Non-residential substance abuse treatment facility",
    "58": "Non-residential opioid treatment facility",
    "60": "Mass immunization center",
    "61": "Comprehensive inpatient rehabilitation facility",
    "62": "Comprehensive outpatient rehabilitation facility",
    "65": "End-stage renal disease treatment facility",
    "66": "Programs of All-Inclusive Care for the Elderly (PACE) center",
    "71": "Public health clinic",
    "72": "Rural health clinic",
    "81": "Independent laboratory",
    "99": "Other place of service",
}
