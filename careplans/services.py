"""Writes for care plans: templates, drafts, signing with re-authentication, the patient's
copy (care transitions: careplans/transition_services.py). Keyword-only, transactional,
audited, messages as constants (no PHI). A signed version never changes: services refuse
(VersionSigned: the API answers 409) and a database trigger refuses whatever path a bug might
take."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from careplans import chart_sections
from careplans import content as plan_content
from careplans.defaults import DEFAULT_TEMPLATES
from careplans.models import (
    CarePlan,
    CarePlanCopy,
    CarePlanTemplate,
    CarePlanVersion,
    CopyMethod,
    VersionStatus,
)
from ccm import audit
from ccm.api_auth import ApplicationError, StateConflict
from ccm.models import Membership, Practice
from ccm.roles import Capability, require
from ccm.tenancy import lock_for_practice_or_404
from patients import engine_inputs
from patients.models import ConditionStatus, Patient

REAUTH_LIMIT = 5  # failed signing re-authentications per user in REAUTH_WINDOW
REAUTH_WINDOW = 15 * 60

CLINICAL_ONLY_MESSAGE = "Only clinical staff, physicians and admins work on care plans."
PHYSICIAN_ONLY_MESSAGE = "Only a physician signs care plans."
ADMIN_ONLY_MESSAGE = "Only practice admins edit care plan templates."
DRAFT_EXISTS_MESSAGE = "This patient's plan already has a draft: continue that one."
SIGNED_MESSAGE = "This version is signed and can no longer change. Revise the plan instead."
NOT_SIGNED_MESSAGE = "A copy can only be given of the current signed version."
REAUTH_MISSING_MESSAGE = "Enter your password or a code from your authenticator app to sign."
REAUTH_WRONG_MESSAGE = "That password or code is not right. Nothing was signed."
REAUTH_LOCKED_MESSAGE = "Too many failed attempts. Wait 15 minutes before signing again."
INCOMPLETE_MESSAGE = "The plan is not complete yet: {gaps}"
FUTURE_MESSAGE = "The date cannot be in the future."
COPY_BEFORE_SIGNING_MESSAGE = "The copy cannot be given before the plan was signed ({day})."
PREFIX_MESSAGE = "Give ICD-10-CM prefixes such as E11, I50 (letters and digits, commas between)."


class VersionSigned(ApplicationError):
    """A write to a signed or superseded version (the API answers 409)."""


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


# --- Templates -------------------------------------------------------------------------------


def templates_ensure(*, practice: Practice) -> int:
    """Give a practice the default condition templates it lacks (idempotent). Returns how
    many were added."""
    have = set(CarePlanTemplate.objects.for_practice(practice).values_list("name", flat=True))
    new = [
        CarePlanTemplate(practice=practice, **spec)
        for spec in DEFAULT_TEMPLATES
        if spec["name"] not in have
    ]
    CarePlanTemplate.objects.for_practice(practice).bulk_create(new, ignore_conflicts=True)
    return len(new)


def _prefixes(text: str) -> str:
    parts = [p.strip().upper() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isalnum() and p[0].isalpha() and len(p) <= 7 for p in parts):
        raise ValidationError({"icd10_prefixes": PREFIX_MESSAGE})
    return ", ".join(parts)


@transaction.atomic
def template_update(
    *, practice: Practice, actor: Membership, template: CarePlanTemplate, data: dict[str, Any]
) -> CarePlanTemplate:
    """Admins change a template's prefixes, texts, goals and interventions. Audited."""
    require(actor, Capability.EDIT_CARE_PLAN_TEMPLATES, ADMIN_ONLY_MESSAGE)
    template = lock_for_practice_or_404(CarePlanTemplate.objects.all(), practice, template.pk)
    fields = ["name", "expected_outcome", "symptom_management", "is_active"]
    for name in fields:
        if name in data:
            setattr(template, name, data[name])
    if "icd10_prefixes" in data:
        template.icd10_prefixes = _prefixes(data["icd10_prefixes"])
    rows = plan_content.clean(
        {
            "goals": data.get("goals", template.goals),
            "interventions": data.get("interventions", template.interventions),
        }
    )
    template.goals = [{k: g[k] for k in ("goal", "target", "measure")} for g in rows["goals"]]
    template.interventions = rows["interventions"]
    template.updated_at = timezone.now()
    template.full_clean(exclude=["practice"])
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise ValidationError({"name": "Another template has this name."}) from None
    audit.write(actor, template, "update", changed_fields=sorted(data))
    return template


# --- Drafts ----------------------------------------------------------------------------------


def _plan_for(practice: Practice, patient: Patient) -> CarePlan:
    """The patient's plan, locked (created on first use; the unique constraint settles races)."""
    try:
        with transaction.atomic():
            CarePlan.objects.for_practice(practice).get_or_create(
                practice=practice, patient=patient
            )
    except IntegrityError:
        pass
    return CarePlan.objects.for_practice(practice).select_for_update().get(patient=patient)


