"""Month close and claims: the facts the engine needs beyond time and the chart (other
services, CCM billed elsewhere, MDM), the practice's fee schedule, the month's close run,
each evaluated patient-month's outcome, and the claims with their lines.

A link to another tenant table has `db_constraint=False`: the database checks it with the
composite same-practice foreign key `(practice_id, x_id)` (ccm.tenancy.tenant_fk_sql); a
single-column one would be redundant, and Citus refuses it between distributed tables
(docs/scaling.md). The ORM relation and its on_delete stay."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="other_services",
        db_constraint=False,
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
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
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

    # The close COPYs tens of thousands of these: the database checks each row's links once,
    # through the same-practice composite keys (migrations 0002, 0011), which also prove the
    # practice (the parent's own practice_id is checked); the single-column constraints and
    # the practice index (every unique index leads with practice_id) only doubled that work.
    practice = models.ForeignKey(
        "ccm.Practice",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column index either (0014): no query reads outcomes by close or by patient
    # alone (by patient: billing_outcome_once, which leads with the practice), and each index
    # is one more write per row of the close's COPY.
    close = models.ForeignKey(
        MonthClose,
        on_delete=models.CASCADE,
        related_name="outcomes",
        db_constraint=False,
        db_index=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
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
        indexes: ClassVar = [
            # The month's not-billable list and count (billing.claims.selectors): only those
            # rows (0014; was every outcome, by billable).
            models.Index(
                fields=["practice", "month"],
                condition=models.Q(billable=False),
                name="billing_outcome_not_billable",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {'billable' if self.billable else 'not billable'}"


class ClaimStatus(models.TextChoices):
    READY = "ready", "Ready"
    SUBMITTED = "submitted", "Submitted"
    # The payer's front end (277CA) took the claim into adjudication.
    ACCEPTED = "accepted", "Accepted"
    # The 999 or 277CA refused it: back in the biller's queue with the reason.
    REJECTED = "rejected", "Rejected"
    PAID = "paid", "Paid"
    DENIED = "denied", "Denied"
    # A claim a confirmed re-close found no longer billable: kept (never deleted) for the
    # record of what was sent and paid; it counts in no total and no 837.
    WITHDRAWN = "withdrawn", "Withdrawn"


class Claim(TenantModel):
    """One patient-month's CCM claim under one billing practitioner (never two: unique)."""

    # Links checked by the same-practice composite keys only (as Outcome's, above), and no
    # single-column index on them (0014): every read of claims leads with the practice (the
    # unique and month indexes below serve them), none by close, patient, practitioner or
    # coverage alone, and each index was one more write per row of the close's COPY.
    practice = models.ForeignKey(
        "ccm.Practice",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    close = models.ForeignKey(
        MonthClose,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    month = models.DateField()
    billing_practitioner = models.ForeignKey(
        "ccm.Membership",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
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
    # Who pays: the coverage in force in the month when the claim was made (the close).
    coverage = models.ForeignKey(
        "patients.Coverage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    secondary_coverage = models.ForeignKey(
        "patients.Coverage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    payer = models.ForeignKey(
        "patients.Payer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # 837P SBR01 of the destination payer: P (primary) or S (Medicare secondary to another).
    payer_responsibility = models.CharField(max_length=1, default="P")
    # Money (billing.remittances posts it from 835s; billed is set by the submission batch).
    billed_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    patient_responsibility = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    adjustment_amount = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    # The payer's claim control number (ICN, 835 CLP07), for corrections (REF*F8).
    payer_claim_number = models.CharField(max_length=50, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    adjudicated_on = models.DateField(null=True, blank=True)
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
        indexes: ClassVar = [
            models.Index(fields=["practice", "month", "status"]),
            # "Is this payer in use" (billing.setup): only the Medicare Advantage claims
            # have a payer (0014; was a full index of payer_id).
            models.Index(
                fields=["practice", "payer"],
                condition=models.Q(payer__isnull=False),
                name="billing_claim_payer",
            ),
        ]

    def __str__(self) -> str:
        return f"claim {self.month:%Y-%m}"

    @property
    def control_number(self) -> str:
        """The patient control number (837P CLM01), echoed by the 277CA and the 835 (CLP01)."""
        return claim_control_number(self.id)


def claim_control_number(claim_id: uuid.UUID) -> str:
    """CLM01: the claim id's first 20 hex digits (unique per practice in practice; a payer
    echoes it back, never PHI)."""
    return claim_id.hex[:20].upper()


def claim_id_range(control_number: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The claim ids a patient control number can stand for (None: not one of ours)."""
    value = control_number.strip().lower()
    if len(value) != 20 or any(c not in "0123456789abcdef" for c in value):
        return None
    return uuid.UUID(value + "0" * 12), uuid.UUID(value + "f" * 12)


class ClaimLine(TenantModel):
    """A claim line (R35): code, units, the minutes it rests on, charge, explanation."""

    # Links checked by the same-practice composite key only (as Outcome's, above).
    practice = models.ForeignKey(
        "ccm.Practice",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    claim = models.ForeignKey(
        Claim, on_delete=models.CASCADE, related_name="lines", db_constraint=False
    )
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
    # Part II: PCM and APCM (issue 20).
    other_care_management_blocks_apcm = models.BooleanField(
        "R39: CCM or PCM billed by another practitioner blocks APCM", default=True
    )
    oversight_blocks_apcm = models.BooleanField(
        "R40: care plan oversight and ESRD services block APCM (R28 for APCM)", default=True
    )
    cap_99425 = models.PositiveSmallIntegerField(
        "R44: most 99425 units a month",
        default=2,
        validators=[_cap_validator("cap_99425", "99425", "R44")],
    )
    cap_99427 = models.PositiveSmallIntegerField(
        "R44: most 99427 units a month",
        default=2,
        validators=[_cap_validator("cap_99427", "99427", "R44")],
    )
    apcm_by_other_practitioner_blocks_pcm = models.BooleanField(
        "R45: APCM billed by another practitioner blocks PCM (off: same practitioner only)",
        default=True,
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
            models.CheckConstraint(
                condition=Q(cap_99425__lte=CAP_LIMITS["cap_99425"])
                & Q(cap_99427__lte=CAP_LIMITS["cap_99427"]),
                name="billing_policy_pcm_caps_within_spec",
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


class PreparedStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a worker"
    RUNNING = "running", "Preparing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


PREPARING = (PreparedStatus.PENDING, PreparedStatus.RUNNING)


def prepared_export_path(instance: PreparedExport, filename: str) -> str:
    # Never a name with PHI or the practice's slug: practice and export UUIDs only; the
    # storage has no public URL (settings.STORAGES), downloads go through the audited views.
    extension = {"csv": "csv", "837": "837", "pdf": "pdf"}[instance.kind]
    return f"exports/{instance.practice_id}/{instance.id}.{extension}"


class PreparedExport(TenantModel):
    """An export of a large closed month built by a worker (billing.exports.tasks) into a
    stored file, so no request renders thousands of claims (issue 18). The patients on the
    file are kept so that every download audits them (billing.exports.services.record)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField()
    kind = models.CharField(max_length=3, choices=ExportKind.choices)
    status = models.CharField(
        max_length=10, choices=PreparedStatus.choices, default=PreparedStatus.PENDING
    )
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=prepared_export_path, blank=True, max_length=200)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    patient_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            # Requesting the same export again while one is being prepared returns that one
            # (billing.exports.services.export_request); two racing requests make one row.
            models.UniqueConstraint(
                fields=["practice", "month", "kind"],
                condition=Q(status__in=["pending", "running"]),
                name="billing_prepared_export_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} export {self.month:%Y-%m} ({self.status})"

    @property
    def preparing(self) -> bool:
        return self.status in PREPARING

    @property
    def percent(self) -> int:
        return 100 * self.done // self.total if self.total else 0


class OtherServiceImport(ImportRecord):
    """An uploaded practice-management export of other services: previewed (row errors
    shown, nothing saved) before it is applied."""

    def __str__(self) -> str:
        return f"other services import ({self.row_count} rows)"


class MonthReopening(TenantModel):
    """Every reopening of a closed month: who, when and why (the audit event points here)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    close = models.ForeignKey(
        MonthClose, on_delete=models.PROTECT, related_name="reopenings", db_constraint=False
    )
    reason = models.CharField(max_length=300)
    reopened_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    reopened_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-reopened_at"]

    def __str__(self) -> str:
        return f"reopened {self.reopened_at:%Y-%m-%d}"


# --- claim to cash: billing setup, submission batches, acknowledgments, remittances ----------


class ProviderType(models.TextChoices):
    ORGANIZATION = "organization", "Organisation (group NPI)"
    INDIVIDUAL = "individual", "Individual practitioner (personal NPI)"


class IsaQualifier(models.TextChoices):
    """ISA05 / ISA07 interchange id qualifiers (X12 code list I05)."""

    MUTUALLY_DEFINED = "ZZ", "ZZ Mutually defined"
    DUNS = "01", "01 DUNS number"
    CARRIER = "27", "27 Carrier id (CMS)"
    FISCAL_INTERMEDIARY = "28", "28 Fiscal intermediary id (CMS)"
    MEDICARE_PROVIDER = "29", "29 Medicare provider and supplier id"
    FEDERAL_TAX_ID = "30", "30 US federal tax id"


class UsageIndicator(models.TextChoices):
    PRODUCTION = "P", "P Production"
    TEST = "T", "T Test"


class BillingSetup(TenantModel):
    """How the practice submits claims (admins edit; validated; audited): its EDI ids as the
    contractor or clearinghouse assigned them, the billing provider and its addresses."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Loop 1000A and ISA06/GS02: the submitter id assigned at EDI enrolment.
    submitter_id = models.CharField("submitter id", max_length=15)
    submitter_name = models.CharField(max_length=60)
    submitter_qualifier = models.CharField(
        "ISA05 sender qualifier", max_length=2, choices=IsaQualifier.choices, default="ZZ"
    )
    contact_name = models.CharField("EDI contact name", max_length=60)
    contact_phone = models.CharField("EDI contact phone", max_length=20)
    # Loop 1000B and ISA08/GS03: the MAC or clearinghouse receiving the file.
    receiver_id = models.CharField("receiver id", max_length=15)
    receiver_name = models.CharField(max_length=60)
    receiver_qualifier = models.CharField(
        "ISA07 receiver qualifier", max_length=2, choices=IsaQualifier.choices, default="ZZ"
    )
    usage = models.CharField(
        "ISA15 usage", max_length=1, choices=UsageIndicator.choices, default="P"
    )
    # Part B claims (coverage without its own payer) go to this payer: the practice's MAC.
    medicare_payer = models.ForeignKey(
        "patients.Payer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    provider_type = models.CharField(
        max_length=12, choices=ProviderType.choices, default=ProviderType.ORGANIZATION
    )
    # The practitioner billing under a personal NPI (individual provider type).
    individual_practitioner = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # CLM07: the practice accepts Medicare assignment (participating).
    accepts_assignment = models.BooleanField("accepts assignment", default=True)
    # 2010AA: a street address with ZIP+4 (no PO Box).
    address_line1 = models.CharField("billing provider street", max_length=55)
    address_line2 = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30)
    state = models.CharField(max_length=2)
    postal_code = models.CharField("ZIP+4", max_length=10)
    # 2010AB: optional pay-to address (a PO Box is fine here).
    pay_to_line1 = models.CharField("pay-to address", max_length=55, blank=True)
    pay_to_line2 = models.CharField(max_length=55, blank=True)
    pay_to_city = models.CharField(max_length=30, blank=True)
    pay_to_state = models.CharField(max_length=2, blank=True)
    pay_to_postal_code = models.CharField(max_length=10, blank=True)
    updated_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice"], name="billing_setup_once"),
        ]

    def __str__(self) -> str:
        return "billing setup"


class UsualCharge(TenantModel):
    """The practice's usual charge for a code (837P SV102); codes without one are charged
    at the fee schedule amount (R26)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(max_length=8)
    amount = models.DecimalField(max_digits=8, decimal_places=2)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "code"], name="billing_usual_charge_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_usual_charge_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.amount}"


class BatchStatus(models.TextChoices):
    CREATED = "created", "Created"
    ACCEPTED = "accepted", "Accepted (999)"
    PARTIAL = "partial", "Partly accepted (999)"
    REJECTED = "rejected", "Rejected (999)"


class SubmissionBatch(TenantModel):
    """One 837P interchange as handed out: stored, so a download again is byte-identical."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField(null=True, blank=True)  # blank: claims of several months
    control_number = models.PositiveIntegerField()  # ISA13 and GS06
    usage = models.CharField(max_length=1, choices=UsageIndicator.choices)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    claims = models.PositiveIntegerField(default=0)
    total_charge = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = models.CharField(
        max_length=10, choices=BatchStatus.choices, default=BatchStatus.CREATED
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "control_number"], name="billing_batch_control_once"
            ),
            models.UniqueConstraint(fields=["practice", "id"], name="billing_batch_practice_id"),
        ]
        indexes: ClassVar = [models.Index(fields=["practice", "month"])]

    def __str__(self) -> str:
        return f"batch {self.control_number:09d}"


class ClaimFrequency(models.TextChoices):
    """CLM05-3 claim frequency type code."""

    ORIGINAL = "1", "1 Original"
    REPLACEMENT = "7", "7 Replacement (corrected claim)"
    VOID = "8", "8 Void"


class BatchClaimStatus(models.TextChoices):
    PENDING = "pending", "Waiting for acknowledgment"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class BatchClaim(TenantModel):
    """A claim as sent in a batch. Live until rejected or replaced by a resubmission: a
    claim is in at most one live batch (partial unique constraint)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(
        SubmissionBatch, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, related_name="submissions", db_constraint=False
    )
    frequency = models.CharField(
        max_length=1, choices=ClaimFrequency.choices, default=ClaimFrequency.ORIGINAL
    )
    payer_claim_number = models.CharField(max_length=50, blank=True)  # REF*F8 for 7 and 8
    charge = models.DecimalField(max_digits=10, decimal_places=2)
    live = models.BooleanField(default=True)
    status = models.CharField(
        max_length=10, choices=BatchClaimStatus.choices, default=BatchClaimStatus.PENDING
    )
    status_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "batch", "claim"], name="billing_batch_claim_once"
            ),
            models.UniqueConstraint(
                fields=["practice", "claim"],
                condition=Q(live=True),
                name="billing_claim_one_live_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"claim in batch ({self.get_frequency_display()})"


class AckKind(models.TextChoices):
    X999 = "999", "999 implementation acknowledgment"
    X277CA = "277CA", "277CA claim acknowledgment"


class Acknowledgment(TenantModel):
    """An uploaded 999 or 277CA (stored; the same file twice is one row)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=5, choices=AckKind.choices)
    batch = models.ForeignKey(
        SubmissionBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="acks",
        db_constraint=False,
    )
    accepted = models.BooleanField(default=False)
    summary = models.CharField(max_length=300, blank=True)
    errors = models.JSONField(default=list)  # 999 segment errors (no PHI)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "sha256"], name="billing_ack_once"),
            models.UniqueConstraint(fields=["practice", "id"], name="billing_ack_practice_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.created_at:%Y-%m-%d}"


class ClaimAcknowledgment(TenantModel):
    """One claim's status in a 277CA: accepted or rejected, with the codes and meaning."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    acknowledgment = models.ForeignKey(
        Acknowledgment, on_delete=models.CASCADE, related_name="claim_statuses", db_constraint=False
    )
    claim = models.ForeignKey(
        Claim,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="acknowledgments",
        db_constraint=False,
    )
    patient_control_number = models.CharField(max_length=38)
    accepted = models.BooleanField()
    category_code = models.CharField(max_length=3)  # STC01-1, e.g. A1, A2, A3, A6, A7
    status_code = models.CharField(max_length=5, blank=True)  # STC01-2
    entity_code = models.CharField(max_length=3, blank=True)  # STC01-3
    description = models.CharField(max_length=500)
    position = models.PositiveIntegerField()

    class Meta:
        ordering: ClassVar = ["position"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "acknowledgment", "position"], name="billing_claim_ack_once"
            ),
        ]

    def __str__(self) -> str:
        return f"277CA {'accepted' if self.accepted else 'rejected'}"


class Remittance(TenantModel):
    """An uploaded 835 ERA: one payment (or a notice of no payment) from one payer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payer_name = models.CharField(max_length=60)
    payer_id = models.CharField(max_length=80, blank=True)
    trace_number = models.CharField(max_length=50)  # TRN02: check or EFT number
    payment_method = models.CharField(max_length=3, blank=True)  # BPR04: CHK, ACH, NON
    total_paid = models.DecimalField(max_digits=12, decimal_places=2)
    paid_on = models.DateField(null=True, blank=True)  # BPR16
    claims_matched = models.PositiveIntegerField(default=0)
    claims_unmatched = models.PositiveIntegerField(default=0)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "sha256"], name="billing_remit_once"),
            models.UniqueConstraint(
                fields=["practice", "payer_id", "trace_number"], name="billing_remit_trace_once"
            ),
            models.UniqueConstraint(fields=["practice", "id"], name="billing_remit_practice_id"),
        ]

    def __str__(self) -> str:
        return f"835 {self.trace_number}"


