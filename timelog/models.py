"""Time entries (CCM minutes), month locks, running timers, outreach tasks, reminder digests.

A link to another tenant table has `db_constraint=False`: the database checks it with the
composite same-practice foreign key `(practice_id, x_id)` (ccm.tenancy.tenant_fk_sql); a
single-column one would be redundant, and Citus refuses it between distributed tables
(docs/scaling.md). The ORM relation and its on_delete stay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q
from django.utils import timezone

from ccm.tenancy import TenantModel
from patients.models import Channel

MAX_ENTRY_MINUTES = 240


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Activity(models.TextChoices):
    CALL_PATIENT = "call_patient", "Phone call with patient or caregiver"
    COORDINATION = "coordination", "Care coordination with other providers"
    MEDICATION = "medication", "Medication reconciliation"
    CARE_PLAN = "care_plan", "Care plan review or revision"
    CHART_REVIEW = "chart_review", "Chart or result review"
    REFERRAL = "referral", "Referral"
    EDUCATION = "education", "Patient education"
    OTHER = "other", "Other"
    # R5: outreach to a candidate happens before consent and never counts toward billing.
    ENROLLMENT_OUTREACH = "enrollment_outreach", "Enrollment outreach (not billable)"


# Activities that are a contact: stopping the timer on one asks for its outcome (the worklist's
# "last contact" is the last reached ContactAttempt, never the minutes themselves).
CONTACT_ACTIVITIES = frozenset({Activity.CALL_PATIENT, Activity.EDUCATION})


class PerformerKind(models.TextChoices):
    # Contract §3: minutes logged by a physician are physician time, anyone else's staff time.
    CLINICAL_STAFF = "clinical_staff", "Clinical staff"
    PHYSICIAN = "physician", "Physician"


class Source(models.TextChoices):
    TIMER = "timer", "Timer"
    MANUAL = "manual", "Entered by hand"


class TimeEntry(TenantModel):
    """Minutes of non-face-to-face care for one patient by one member, in one billing month."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="time_entries",
        db_constraint=False,
    )
    performer = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    performer_kind = models.CharField(max_length=16, choices=PerformerKind.choices)
    # R14: the billing practitioner the work was done under (the patient's, when logged).
    practitioner = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ENTRY_MINUTES)]
    )
    ended_at = models.DateTimeField(editable=False)  # started_at + minutes (for the overlap rule)
    activity = models.CharField(max_length=24, choices=Activity.choices)
    note = models.TextField(blank=True)
    # R15: face-to-face time is never CCM time; the engine drops entries flagged so.
    face_to_face = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    # The medication reconciliation these minutes were spent on (activity "medication").
    reconciliation = models.ForeignKey(
        "patients.MedicationReconciliation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    billing_month = models.DateField(help_text="First day of the month, in the practice's zone.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "id"], name="timelog_timeentry_practice_id"
            ),
            models.CheckConstraint(
                condition=Q(minutes__gte=1) & Q(minutes__lte=MAX_ENTRY_MINUTES),
                name="timelog_timeentry_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__gt=models.F("started_at")),
                name="timelog_timeentry_ends_after_start",
            ),
            # One person cannot log two overlapping stretches of time (races included).
            ExclusionConstraint(
                name="timelog_timeentry_no_overlap",
                expressions=[
                    ("performer", RangeOperators.EQUAL),
                    (TsTzRange("started_at", "ended_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
            ),
        ]
        indexes: ClassVar = [
            # Covering the month close's read of a batch (billing.inputs.loading
            # load_month_batch): a practice's month, a range of patients in (patient, start)
            # order, every column the engine needs - an index-only scan in the order it wants
            # instead of visiting most of the month's heap pages. Its prefix serves the
            # worklist's and the progress's (practice, month, patient) lookups.
            models.Index(
                fields=["practice", "billing_month", "patient", "started_at"],
                include=[
                    "id",
                    "minutes",
                    "performer_kind",
                    "practitioner",
                    "face_to_face",
                    "activity",
                ],
                name="timelog_entry_close_cover",
            ),
            models.Index(fields=["practice", "patient", "started_at"]),
            models.Index(fields=["practice", "performer", "started_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min on {self.started_at:%Y-%m-%d}"

    @property
    def counts_toward_billing(self) -> bool:
        return self.activity != Activity.ENROLLMENT_OUTREACH and not self.face_to_face


class TimeAdjustment(TenantModel):
    """An audited correction of an entry in a closed (locked) month: minutes added or removed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entry = models.ForeignKey(
        TimeEntry, on_delete=models.PROTECT, related_name="adjustments", db_constraint=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    minutes_delta = models.SmallIntegerField()
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=~Q(minutes_delta=0), name="timelog_adjustment_nonzero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.minutes_delta:+d} min"


class MonthLock(TenantModel):
    """A closed billing month: its time entries are read-only (set by the month close)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    month = models.DateField(help_text="First day of the locked month.")
    locked_at = models.DateTimeField(default=timezone.now)
    locked_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "month"], name="timelog_month_lock_once"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} locked"


class RunningTimer(TenantModel):
    """A member's running timer (one per membership); the start instant lives on the server."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    membership = models.ForeignKey("ccm.Membership", on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    started_at = models.DateTimeField(default=timezone.now)
    activity = models.CharField(max_length=24, choices=Activity.choices, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "membership"], name="timelog_one_timer_per_member"
            ),
        ]

    def __str__(self) -> str:
        return f"timer since {self.started_at:%H:%M}"

    def elapsed_minutes(self, now: dt.datetime | None = None) -> int:
        """Whole minutes so far, never rounded up."""
        seconds = ((now or timezone.now()) - self.started_at).total_seconds()
        return max(0, int(seconds // 60))


class TaskKind(models.TextChoices):
    CHECK_IN = "check_in", "Monthly check-in"
    FOLLOW_UP_CALL = "follow_up_call", "Follow-up call"
    CARE_PLAN_REVIEW = "care_plan_review", "Care plan review"
    CONSENT_RENEWAL = "consent_renewal", "Consent renewal"
    TRANSITION_FOLLOW_UP = "transition_follow_up", "Follow-up after a care transition"
    MEDICATION_RECONCILIATION = "med_reconciliation", "Medication reconciliation"
    CUSTOM = "custom", "Custom"


# Completing one of these offers to log the call's minutes in the same step.
CALL_KINDS = frozenset(
    {
        TaskKind.CHECK_IN,
        TaskKind.FOLLOW_UP_CALL,
        TaskKind.CONSENT_RENEWAL,
        TaskKind.TRANSITION_FOLLOW_UP,
    }
)
# Kinds that may have several open tasks in a month (one per transition, or ad hoc).
REPEATABLE_KINDS = ("custom", "transition_follow_up", "med_reconciliation")


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class TaskOrigin(models.TextChoices):
    MANUAL = "manual", "Created by a person"
    REMINDER = "reminder", "Daily reminder job"


class Task(TenantModel):
    """An outreach task for one patient, assigned to a member, due on a local date."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="tasks", db_constraint=False
    )
    assignee = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=TaskKind.choices)
    title = models.CharField(max_length=200, blank=True)
    due_on = models.DateField()
    month = models.DateField(help_text="First day of the billing month the task belongs to.")
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    origin = models.CharField(max_length=10, choices=TaskOrigin.choices, default=TaskOrigin.MANUAL)
    reason = models.CharField(max_length=200, blank=True)
    completion_note = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    time_entry = models.ForeignKey(
        TimeEntry,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    # The care transition this task follows up (transition follow-up, reconciliation).
    transition = models.ForeignKey(
        "careplans.CareTransition",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    created_by = models.ForeignKey(
        "ccm.Membership", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["due_on", "created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "id"], name="timelog_task_practice_id"),
            # Never two open tasks of one kind for a patient and month (repeatable kinds
            # aside): the reminder job relies on this to be idempotent under concurrent runs.
            models.UniqueConstraint(
                fields=["practice", "patient", "kind", "month"],
                condition=Q(status="open") & ~Q(kind__in=REPEATABLE_KINDS),
                name="timelog_one_open_task_per_kind_month",
            ),
            # One task of each kind per transition, however often the recording is retried.
            models.UniqueConstraint(
                fields=["practice", "transition", "kind"],
                condition=Q(transition__isnull=False),
                name="timelog_one_task_per_transition_kind",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["practice", "status", "assignee", "due_on"]),
            models.Index(fields=["practice", "patient", "status", "due_on"]),
            # The worklist by next task due reads the open tasks in due order (timelog
            # .selectors._DueIds).
            models.Index(fields=["practice", "status", "due_on"], name="timelog_task_by_due"),
        ]

    def __str__(self) -> str:
        return self.title or self.get_kind_display()

    @property
    def label(self) -> str:
        return self.title or self.get_kind_display()


class ReminderDigest(TenantModel):
    """One daily digest per member and local date; inserting the row claims the send."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    membership = models.ForeignKey("ccm.Membership", on_delete=models.CASCADE, related_name="+")
    sent_on = models.DateField()
    counts = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "membership", "sent_on"], name="timelog_one_digest_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"digest of {self.sent_on}"


class MonthProgress(TenantModel):
    """The billing engine's progress for one patient-month, kept for the worklist.

    Derived data: `billing.progress.services.progress_refresh` recomputes it (with the engine,
    never a second copy of the rules) in the same transaction as every write that changes the
    engine's input (time, adjustments, consent, conditions, billing practitioner, initiating
    visit), and the reconcile job checks it against the engine every night. A missing row
    means the patient has no time in that month (the worklist shows zero minutes).

    `billable` and `projected_amount` are `billing.rules.evaluate`'s answer on the current
    facts (the claim if the month closed now), summed by the billing dashboard. NULL: not
    computed yet (rows from before these columns); the hourly reconcile fills them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.CASCADE,
        related_name="month_progress",
        db_constraint=False,
    )
    month = models.DateField(help_text="First day of the billing month.")
    clinical_staff_minutes = models.PositiveIntegerField(default=0)  # countable (R16)
    physician_minutes = models.PositiveIntegerField(default=0)  # countable (R16)
    staff_pool = models.PositiveIntegerField(default=0)  # R16: both count toward 99490
    next_code = models.CharField(max_length=8, blank=True)  # blank: every unit reached (R27)
    minutes_needed = models.PositiveIntegerField(null=True, blank=True)
    # The latest reached contact (ContactAttempt outcome "reached") before the month's end,
    # in any month.
    last_contact_at = models.DateTimeField(null=True, blank=True)
    # Contact attempts this month that did not reach anyone (since the last reached one).
    unanswered_attempts = models.PositiveSmallIntegerField(default=0)
    billable = models.BooleanField(null=True)
    projected_amount = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["practice", "month", "patient"], name="timelog_progress_once"
            ),
        ]
        # The worklist's sorts by minutes, by the next threshold and by the last contact
        # (timelog.selectors.WorklistIds), in their directions: a page is read from the front
        # of one of these, not sorted out of the whole month. The patients never reached (NULL
        # last contact, first) are read by name from the patients' name index instead.
        indexes: ClassVar = [
            models.Index(
                F("practice"), F("month"), F("staff_pool"), name="timelog_progress_by_pool"
            ),
            models.Index(
                F("practice"),
                F("month"),
                F("minutes_needed").asc(nulls_last=True),
                name="timelog_progress_by_needed",
            ),
            models.Index(
                F("practice"), F("month"), F("last_contact_at"), name="timelog_progress_by_contact"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.staff_pool} min"

    VALUE_FIELDS: ClassVar = (
        "clinical_staff_minutes",
        "physician_minutes",
        "staff_pool",
        "next_code",
        "minutes_needed",
        "last_contact_at",
        "unanswered_attempts",
        "billable",
        "projected_amount",
    )

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.VALUE_FIELDS)


