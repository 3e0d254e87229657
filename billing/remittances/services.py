"""Imports of 999, 277CA and 835 files: each file stored once (its SHA-256; an 835 also by
payer and trace number), its effects posted to batches and claims in the same transaction,
audited (one event for the file, one per claim touched, with its patient).

- 999: the batch named by AK1's group control number is accepted, rejected or partly
  accepted; a rejected transaction set's claims go back to the biller (rejected, with the
  segment errors as the reason).
- 277CA: each claim named by its patient control number (2200D TRN02) is accepted (A0, A1,
  A2, A5) or rejected (A3, A4, A6, A7, A8, …) with the codes' meaning.
- 835: each CLP is posted to its claim (paid, patient responsibility, adjustments, payer
  claim number); a denial sets the claim denied with the reasons; a CLP of no claim of this
  practice is kept unmatched, never dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import (
    AckKind,
    Acknowledgment,
    BatchClaim,
    BatchClaimStatus,
    BatchStatus,
    Claim,
    ClaimAcknowledgment,
    ClaimStatus,
    Remittance,
    RemittanceAdjustment,
    RemittanceClaim,
    SubmissionBatch,
)
from billing.remittances import codes, parse, selectors
from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, require

ROLE_MESSAGE = "Only admins and billers upload acknowledgments and remittances."
NO_BATCH_MESSAGE = "No batch of this practice has group control number {number}."
REASON_LENGTH = 300

Imported = Acknowledgment | Remittance


def x12_import(
    *,
    practice: Practice,
    actor: Membership,
    content: bytes | str,
    expected: frozenset[str] = parse.KINDS,
) -> tuple[Imported, bool]:
    """Import an uploaded 999, 277CA or 835 (its kind read from the file; `expected` the
    kinds this caller takes). Returns (the stored file, created): False when the same file
    (or, for an 835, the same payment) was imported before, and nothing changed."""
    require(actor, Capability.POST_REMITTANCES, ROLE_MESSAGE)
    text, _kind, parsed = parse.read(content, expected=expected)
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    if isinstance(parsed, parse.Ack999):
        return _import_999(practice, actor, text, sha256, parsed)
    if isinstance(parsed, parse.Ack277):
        return _import_277ca(practice, actor, text, sha256, parsed)
    return _import_835(practice, actor, text, sha256, parsed)


def _short(text: str) -> str:
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def _audit(actor: Membership, record: Imported, claims: Iterable[Claim], action: str) -> None:
    audit.write(actor, record, "import")
    audit.record_many(actor, [(c, c.patient_id) for c in claims], action=action)


def _stored(practice: Practice, create: Any, existing: Any) -> tuple[Any, bool]:
    """Create the file's row in a savepoint; when a concurrent import of the same file won
    the race (unique constraint), answer with that one."""
    try:
        with transaction.atomic():
            return create(), True
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found, False


# --- 999 ----------------------------------------------------------------------------------


def _element_error(segment: str, error: parse.ElementError) -> dict[str, str]:
    position = error.position.zfill(2) if error.position.isdigit() else error.position
    return {
        "element": f"{segment}{position}",
        "reference": error.reference,
        "code": error.code,
        "description": codes.element_error(error.code),
    }


def _errors_999(ack: parse.Ack999) -> list[dict[str, Any]]:
    """The 999's errors as stored and shown: group, transaction set, segment and element
    level, each code with its meaning (IK404, the bad value itself, is never kept: PHI)."""
    errors: list[dict[str, Any]] = [
        {"level": "group", "code": code, "description": codes.group_error(code)}
        for code in ack.errors
    ]
    for tx in ack.transactions:
        errors += [
            {
                "level": "transaction",
                "transaction": tx.control_number,
                "code": code,
                "description": codes.transaction_error(code),
            }
            for code in tx.errors
        ]
        errors += [
            {
                "level": "segment",
                "transaction": tx.control_number,
                "segment": seg.segment,
                "position": seg.position,
                "loop": seg.loop,
                "code": seg.code,
                "description": codes.segment_error(seg.code),
                "elements": [_element_error(seg.segment, e) for e in seg.elements],
            }
            for seg in tx.segments
        ]
    return errors


def _reason_999(errors: list[dict[str, Any]]) -> str:
    """A rejected claim's reason: the segment errors of its transaction set, in short."""
    parts = []
    for error in errors:
        if error["level"] != "segment":
            continue
        where = f"{error['segment']} (loop {error['loop']})" if error["loop"] else error["segment"]
        elements = ", ".join(f"{e['element']} {e['description']}" for e in error["elements"])
        parts.append(f"{where}: {error['description']}" + (f" ({elements})" if elements else ""))
    detail = "; ".join(parts) or "the file failed the payer's front-end checks"
    return _short(f"999 rejected the batch: {detail}.")