class RemittanceClaim(TenantModel):
    """One CLP of an 835, matched to its claim by the patient control number (CLM01), or
    listed unmatched (never dropped)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    remittance = models.ForeignKey(
        Remittance, on_delete=models.CASCADE, related_name="claims", db_constraint=False
    )
    claim = models.ForeignKey(
        Claim,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="remittances",
        db_constraint=False,
    )
    position = models.PositiveIntegerField()
    patient_control_number = models.CharField(max_length=38)
    status_code = models.CharField(max_length=2)  # CLP02: 1, 2, 3, 4, 19, 20, 21, 22, 23
    charge = models.DecimalField(max_digits=10, decimal_places=2)
    paid = models.DecimalField(max_digits=10, decimal_places=2)
    patient_responsibility = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    payer_claim_number = models.CharField(max_length=50, blank=True)  # CLP07

    class Meta:
        ordering: ClassVar = ["position"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "remittance", "position"], name="billing_remit_claim_once"
            ),
            models.UniqueConstraint(
                fields=["practice", "id"], name="billing_remit_claim_practice_id"
            ),
        ]

    def __str__(self) -> str:
        return f"CLP status {self.status_code}"


class RemittanceAdjustment(TenantModel):
    """One CAS adjustment of a remitted claim or line: group, reason code (with its
    description) and amount."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    remittance_claim = models.ForeignKey(
        RemittanceClaim, on_delete=models.CASCADE, related_name="adjustments", db_constraint=False
    )
    line_code = models.CharField(max_length=8, blank=True)  # blank: claim level
    group_code = models.CharField(max_length=2)  # CO, PR, OA, PI, CR
    reason_code = models.CharField(max_length=5)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    description = models.CharField(max_length=300)

    class Meta:
        ordering: ClassVar = ["id"]

    def __str__(self) -> str:
        return f"{self.group_code}-{self.reason_code}"