def _matching_templates(practice: Practice, codes: list[str], template_ids: Any) -> list[Any]:
    templates = CarePlanTemplate.objects.for_practice(practice).filter(is_active=True)
    if template_ids is not None:
        return list(templates.filter(pk__in=template_ids))
    return [t for t in templates if any(t.matches(code) for code in codes)]


def _prefilled(practice: Practice, patient: Patient, template_ids: Any) -> dict[str, Any]:
    """A first draft: the problem list from the chart, goals and interventions from the
    templates matching its codes (or those chosen)."""
    conditions = [
        c
        for c in patient.conditions.order_by("position", "created_at")
        if c.is_chronic and c.status == ConditionStatus.ACTIVE
    ]
    templates = _matching_templates(practice, [c.icd10_code for c in conditions], template_ids)
    return prefill(conditions, templates, practice.care_plan_review_months)


def prefill(conditions: list[Any], templates: list[Any], review_months: int) -> dict[str, Any]:
    """Draft content from active chronic conditions (code, description) and templates."""
    data = plan_content.empty()
    data["problems"] = [
        {"code": c.icd10_code, "description": c.description, "notes": ""} for c in conditions
    ]
    for template in templates:
        data["goals"] += [{**g, "due_on": "", "status": "not_started"} for g in template.goals]
        data["interventions"] += template.interventions
        for field in ("expected_outcome", "symptom_management"):
            text = getattr(template, field)
            if text and text not in data[field]:
                data[field] = f"{data[field]}\n{template.name}: {text}".strip()
    data["review_schedule"] = (
        f"Reviewed with the patient at least every {review_months} months, "
        "after any hospital stay, and whenever goals change."
    )
    return plan_content.clean(data)


