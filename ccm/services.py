"""Writes and workflows of the core app: practice settings, members, API tokens, housekeeping.

Every service is keyword-only, runs in one transaction, validates before saving and writes its
audit event in that same transaction.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ccm import audit, jobs
from ccm.api_auth import StateConflict
from ccm.models import ApiToken, Membership, Practice, User
from ccm.roles import Capability, can, roles_with
from ccm.tenancy import TOKEN_PREFIX, hash_token

LAST_ADMIN_MESSAGE = "A practice needs at least one active admin; make someone else admin first."
ALREADY_MEMBER_MESSAGE = "This person is already a member of the practice."
INACTIVE_MEMBER_MESSAGE = "This person is a deactivated member; reactivate them instead."
TOKEN_MEMBER_INACTIVE = "Tokens can only be created for active members."  # noqa: S105
PRACTICE_FIELDS = (
    "name",
    "time_zone",
    "billing_npi",
    "tax_id",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "phone",
    "after_hours_phone",
    "mfa_required",
    "inactivity_timeout_minutes",
    "timer_confirm_minutes",
    "care_plan_review_months",
)


@transaction.atomic
def practice_update(*, practice: Practice, actor: Membership, data: dict[str, Any]) -> Practice:
    """Apply settings changes (validated), audit the changed field names."""
    fresh = Practice.objects.select_for_update().get(pk=practice.pk)
    before = {f: getattr(fresh, f) for f in PRACTICE_FIELDS}
    for field in PRACTICE_FIELDS:
        if field in data:
            setattr(fresh, field, data[field])
    fresh.full_clean()
    changed = audit.changed(before, {f: getattr(fresh, f) for f in PRACTICE_FIELDS})
    if changed:
        fresh.save(update_fields=changed)
        audit.write(actor, fresh, "update", changed_fields=changed)
    return fresh


@transaction.atomic
def member_invite(
    *,
    practice: Practice,
    actor: Membership,
    email: str,
    role: str,
    full_name: str = "",
    npi: str = "",
) -> Membership:
    """Add a person (new or existing account) to the practice and email them an invitation."""
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None, full_name=full_name)
    existing = Membership.objects.for_practice(practice).filter(user=user).first()
    if existing is not None:
        message = ALREADY_MEMBER_MESSAGE if existing.is_active else INACTIVE_MEMBER_MESSAGE
        raise ValidationError({"email": message})
    membership = Membership(practice=practice, user=user, role=role, npi=npi)
    membership.full_clean()
    membership.save()
    audit.write(actor, membership, "create", changed_fields=["role", "user", "npi"])
    from ccm.tasks import member_invitation_send

    jobs.enqueue_on_commit(member_invitation_send, str(membership.pk))
    return membership


def _lock_admins(practice: Practice) -> list[Membership]:
    # Lock the admin rows so two concurrent demotions cannot both pass the last-admin check.
    return list(
        Membership.objects.for_practice(practice)
        .select_for_update()
        .filter(role__in=roles_with(Capability.MANAGE_MEMBERS), is_active=True)
    )


def _guard_last_admin(practice: Practice, membership: Membership) -> None:
    admins = _lock_admins(practice)
    if can(membership, Capability.MANAGE_MEMBERS) and membership.is_active and len(admins) <= 1:
        raise StateConflict(LAST_ADMIN_MESSAGE)


@transaction.atomic
def member_change_role(
    *, practice: Practice, actor: Membership, membership: Membership, role: str, npi: str = ""
) -> Membership:
    """Change a member's role (and NPI for physicians); the last admin cannot be demoted."""
    if not can(role, Capability.MANAGE_MEMBERS):
        _guard_last_admin(practice, membership)
    before = {"role": membership.role, "npi": membership.npi}
    membership.role = role
    membership.npi = npi if can(role, Capability.BILL_AS_PRACTITIONER) else ""
    membership.full_clean()
    changed = audit.changed(before, {"role": membership.role, "npi": membership.npi})
    if changed:
        membership.save(update_fields=changed)
        audit.record_for(actor, "membership.role_changed", obj=membership, changed_fields=changed)
    return membership


@transaction.atomic
def member_set_active(
    *, practice: Practice, actor: Membership, membership: Membership, active: bool
) -> Membership:
    """Deactivate (the last admin cannot be) or reactivate a member."""
    if not active:
        _guard_last_admin(practice, membership)
    if membership.is_active != active:
        membership.is_active = active
        membership.save(update_fields=["is_active"])
        verb = "reactivate" if active else "deactivate"
        audit.write(actor, membership, verb, changed_fields=["is_active"])
    return membership


@transaction.atomic
def token_create(
    *, practice: Practice, actor: Membership, membership: Membership, name: str
) -> tuple[ApiToken, str]:
    """Create a token for a member; returns it with the secret, which is never shown again."""
    if not membership.is_active:
        raise ValidationError({"membership": TOKEN_MEMBER_INACTIVE})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        practice=practice,
        membership=membership,
        name=name.strip(),
        prefix=raw[:10],
        token_hash=hash_token(raw),
        created_by=actor.user,
    )
    token.full_clean()
    token.save()
    audit.write(actor, token, "create")
    return token, raw


@transaction.atomic
def token_revoke(*, practice: Practice, actor: Membership, token: ApiToken) -> ApiToken:
    """Revoke a token (idempotent: revoking twice keeps the first revocation time)."""
    now = timezone.now()
    updated = (
        ApiToken.objects.for_practice(practice)
        .filter(pk=token.pk, revoked_at__isnull=True)
        .update(revoked_at=now)
    )
    if updated:
        token.revoked_at = now
        audit.write(actor, token, "revoke", changed_fields=["revoked_at"])
    return token


def sessions_clear_expired() -> int:
    """Delete expired sessions. Returns how many."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


def login_failures_clean() -> int:
    """Delete login-failure records older than a day (the lockout window is 15 minutes)."""
    cutoff = timezone.now() - timedelta(days=1)
    deleted, _ = AccessAttempt.objects.filter(attempt_time__lt=cutoff).delete()
    logs, _ = AccessFailureLog.objects.filter(attempt_time__lt=cutoff).delete()
    return deleted + logs


def member_invitation_send(*, membership_id: str) -> None:
    """Email the invitation for a membership (set-password link for a new account). I/O only."""
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    # Unscoped: the task is handed only a membership id (no PHI, no practice); the row names
    # its practice.
    membership = (
        Membership.objects.unscoped()
        .select_related("user", "practice")
        .get(pk=membership_id, is_active=True)
    )
    user = membership.user
    if user.has_usable_password():
        link = settings.SITE_URL + reverse("account_login")
    else:
        key = default_token_generator.make_token(user)
        path = reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": user_pk_to_url_str(user), "key": key},
        )
        link = settings.SITE_URL + path
    context = {
        "membership": membership,
        "link": link,
        "new_account": not user.has_usable_password(),
    }
    send_mail(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}You are invited to {membership.practice}",
        message=render_to_string("ccm/email/invitation.txt", context),
        from_email=None,
        recipient_list=[user.email],
    )
