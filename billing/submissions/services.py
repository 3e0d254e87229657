"""Submission batches: creating one (the month's ready claims, or those chosen) stores the
837P interchange as handed out and moves its claims to `submitted`; its download gives the
stored file again, byte-identical. A claim is in at most one live batch (a partial unique
constraint); sending it again is an explicit resubmission (rejected claims), correction
(frequency 7) or void (frequency 8), each of which creates its own one-claim batch in the
same call. Every step is audited, with one `claim.export` per patient on a file."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from billing.close.services import MonthState
from billing.exports import x12
from billing.models import (
    BatchClaim,
    Claim,
    ClaimFrequency,
    ClaimStatus,
    CloseStatus,
    Export,
    MonthClose,
    SubmissionBatch,
    claim_control_number,
)
from billing.submissions import selectors
from ccm import audit
from ccm.api_auth import StateConflict
from ccm.models import Membership, Practice
from ccm.months import month_label
from ccm.roles import Capability, require
from ccm.tenancy import lock_for_practice_or_404

ROLE_MESSAGE = "Only admins and billers create 837P batches and resubmit, correct or void claims."
NOT_CLOSED_MESSAGE = "Claims are sent only from a closed month: close {month} first."
NOTHING_CHOSEN_MESSAGE = "Choose at least one claim."
NOTHING_READY_MESSAGE = x12.NOTHING_READY_MESSAGE
CHOSEN_NOT_READY_MESSAGE = (
    "{count} of the chosen claims cannot go in a new batch: only claims marked ready and not "
    "already in a batch are sent. Nothing was created."
)
RESUBMIT_MESSAGE = "Only a rejected claim is resubmitted; this claim is {status}."
CORRECT_MESSAGE = (
    "Only a claim the payer accepted, paid or denied, or one a re-close corrected after it was "
    "sent, goes out as a corrected claim; this claim is {status}."
)
VOID_MESSAGE = (
    "Only a claim that was sent (submitted, accepted, paid, denied, or withdrawn after it was "
    "sent) can be voided; this claim is {status}."
)
VOIDED_MESSAGE = "This claim's void is already sent."
PAYER_CLAIM_NUMBER_MESSAGE = (
    "Enter the payer claim control number (the ICN on the payer's remittance or claim status) "
    "of the claim to replace or void."
)
PAYER_CLAIM_NUMBER_FORMAT_MESSAGE = (
    "A payer claim control number is 1 to 50 letters and digits (dashes allowed)."
)
CONTROL_NUMBERS_MESSAGE = (
    "Every interchange control number (1 to 999999999) of the practice is used: contact "
    "support before sending more claims."
)
PAYER_CLAIM_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,49}$")
# Where each action may start from.
CORRECTABLE = frozenset({ClaimStatus.ACCEPTED, ClaimStatus.PAID, ClaimStatus.DENIED})
VOIDABLE = frozenset(
    {ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.PAID, ClaimStatus.DENIED}
)


def _lock(practice: Practice, months: set[dt.date]) -> None:
    """The practice row first: one batch at a time per practice, so control numbers follow
    each other and a claim goes in one live batch (FOR NO KEY UPDATE: inserts of the
    practice's rows, which take a key-share lock on it, go on). Then the months' close rows,
    as a status change does: no reopening while claims are sent."""
    Practice.objects.select_for_update(no_key=True).only("pk").get(pk=practice.pk)
    closes = list(
        MonthClose.objects.for_practice(practice)
        .select_for_update(no_key=True)
        .filter(month__in=months)
        .order_by("month")
    )
    open_months = sorted(months - {c.month for c in closes if c.status == CloseStatus.CLOSED})
    if open_months:
        raise MonthState(NOT_CLOSED_MESSAGE.format(month=month_label(open_months[0])))


def _next_control_number(practice: Practice) -> int:
    """ISA13/GS06: after the practice's last batch, and after the control numbers 837P
    downloads took before batches existed (billing.Export), so none is used twice."""
    last_batch = SubmissionBatch.objects.for_practice(practice).aggregate(n=Max("control_number"))
    last_export = Export.objects.for_practice(practice).aggregate(n=Max("control_number"))
    number = max(last_batch["n"] or 0, last_export["n"] or 0) + 1
    if number >= 10**9:
        raise StateConflict(CONTROL_NUMBERS_MESSAGE)
    return number


def _store(
    actor: Membership,
    month: dt.date | None,
    outgoing: Sequence[x12.Outgoing],
    *,
    status: str = ClaimStatus.SUBMITTED,
) -> SubmissionBatch:
    """Build, check and store the interchange of these claims (the caller holds the locks):
    its batch row, one live entry per claim (retiring the entries they replace), the claims
    moved to `status` and marked sent; audited."""
    practice = actor.practice
    control = _next_control_number(practice)
    now = timezone.now()
    submission, document = x12.prepare_837(
        practice, outgoing, control_number=control, created_at=now
    )
    charges = {c.patient_control_number: c.total for c in submission.claims}
    batch = SubmissionBatch.objects.for_practice(practice).create(
        practice=practice,
        month=month,
        control_number=control,
        usage=submission.usage,
        content=document,
        sha256=hashlib.sha256(document.encode()).hexdigest(),
        claims=len(outgoing),
        total_charge=sum(charges.values()),
        created_by=actor,
        created_at=now,
    )
    entries = BatchClaim.objects.for_practice(practice)
    entries.filter(pk__in=[o.replaces for o in outgoing if o.replaces]).update(live=False)
    entries.bulk_create(
        [
            BatchClaim(
                practice=practice,
                batch=batch,
                claim_id=o.claim_id,
                frequency=o.frequency,
                payer_claim_number=o.payer_claim_number,
                charge=charges[claim_control_number(o.claim_id)],
                created_at=now,
            )
            for o in outgoing
        ]
    )
    claims = Claim.objects.for_practice(practice).filter(pk__in=[o.claim_id for o in outgoing])
    changes: dict[str, Any] = {"status": status, "status_changed_at": now, "submitted_at": now}
    if status == ClaimStatus.SUBMITTED:
        # What the payer is asked for (the usual charges); reasons of a former refusal go.
        sent = entries.filter(batch=batch, claim=OuterRef("pk")).values("charge")[:1]
        changes.update(billed_amount=Subquery(sent), denial_reason="", rejection_reason="")
    # A re-close keeps sent claims (billing.close.services.KEPT) unless the closer confirms.
    claims.update(exported_at=now, **changes)
    audit.record_for(actor, "submissionbatch.create", obj=batch)
    patients = claims.values_list("patient_id", flat=True)
    audit.record_many(actor, [(batch, pk) for pk in patients], action="claim.export")
    return batch


def batch_create(
    *,
    actor: Membership,
    month: dt.date | None = None,
    claim_ids: Sequence[Any] | None = None,
) -> SubmissionBatch:
    """A new batch of the month's claims ready to send, or of the chosen ones (all of them
    ready and in no live batch, else nothing is created). Refused, with what to fix, when
    the contractor's front-end rules or pyx12 would reject the file. Writes the batch, its
    entries and the claims' status; audited."""
    require(actor, Capability.SUBMIT_CLAIMS, ROLE_MESSAGE)
    practice = actor.practice
    ids = None if claim_ids is None else list(dict.fromkeys(claim_ids))
    if ids is not None and not ids:
        raise ValidationError({"claims": NOTHING_CHOSEN_MESSAGE})
    with transaction.atomic():
        months = {month} if month is not None else set()
        if ids is not None:
            found = Claim.objects.for_practice(practice).filter(pk__in=ids)
            if month is not None:
                found = found.filter(month=month)
            months |= set(found.values_list("month", flat=True))
            if found.count() != len(ids):
                raise Claim.DoesNotExist("No such claim.")
        _lock(practice, months)
        outgoing = x12.outgoing_claims(practice, month=month, claim_ids=ids)
        if ids is not None and len(outgoing) != len(ids):
            raise StateConflict(CHOSEN_NOT_READY_MESSAGE.format(count=len(ids) - len(outgoing)))
        if not outgoing:
            label = month_label(month) if month else "The practice"
            raise StateConflict(NOTHING_READY_MESSAGE.format(month=label))
        return _store(actor, month or (next(iter(months)) if len(months) == 1 else None), outgoing)


