"""Patients, their chronic conditions, CCM consent and enrollment history, EHR list imports."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from typing import ClassVar

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from ccm.csv_import import ImportRecord
from ccm.models import PostalAddress
from ccm.tenancy import TenantModel
from patients.validators import MRN_MESSAGE, validate_icd10, validate_mbi, validate_visit_code


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Status(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ENROLLED = "enrolled", "Enrolled"
    DECLINED = "declined", "Declined"
    DISENROLLED = "disenrolled", "Disenrolled"


def _same_practice(name: str) -> models.UniqueConstraint:
    # Target of composite foreign keys from child tables (ccm.tenancy.tenant_fk_sql).
    return models.UniqueConstraint(fields=["practice", "id"], name=f"{name}_practice_id")


class Patient(TenantModel, PostalAddress):
    """A patient of the practice: a CCM candidate, enrolled, declined or disenrolled."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    mrn = models.CharField(
        "MRN",
        max_length=32,
        validators=[RegexValidator(r"^[A-Za-z0-9._-]+$", MRN_MESSAGE)],
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = PhoneNumberField(blank=True)
    phone_alt = PhoneNumberField("other phone", blank=True)
    email = models.EmailField(blank=True)
    preferred_language = models.CharField(max_length=50, default="English", blank=True)
    mbi = models.CharField(
        "Medicare Beneficiary Identifier", max_length=11, blank=True, validators=[validate_mbi]
    )
    billing_practitioner = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    coordinator = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CANDIDATE)
    status_on = models.DateField("status since", null=True, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    initiating_visit_on = models.DateField("initiating visit date", null=True, blank=True)
    initiating_visit_code = models.CharField(
        "initiating visit code", max_length=5, blank=True, validators=[validate_visit_code]
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "mrn"], name="patients_mrn_per_practice"),
            _same_practice("patients_patient"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["practice", "last_name", "first_name", "mrn"]),
            # Prefix search indexes on UPPER(name) are in migration 0003 (raw SQL).
            models.Index(fields=["practice", "status"]),
            models.Index(fields=["practice", "date_of_birth"]),
            models.Index(fields=["practice", "coordinator"]),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class ConditionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"


class Condition(TenantModel):
    """An ICD-10-CM diagnosis on the patient's problem list (R4 counts the chronic ones)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="conditions")
    icd10_code = models.CharField("ICD-10-CM code", max_length=8, validators=[validate_icd10])
    description = models.CharField(max_length=300)
    is_chronic = models.BooleanField(
        "chronic",
        default=True,
        help_text="Expected to last 12 months or more and puts the patient at significant risk.",
    )
    onset_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ConditionStatus.choices, default=ConditionStatus.ACTIVE
    )
    resolved_on = models.DateField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)  # priority order (R34 pointers)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["position", "created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "patient", "icd10_code"], name="patients_condition_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.description}"


class ConsentMethod(models.TextChoices):
    VERBAL = "verbal", "Verbal"
    WRITTEN = "written", "Written (signed form)"
    ELECTRONIC = "electronic", "Electronic"


def consent_upload_path(instance: Consent, filename: str) -> str:
    # Never the uploaded name (it may carry PHI): practice and consent UUIDs only.
    extension = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}.get(
        instance.signed_form_type, "bin"
    )
    return f"consent-forms/{instance.practice_id}/{instance.id}.{extension}"


class Consent(TenantModel):
    """The patient's agreement to CCM (R5), with the four items R6 says must be explained."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    method = models.CharField(max_length=12, choices=ConsentMethod.choices)
    given_on = models.DateField("consent date")
    obtained_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    billing_practitioner = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, related_name="+"
    )
    # R6: each item explained before consent, checked off explicitly.
    explained_service = models.BooleanField("CCM is available and what it involves")
    explained_cost_sharing = models.BooleanField("Part B cost sharing applies")
    explained_one_practitioner = models.BooleanField(
        "Only one practitioner can bill CCM in a month"
    )
    explained_can_stop = models.BooleanField(
        "The patient may stop at any time, effective at the end of the month"
    )
    signed_form = models.FileField(upload_to=consent_upload_path, blank=True)
    signed_form_type = models.CharField(max_length=40, blank=True)
    revoked_on = models.DateField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=300, blank=True)
    revoked_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-given_on", "-created_at"]
        constraints: ClassVar = [_same_practice("patients_consent")]

    def __str__(self) -> str:
        return f"{self.get_method_display()} consent of {self.given_on}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_on is not None

    @property
    def revocation_effective_on(self) -> dt.date | None:
        """R7: a revocation takes effect at the end of the month in which it is made."""
        if self.revoked_on is None:
            return None
        last = calendar.monthrange(self.revoked_on.year, self.revoked_on.month)[1]
        return self.revoked_on.replace(day=last)


class EnrollmentEvent(TenantModel):
    """One status change of a patient (append-only history shown on the chart)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="enrollment_events")
    from_status = models.CharField(max_length=12, choices=Status.choices)
    to_status = models.CharField(max_length=12, choices=Status.choices)
    effective_on = models.DateField()
    reason = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status} on {self.effective_on}"


class PatientImport(ImportRecord):
    """An uploaded EHR candidate list: previewed (row errors shown) before it is applied."""

    updated_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"import of {self.created_at:%Y-%m-%d %H:%M} ({self.row_count} rows)"
