"""Reads of submission batches (practice-bound, no side effects)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from billing.models import BatchClaim, Claim, SubmissionBatch
from ccm.models import Practice
from ccm.tenancy import get_for_practice_or_404


def batch_list(*, practice: Practice, month: dt.date) -> QuerySet[SubmissionBatch]:
    """The month's batches, the latest first, with who created them (one query; the
    stored file is left out)."""
    return (
        SubmissionBatch.objects.for_practice(practice)
        .filter(month=month)
        .select_related("created_by__user")
        .defer("content")
        .order_by("-created_at", "-control_number")
    )


def batch_get(*, practice: Practice, batch_id: Any) -> SubmissionBatch:
    """The practice's batch (404 for another practice's or an unknown id)."""
    return get_for_practice_or_404(SubmissionBatch, practice, batch_id)


def batch_entries(*, practice: Practice, batch: SubmissionBatch) -> QuerySet[BatchClaim]:
    """The claims of a batch with their patients, by patient name (one query)."""
    return (
        BatchClaim.objects.for_practice(practice)
        .filter(batch=batch)
        .select_related("claim__patient")
        .order_by("claim__patient__last_name", "claim__patient__first_name", "claim_id")
    )


def batch_patient_ids(*, practice: Practice, batch: SubmissionBatch) -> list[Any]:
    """The patients on a batch's file (its audit: who was sent)."""
    rows = BatchClaim.objects.for_practice(practice).filter(batch=batch)
    return list(rows.values_list("claim__patient_id", flat=True))


def live_entry(*, practice: Practice, claim: Claim) -> BatchClaim | None:
    """The claim's entry in its live batch, if it is in one (at most one: constraint)."""
    return BatchClaim.objects.for_practice(practice).filter(claim=claim, live=True).first()


def latest_batch(*, practice: Practice, month: dt.date) -> SubmissionBatch | None:
    """The month's most recent batch (export.837 hands it out again, byte-identical)."""
    return batch_list(practice=practice, month=month).defer(None).first()


def batch_claims(*, practice: Practice, batch: SubmissionBatch) -> QuerySet[Claim]:
    """The claims on a batch's file (ids and patients: what a download audits)."""
    rows = Claim.objects.for_practice(practice).filter(submissions__batch=batch)
    return rows.only("id", "patient_id").order_by("created_at", "id")
