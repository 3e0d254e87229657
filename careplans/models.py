"""Comprehensive care plans (R11/R12): a plan per patient, its versions (draft → signed →
superseded), the copies given to the patient, care transitions that bring the review
forward, and the practice's condition templates.

A link to another tenant table has `db_constraint=False`: the database checks it with the
composite same-practice foreign key `(practice_id, x_id)` (ccm.tenancy.tenant_fk_sql); a
single-column one would be redundant, and Citus refuses it between distributed tables
(docs/scaling.md). The ORM relation and its on_delete stay."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.db.models import Q
from django.utils import timezone

from ccm.tenancy import TenantModel


class CarePlan(TenantModel):
    """The patient's care plan: its versions hang off it; the next review date lives here."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="care_plans", db_constraint=False
    )
    next_review_on = models.DateField(null=True, blank=True)
    review_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "id"], name="careplans_plan_practice_id"),
            models.UniqueConstraint(
                fields=["practice", "patient"], name="careplans_one_plan_per_patient"
            ),
        ]

    def __str__(self) -> str:
        return "care plan"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"
    SUPERSEDED = "superseded", "Superseded"


class CarePlanVersion(TenantModel):
    """One version of the plan's content. Signed and superseded versions are immutable (a
    database trigger refuses any change but signed → superseded)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(
        CarePlan, on_delete=models.PROTECT, related_name="versions", db_constraint=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    number = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    content = models.JSONField(default=dict)
    based_on = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    created_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    # Sent to the physicians' signing queue.
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_on = models.DateField(null=True, blank=True, help_text="In the practice's zone.")
    content_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering: ClassVar = ["-number"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "id"], name="careplans_version_practice_id"
            ),
            models.UniqueConstraint(
                fields=["practice", "plan", "number"], name="careplans_version_number"
            ),
            # One draft and one current signed version per plan, even under races.
            models.UniqueConstraint(
                fields=["practice", "plan"],
                condition=Q(status="draft"),
                name="careplans_one_draft",
            ),
            models.UniqueConstraint(
                fields=["practice", "plan"],
                condition=Q(status="signed"),
                name="careplans_one_signed",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | (
                    Q(signed_at__isnull=False)
                    & Q(signed_by__isnull=False)
                    & Q(signed_on__isnull=False)
                    & Q(content_sha256__regex=r"^[0-9a-f]{64}$")
                ),
                name="careplans_signed_has_signature",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["practice", "status", "submitted_at"]),
            models.Index(fields=["practice", "patient", "status"]),
        ]

    def __str__(self) -> str:
        return f"version {self.number} ({self.get_status_display()})"

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT


class CopyMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person (printed)"
    MAIL = "mail", "By mail"
    PORTAL = "portal", "Patient portal"
    EMAIL = "email", "By email"


class CarePlanCopy(TenantModel):
    """R12: when and how the patient (or caregiver) got a copy of a signed version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.ForeignKey(
        CarePlanVersion, on_delete=models.PROTECT, related_name="copies", db_constraint=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    given_on = models.DateField()
    method = models.CharField(max_length=10, choices=CopyMethod.choices)
    recorded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-given_on", "-created_at"]

    def __str__(self) -> str:
        return f"copy given {self.given_on}"


class TransitionKind(models.TextChoices):
    ED_VISIT = "ed_visit", "Emergency department visit"
    HOSPITAL_DISCHARGE = "hospital_discharge", "Hospital discharge"
    SNF_DISCHARGE = "snf_discharge", "Skilled nursing facility discharge"
    SPECIALIST_VISIT = "specialist_visit", "Specialist visit"


# Transitions out of a facility: a follow-up task within 2 business days and a medication
# reconciliation prompt; the plan's review comes forward.
DISCHARGE_KINDS = frozenset(
    {TransitionKind.ED_VISIT, TransitionKind.HOSPITAL_DISCHARGE, TransitionKind.SNF_DISCHARGE}
)


def transition_upload_path(instance: CareTransition, filename: str) -> str:
    # Never the uploaded name (it may carry PHI): practice and transition UUIDs only.
    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(
        instance.document_type, "bin"
    )
    return f"transitions/{instance.practice_id}/{instance.id}.{extension}"


class CareTransition(TenantModel):
    """A care transition on the chart: an ED visit, a hospital or SNF discharge (discharge
    summary attached), or a specialist visit with its notes. Recording one brings the plan's
    review forward and (through `careplans.hooks.transition_recorded`) creates follow-up work."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="transitions",
        db_constraint=False,
    )
    kind = models.CharField(
        max_length=20, choices=TransitionKind.choices, default=TransitionKind.HOSPITAL_DISCHARGE
    )
    # The discharge date, or the day of the ED or specialist visit.
    occurred_on = models.DateField()
    admitted_on = models.DateField(null=True, blank=True)
    facility = models.CharField(max_length=200, blank=True)
    # The specialist (or the discharging practitioner), when one of the patient's contacts.
    contact = models.ForeignKey(
        "patients.CareContact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    diagnoses = models.CharField(max_length=500, blank=True)
    note = models.TextField("discharge or visit notes", blank=True)
    document = models.FileField(
        "discharge summary or visit note", upload_to=transition_upload_path, blank=True
    )
    document_type = models.CharField(max_length=40, blank=True)
    recorded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-occurred_on", "-created_at"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "occurred_on"])]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "id"], name="careplans_transition_practice_id"
            ),
            models.CheckConstraint(
                condition=Q(admitted_on__isnull=True) | Q(admitted_on__lte=models.F("occurred_on")),
                name="careplans_transition_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"

    @property
    def is_discharge(self) -> bool:
        return self.kind in DISCHARGE_KINDS


class CarePlanTemplate(TenantModel):
    """Goals and interventions that prefill a new draft for matching ICD-10-CM codes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    icd10_prefixes = models.CharField(
        "ICD-10-CM prefixes",
        max_length=200,
        help_text="Comma-separated code prefixes, e.g. E11, E13.",
    )
    expected_outcome = models.TextField(blank=True)
    symptom_management = models.TextField(blank=True)
    goals = models.JSONField(default=list, blank=True)
    interventions = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "name"], name="careplans_template_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def prefixes(self) -> list[str]:
        return [p.strip().upper() for p in self.icd10_prefixes.split(",") if p.strip()]

    def matches(self, code: str) -> bool:
        code = code.upper()
        return any(code.startswith(prefix) for prefix in self.prefixes)
