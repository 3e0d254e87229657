"""Writes of care transitions (issue 17): an ED visit, a hospital or SNF discharge, or a
specialist visit recorded on the chart, with its diagnoses, notes and the discharge summary
or visit note attached.

Recording one brings the care plan's review forward (discharges only, as before), is audited,
and calls `careplans.hooks.transition_recorded` inside the same transaction: timelog creates
the follow-up call and the medication reconciliation there, so a transition is never saved
without its follow-up work. Keyword-only, validated before anything is saved, messages as
constants (no PHI)."""

from __future__ import annotations

import datetime as dt

import filetype
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from careplans.hooks import transition_recorded
from careplans.models import DISCHARGE_KINDS, CarePlan, CareTransition, TransitionKind
from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, require
from ccm.tenancy import lock_for_practice_or_404
from patients import engine_inputs
from patients.models import CareContact, Patient

REVIEW_AFTER_DISCHARGE_DAYS = 14  # a care transition: revisit the plan within two weeks
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024  # discharge summaries run to many scanned pages
DOCUMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})

ROLE_MESSAGE = "Only clinical staff, physicians and admins record care transitions."
PATIENT_PRACTICE_MESSAGE = "The patient must belong to this practice."
KIND_MESSAGE = "Choose the kind of transition."
FUTURE_MESSAGE = "The date cannot be in the future."
ADMITTED_AFTER_MESSAGE = "The admission date must be on or before the discharge date."
ADMITTED_KIND_MESSAGE = "An admission date applies only to a discharge or ED visit."
CONTACT_MESSAGE = "Choose one of this patient's care contacts."
DUPLICATE_MESSAGE = (
    "This transition is already on the chart (same kind, date and facility); nothing was added."
)
DOCUMENT_TYPE_MESSAGE = "The document must be a PDF, PNG or JPEG file."
DOCUMENT_SIZE_MESSAGE = "The document is larger than the 10 MB limit."
DOCUMENT_EMPTY_MESSAGE = "The document is empty."


def sniff_document(upload: UploadedFile) -> str:
    """The file's real type from its bytes (never its name or the sent content type); raises
    if it is not a PDF, PNG or JPEG, or is too large."""
    if upload.size is not None and upload.size > DOCUMENT_MAX_BYTES:
        raise ValidationError({"document": DOCUMENT_SIZE_MESSAGE})
    if not upload.size:
        raise ValidationError({"document": DOCUMENT_EMPTY_MESSAGE})
    head = upload.read(261)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in DOCUMENT_TYPES:
        raise ValidationError({"document": DOCUMENT_TYPE_MESSAGE})
    return str(kind.mime)


def _check(
    practice: Practice,
    patient: Patient,
    *,
    kind: str,
    occurred_on: dt.date,
    admitted_on: dt.date | None,
    contact: CareContact | None,
) -> None:
    """Every problem of the input at once (nothing is saved on an error)."""
    errors: dict[str, str] = {}
    today = practice.today()
    if kind not in TransitionKind.values:
        errors["kind"] = KIND_MESSAGE
    if occurred_on > today:
        errors["occurred_on"] = FUTURE_MESSAGE
    if admitted_on is not None:
        if kind not in DISCHARGE_KINDS:
            errors["admitted_on"] = ADMITTED_KIND_MESSAGE
        elif admitted_on > occurred_on:
            errors["admitted_on"] = ADMITTED_AFTER_MESSAGE
    if contact is not None and (
        contact.practice_id != practice.pk or contact.patient_id != patient.pk
    ):
        errors["contact"] = CONTACT_MESSAGE
    if errors:
        raise ValidationError(errors)


def _bring_review_forward(practice: Practice, transition: CareTransition) -> None:
    """A discharge (or ED visit): the plan's review within REVIEW_AFTER_DISCHARGE_DAYS."""
    if transition.kind not in DISCHARGE_KINDS:
        return
    plan = (
        CarePlan.objects.for_practice(practice)
        .select_for_update()
        .filter(patient_id=transition.patient_id)
        .first()
    )
    due = transition.occurred_on + dt.timedelta(days=REVIEW_AFTER_DISCHARGE_DAYS)
    if plan is not None and (plan.next_review_on is None or due < plan.next_review_on):
        plan.next_review_on = due
        plan.review_reason = f"{transition.get_kind_display()} on {transition.occurred_on}"
        plan.save(update_fields=["next_review_on", "review_reason"])


@transaction.atomic
def transition_record(
    *,
    practice: Practice,
    actor: Membership,
    patient: Patient,
    kind: str,
    occurred_on: dt.date,
    admitted_on: dt.date | None = None,
    facility: str = "",
    diagnoses: str = "",
    contact: CareContact | None = None,
    note: str = "",
    document: UploadedFile | None = None,
) -> CareTransition:
    """Record a care transition on the chart: the plan's review comes forward (discharges),
    the document is stored, the follow-up work is created (hooks), all audited."""
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)
    if patient.practice_id != practice.pk:
        raise ValidationError(PATIENT_PRACTICE_MESSAGE)
    _check(
        practice, patient, kind=kind, occurred_on=occurred_on, admitted_on=admitted_on,
        contact=contact,
    )  # fmt: skip
    # The patient's row, locked: a double-submitted form waits here and then sees the first.
    engine_inputs.lock_patient_or_404(practice, patient.pk)
    facility = facility.strip()[:200]
    same = CareTransition.objects.for_practice(practice).filter(
        patient=patient, kind=kind, occurred_on=occurred_on, facility__iexact=facility
    )
    if same.exists():
        raise ValidationError(DUPLICATE_MESSAGE)
    transition = CareTransition(
        practice=practice,
        patient=patient,
        kind=kind,
        occurred_on=occurred_on,
        admitted_on=admitted_on,
        facility=facility,
        diagnoses=diagnoses.strip()[:500],
        contact=contact,
        note=note.strip(),
        recorded_by=actor,
    )
    if document is not None:
        transition.document_type = sniff_document(document)
    transition.full_clean(exclude=["patient", "contact", "recorded_by", "document"])
    if document is not None:
        transition.document.save("document", document, save=False)
    try:
        transition.save()
        _bring_review_forward(practice, transition)
        audit.write(actor, transition, "create", patient_id=patient.pk)
        for handler in transition_recorded:
            handler(practice, actor, transition)
    except Exception:
        # Nothing was recorded: the stored file goes too (storage is not transactional).
        if transition.document.name:
            transition.document.storage.delete(transition.document.name)
        raise
    return transition


@transaction.atomic
def transition_document_attach(
    *, practice: Practice, actor: Membership, transition: CareTransition, document: UploadedFile
) -> CareTransition:
    """Attach (or replace) the discharge summary or visit note of a transition. Audited."""
    require(actor, Capability.EDIT_CLINICAL, ROLE_MESSAGE)
    mime = sniff_document(document)
    queryset = CareTransition.objects.all()
    transition = lock_for_practice_or_404(queryset, practice, transition.pk)
    old = transition.document.name if transition.document else ""
    transition.document_type = mime
    transition.document.save("document", document, save=False)
    transition.save(update_fields=["document", "document_type"])
    if old and old != transition.document.name:
        storage = transition.document.storage
        # The old file goes only once the new row is committed (a rollback keeps it).
        transaction.on_commit(lambda: storage.delete(old))
    audit.write(
        actor,
        transition,
        "update",
        patient_id=transition.patient_id,
        changed_fields=["document"],
    )
    return transition