def month_batch(*, actor: Membership, month: dt.date) -> tuple[SubmissionBatch, bool]:
    """The month's 837P as export.837 hands it out: a new batch when claims are ready to
    send, else the month's latest batch again (byte-identical), else a conflict (nothing
    to send). Returns the batch and whether it was created now."""
    require(actor, Capability.SUBMIT_CLAIMS, ROLE_MESSAGE)
    practice = actor.practice
    with transaction.atomic():
        _lock(practice, {month})
        outgoing = x12.outgoing_claims(practice, month=month)
        if outgoing:
            return _store(actor, month, outgoing), True
        latest = selectors.latest_batch(practice=practice, month=month)
        if latest is None:
            raise StateConflict(NOTHING_READY_MESSAGE.format(month=month_label(month)))
        return latest, False


def batch_download(*, actor: Membership, batch: SubmissionBatch) -> str:
    """The batch's stored interchange, as created (byte-identical); audited as the
    download and one `claim.export` per patient on it."""
    require(actor, Capability.SUBMIT_CLAIMS, ROLE_MESSAGE)
    patients = selectors.batch_patient_ids(practice=actor.practice, batch=batch)
    with transaction.atomic():
        audit.record_for(actor, "submissionbatch.download", obj=batch)
        audit.record_many(actor, [(batch, pk) for pk in patients], action="claim.export")
    return batch.content