@transaction.atomic
def draft_start(
    *, practice: Practice, actor: Membership, patient: Patient, template_ids: Any = None
) -> CarePlanVersion:
    """Start a draft: a copy of the current signed version (a revision), else prefilled from
    the chart and the condition templates. One draft per plan. Audited."""
    require(actor, Capability.EDIT_CLINICAL, CLINICAL_ONLY_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError("The patient must belong to this practice.")
    plan = _plan_for(practice, patient)
    versions = CarePlanVersion.objects.for_practice(practice).filter(plan=plan)
    if versions.filter(status=VersionStatus.DRAFT).exists():
        raise StateConflict(DRAFT_EXISTS_MESSAGE)
    signed = versions.filter(status=VersionStatus.SIGNED).first()
    number = (versions.aggregate(n=Max("number"))["n"] or 0) + 1
    # The medication section is the chart's (careplans.chart_sections), not the signed snapshot.
    body = (
        chart_sections.without_chart(signed.content)
        if signed
        else _prefilled(practice, patient, template_ids)
    )
    try:
        with transaction.atomic():
            version = CarePlanVersion.objects.for_practice(practice).create(
                practice=practice,
                plan=plan,
                patient=patient,
                number=number,
                content=body,
                based_on=signed,
                created_by=actor,
                updated_by=actor,
            )
    except IntegrityError:
        raise StateConflict(DRAFT_EXISTS_MESSAGE) from None
    audit.write(actor, version, "create", patient_id=patient.pk)
    return version


def _lock_draft(practice: Practice, version: CarePlanVersion) -> CarePlanVersion:
    locked = lock_for_practice_or_404(CarePlanVersion, practice, version.pk)
    if locked.status != VersionStatus.DRAFT:
        raise VersionSigned(SIGNED_MESSAGE)
    return locked


@transaction.atomic
def draft_update(
    *, practice: Practice, actor: Membership, version: CarePlanVersion, data: dict[str, Any]
) -> CarePlanVersion:
    """Replace a draft's content (validated; sections not given keep their value). Audited
    with the names of the sections that changed."""
    require(actor, Capability.EDIT_CLINICAL, CLINICAL_ONLY_MESSAGE)
    version = _lock_draft(practice, version)
    before = version.content
    after = plan_content.clean({**before, **data})
    changed = audit.changed(before, after)
    if changed:
        version.content, version.updated_by, version.updated_at = after, actor, timezone.now()
        version.save(update_fields=["content", "updated_by", "updated_at"])
        audit.write(actor, version, "update", patient_id=version.patient_id, changed_fields=changed)
    return version


@transaction.atomic
def draft_submit(
    *, practice: Practice, actor: Membership, version: CarePlanVersion
) -> CarePlanVersion:
    """Send a complete draft to the physicians' signing queue. Audited."""
    require(actor, Capability.EDIT_CLINICAL, CLINICAL_ONLY_MESSAGE)
    version = _lock_draft(practice, version)
    _check_complete(version)
    version.submitted_at, version.submitted_by = timezone.now(), actor
    version.save(update_fields=["submitted_at", "submitted_by"])
    audit.write(actor, version, "submit", patient_id=version.patient_id)
    return version


@transaction.atomic
def draft_discard(*, practice: Practice, actor: Membership, version: CarePlanVersion) -> None:
    """Throw a draft away (signed versions stay forever). Audited."""
    require(actor, Capability.EDIT_CLINICAL, CLINICAL_ONLY_MESSAGE)
    version = _lock_draft(practice, version)
    audit.write(actor, version, "discard", patient_id=version.patient_id)
    version.delete()


def _check_complete(version: CarePlanVersion) -> None:
    gaps = plan_content.missing(chart_sections.content_of(version))
    if gaps:
        raise StateConflict(INCOMPLETE_MESSAGE.format(gaps=" ".join(gaps)))


# --- Signing ---------------------------------------------------------------------------------


def _reauthenticate(actor: Membership, password: str, code: str) -> None:
    """The signer proves it is them again: their password or a current TOTP code."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    user = actor.user
    key = f"careplan-sign-failures:{user.pk}"
    if (cache.get(key) or 0) >= REAUTH_LIMIT:
        raise ValidationError({"password": REAUTH_LOCKED_MESSAGE})
    if not (password or code):
        raise ValidationError({"password": REAUTH_MISSING_MESSAGE})
    ok = bool(password) and user.check_password(password)
    if not ok and code:
        totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
        ok = totp is not None and TOTP(totp).validate_code(code.strip())
    if not ok:
        cache.set(key, (cache.get(key) or 0) + 1, REAUTH_WINDOW)
        audit.record_for(actor, "careplanversion.sign_refused")
        raise ValidationError({"password": REAUTH_WRONG_MESSAGE})
    cache.delete(key)


def version_sign(
    *,
    practice: Practice,
    actor: Membership,
    version: CarePlanVersion,
    password: str = "",
    code: str = "",
) -> CarePlanVersion:
    """A physician signs a complete draft after re-authenticating: signer, time and the
    SHA-256 of the canonical content are recorded, the previous signed version is superseded,
    the next review is set. A second signature answers VersionSigned (409). Audited."""
    require(actor, Capability.SIGN_CARE_PLANS, PHYSICIAN_ONLY_MESSAGE)
    # Outside the signing transaction: a refused attempt is audited and counted even though
    # nothing is signed.
    _reauthenticate(actor, password, code)
    return _sign(practice, actor, version)


@transaction.atomic
def _sign(practice: Practice, actor: Membership, version: CarePlanVersion) -> CarePlanVersion:
    plan = lock_for_practice_or_404(CarePlan, practice, version.plan_id)
    version = _lock_draft(practice, version)
    _check_complete(version)
    # R11: the plan is the billing engine's input; the worklist's stored progress follows.
    with engine_inputs.changing(practice=practice, patient_ids=[version.patient_id]):
        return _sign_locked(practice, actor, plan, version)


def _sign_locked(
    practice: Practice, actor: Membership, plan: CarePlan, version: CarePlanVersion
) -> CarePlanVersion:
    now = timezone.now()
    today = practice.today()
    # The signed record holds the chart's medication list as it is now.
    content = chart_sections.content_of(version)
    CarePlanVersion.objects.for_practice(practice).filter(
        plan=plan, status=VersionStatus.SIGNED
    ).update(status=VersionStatus.SUPERSEDED)
    # Conditional on still being a draft: the row lock makes a second signer wait, then fail.
    signed = (
        CarePlanVersion.objects.for_practice(practice)
        .filter(pk=version.pk, status=VersionStatus.DRAFT)
        .update(
            status=VersionStatus.SIGNED,
            signed_by=actor,
            signed_at=now,
            signed_on=today,
            content=content,
            content_sha256=plan_content.digest(content),
        )
    )
    if not signed:
        raise VersionSigned(SIGNED_MESSAGE)
    plan.next_review_on = add_months(today, practice.care_plan_review_months)
    plan.review_reason = ""
    plan.save(update_fields=["next_review_on", "review_reason"])
    version.refresh_from_db()
    audit.write(actor, version, "sign", patient_id=version.patient_id)
    return version


# --- The patient's copy ---------------------------------------------------------------------


@transaction.atomic
def copy_record(
    *,
    practice: Practice,
    actor: Membership,
    version: CarePlanVersion,
    given_on: dt.date,
    method: str,
) -> CarePlanCopy:
    """R12: record when and how the patient got a copy of the current signed version."""
    require(actor, Capability.EDIT_CLINICAL, CLINICAL_ONLY_MESSAGE)
    version = CarePlanVersion.objects.for_practice(practice).get(pk=version.pk)
    if version.status != VersionStatus.SIGNED or version.signed_on is None:
        raise StateConflict(NOT_SIGNED_MESSAGE)
    if method not in CopyMethod.values:
        raise ValidationError({"method": "Choose how the copy was given."})
    if given_on > practice.today():
        raise ValidationError({"given_on": FUTURE_MESSAGE})
    if given_on < version.signed_on:
        raise ValidationError(
            {"given_on": COPY_BEFORE_SIGNING_MESSAGE.format(day=version.signed_on)}
        )
    with engine_inputs.changing(practice=practice, patient_ids=[version.patient_id]):  # R11
        copy = CarePlanCopy.objects.for_practice(practice).create(
            practice=practice,
            version=version,
            patient_id=version.patient_id,
            given_on=given_on,
            method=method,
            recorded_by=actor,
        )
        audit.write(actor, copy, "create", patient_id=version.patient_id)
    return copy
