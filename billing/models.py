"""Month close and claims: the facts the engine needs beyond time and the chart (other
services, CCM billed elsewhere, MDM), the practice's fee schedule, the month's close run,
each evaluated patient-month's outcome, and the claims with their lines."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.rules.codes import CAP_LIMITS, PLACE_OF_SERVICE_CODES
from ccm.csv_import import ImportRecord
from ccm.tenancy import TenantModel


class FeeSchedule(TenantModel):
    """R26: the practice's amount for a code (codes not listed use the spec's amounts)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=8)
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "code"], name="billing_fee_once"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="billing_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.amount}"


class OtherService(TenantModel):
    """A service billed for the patient that interacts with CCM (R28-R31): PCM, APCM,
    care plan oversight, ESRD, TCM... with its practitioner and date of service."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="other_services"
    )
    code = models.CharField(max_length=8)
    service_on = models.DateField()
    # This practice's member, or another practice's practitioner by NPI (blank: unknown).
    practitioner = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outside_npi = models.CharField(max_length=10, blank=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-service_on"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "service_on"])]
        constraints: ClassVar = [
            # A code billed once a day per patient (the pages, API and import say so first).
            models.UniqueConstraint(
                fields=["practice", "patient", "code", "service_on"], name="billing_other_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.service_on}"


class MdmLevel(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


class PatientMonthFacts(TenantModel):
    """R3 and R23 for one patient-month: CCM billed by another practice; the billing
    practitioner's medical decision making level (complex CCM)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    ccm_billed_elsewhere = models.BooleanField(default=False)
    mdm = models.CharField(max_length=10, choices=MdmLevel.choices, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "patient", "month"], name="billing_month_facts_once"
            ),
        ]

    def __str__(self) -> str:
        return f"facts {self.month:%Y-%m}"


class CloseStatus(models.TextChoices):
    RUNNING = "running", "Closing"
    CLOSED = "closed", "Closed"
    REOPENED = "reopened", "Reopened"


