"""Core models: users, practices, memberships (roles), API tokens, the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from ccm.roles import Capability, Role, can
from ccm.tenancy import TenantManager, TenantModel
from ccm.validators import (
    state_validator,
    validate_npi,
    validate_phone,
    validate_tax_id,
    validate_time_zone,
    zip_validator,
)

PHYSICIAN_NPI_REQUIRED = "A physician membership needs the physician's NPI."
NPI_ONLY_FOR_PHYSICIANS = "Only physician memberships carry an NPI."


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Keyed by email; what they may do comes from memberships."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("email"), name="ccm_user_email_ci_uniq"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class PostalAddress(models.Model):
    """A US postal address (practices and patients)."""

    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[state_validator])
    postal_code = models.CharField(
        "ZIP code", max_length=10, blank=True, validators=[zip_validator]
    )

    class Meta:
        abstract = True


class Practice(PostalAddress):
    """A CCM practice: the tenant. Its time zone defines the billing month."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    billing_npi = models.CharField("billing NPI", max_length=10, validators=[validate_npi])
    tax_id = models.CharField(
        "tax id (EIN)", max_length=10, blank=True, validators=[validate_tax_id]
    )
    phone = models.CharField(max_length=32, blank=True, validators=[validate_phone])
    # CCM promises 24/7 access to the care team: printed on every after-contact summary.
    after_hours_phone = models.CharField(
        "24/7 care team phone", max_length=32, blank=True, validators=[validate_phone]
    )
    mfa_required = models.BooleanField(
        "require MFA for admins and billers",
        default=True,
        help_text="Admins and billers must set up an authenticator app before anything else.",
    )
    inactivity_timeout_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Sign people out after this many minutes without activity (5 to 240).",
    )
    timer_confirm_minutes = models.PositiveSmallIntegerField(
        "confirm timers running longer than (minutes)",
        default=120,
        validators=[MinValueValidator(15), MaxValueValidator(240)],
        help_text="A timer left running longer than this asks for confirmation before saving.",
    )
    care_plan_review_months = models.PositiveSmallIntegerField(
        "review care plans every (months)",
        default=12,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
        help_text="A signed care plan is due for review this many months after signing.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """The date in the practice's zone, whatever zone the code runs in: the API runs in
        UTC, pages in the practice's zone, jobs in the server's (`timezone.localdate()` is the
        running zone's day, not the practice's)."""
        return (now or timezone.now()).astimezone(self.zone).date()

    def this_month(self, now: dt.datetime | None = None) -> dt.date:
        """First day of the practice's current billing month (its today's month)."""
        return self.today(now).replace(day=1)


class Membership(TenantModel):
    """A user's role in one practice. Physicians carry their individual NPI."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "user"], name="ccm_membership_once"),
            models.UniqueConstraint(fields=["practice", "id"], name="ccm_membership_practice_id"),
        ]
        indexes: ClassVar = [models.Index(fields=["user", "is_active"])]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    def clean(self) -> None:
        practitioner = can(self, Capability.BILL_AS_PRACTITIONER)
        if practitioner and not self.npi:
            raise ValidationError({"npi": PHYSICIAN_NPI_REQUIRED})
        if not practitioner and self.npi:
            raise ValidationError({"npi": NPI_ONLY_FOR_PHYSICIANS})

    @property
    def needs_mfa(self) -> bool:
        return self.practice.mfa_required and can(self, Capability.REQUIRES_MFA)


class ApiToken(TenantModel):
    """A Bearer token for one membership (fixing user, practice, role). Only its hash is kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["practice", "id"], name="ccm_apitoken_practice_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEvent(models.Model):
    """Append-only record of who did what, when, from where, to which object and patient.

    The database refuses UPDATE and DELETE (trigger in migration 0002) and the runtime role may
    only INSERT and SELECT (`manage.py db_roles`); `AuditSeal` shows any change made anyway.
    `practice` is empty only for events that belong to no practice (a failed login for an
    unknown email).

    An event is about one patient (`patient_id`) or, for a list page or API, about every
    patient the list showed (`patient_ids`, GIN-indexed; `patient_id` empty): one event per
    view, not one per row. "Events about patient X" must match both; the one way to ask is
    `ccm.audit_selectors.about_patient`.

    The table is partitioned by month on `created_at` (migration `0009_issue18_audit_partitions`;
    new months from `ccm.audit.partitions_ensure`, run by the hourly seal job). PostgreSQL wants
    the partition key in every unique constraint, so the real primary key is (id, created_at);
    the ORM is told `id` is the primary key, which stays true in practice (one sequence feeds
    every partition) and keeps `pk` lookups, `save()` and foreign-key-less references (seals
    name events by id) working.
    """

    id = models.BigAutoField(primary_key=True)
    practice = models.ForeignKey(
        Practice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.UUIDField(null=True, blank=True)
    patient_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    changed_fields = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Reads are scoped like every tenant table; ccm.audit.record writes unscoped (see there).
    objects: TenantManager[Any] = TenantManager()

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [
            models.Index(fields=["practice", "-created_at"]),
            models.Index(fields=["practice", "patient_id", "-created_at"]),
            models.Index(fields=["practice", "actor", "-created_at"]),
            GinIndex(fields=["patient_ids"], name="ccm_audit_patient_ids_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


class PendingJob(models.Model):
    """A Celery task that could not be queued because the broker did not answer (ccm.jobs).

    The outbox: the change that asked for the job is already saved; `ccm.tasks.pending_jobs_send`
    (every minute, ccm/celery.py) queues these once the broker is back. Task name and ids only,
    never PHI, as in every Celery message. Not practice data: no tenant scope.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.task} since {self.created_at:%Y-%m-%d %H:%M}"


class AuditSeal(models.Model):
    """A link of the hash chain over the audit log: the events with ids in
    (`after_event_id`, `last_event_id`], sealed by `ccm.audit.seal`.

    `digests` holds each sealed event's id (8 bytes) and the SHA-256 of its canonical form
    (32 bytes), so `ccm.audit.verify` can name the event that was added, changed or removed.
    `hash` is the SHA-256 over this seal's fields, digests and the previous seal's hash: a
    rewritten seal breaks every later one. Append-only like the log (trigger in migration
    `0007_audit_seal`); the runtime role may only insert and read it (`manage.py db_roles`).
    """

    id = models.BigAutoField(primary_key=True)
    sequence = models.PositiveIntegerField(unique=True)
    after_event_id = models.BigIntegerField()  # the previous seal's last_event_id (or 0)
    last_event_id = models.BigIntegerField()
    event_count = models.PositiveIntegerField()
    # Every event created before this instant is in this seal or an earlier one.
    sealed_through = models.DateTimeField()
    digests = models.BinaryField()
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["sequence"]

    def __str__(self) -> str:
        return f"seal {self.sequence}: events {self.after_event_id + 1}-{self.last_event_id}"