def _locked_claim(actor: Membership, claim: Claim) -> Claim:
    require(actor, Capability.SUBMIT_CLAIMS, ROLE_MESSAGE)
    _lock(actor.practice, {claim.month})
    return lock_for_practice_or_404(Claim, actor.practice, claim.pk)


def _payer_claim_number(claim: Claim, typed: str) -> str:
    """The number the biller typed (checked), else the claim's own (from the payer)."""
    typed = (typed or "").strip()
    if typed and not PAYER_CLAIM_NUMBER.match(typed):
        raise ValidationError({"payer_claim_number": PAYER_CLAIM_NUMBER_FORMAT_MESSAGE})
    number = typed or claim.payer_claim_number
    if not number:
        raise ValidationError({"payer_claim_number": PAYER_CLAIM_NUMBER_MESSAGE})
    return number


def _resend(
    actor: Membership,
    claim: Claim,
    sending: x12.Outgoing,
    *,
    action: str,
    status: str = ClaimStatus.SUBMITTED,
) -> SubmissionBatch:
    """The claim in a new batch of its own, its former live entry retired; audited."""
    live = selectors.live_entry(practice=actor.practice, claim=claim)
    sending = x12.Outgoing(
        claim.pk, sending.frequency, sending.payer_claim_number, live.pk if live else None
    )
    fields = ["status", "submitted_at"]
    if sending.payer_claim_number and sending.payer_claim_number != claim.payer_claim_number:
        # The number the biller typed is the payer's for this claim from now on.
        claim.payer_claim_number = sending.payer_claim_number
        Claim.objects.for_practice(actor.practice).filter(pk=claim.pk).update(
            payer_claim_number=claim.payer_claim_number
        )
        fields.append("payer_claim_number")
    batch = _store(actor, claim.month, [sending], status=status)
    audit.record_for(actor, action, obj=claim, patient_id=claim.patient_id, changed_fields=fields)
    return batch


@transaction.atomic
def claim_resubmit(*, actor: Membership, claim: Claim) -> SubmissionBatch:
    """A rejected claim sent again as an original, in a new batch created now (its rejected
    entry is no longer live). Audited."""
    claim = _locked_claim(actor, claim)
    if claim.status != ClaimStatus.REJECTED:
        raise StateConflict(RESUBMIT_MESSAGE.format(status=claim.get_status_display().lower()))
    return _resend(actor, claim, x12.Outgoing(claim.pk), action="claim.resubmit")


@transaction.atomic
def claim_correct(
    *, actor: Membership, claim: Claim, payer_claim_number: str = ""
) -> SubmissionBatch:
    """A replacement claim (frequency 7, REF*F8 = the payer's claim control number: the
    claim's, or the one the biller types, which is kept on the claim) in a new batch created
    now, replacing the claim's live entry. For a claim the payer accepted, paid or denied,
    or one a re-close corrected after it was sent. Audited."""
    claim = _locked_claim(actor, claim)
    # A re-close corrected it after it was sent: the batch needs the payer's number for it.
    recorrected = claim.status == ClaimStatus.READY and claim.corrected_at is not None
    recorrected = recorrected and _was_sent(claim)
    if claim.status not in CORRECTABLE and not recorrected:
        raise StateConflict(CORRECT_MESSAGE.format(status=claim.get_status_display().lower()))
    number = _payer_claim_number(claim, payer_claim_number)
    sending = x12.Outgoing(claim.pk, ClaimFrequency.REPLACEMENT, number)
    return _resend(actor, claim, sending, action="claim.replace")


def _was_sent(claim: Claim) -> bool:
    return claim.submitted_at is not None or claim.exported_at is not None


@transaction.atomic
def claim_void(*, actor: Membership, claim: Claim, payer_claim_number: str = "") -> SubmissionBatch:
    """A void (frequency 8, REF*F8) of a claim that was sent, in a new batch created now: a
    claim a re-close withdrew, or one the biller chooses to cancel (it is withdrawn: it counts
    in no total). Audited."""
    claim = _locked_claim(actor, claim)
    withdrawn_after_sending = claim.status == ClaimStatus.WITHDRAWN and _was_sent(claim)
    if claim.status not in VOIDABLE and not withdrawn_after_sending:
        raise StateConflict(VOID_MESSAGE.format(status=claim.get_status_display().lower()))
    live = selectors.live_entry(practice=actor.practice, claim=claim)
    if live is not None and live.frequency == ClaimFrequency.VOID:
        raise StateConflict(VOIDED_MESSAGE)
    number = _payer_claim_number(claim, payer_claim_number)
    sending = x12.Outgoing(claim.pk, ClaimFrequency.VOID, number)
    return _resend(actor, claim, sending, action="claim.void", status=ClaimStatus.WITHDRAWN)
