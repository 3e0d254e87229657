"""Patients, their chronic conditions, CCM consent and enrollment history, EHR list imports.

A link to another tenant table has `db_constraint=False`: the database checks it with the
composite same-practice foreign key `(practice_id, x_id)` (ccm.tenancy.tenant_fk_sql); a
single-column one would be redundant, and Citus refuses it between distributed tables
(docs/scaling.md). The ORM relation and its on_delete stay."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from typing import ClassVar

from django.contrib.postgres.fields import ArrayField
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


class Channel(models.TextChoices):
    """How the care team reaches someone (preferences, contact attempts)."""

    PHONE = "phone", "Phone call"
    TEXT = "text", "Text message"
    EMAIL = "email", "Email"
    PORTAL = "portal", "Patient portal message"
    VIDEO = "video", "Video call"
    IN_PERSON = "in_person", "In person"
    MAIL = "mail", "Letter"
    FAX = "fax", "Fax"


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
    interpreter_needed = models.BooleanField(default=False)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.PHONE
    )
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
            # The worklist's "enrolled, or left during or after the month" (R7) and its page
            # count read this index alone (an index-only scan, not the table).
            models.Index(fields=["practice", "status", "status_on"]),
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
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="conditions", db_constraint=False
    )
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
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="consents", db_constraint=False
    )
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
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="enrollment_events", db_constraint=False
    )
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


class PayerKind(models.TextChoices):
    """Who a payer is; fixes the 837P claim filing indicator (SBR09) sent to it."""

    MEDICARE = "medicare", "Medicare Part B contractor (MAC)"
    MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage plan"
    MEDICAID = "medicaid", "Medicaid"
    MEDIGAP = "medigap", "Medigap (Medicare supplement)"
    COMMERCIAL = "commercial", "Commercial or employer plan"
    OTHER = "other", "Other"


# 837P SBR09 / 2320 SBR09 claim filing indicator per payer kind (X12 code list 1032).
CLAIM_FILING_INDICATOR = {
    PayerKind.MEDICARE: "MB",
    PayerKind.MEDICARE_ADVANTAGE: "16",
    PayerKind.MEDICAID: "MC",
    PayerKind.MEDIGAP: "CI",
    PayerKind.COMMERCIAL: "CI",
    PayerKind.OTHER: "ZZ",
}


class Payer(TenantModel):
    """An insurer the practice bills or coordinates with, with the payer id its
    clearinghouse or contractor assigned (837P 2010BB NM109, 2330B NM109)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=60)
    payer_id = models.CharField("payer id", max_length=80)
    kind = models.CharField(max_length=20, choices=PayerKind.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "payer_id", "kind"], name="patients_payer_once"
            ),
            _same_practice("patients_payer"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.payer_id})"

    @property
    def claim_filing_indicator(self) -> str:
        return CLAIM_FILING_INDICATOR[PayerKind(self.kind)]


class CoverageKind(models.TextChoices):
    # Primary (the payer the CCM claim goes to, or Medicare as secondary for MSP)
    MEDICARE_PART_B = "part_b", "Medicare Part B"
    MEDICARE_ADVANTAGE = "medicare_advantage", "Medicare Advantage plan"
    OTHER_PRIMARY = "other_primary", "Other insurance primary, Medicare secondary (MSP)"
    # Secondary
    MEDICAID = "medicaid", "Medicaid"
    QMB = "qmb", "Qualified Medicare Beneficiary (QMB)"
    MEDIGAP = "medigap", "Medigap (Medicare supplement)"
    OTHER_SECONDARY = "other_secondary", "Other secondary insurance"


PRIMARY_KINDS = frozenset(
    {CoverageKind.MEDICARE_PART_B, CoverageKind.MEDICARE_ADVANTAGE, CoverageKind.OTHER_PRIMARY}
)
# Secondary coverage that pays the patient's Part B coinsurance in full.
PAYS_COINSURANCE = frozenset({CoverageKind.MEDICAID, CoverageKind.QMB, CoverageKind.MEDIGAP})


class CoveragePriority(models.TextChoices):
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"


class MspType(models.TextChoices):
    """Medicare secondary payer type (837P SBR05, X12 code list 1336), when another
    insurer pays first."""

    WORKING_AGED = "12", "12 Working aged, employer group health plan"
    ESRD = "13", "13 End-stage renal disease, employer group health plan"
    NO_FAULT = "14", "14 No-fault insurance, including auto"
    WORKERS_COMP = "15", "15 Workers' compensation"
    PUBLIC_HEALTH = "16", "16 Public health service or other federal agency"
    BLACK_LUNG = "41", "41 Black lung"
    VETERANS = "42", "42 Veterans Affairs"
    DISABLED_LGHP = "43", "43 Disabled, large group health plan"
    OTHER_LIABILITY = "47", "47 Other liability insurance"


