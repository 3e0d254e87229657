"""Demo care plans (seed_demo): most enrolled patients have a signed plan and a copy given,
some a draft waiting in the physicians' queue, a few none yet, a few due for review.
Deterministic and bulk-inserted; a re-run adds plans only for patients without one."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Sequence

from django.utils import timezone

from careplans import chart_sections, transition_demo
from careplans import content as plan_content
from careplans.models import (
    CarePlan,
    CarePlanCopy,
    CarePlanTemplate,
    CarePlanVersion,
    CopyMethod,
    VersionStatus,
)
from careplans.services import add_months, prefill, templates_ensure
from ccm.demo import DemoSeed
from ccm.models import Membership, Practice
from patients.models import Condition, ConditionStatus, Patient, Status

DEMO_SECTIONS = {
    "prognosis": "Stable with steady treatment and monthly follow-up.",
    "community_services": "Offered Meals on Wheels and a senior centre exercise class.",
    "coordination_notes": "Specialist letters are reviewed by the care coordinator monthly.",
    "caregiver": "Lives with a spouse who helps with medicines and appointments.",
    "preferences": "Prefers phone calls in the late morning; wants to stay active at home.",
    "barriers": "Limited transport to appointments.",
}


def seed_care_plans(
    *,
    practice: Practice,
    physician: Membership,
    coordinators: Sequence[Membership],
    today: dt.date | None = None,
) -> int:
    """Plans for enrolled demo patients without one. Returns how many were added."""
    today = today or practice.today()
    templates_ensure(practice=practice)
    templates = list(CarePlanTemplate.objects.for_practice(practice))
    patients = list(
        Patient.objects.for_practice(practice)
        .filter(status=Status.ENROLLED)
        .exclude(care_plans__isnull=False)
        .order_by("mrn")
    )
    conditions = defaultdict(list)
    for c in (
        Condition.objects.for_practice(practice)
        .filter(patient__in=patients, is_chronic=True)
        .filter(status=ConditionStatus.ACTIVE)
        .order_by("position")
    ):
        conditions[c.patient_id].append(c)
    charted = chart_sections.from_chart_many(
        practice=practice, patient_ids=[p.pk for p in patients]
    )
    rng = random.Random(f"{practice.slug}-care-plans")  # noqa: S311 (demo data)
    plans, versions, copies = [], [], []
    for patient in patients:
        codes = conditions[patient.pk]
        matching = [t for t in templates if any(t.matches(c.icd10_code) for c in codes)]
        body = prefill(codes, matching, practice.care_plan_review_months)
        body.update(DEMO_SECTIONS)
        body = plan_content.clean(body)
        draw = rng.random()
        if draw < 0.05:
            continue  # no plan yet: the worklist flags it, the reminder job asks for one
        plan = CarePlan(practice=practice, patient=patient)
        plans.append(plan)
        coordinator = rng.choice(coordinators)
        version = CarePlanVersion(
            practice=practice,
            plan=plan,
            patient=patient,
            number=1,
            content=body,
            created_by=coordinator,
            updated_by=coordinator,
        )
        if draw < 0.12:  # a draft in the physicians' queue
            version.submitted_at, version.submitted_by = timezone.now(), coordinator
        else:
            # Signed within the last year; about one in twelve is due for review now.
            signed_on = today - dt.timedelta(days=rng.randrange(20, 390))
            version.content = {**body, **charted[patient.pk]}  # the list as signed
            _sign(version, physician, signed_on)
            plan.next_review_on = add_months(signed_on, practice.care_plan_review_months)
            if rng.random() < 0.92:
                copies.append(
                    CarePlanCopy(
                        practice=practice,
                        version=version,
                        patient=patient,
                        given_on=signed_on + dt.timedelta(days=rng.randrange(0, 5)),
                        method=rng.choice(CopyMethod.values),
                        recorded_by=coordinator,
                    )
                )
        versions.append(version)
    CarePlan.objects.for_practice(practice).bulk_create(plans, batch_size=2000)
    CarePlanVersion.objects.for_practice(practice).bulk_create(versions, batch_size=2000)
    CarePlanCopy.objects.for_practice(practice).bulk_create(copies, batch_size=2000)
    return len(plans)


def _sign(version: CarePlanVersion, physician: Membership, signed_on: dt.date) -> None:
    version.status = VersionStatus.SIGNED
    version.signed_by = physician
    version.signed_on = signed_on
    version.signed_at = dt.datetime(
        signed_on.year, signed_on.month, signed_on.day, 15, tzinfo=dt.UTC
    )
    version.created_at = version.updated_at = version.signed_at - dt.timedelta(days=2)
    version.content_sha256 = plan_content.digest(version.content)


def seed_demo(demo: DemoSeed) -> None:
    """`manage.py seed_demo`'s care plans (ccm/demo.py)."""
    for slug, physician, coordinators in (
        ("demo", "physician@demo.test", ("coordinator@demo.test", "nurse@demo.test")),
        ("other", "physician@other.test", ("coordinator@other.test",)),
    ):
        seed_care_plans(
            practice=demo.practices[slug],
            physician=demo.memberships[physician],
            coordinators=[demo.memberships[e] for e in coordinators],
        )
    transition_demo.seed(demo)
