"""Claim review writes: the biller's status tracking of a closed month's claims (ready →
submitted → paid / denied with a reason). A re-close withdraws or restores claims
(billing.close.services); here only people change status."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.close.services import MonthState
from billing.models import Claim, ClaimStatus, CloseStatus, MonthClose
from ccm import audit
from ccm.api_auth import StateConflict
from ccm.models import Membership, Practice
from ccm.roles import Capability, require

DENIAL_REASON_MESSAGE = "Give the denial reason."

# The biller's tracking: which status may follow which (a denied claim may be resubmitted).
TRANSITIONS: dict[str, frozenset[str]] = {
    ClaimStatus.READY: frozenset({ClaimStatus.SUBMITTED}),
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.READY, ClaimStatus.PAID, ClaimStatus.DENIED}),
    ClaimStatus.DENIED: frozenset({ClaimStatus.SUBMITTED, ClaimStatus.PAID}),
    ClaimStatus.PAID: frozenset({ClaimStatus.DENIED}),
    # The payer's front end answered (277CA): adjudication follows; a rejected claim goes out
    # again only by resubmission (billing.submissions), never by a status change.
    ClaimStatus.ACCEPTED: frozenset({ClaimStatus.PAID, ClaimStatus.DENIED}),
    ClaimStatus.REJECTED: frozenset(),
    ClaimStatus.WITHDRAWN: frozenset(),  # only a re-close withdraws or restores a claim
}


def claims_status_set(
    *,
    practice: Practice,
    actor: Membership,
    claim_ids: list[Any],
    status: str,
    denial_reason: str = "",
) -> int:
    """Set the status of one or many claims of a closed month (all or nothing: any claim
    that cannot move to the status refuses the whole change). Audited per claim."""
    require(actor, Capability.UPDATE_CLAIMS, "Only admins and billers update claim status.")
    settable = [s for s in ClaimStatus.values if s != ClaimStatus.WITHDRAWN]
    if status not in settable:
        raise ValidationError({"status": f"Choose one of: {', '.join(settable)}."})
    denial_reason = (denial_reason or "").strip()
    if status == ClaimStatus.DENIED and not denial_reason:
        raise ValidationError({"denial_reason": DENIAL_REASON_MESSAGE})
    if not claim_ids:
        raise ValidationError({"claims": "Choose at least one claim."})
    with transaction.atomic():
        months = set(
            Claim.objects.for_practice(practice)
            .filter(pk__in=claim_ids)
            .values_list("month", flat=True)
        )
        # The close rows first (as a reopen does): no status change while a month reopens.
        closes = list(
            MonthClose.objects.for_practice(practice)
            .select_for_update()
            .filter(month__in=months)
            .order_by("month")
        )
        if len(closes) != len(months) or any(c.status != CloseStatus.CLOSED for c in closes):
            raise MonthState("Claims change status only in a closed month.")
        claims = list(
            Claim.objects.for_practice(practice)
            .select_for_update()
            .filter(pk__in=claim_ids)
            .order_by("pk")
        )
        if len(claims) != len(set(claim_ids)):
            raise Claim.DoesNotExist("No such claim.")
        refused = [c for c in claims if status != c.status and status not in TRANSITIONS[c.status]]
        if refused:
            # A claim's current status forbids the change: a state conflict (409 in the API).
            label = ClaimStatus(status).label.lower()
            raise StateConflict(
                f"{len(refused)} of the chosen claims cannot be marked {label} "
                f"from their current status (e.g. {refused[0].get_status_display().lower()})."
                " Nothing was changed."
            )
        now = timezone.now()
        changed = [c for c in claims if c.status != status or c.denial_reason != denial_reason]
        for claim in changed:
            claim.status, claim.status_changed_at = status, now
            claim.denial_reason = denial_reason if status == ClaimStatus.DENIED else ""
        Claim.objects.for_practice(practice).bulk_update(
            changed, ["status", "status_changed_at", "denial_reason"]
        )
        audit.record_many(
            actor,
            [(claim, claim.patient_id) for claim in changed],
            action="claim.status",
            changed_fields=["status", "denial_reason"],
        )
    return len(changed)
