"""The structured content of a care plan version: its sections, validation, the R12 check
before signing, the canonical form that is hashed at signing, and a text form for diffs.

Content is a plain dict (stored as JSON). `clean()` is the only way in: it keeps known keys,
trims strings, checks dates and choices, and raises ValidationError naming the field.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

MAX_TEXT = 4000
MAX_ROWS = 50

GOAL_STATUSES = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "met": "Met",
    "not_met": "Not met",
}
# Row sections: their fields, in order, and the one that makes a row count (blank rows drop).
ROWS: dict[str, tuple[str, ...]] = {
    "problems": ("code", "description", "notes"),
    "goals": ("goal", "target", "measure", "due_on", "status"),
    "interventions": ("intervention", "responsible"),
    "medications": ("name", "dose", "instructions"),
    "coordination": ("name", "role", "contact", "purpose"),
    "caregivers": ("name", "relationship", "contact", "sharing"),
}
TEXTS = (
    "expected_outcome",
    "prognosis",
    "symptom_management",
    "community_services",
    "coordination_notes",
    "caregiver",
    "preferences",
    "barriers",
    "review_schedule",
)
DATES = ("medications_reconciled_on",)
# Read from the chart (careplans.chart_sections): the medication list and latest
# reconciliation, the care contacts and caregivers. Not edited in the plan: clean() leaves
# them empty; signing stores them as they were then.
FROM_CHART = ("medications", "medications_reconciled_on", "coordination", "caregivers")

# Labels in the plan's reading order (editor, PDF, diff); translated for the patient's copy.
LABELS = {
    "problems": _("Problem list"),
    "expected_outcome": _("Expected outcome"),
    "prognosis": _("Prognosis"),
    "goals": _("Measurable goals"),
    "symptom_management": _("Symptom management"),
    "interventions": _("Planned interventions and who is responsible"),
    "medications": _("Medications"),
    "medications_reconciled_on": _("Medications last reconciled"),
    "community_services": _("Community and social services"),
    "coordination": _("Coordination with other practitioners and agencies"),
    "coordination_notes": _("How care is coordinated"),
    "caregivers": _("Caregivers and family"),
    "caregiver": _("Caregiver involvement"),
    "preferences": _("Patient preferences"),
    "barriers": _("Barriers"),
    "review_schedule": _("Review schedule"),
}

ROW_MESSAGE = "Each {what} needs {field}."
DATE_MESSAGE = "Give dates as YYYY-MM-DD."
STATUS_MESSAGE = "Choose a goal status from the list."
TOO_LONG_MESSAGE = f"Keep this under {MAX_TEXT} characters."
TOO_MANY_MESSAGE = f"At most {MAX_ROWS} rows."
SHAPE_MESSAGE = "Expected a list of rows."
NOT_RECONCILED_MESSAGE = "Reconcile the medication list on the chart (none is recorded yet)."


def empty() -> dict[str, Any]:
    """A blank plan: every section present."""
    return {
        **{name: [] for name in ROWS},
        **dict.fromkeys(TEXTS, ""),
        **dict.fromkeys(DATES, ""),
    }


def _text(value: Any, field: str) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValidationError({field: TOO_LONG_MESSAGE})
    return text


def _date(value: Any, field: str) -> str:
    text = _text(value, field)
    if not text:
        return ""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValidationError({field: DATE_MESSAGE}) from None


def _rows(section: str, value: Any) -> list[dict[str, str]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise ValidationError({section: SHAPE_MESSAGE})
    rows = []
    for row in value:
        clean = {name: _text(row.get(name), section) for name in ROWS[section]}
        if not any(v for k, v in clean.items() if k != "status"):
            continue  # a blank row of the editor (its status menu always has a value)
        if section == "goals":
            clean["due_on"] = _date(clean["due_on"], section)
            clean["status"] = clean["status"] or "not_started"
            if clean["status"] not in GOAL_STATUSES:
                raise ValidationError({section: STATUS_MESSAGE})
        rows.append(clean)
    if len(rows) > MAX_ROWS:
        raise ValidationError({section: TOO_MANY_MESSAGE})
    return rows


def clean(data: dict[str, Any]) -> dict[str, Any]:
    """Validated content (unknown keys dropped); raises ValidationError naming the field."""
    content = empty()
    for section in ROWS:
        if section not in FROM_CHART:
            content[section] = _rows(section, data.get(section))
    for field in TEXTS:
        content[field] = _text(data.get(field), field)
    for field in DATES:
        if field not in FROM_CHART:
            content[field] = _date(data.get(field), field)
    return content


# R12: what a comprehensive plan must hold before a physician may sign it.
REQUIRED_TEXTS = (
    "expected_outcome",
    "prognosis",
    "symptom_management",
    "community_services",
    "caregiver",
    "preferences",
    "review_schedule",
)


def missing(content: dict[str, Any]) -> list[str]:
    """R12 elements still missing, as sentences for the signer (empty: ready to sign)."""
    gaps = []
    if not content["problems"]:
        gaps.append("The problem list is empty.")
    gaps += [f"{LABELS[f]} is blank." for f in REQUIRED_TEXTS[:3] if not content[f]]
    goals = content["goals"]
    if not goals:
        gaps.append("Add at least one measurable goal.")
    elif any(not (g["goal"] and g["target"] and g["measure"]) for g in goals):
        gaps.append("Every goal needs what, a target and how it is measured.")
    interventions = content["interventions"]
    if not interventions:
        gaps.append("Add at least one planned intervention.")
    elif any(not (i["intervention"] and i["responsible"]) for i in interventions):
        gaps.append("Every intervention needs the person responsible.")
    if not content.get("medications_reconciled_on"):
        gaps.append(NOT_RECONCILED_MESSAGE)
    if not (content["coordination"] or content["coordination_notes"]):
        gaps.append("Say how care is coordinated with other practitioners and agencies.")
    gaps += [f"{LABELS[f]} is blank." for f in REQUIRED_TEXTS[3:] if not content[f]]
    return gaps


def canonical(content: dict[str, Any]) -> bytes:
    """The bytes that are hashed at signing: sorted keys, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def _row_text(section: str, row: dict[str, str]) -> str:
    if section == "goals":
        status = GOAL_STATUSES.get(row["status"], row["status"])
        due = f", by {row['due_on']}" if row["due_on"] else ""
        return (
            f"{row['goal']}: target {row['target']}, measured by {row['measure']}{due} ({status})"
        )
    return " — ".join(row[name] for name in ROWS[section] if row[name])


def sections(content: dict[str, Any]) -> list[tuple[str | Promise, list[str]]]:
    """(label, lines) per section in reading order: the PDF and the diff read these (labels
    lazy: they render in the language active where they are shown)."""
    out: list[tuple[str | Promise, list[str]]] = []
    for key, label in LABELS.items():
        value = content.get(key)
        if key in ROWS:
            lines = [_row_text(key, row) for row in value or []]
        else:
            lines = [line for line in str(value or "").splitlines() if line.strip()]
        out.append((label, lines))
    return out
