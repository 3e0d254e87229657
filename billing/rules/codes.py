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
    CodeRow("99424", "PCM, first 30 min personally", Decimal("87.51")),
    CodeRow("99425", "PCM add-on, each further 30 min personally", Decimal("61.46")),
    CodeRow("99426", "PCM, first 30 min staff time", None),
    CodeRow("99427", "PCM add-on, each further 30 min staff time", Decimal("45.42")),
    # Part II, R41: APCM levels. The spec marks these amounts vendor-reported, not verified.
    CodeRow("G0556", "APCM, one chronic condition or fewer", Decimal("15.20")),
    CodeRow("G0557", "APCM, two or more chronic conditions", Decimal("48.84")),
    CodeRow("G0558", "APCM, two or more chronic conditions and QMB", Decimal("107.07")),
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
    POLICY_99425 = "cap_99425"  # R44
    POLICY_99427 = "cap_99427"  # R44


@dataclass(frozen=True, slots=True)
class Track:
    """One of the mutually exclusive tracks of a timed program (CCM R25, PCM R44): a base
    code and its add-on."""

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
    choice_rule: str = "R25"  # the rule making the tracks mutually exclusive (PCM: R44)


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

# R44: the two PCM tracks, chosen between as R26; table order of the base codes.
PCM_PERSONAL_TRACK = Track(
    name="PCM personal",
    base="99424",
    addon="99425",
    pool=Pool.PHYSICIAN,
    threshold=30,
    increment=30,
    fixed_cap=0,
    cap_source=CapSource.POLICY_99425,
    base_rule="R44",
    addon_rule="R44",
    choice_rule="R44",
)
PCM_STAFF_TRACK = Track(
    name="PCM staff",
    base="99426",
    addon="99427",
    pool=Pool.STAFF,
    threshold=30,
    increment=30,
    fixed_cap=0,
    cap_source=CapSource.POLICY_99427,
    base_rule="R44",
    addon_rule="R44",
    choice_rule="R44",
)
PCM_TRACKS: tuple[Track, ...] = (PCM_PERSONAL_TRACK, PCM_STAFF_TRACK)

# R3: any of these from another practitioner means CCM is billed elsewhere.
CCM_CODES = frozenset({"99490", "99439", "99491", "99437", "99487", "99489"})

# R28: care-plan oversight (G0181, G0182) and ESRD monthly services (90951-90970).
OVERSIGHT_CODES = frozenset({"G0181", "G0182"} | {str(code) for code in range(90951, 90971)})

# R29: principal care management.
PCM_CODES = frozenset({"99424", "99425", "99426", "99427"})

# R30: advanced primary care management.
APCM_CODES = frozenset({"G0556", "G0557", "G0558"})

# R39, R42, R45: the CY2026 behavioural-health APCM add-ons. Billed only with APCM by the same
# practitioner; another practitioner's block APCM (R39), anyone's block PCM (R45). Never
# emitted by the engine.
APCM_ADDON_CODES = frozenset({"G0568", "G0569", "G0570"})
APCM_ALL_CODES = APCM_CODES | APCM_ADDON_CODES

# R41: APCM levels by chronic conditions and QMB status.
APCM_ONE_CONDITION = "G0556"
APCM_TWO_CONDITIONS = "G0557"
APCM_TWO_CONDITIONS_QMB = "G0558"

# R42: care management that APCM bundles when the same practitioner bills it in the month,
# by family (the explanation names the family): CCM, PCM, TCM, interprofessional
# consultation, G2250-G2252, online digital E/M.
APCM_BUNDLED_FAMILIES: dict[str, frozenset[str]] = {
    "CCM": CCM_CODES,
    "PCM": PCM_CODES,
    "TCM": frozenset({"99495", "99496"}),
    "interprofessional consultation": frozenset(
        {"99446", "99447", "99448", "99449", "99451", "99452"}
    ),
    "virtual check-in or remote evaluation": frozenset({"G2250", "G2251", "G2252"}),
    "online digital E/M": frozenset({"98970", "98971", "98972", "99421", "99422", "99423"}),
}
APCM_BUNDLED_CODES = frozenset().union(*APCM_BUNDLED_FAMILIES.values())

# R8, R40: how many years before consent the initiating visit may lie, per program.
VISIT_LOOKBACK_YEARS: dict[str, int] = {"ccm": 1, "pcm": 1, "apcm": 3}

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
# R44: 99425 and 99427 are capped at 2 by POLICY "until the CMS MUE table is loaded"; the
# spec gives no higher limit, so 2 is also the most a practice may set.
CAP_LIMITS: dict[str, int] = {"cap_99437": 2, "cap_99489": 10, "cap_99425": 2, "cap_99427": 2}

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
