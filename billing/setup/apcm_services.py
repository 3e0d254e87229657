"""APCM attestations: the admins' writes (R39), validated before anything is saved, audited,
and followed by a refresh of stored worklist progress. Reads and the month rule: apcm.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from billing.fees.services import settings_lock
from billing.models import APCM_ELEMENTS, ApcmPracticeAttestation, ApcmPractitionerAttestation
from billing.progress.tasks import progress_reconcile_practice
from billing.setup.apcm import PRACTICE_KIND, PRACTITIONER_KIND, practitioner_choices
from ccm import audit, jobs
from ccm.models import Membership, Practice
from ccm.roles import Capability, require
from ccm.tenancy import get_for_practice_or_404

FOCAL_POINT_STATEMENT = (
    "I am responsible for all of the patient's primary care and am the continuing focal "
    "point for all needed health care services (APCM, G0556-G0558)."
)
ELEMENTS_MESSAGE = (
    "Affirm every APCM service element: the practice may bill APCM only when it offers all of them."
)
UNKNOWN_ELEMENT_MESSAGE = "{element} is not an APCM service element."
FUTURE_MESSAGE = "Choose a date in this month or before: a future month cannot be attested yet."
DATE_MESSAGE = "Enter a date as YYYY-MM-DD."
ALREADY_MESSAGE = "An attestation is already in force: withdraw it first to record a new one."
NOT_PRACTITIONER_MESSAGE = (
    "Choose an active physician of the practice with an NPI: only a billing practitioner "
    "attests for APCM."
)
WITHDRAWN_MESSAGE = "This attestation is already withdrawn."
WITHDRAW_BEFORE_MESSAGE = "A withdrawal cannot be dated before the attestation ({day})."
FORBIDDEN_MESSAGE = "Only an admin records or withdraws APCM attestations."


def _day(practice: Practice, value: Any, field: str) -> dt.date:
    """A date (default: today in the practice's zone), not in a future month."""
    today = practice.today()
    if value in (None, ""):
        return today
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValidationError({field: DATE_MESSAGE}) from None
    if day.replace(day=1) > today.replace(day=1):
        raise ValidationError({field: FUTURE_MESSAGE})
    return day


def _elements(values: Iterable[Any]) -> list[str]:
    chosen = [str(v) for v in values]
    for element in chosen:
        if element not in APCM_ELEMENTS:
            raise ValidationError({"elements": UNKNOWN_ELEMENT_MESSAGE.format(element=element)})
    if set(chosen) != set(APCM_ELEMENTS):
        raise ValidationError({"elements": ELEMENTS_MESSAGE})
    return list(APCM_ELEMENTS)


def _allowed(actor: Membership) -> None:
    require(actor, Capability.ATTEST_APCM, FORBIDDEN_MESSAGE)


def _changed(practice: Practice) -> None:
    """Stored worklist progress of this month and last re-reads the attestations."""
    jobs.enqueue_on_commit(progress_reconcile_practice, str(practice.pk))


@transaction.atomic
def practice_attest(
    *,
    practice: Practice,
    actor: Membership,
    elements: Iterable[Any],
    attested_on: Any = None,
) -> ApcmPracticeAttestation:
    """Record the practice's attestation of every APCM service element from `attested_on`
    (default today in the practice's zone). ValidationError (nothing saved) when an element
    is not affirmed, the date is in a future month, or one is already in force. Audited."""
    _allowed(actor)
    chosen = _elements(elements)
    day = _day(practice, attested_on, "attested_on")
    settings_lock(practice=practice)
    current = ApcmPracticeAttestation.objects.for_practice(practice)
    if current.filter(withdrawn_on__isnull=True).exists():
        raise ValidationError({"attested_on": ALREADY_MESSAGE})
    row = ApcmPracticeAttestation(
        practice=practice, elements=chosen, attested_on=day, recorded_by=actor
    )
    row.full_clean()
    row.save()
    audit.write(actor, row, "create", changed_fields=["elements", "attested_on"])
    _changed(practice)
    return row


@transaction.atomic
def practitioner_attest(
    *,
    practice: Practice,
    actor: Membership,
    practitioner_id: Any,
    attested_on: Any = None,
) -> ApcmPractitionerAttestation:
    """Record a billing practitioner's focal-point attestation from `attested_on`. 404 for
    a member of another practice; ValidationError (nothing saved) for a member who cannot
    bill (no NPI, not a physician, inactive), a future month, or one already in force."""
    _allowed(actor)
    member = get_for_practice_or_404(Membership, practice, practitioner_id)
    if not practitioner_choices(practice).filter(pk=member.pk).exists():
        raise ValidationError({"practitioner": NOT_PRACTITIONER_MESSAGE})
    day = _day(practice, attested_on, "attested_on")
    settings_lock(practice=practice)
    current = ApcmPractitionerAttestation.objects.for_practice(practice)
    if current.filter(practitioner=member, withdrawn_on__isnull=True).exists():
        raise ValidationError({"practitioner": ALREADY_MESSAGE})
    row = ApcmPractitionerAttestation(
        practice=practice,
        practitioner=member,
        statement=FOCAL_POINT_STATEMENT,
        attested_on=day,
        recorded_by=actor,
    )
    row.full_clean()
    row.save()
    audit.write(actor, row, "create", changed_fields=["practitioner", "statement", "attested_on"])
    _changed(practice)
    return row


Attestation = ApcmPracticeAttestation | ApcmPractitionerAttestation
MODELS: Mapping[str, type[Attestation]] = {
    PRACTICE_KIND: ApcmPracticeAttestation,
    PRACTITIONER_KIND: ApcmPractitionerAttestation,
}


@transaction.atomic
def withdraw(
    *,
    practice: Practice,
    actor: Membership,
    kind: str,
    attestation_id: Any,
    withdrawn_on: Any = None,
) -> Attestation:
    """Withdraw an attestation from `withdrawn_on` (default today in the practice's zone;
    the attestation no longer holds from that day). The row stays (history). 404 for an
    unknown or another practice's id; ValidationError when already withdrawn, dated before
    the attestation or in a future month. Audited."""
    _allowed(actor)
    if kind not in MODELS:
        raise Http404
    settings_lock(practice=practice)
    model = MODELS[kind]
    row = get_for_practice_or_404(
        model.objects.for_practice(practice).select_for_update(), practice, attestation_id
    )
    if row.withdrawn_on is not None:
        raise ValidationError({"withdrawn_on": WITHDRAWN_MESSAGE})
    day = _day(practice, withdrawn_on, "withdrawn_on")
    if day < row.attested_on:
        message = WITHDRAW_BEFORE_MESSAGE.format(day=row.attested_on.isoformat())
        raise ValidationError({"withdrawn_on": message})
    row.withdrawn_on, row.withdrawn_by, row.withdrawn_at = day, actor, timezone.now()
    row.save(update_fields=["withdrawn_on", "withdrawn_by", "withdrawn_at"])
    audit.write(actor, row, "withdraw", changed_fields=["withdrawn_on"])
    _changed(practice)
    return row