class Coverage(TenantModel):
    """One insurance coverage of a patient with its effective dates. The month close uses
    the primary and secondary coverage in force in the month (837P SBR, 2010BB, 2320)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="coverages", db_constraint=False
    )
    priority = models.CharField(max_length=10, choices=CoveragePriority.choices)
    kind = models.CharField(max_length=20, choices=CoverageKind.choices)
    # Part B claims go to the practice's Medicare contractor (billing setup) when blank.
    payer = models.ForeignKey(
        Payer, on_delete=models.PROTECT, null=True, blank=True, db_constraint=False
    )
    # MBI for Part B (the patient's); the plan's member id otherwise.
    member_id = models.CharField("member id", max_length=80, blank=True)
    group_number = models.CharField(max_length=50, blank=True)
    plan_name = models.CharField(max_length=60, blank=True)
    msp_type = models.CharField(
        "Medicare secondary payer type", max_length=2, choices=MspType.choices, blank=True
    )
    # CLM08: the patient signed an assignment of benefits to the practice.
    benefits_assigned = models.BooleanField("assignment of benefits signed", default=True)
    starts_on = models.DateField("effective from")
    ends_on = models.DateField("effective to", null=True, blank=True)
    # Blank: recorded by the system (the demo, a migration of existing patients).
    created_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["priority", "-starts_on"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "starts_on"])]
        constraints: ClassVar = [
            _same_practice("patients_coverage"),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="patients_coverage_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_priority_display()} {self.get_kind_display()}"

    def in_force(self, first: dt.date, last: dt.date) -> bool:
        """Covers any day of [first, last] (a month: the close uses the coverage then)."""
        return self.starts_on <= last and (self.ends_on is None or self.ends_on >= first)


# --- Contact preferences -------------------------------------------------------------------


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class CallWindowKind(models.TextChoices):
    BEST = "best", "Best time to call"
    DO_NOT_CALL = "do_not_call", "Do not call"


class CallWindow(TenantModel):
    """A weekly window in the practice's zone when the patient prefers calls, or must not
    be called (e.g. dialysis). The worklist's "call window open now" reads these."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="call_windows", db_constraint=False
    )
    kind = models.CharField(max_length=12, choices=CallWindowKind.choices)
    weekdays = ArrayField(models.PositiveSmallIntegerField(choices=Weekday.choices), size=7)
    starts_at = models.TimeField()
    ends_at = models.TimeField()
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["kind", "starts_at"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient"])]
        constraints: ClassVar = [
            _same_practice("patients_callwindow"),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="patients_callwindow_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%H:%M} to {self.ends_at:%H:%M}"


# --- Care team, caregivers and permission to share ------------------------------------------


class ContactCategory(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner (specialist, other physician)"
    AGENCY = "agency", "Agency (home health, hospice, community service)"
    PHARMACY = "pharmacy", "Pharmacy"
    CAREGIVER = "caregiver", "Caregiver or family member"


class CareContact(TenantModel):
    """Someone outside the practice in the patient's care: an external practitioner, agency
    or pharmacy (CareTeam participant), or a caregiver or family member (RelatedPerson)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="care_contacts", db_constraint=False
    )
    category = models.CharField(max_length=12, choices=ContactCategory.choices)
    name = models.CharField(max_length=200)
    # Practitioners and agencies: their role in the patient's care ("Cardiologist").
    role = models.CharField(max_length=100, blank=True)
    organisation = models.CharField(max_length=200, blank=True)
    # Caregivers: how they relate to the patient ("Daughter").
    relationship = models.CharField(max_length=100, blank=True)
    phone = PhoneNumberField(blank=True)
    fax = PhoneNumberField(blank=True)
    secure_email = models.EmailField("secure email (Direct address)", blank=True)
    language = models.CharField(max_length=50, blank=True)
    # A legal or personal representative who may act for the patient.
    is_representative = models.BooleanField("patient's representative", default=False)
    is_active = models.BooleanField(default=True)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["category", "name"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "category"])]
        constraints: ClassVar = [_same_practice("patients_carecontact")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_caregiver(self) -> bool:
        return self.category == ContactCategory.CAREGIVER


class ShareScope(models.TextChoices):
    """What the patient allows the practice to share with a contact."""

    ALL = "all", "Everything about my care"
    CARE_PLAN = "care_plan", "Care plan"
    MEDICATIONS = "medications", "Medications"
    APPOINTMENTS = "appointments", "Appointments and reminders"
    RESULTS = "results", "Test results"
    SUMMARIES = "summaries", "After-contact summaries"


class PermissionMethod(models.TextChoices):
    VERBAL = "verbal", "Told us (verbal)"
    WRITTEN = "written", "Signed form"
    PORTAL = "portal", "Patient portal"


class SharingPermission(TenantModel):
    """The patient's permission to share information with one contact: what, recorded when
    and how, until when. Revoking keeps the row (history)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    contact = models.ForeignKey(
        CareContact, on_delete=models.CASCADE, related_name="permissions", db_constraint=False
    )
    scopes = ArrayField(models.CharField(max_length=16, choices=ShareScope.choices), size=6)
    method = models.CharField(max_length=8, choices=PermissionMethod.choices)
    given_on = models.DateField()
    expires_on = models.DateField("until", null=True, blank=True)
    revoked_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-given_on", "-created_at"]
        indexes: ClassVar = [models.Index(fields=["practice", "contact"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True)
                | models.Q(expires_on__gte=models.F("given_on")),
                name="patients_permission_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"permission of {self.given_on}"

    def allows(self, scope: str, on: dt.date) -> bool:
        """In force on `on` and covering `scope` (or everything)."""
        if self.given_on > on or (self.revoked_on is not None and self.revoked_on <= on):
            return False
        if self.expires_on is not None and self.expires_on < on:
            return False
        return ShareScope.ALL in self.scopes or scope in self.scopes


# --- Medications ----------------------------------------------------------------------------


class MedicationSource(models.TextChoices):
    PATIENT = "patient", "Patient or caregiver"
    EHR = "ehr", "EHR import"
    PHARMACY = "pharmacy", "Pharmacy"
    DISCHARGE = "discharge", "Discharge summary"
    PRESCRIBER = "prescriber", "Prescriber"


class MedicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    STOPPED = "stopped", "Stopped"


class Medication(TenantModel):
    """One medicine on the patient's list (FHIR MedicationStatement). The care plan's
    medication section reads this list; reconciliations record what changed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="medications", db_constraint=False
    )
    name = models.CharField(max_length=200)
    rxnorm_code = models.CharField(
        "RxNorm code",
        max_length=12,
        blank=True,
        validators=[RegexValidator(r"^[0-9]{1,12}$", "An RxNorm code is digits only.")],
    )
    dose = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=50, blank=True)
    frequency = models.CharField(max_length=100, blank=True)
    instructions = models.CharField(max_length=500, blank=True)
    prescriber = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=12, choices=MedicationSource.choices)
    starts_on = models.DateField(null=True, blank=True)
    stops_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=8, choices=MedicationStatus.choices, default=MedicationStatus.ACTIVE
    )
    created_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["status", "name"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "status"])]
        constraints: ClassVar = [
            _same_practice("patients_medication"),
            models.CheckConstraint(
                condition=models.Q(stops_on__isnull=True)
                | models.Q(starts_on__isnull=True)
                | models.Q(stops_on__gte=models.F("starts_on")),
                name="patients_medication_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReconciledWith(models.TextChoices):
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver"
    PHARMACY = "pharmacy", "Pharmacy"
    PRESCRIBER = "prescriber", "Prescriber"
    RECORDS = "records", "Records only (discharge summary, EHR)"


class MedicationReconciliation(TenantModel):
    """A medication reconciliation: who did it, when, with whom, what was added, changed or
    stopped (MedicationChange rows) and the discrepancies found. The care plan's "last
    reconciled" is the latest of these."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    reconciled_at = models.DateTimeField()
    reconciled_on = models.DateField(help_text="In the practice's zone.")
    performed_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    reconciled_with = models.CharField(max_length=12, choices=ReconciledWith.choices)
    # The caregiver, pharmacy or prescriber, when one of the patient's contacts.
    contact = models.ForeignKey(
        CareContact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    sources = models.CharField("sources reviewed", max_length=300, blank=True)
    discrepancies = models.TextField("discrepancies found", blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-reconciled_at"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "reconciled_at"])]
        constraints: ClassVar = [_same_practice("patients_medicationreconciliation")]

    def __str__(self) -> str:
        return f"reconciled {self.reconciled_on}"


class ChangeAction(models.TextChoices):
    ADDED = "added", "Added"
    CHANGED = "changed", "Changed"
    STOPPED = "stopped", "Stopped"
    CONFIRMED = "confirmed", "Confirmed unchanged"


class MedicationChange(TenantModel):
    """One line of a reconciliation: a medicine added, changed, stopped or confirmed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reconciliation = models.ForeignKey(
        MedicationReconciliation,
        on_delete=models.CASCADE,
        related_name="changes",
        db_constraint=False,
    )
    medication = models.ForeignKey(
        Medication, on_delete=models.CASCADE, related_name="changes", db_constraint=False
    )
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    detail = models.CharField(max_length=500, blank=True)  # e.g. "dose 10 mg → 20 mg"

    class Meta:
        ordering: ClassVar = ["action"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.detail}"