def _batch_status(code: str) -> str:
    if code in codes.ACCEPTED_ACK_CODES:
        return BatchStatus.ACCEPTED
    return BatchStatus.PARTIAL if code == "P" else BatchStatus.REJECTED


def _summary_999(ack: parse.Ack999, batch: SubmissionBatch | None) -> str:
    verdict = f"{ack.code}: {codes.ack_code(ack.code)}"
    if batch is None:
        missing = NO_BATCH_MESSAGE.format(number=ack.group_control_number)
        return _short(f"{verdict}. {missing}")
    return _short(f"{verdict} for {batch}.")


def _import_999(
    practice: Practice, actor: Membership, text: str, sha256: str, ack: parse.Ack999
) -> tuple[Imported, bool]:
    with transaction.atomic():
        existing = selectors.acknowledgment_by_hash(practice=practice, sha256=sha256)
        if existing is not None:
            return existing, False
        batch = selectors.batch_by_control_number(
            practice=practice, number=ack.group_control_number
        )
        errors = _errors_999(ack)

        def create() -> Acknowledgment:
            row = Acknowledgment(
                practice=practice,
                kind=AckKind.X999,
                batch=batch,
                accepted=ack.accepted,
                summary=_summary_999(ack, batch),
                errors=errors,
                content=text,
                sha256=sha256,
                uploaded_by=actor,
            )
            row.save()
            return row

        record, created = _stored(
            practice,
            create,
            lambda: selectors.acknowledgment_by_hash(practice=practice, sha256=sha256),
        )
        if not created:
            return record, False
        claims = _post_999(practice, batch, ack, errors) if batch is not None else []
        _audit(actor, record, claims, "claim.acknowledge")
        return record, True


def _rejected_sets(ack: parse.Ack999) -> set[str] | None:
    """The control numbers (ST02) of the batch's transaction sets the 999 rejected; None
    when the whole batch is rejected."""
    if ack.code in codes.ACCEPTED_ACK_CODES:
        return set()
    if ack.code != "P":
        return None
    return {t.control_number for t in ack.transactions if t.code not in codes.ACCEPTED_ACK_CODES}


def _post_999(
    practice: Practice, batch: SubmissionBatch, ack: parse.Ack999, errors: list[dict[str, Any]]
) -> list[Claim]:
    batch.status = _batch_status(ack.code)
    batch.acknowledged_at = timezone.now()
    batch.save(update_fields=["status", "acknowledged_at"])
    rejected_sets = _rejected_sets(ack)
    if rejected_sets == set():
        return []
    live = BatchClaim.objects.for_practice(practice).filter(batch=batch, live=True)
    entries = list(live.select_related("claim"))
    if rejected_sets is not None:
        numbers = parse.transaction_claims(batch.content, rejected_sets)
        entries = [e for e in entries if e.claim.control_number in numbers]
    reason = _reason_999(
        [e for e in errors if rejected_sets is None or e.get("transaction") in rejected_sets]
    )
    return _reject(practice, entries, reason)


def _reject(practice: Practice, entries: list[BatchClaim], reason: str) -> list[Claim]:
    """Take the entries out of their batch (not live, rejected with the reason) and send
    their claims back to the biller's queue (rejected, with the reason)."""
    numbers = [e.claim.control_number for e in entries]
    selectors.lock_months(practice=practice, numbers=numbers)
    claims = selectors.claims_by_control_number(practice=practice, numbers=numbers, lock=True)
    now = timezone.now()
    for entry in entries:
        entry.live, entry.status, entry.status_reason = False, BatchClaimStatus.REJECTED, reason
    BatchClaim.objects.for_practice(practice).bulk_update(
        entries, ["live", "status", "status_reason"]
    )
    changed = []
    for claim in claims.values():
        if claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
            claim.status, claim.status_changed_at = ClaimStatus.REJECTED, now
        claim.rejection_reason = reason
        changed.append(claim)
    fields = ["status", "status_changed_at", "rejection_reason"]
    Claim.objects.for_practice(practice).bulk_update(changed, fields)
    return changed


# --- 277CA --------------------------------------------------------------------------------