class MonthClose(TenantModel):
    """A practice's billing month being closed or closed; the row serialises close batches."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField()
    status = models.CharField(max_length=10, choices=CloseStatus.choices)
    patients_total = models.PositiveIntegerField(default=0)
    patients_done = models.PositiveIntegerField(default=0)
    claims = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    # The latest reopening (admins, with a reason; audited): the month's time is unlocked.
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reopen_reason = models.CharField(max_length=300, blank=True)
    times_closed = models.PositiveSmallIntegerField(default=0)
    # A re-close after reopening may change claims already submitted only when confirmed.
    changes_confirmed = models.BooleanField(default=False)
    # Set by every batch of a running close: older than MONTH_CLOSE_STALE_AFTER, its worker
    # is gone, and the periodic month_close_resume_stalled re-queues it (then sets resumed_at).
    heartbeat_at = models.DateTimeField(default=timezone.now)
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "month"], name="billing_close_once"),
            models.UniqueConstraint(fields=["practice", "id"], name="billing_close_practice_id"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.status}"

    @property
    def percent(self) -> int:
        if not self.patients_total:
            return 100 if self.status == CloseStatus.CLOSED else 0
        return min(100, round(100 * self.patients_done / self.patients_total))

    @property
    def stalled(self) -> bool:
        """Running, but no batch for MONTH_CLOSE_STALE_AFTER: the close is being resumed."""
        stale = timezone.now() - settings.MONTH_CLOSE_STALE_AFTER
        return self.status == CloseStatus.RUNNING and self.heartbeat_at < stale


class Outcome(TenantModel):
    """The engine's decision for one patient-month of a close: billable or not, why, and
    the minutes (a claim holds the lines when billable)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    close = models.ForeignKey(MonthClose, on_delete=models.CASCADE, related_name="outcomes")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    billable = models.BooleanField()
    blocked_by = models.JSONField(default=list)
    reasons = models.JSONField(default=list)
    clinical_staff_minutes = models.PositiveIntegerField(default=0)
    physician_minutes = models.PositiveIntegerField(default=0)
    next_code = models.CharField(max_length=8, blank=True)
    minutes_needed = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            # One decision per patient-month: a re-run or a second worker inserts nothing new.
            models.UniqueConstraint(
                fields=["practice", "patient", "month"], name="billing_outcome_once"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["practice", "month", "billable"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {'billable' if self.billable else 'not billable'}"


class ClaimStatus(models.TextChoices):
    READY = "ready", "Ready"
    SUBMITTED = "submitted", "Submitted"
    PAID = "paid", "Paid"
    DENIED = "denied", "Denied"
    # A claim a confirmed re-close found no longer billable: kept (never deleted) for the
    # record of what was sent and paid; it counts in no total and no 837.
    WITHDRAWN = "withdrawn", "Withdrawn"


class Claim(TenantModel):
    """One patient-month's CCM claim under one billing practitioner (never two: unique)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    close = models.ForeignKey(MonthClose, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    billing_practitioner = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, related_name="+"
    )
    date_of_service = models.DateField()
    place_of_service = models.CharField(max_length=2)
    diagnosis_codes = models.JSONField(default=list)  # R34, in pointer order
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=10, choices=ClaimStatus.choices, default="ready")
    denial_reason = models.CharField(max_length=300, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Set when a confirmed re-close changed this claim after it had been submitted.
    corrected_at = models.DateTimeField(null=True, blank=True)
    # The last 837P download that carried it: a re-close treats it as sent (never replaced
    # without confirmation) even before the biller marks it submitted.
    exported_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["month", "created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "id"], name="billing_claim_practice_id"),
            # Idempotency (style §6): one claim per practice, patient, month and practitioner.
            models.UniqueConstraint(
                fields=["practice", "patient", "month", "billing_practitioner"],
                name="billing_claim_once",
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["practice", "month", "status"])]

    def __str__(self) -> str:
        return f"claim {self.month:%Y-%m}"


class ClaimLine(TenantModel):
    """A claim line (R35): code, units, the minutes it rests on, charge, explanation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=8)
    units = models.PositiveSmallIntegerField()
    minutes = models.PositiveIntegerField()
    charge = models.DecimalField(max_digits=10, decimal_places=2)
    explanation = models.TextField()

    class Meta:
        ordering: ClassVar = ["position"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "claim", "position"], name="billing_line_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} x{self.units}"


POS_MESSAGE = "Choose a place of service from the CMS code set, e.g. 11 (office) (R33)."
PLACE_OF_SERVICE_CHOICES = [
    (code, f"{code} {name}") for code, name in PLACE_OF_SERVICE_CODES.items()
]


def _cap_validator(name: str, code: str, rule: str) -> MaxValueValidator:
    limit = CAP_LIMITS[name]
    return MaxValueValidator(
        limit, message=f"{rule} allows at most {limit} units of {code} a month."
    )


class BillingPolicy(TenantModel):
    """The practice's choices at the spec's POLICY points (admins edit; audited). A practice
    without a row uses the spec's defaults (`billing.rules.DEFAULT_POLICY`)."""

    class DateOfService(models.TextChoices):
        LAST_DAY = "last_day_of_month", "Last day of the month"
        THRESHOLD = "threshold_date", "Date the highest billed threshold was reached"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conditions_by_category = models.BooleanField(
        "R4: count conditions by ICD-10-CM 3-character category", default=True
    )
    count_minutes_on_consent_date = models.BooleanField(
        "R5: count minutes on the consent date", default=True
    )
    count_minutes_on_revocation_date = models.BooleanField(
        "R7: count minutes on the revocation date", default=True
    )
    visit_year_inclusive = models.BooleanField(
        "R8: a visit exactly one year before consent is in time", default=True
    )
    count_minutes_before_care_plan = models.BooleanField(
        "R11: count minutes before the care plan is signed", default=True
    )
    exclude_all_face_to_face = models.BooleanField(
        "R15: exclude all face-to-face minutes (off: only those inside a billed visit)",
        default=True,
    )
    cap_99437 = models.PositiveSmallIntegerField(
        "R22: most 99437 units a month",
        default=2,
        validators=[_cap_validator("cap_99437", "99437", "R22")],
    )
    complex_requires_plan_change_in_month = models.BooleanField(
        "R23: complex CCM needs a care plan change in the month", default=False
    )
    cap_99489 = models.PositiveSmallIntegerField(
        "R24: most 99489 units a month",
        default=10,
        validators=[_cap_validator("cap_99489", "99489", "R24")],
    )
    oversight_blocks_any_practitioner = models.BooleanField(
        "R28: care plan oversight by any practitioner blocks CCM (off: same practitioner)",
        default=True,
    )
    apcm_by_other_practitioner_blocks = models.BooleanField(
        "R30: APCM billed by another practitioner blocks CCM", default=True
    )
    date_of_service_mode = models.CharField(
        "R32: date of service",
        max_length=20,
        choices=DateOfService.choices,
        default=DateOfService.LAST_DAY,
    )
    place_of_service = models.CharField(
        "R33: place of service code",
        max_length=2,
        default="11",
        choices=PLACE_OF_SERVICE_CHOICES,
        error_messages={"invalid_choice": POS_MESSAGE},
    )
    simultaneous_minutes_once = models.BooleanField(
        "R37: simultaneous minutes count once (off: they are summed)", default=True
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice"], name="billing_policy_once"),
            models.CheckConstraint(
                condition=Q(place_of_service__in=list(PLACE_OF_SERVICE_CODES)),
                name="billing_policy_pos_code",
            ),
            models.CheckConstraint(
                condition=Q(cap_99437__lte=CAP_LIMITS["cap_99437"])
                & Q(cap_99489__lte=CAP_LIMITS["cap_99489"]),
                name="billing_policy_caps_within_spec",
            ),
        ]

    def __str__(self) -> str:
        return "billing policy"


class ExportKind(models.TextChoices):
    CSV = "csv", "CSV"
    X12 = "837", "X12 837P"
    PDF = "pdf", "PDF summary"


class Export(TenantModel):
    """One download of a closed month's claims (audited too). For the 837P the row carries
    the interchange control number: unique and increasing per practice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField()
    kind = models.CharField(max_length=3, choices=ExportKind.choices)
    control_number = models.PositiveIntegerField(null=True, blank=True)
    claims = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "control_number"],
                condition=Q(control_number__isnull=False),
                name="billing_export_control_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} export {self.month:%Y-%m}"


class OtherServiceImport(ImportRecord):
    """An uploaded practice-management export of other services: previewed (row errors
    shown, nothing saved) before it is applied."""

    def __str__(self) -> str:
        return f"other services import ({self.row_count} rows)"


class MonthReopening(TenantModel):
    """Every reopening of a closed month: who, when and why (the audit event points here)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    close = models.ForeignKey(MonthClose, on_delete=models.PROTECT, related_name="reopenings")
    reason = models.CharField(max_length=300)
    reopened_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    reopened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-reopened_at"]

    def __str__(self) -> str:
        return f"reopened {self.reopened_at:%Y-%m-%d}"
