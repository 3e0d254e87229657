"""Reads for care plans: the chart's plan panel, versions, the signing queue, templates and
the diff between two versions. Fixed query counts; the practice is always explicit."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from careplans import chart_sections
from careplans import content as plan_content
from careplans.models import (
    CarePlan,
    CarePlanCopy,
    CarePlanTemplate,
    CarePlanVersion,
    VersionStatus,
)
from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404


def version_list(*, practice: Practice, patient_id: Any) -> QuerySet[CarePlanVersion]:
    """The patient's versions, newest first, with who wrote and signed them."""
    return (
        CarePlanVersion.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("created_by__user", "signed_by__user", "submitted_by__user")
        .order_by("-number")
    )


def version_get(*, practice: Practice, version_id: Any) -> CarePlanVersion:
    """One version (404 outside the practice) with its patient, plan and people."""
    version = get_for_practice_or_404(CarePlanVersion, practice, version_id)
    return (
        CarePlanVersion.objects.for_practice(practice)
        .select_related(
            "patient", "plan", "created_by__user", "signed_by__user", "updated_by__user"
        )
        .get(pk=version.pk)
    )


@dataclass
class ChartPlan:
    """The chart's care plan panel."""

    plan: CarePlan | None
    signed: CarePlanVersion | None
    draft: CarePlanVersion | None
    copies: list[CarePlanCopy]
    versions: list[CarePlanVersion] = field(default_factory=list)

    def review_due(self, today: dt.date) -> bool:
        return bool(self.plan and self.plan.next_review_on and self.plan.next_review_on <= today)


def chart_plan(*, practice: Practice, patient_id: Any) -> ChartPlan:
    """Current signed version, the draft, the copies given (three queries; the care
    transitions are careplans/transition_selectors.py's)."""
    plan = CarePlan.objects.for_practice(practice).filter(patient_id=patient_id).first()
    versions = list(version_list(practice=practice, patient_id=patient_id)) if plan else []
    signed = next((v for v in versions if v.status == VersionStatus.SIGNED), None)
    draft = next((v for v in versions if v.status == VersionStatus.DRAFT), None)
    copies = list(
        CarePlanCopy.objects.for_practice(practice)
        .filter(patient_id=patient_id)
        .select_related("version", "recorded_by__user")
    )
    return ChartPlan(plan, signed, draft, copies, versions)


def signing_queue(*, practice: Practice) -> QuerySet[CarePlanVersion]:
    """Drafts sent for signature, oldest first (the physicians' queue)."""
    return (
        CarePlanVersion.objects.for_practice(practice)
        .filter(status=VersionStatus.DRAFT, submitted_at__isnull=False)
        .select_related("patient", "submitted_by__user")
        .order_by("submitted_at")
    )


def template_list(*, practice: Practice) -> QuerySet[CarePlanTemplate]:
    return CarePlanTemplate.objects.for_practice(practice).order_by("name")


@dataclass(frozen=True)
class DiffSection:
    label: str
    lines: list[tuple[str, str]]  # (" ", "+" or "-", text)

    @property
    def changed(self) -> bool:
        return any(op != " " for op, _text in self.lines)


def version_diff(old: CarePlanVersion, new: CarePlanVersion) -> list[DiffSection]:
    """Section by section, lines kept, added (+) and removed (-), in reading order."""
    before = dict(plan_content.sections(chart_sections.content_of(old)))
    out = []
    for label, lines in plan_content.sections(chart_sections.content_of(new)):
        ops = []
        for line in difflib.ndiff(before.get(label, []), lines):
            if line[:1] in (" ", "+", "-"):
                ops.append((line[:1], line[2:]))
        out.append(DiffSection(str(label), ops))
    return out