def _import_277ca(
    practice: Practice, actor: Membership, text: str, sha256: str, ack: parse.Ack277
) -> tuple[Imported, bool]:
    with transaction.atomic():
        existing = selectors.acknowledgment_by_hash(practice=practice, sha256=sha256)
        if existing is not None:
            return existing, False
        number = int(ack.trace) if ack.trace.isdigit() else None
        batch = selectors.batch_by_control_number(practice=practice, number=number)
        rejected = [c for c in ack.claims if c.rejected]
        summary = (
            f"{len(ack.claims)} claim(s): {len(ack.claims) - len(rejected)} accepted or "
            f"pending, {len(rejected)} rejected."
        )

        def create() -> Acknowledgment:
            row = Acknowledgment(
                practice=practice,
                kind=AckKind.X277CA,
                batch=batch,
                accepted=not rejected,
                summary=summary,
                content=text,
                sha256=sha256,
                uploaded_by=actor,
            )
            row.save()
            return row

        record, created = _stored(
            practice,
            create,
            lambda: selectors.acknowledgment_by_hash(practice=practice, sha256=sha256),
        )
        if not created:
            return record, False
        claims = _post_277ca(practice, record, ack)
        _audit(actor, record, claims, "claim.acknowledge")
        return record, True


def _post_277ca(practice: Practice, record: Acknowledgment, ack: parse.Ack277) -> list[Claim]:
    numbers = [c.patient_control_number.upper() for c in ack.claims]
    selectors.lock_months(practice=practice, numbers=numbers)
    claims = selectors.claims_by_control_number(practice=practice, numbers=numbers, lock=True)
    entries = {
        e.claim_id: e
        for e in BatchClaim.objects.for_practice(practice).filter(
            claim__in=list(claims.values()), live=True
        )
    }
    statuses, touched = [], {}
    now = timezone.now()
    for position, info in enumerate(ack.claims, start=1):
        claim = claims.get(info.patient_control_number.upper())
        meaning = _short(info.meaning)
        statuses.append(
            ClaimAcknowledgment(
                practice=practice,
                acknowledgment=record,
                claim=claim,
                patient_control_number=info.patient_control_number[:38],
                accepted=info.accepted,
                category_code=info.category,
                status_code=info.status,
                entity_code=info.entity,
                description=meaning,
                position=position,
            )
        )
        if claim is None or not (info.accepted or info.rejected):
            continue
        entry = entries.get(claim.pk)
        _acknowledge(claim, entry, info, meaning, now)
        touched[claim.pk] = claim
    ClaimAcknowledgment.objects.for_practice(practice).bulk_create(statuses)
    changed = [e for e in entries.values() if e.claim_id in touched]
    BatchClaim.objects.for_practice(practice).bulk_update(
        changed, ["live", "status", "status_reason"]
    )
    fields = ["status", "status_changed_at", "rejection_reason", "payer_claim_number"]
    Claim.objects.for_practice(practice).bulk_update(list(touched.values()), fields)
    return list(touched.values())


def _acknowledge(
    claim: Claim, entry: BatchClaim | None, info: parse.ClaimStatusInfo, meaning: str, now: Any
) -> None:
    if info.rejected:
        if entry is not None:
            entry.live, entry.status, entry.status_reason = (
                False,
                BatchClaimStatus.REJECTED,
                meaning,
            )
        if claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
            claim.status, claim.status_changed_at = ClaimStatus.REJECTED, now
        claim.rejection_reason = _short(f"277CA rejected the claim: {meaning}")
        return
    if entry is not None and entry.status == BatchClaimStatus.PENDING:
        entry.status = BatchClaimStatus.ACCEPTED
    if claim.status == ClaimStatus.SUBMITTED:
        claim.status, claim.status_changed_at = ClaimStatus.ACCEPTED, now
    if info.payer_claim_number and not claim.payer_claim_number:
        claim.payer_claim_number = info.payer_claim_number[:50]


# --- 835 ----------------------------------------------------------------------------------


def _import_835(
    practice: Practice, actor: Membership, text: str, sha256: str, remit: parse.Remit835
) -> tuple[Imported, bool]:
    payer_id, trace = remit.payer_id[:80], remit.trace_number[:50]

    def existing() -> Remittance | None:
        return selectors.remittance_existing(
            practice=practice, sha256=sha256, payer_id=payer_id, trace_number=trace
        )

    with transaction.atomic():
        found = existing()
        if found is not None:
            return found, False

        def create() -> Remittance:
            row = Remittance(
                practice=practice,
                payer_name=remit.payer_name[:60],
                payer_id=payer_id,
                trace_number=trace,
                payment_method=remit.method[:3],
                total_paid=remit.total_paid,
                paid_on=remit.paid_on,
                content=text,
                sha256=sha256,
                uploaded_by=actor,
            )
            row.save()
            return row

        record, created = _stored(practice, create, existing)
        if not created:
            return record, False
        claims = _post_835(practice, record, remit)
        _audit(actor, record, claims, "claim.remit")
        return record, True


