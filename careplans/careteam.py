"""The care plan's care team and caregiver sections, read from the chart's contacts
(patients.careteam_selectors): the plan keeps no second copy to edit. A draft's sections are
refreshed from the chart when it is saved, submitted and signed, so the signed version's
content (hashed, printed on the PDF) is the care team as it was at signing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ccm.models import Practice
from patients.careteam_selectors import ContactRow, contact_rows
from patients.models import CareContact

NO_PERMISSION = "No permission to share"


def _reach(contact: CareContact) -> str:
    parts = [f"Phone {contact.phone.as_national}" if contact.phone else ""]
    parts += [f"Fax {contact.fax.as_national}" if contact.fax else "", contact.secure_email]
    return ", ".join(p for p in parts if p)


def _sharing(row: ContactRow) -> str:
    current = row.current
    if not current:
        return NO_PERMISSION
    return "May share: " + "; ".join(p.scopes for p in current)


def _coordination(row: ContactRow) -> dict[str, str]:
    c = row.contact
    role = " · ".join(p for p in (row.kind, c.organisation) if p)
    return {"name": c.name, "role": role, "contact": _reach(c), "purpose": _sharing(row)}


def _caregiver(row: ContactRow) -> dict[str, str]:
    c = row.contact
    relationship = c.relationship + (" (representative)" if c.is_representative else "")
    reach = _reach(c) + (f", speaks {c.language}" if c.language else "")
    return {
        "name": c.name,
        "relationship": relationship,
        "contact": reach.lstrip(", "),
        "sharing": _sharing(row),
    }


def care_team_sections(*, practice: Practice, patient_id: Any, today: dt.date) -> dict[str, Any]:
    """The plan's `coordination` and `caregivers` rows from the patient's active contacts
    (two queries)."""
    rows = [
        r
        for r in contact_rows(practice=practice, patient_id=patient_id, today=today)
        if r.contact.is_active
    ]
    return {
        "coordination": [_coordination(r) for r in rows if not r.contact.is_caregiver],
        "caregivers": [_caregiver(r) for r in rows if r.contact.is_caregiver],
    }


def with_care_team(
    content: dict[str, Any], *, practice: Practice, patient_id: Any
) -> dict[str, Any]:
    """`content` with its care team sections read from the chart now."""
    today = practice.today()
    return {**content, **care_team_sections(practice=practice, patient_id=patient_id, today=today)}