# --- Contact attempts and after-contact summaries --------------------------------------------


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "We contacted them"
    INBOUND = "inbound", "They contacted us"


class Party(models.TextChoices):
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver or family"
    PHARMACY = "pharmacy", "Pharmacy"
    SPECIALIST = "specialist", "Specialist or other practitioner"
    AGENCY = "agency", "Agency (home health, community)"
    OTHER = "other", "Other"


class Outcome(models.TextChoices):
    REACHED = "reached", "Reached"
    VOICEMAIL = "voicemail", "Left voicemail"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    MESSAGE_SENT = "message_sent", "Message sent (text, email, portal, letter)"


# Outcomes that did not reach anyone: three in a month suggest another channel or party.
UNANSWERED = frozenset({Outcome.VOICEMAIL, Outcome.NO_ANSWER, Outcome.BUSY, Outcome.WRONG_NUMBER})


class ContactAttempt(TenantModel):
    """One outreach or inbound contact with the patient or someone in their care, with its
    outcome. "Last contact" is the last reached one; unanswered attempts are counted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="contact_attempts",
        db_constraint=False,
    )
    occurred_at = models.DateTimeField()
    month = models.DateField(help_text="First day of the month of occurred_at, practice zone.")
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.OUTBOUND
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PHONE)
    party = models.CharField(max_length=10, choices=Party.choices, default=Party.PATIENT)
    # Who, when the party is one of the patient's care contacts (caregiver, pharmacy...).
    contact = models.ForeignKey(
        "patients.CareContact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    note = models.TextField(blank=True)
    # The minutes logged for this contact (timer stop, task completion), if any.
    time_entry = models.ForeignKey(
        TimeEntry,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        db_constraint=False,
    )
    task = models.ForeignKey(
        Task,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        db_constraint=False,
    )
    recorded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-occurred_at"]
        indexes: ClassVar = [
            models.Index(fields=["practice", "patient", "occurred_at"]),
            models.Index(fields=["practice", "month", "patient"]),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "id"], name="timelog_contact_practice_id"),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.occurred_at:%Y-%m-%d}"

    @property
    def reached(self) -> bool:
        return self.outcome == Outcome.REACHED


class ShareMethod(models.TextChoices):
    IN_PERSON = "in_person", "Handed over in person"
    MAIL = "mail", "Mailed"
    PORTAL = "portal", "Patient portal"
    EMAIL = "email", "Secure email"


class ContactSummary(TenantModel):
    """The plain-language after-contact summary given to the patient (or a caregiver the
    patient permits): what we talked about, what to do now, what to watch for, whom to call.
    Printed as a one-page PDF in the patient's language; recorded as shared."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    contact_attempt = models.ForeignKey(
        ContactAttempt, on_delete=models.PROTECT, related_name="summaries", db_constraint=False
    )
    language = models.CharField(max_length=8, default="en")  # a code of settings.LANGUAGES
    talked_about = models.TextField()
    do_now = models.TextField()
    watch_for = models.TextField(blank=True)
    whom_to_call = models.TextField(blank=True)
    # Who received it: the patient (blank) or a permitted caregiver.
    shared_with = models.ForeignKey(
        "patients.CareContact",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    shared_method = models.CharField(max_length=10, choices=ShareMethod.choices)
    shared_on = models.DateField()
    created_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [models.Index(fields=["practice", "patient", "created_at"])]

    def __str__(self) -> str:
        return f"summary of {self.shared_on}"