def _signed(payment: parse.ClaimPayment) -> tuple[Decimal, parse.ClaimPayment]:
    """A reversal (CLP02 22) takes money back: its amounts count negative whether the payer
    sent them negated (as the guide says) or not."""
    reversal = payment.status == codes.REVERSAL and (payment.charge > 0 or payment.paid > 0)
    return (Decimal(-1) if reversal else Decimal(1)), payment


def _post_835(practice: Practice, record: Remittance, remit: parse.Remit835) -> list[Claim]:
    numbers = [p.patient_control_number.upper() for p in remit.claims]
    selectors.lock_months(practice=practice, numbers=numbers)
    claims = selectors.claims_by_control_number(practice=practice, numbers=numbers, lock=True)
    rows, adjustments, touched = [], [], {}
    for position, payment in enumerate(remit.claims, start=1):
        sign, _ = _signed(payment)
        claim = claims.get(payment.patient_control_number.upper())
        row = RemittanceClaim(
            practice=practice,
            remittance=record,
            claim=claim,
            position=position,
            patient_control_number=payment.patient_control_number[:38],
            status_code=payment.status[:2],
            charge=payment.charge * sign,
            paid=payment.paid * sign,
            patient_responsibility=payment.patient_responsibility * sign,
            payer_claim_number=payment.payer_claim_number[:50],
        )
        rows.append(row)
        adjustments += [
            RemittanceAdjustment(
                practice=practice,
                remittance_claim=row,
                line_code=a.line_code[:8],
                group_code=a.group[:2],
                reason_code=a.reason[:5],
                amount=a.amount * sign,
                description=_short(codes.adjustment_reason(a.reason)),
            )
            for a in payment.adjustments
        ]
        if claim is not None:
            _post_payment(claim, row, payment, sign, remit)
            touched[claim.pk] = claim
    RemittanceClaim.objects.for_practice(practice).bulk_create(rows)
    RemittanceAdjustment.objects.for_practice(practice).bulk_create(adjustments)
    record.claims_matched = sum(1 for r in rows if r.claim is not None)
    record.claims_unmatched = len(rows) - record.claims_matched
    record.save(update_fields=["claims_matched", "claims_unmatched"])
    Claim.objects.for_practice(practice).bulk_update(list(touched.values()), POSTED_FIELDS)
    return list(touched.values())


POSTED_FIELDS = [
    "paid_amount",
    "patient_responsibility",
    "adjustment_amount",
    "payer_claim_number",
    "adjudicated_on",
    "status",
    "status_changed_at",
    "denial_reason",
]


def denial_reason(payment: parse.ClaimPayment) -> str:
    """Why a claim was denied, from its write-off adjustments' reason codes."""
    seen: dict[str, str] = {}
    for a in payment.adjustments:
        if a.group in codes.WRITE_OFF_GROUPS:
            seen.setdefault(f"{a.group}-{a.reason}", codes.adjustment_reason(a.reason))
    if not seen:
        return "Denied by the payer (835 claim status 4)."
    return _short("; ".join(f"{key}: {text}" for key, text in seen.items()))


def is_denial(payment: parse.ClaimPayment) -> bool:
    """CLP02 4, or nothing paid with the whole charge written off (CO, OA, PI)."""
    if payment.status == codes.DENIED:
        return True
    written_off = sum(
        (a.amount for a in payment.adjustments if a.group in codes.WRITE_OFF_GROUPS), Decimal(0)
    )
    return payment.paid == 0 and payment.charge > 0 and written_off >= payment.charge


def _post_payment(
    claim: Claim,
    row: RemittanceClaim,
    payment: parse.ClaimPayment,
    sign: Decimal,
    remit: parse.Remit835,
) -> None:
    """Add one CLP to its claim's money (a reversal subtracts) and set its status."""
    claim.paid_amount += row.paid
    claim.patient_responsibility += row.patient_responsibility
    claim.adjustment_amount += sign * sum(
        (a.amount for a in payment.adjustments if a.group != codes.PATIENT_RESPONSIBILITY),
        Decimal(0),
    )
    if payment.payer_claim_number and payment.status != codes.REVERSAL:
        claim.payer_claim_number = payment.payer_claim_number[:50]
    claim.adjudicated_on = remit.paid_on
    if claim.status == ClaimStatus.WITHDRAWN:
        return  # kept for the record of what was paid; it counts in no total
    if payment.status == codes.REVERSAL:
        status = ClaimStatus.ACCEPTED  # the payer takes it back; a correction follows
    elif is_denial(payment):
        status, claim.denial_reason = ClaimStatus.DENIED, denial_reason(payment)
    else:
        status, claim.denial_reason = ClaimStatus.PAID, ""
    if status != claim.status:
        claim.status, claim.status_changed_at = status, timezone.now()
