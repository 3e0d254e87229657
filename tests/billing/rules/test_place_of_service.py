"""R33: the place-of-service codes are the CMS POS code set: every assigned code from 01 to
99 (as CMS publishes it, and as pyx12 checks CLM05-1 and SV105), none unassigned."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pyx12

from billing.rules.codes import PLACE_OF_SERVICE_CODES

# The CMS list: 01-27, 31-34, 41-42, 49-58, 60-62, 65-66, 71-72, 81, 99 are assigned; the
# numbers between are unassigned (27 Outreach site/street and 66 PACE center since 2023).
ASSIGNED = (
    [f"{n:02d}" for n in range(1, 28)]
    + ["31", "32", "33", "34", "41", "42"]
    + [f"{n}" for n in range(49, 59)]
    + ["60", "61", "62", "65", "66", "71", "72", "81", "99"]
)


def test_the_codes_are_the_cms_set_in_order() -> None:
    assert list(PLACE_OF_SERVICE_CODES) == ASSIGNED
    assert PLACE_OF_SERVICE_CODES["11"] == "Office"
    assert PLACE_OF_SERVICE_CODES["10"] == "Telehealth provided in patient's home"
    assert all(name.strip() for name in PLACE_OF_SERVICE_CODES.values())


def test_the_codes_are_what_pyx12_accepts_in_an_837() -> None:
    codes_xml = Path(pyx12.__file__).parent / "map" / "codes.xml"
    # The installed library's own code list, not untrusted input.
    for codeset in ET.parse(codes_xml).getroot().iter("codeset"):  # noqa: S314
        if codeset.findtext("id") == "pos":
            accepted = [code.text for code in codeset.iter("code")]
            break
    else:
        raise AssertionError("pyx12's code list has no place-of-service set")
    assert sorted(PLACE_OF_SERVICE_CODES) == sorted(accepted)