# --- issue 19: the practice's whole data as one archive --------------------------------------


def practice_archive_path(instance: PracticeArchive, filename: str) -> str:
    # Practice and archive UUIDs only (no PHI, no slug); private storage, no public URL.
    return f"archives/{instance.practice_id}/{instance.id}.zip"


class PracticeArchive(TenantModel):
    """A zip of all of one practice's data (every tenant table as NDJSON, the uploaded files,
    a manifest and a README), built by a worker (billing.exports.practice_services) for a
    practice admin; downloadable until `expires_at`, when its file is deleted. The patients
    in it are kept so that every download audits them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        max_length=10, choices=PreparedStatus.choices, default=PreparedStatus.PENDING
    )
    file = models.FileField(upload_to=practice_archive_path, blank=True, max_length=200)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict, blank=True)  # archive member → rows
    patient_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    error = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            # One archive being prepared per practice: asking again returns it
            # (practice_services.practice_archive_request); two racing requests make one row.
            models.UniqueConstraint(
                fields=["practice"],
                condition=Q(status__in=["pending", "running"]),
                name="billing_practice_archive_once",
            ),
        ]

    def __str__(self) -> str:
        return f"practice archive {self.created_at:%Y-%m-%d} ({self.status})"

    @property
    def preparing(self) -> bool:
        return self.status in PREPARING

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


# --- APCM attestations (R39) -------------------------------------------------------------------


class ApcmElement(models.TextChoices):
    """The APCM service elements the practice attests it offers (R39)."""

    ACCESS = "access", "24/7 access and continuity of care"
    CARE_PLAN = "care_plan", "A comprehensive care plan"
    TRANSITIONS = "transitions", "Care transitions"
    COORDINATION = "coordination", "Coordination of care"
    RISK = "risk_stratification", "Population-level risk stratification"
    PERFORMANCE = "performance", "Performance measurement"


APCM_ELEMENTS = tuple(ApcmElement.values)


class ApcmPracticeAttestation(TenantModel):
    """The practice attests it offers every APCM service element from `attested_on` (a
    date in the practice's zone) until `withdrawn_on` (exclusive; None: in force). History
    is kept: a withdrawal sets `withdrawn_on`, a new attestation is a new row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    elements = ArrayField(models.CharField(max_length=24, choices=ApcmElement.choices))
    attested_on = models.DateField()
    recorded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    withdrawn_on = models.DateField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-attested_on", "-recorded_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice"],
                condition=Q(withdrawn_on__isnull=True),
                name="billing_apcm_practice_once",
            ),
            models.CheckConstraint(
                condition=Q(elements__contains=list(APCM_ELEMENTS)),
                name="billing_apcm_practice_all_elements",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True)
                | Q(withdrawn_on__gte=models.F("attested_on")),
                name="billing_apcm_practice_withdrawn_after",
            ),
        ]

    def __str__(self) -> str:
        return f"APCM practice attestation {self.attested_on}"


class ApcmPractitionerAttestation(TenantModel):
    """A billing practitioner attests being responsible for all of the patient's primary
    care and the continuing focal point for all needed services (R39), from `attested_on`
    until `withdrawn_on` (exclusive). History kept as for the practice attestation."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    practitioner = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    statement = models.CharField(max_length=300)
    attested_on = models.DateField()
    recorded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)
    withdrawn_on = models.DateField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-attested_on", "-recorded_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "practitioner"],
                condition=Q(withdrawn_on__isnull=True),
                name="billing_apcm_practitioner_once",
            ),
            models.CheckConstraint(
                condition=Q(withdrawn_on__isnull=True)
                | Q(withdrawn_on__gte=models.F("attested_on")),
                name="billing_apcm_practitioner_withdrawn_after",
            ),
        ]

    def __str__(self) -> str:
        return f"APCM practitioner attestation {self.attested_on}"
