"""The audit log as people read it: names instead of ids, and a patient search.

Events store ids only (no PHI in the log). The page, which only VIEW_AUDIT holders reach,
resolves them for one page of events at a time, always within the viewer's practice: one query
for the patients' names (through the `audit_patient_names` hook patients registers) and one
per kind of object on the page, whatever the number of rows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from ccm.hooks import audit_patient_names, audit_patient_search
from ccm.models import AuditEvent, Practice, User


@dataclass(frozen=True)
class AuditRow:
    """One event with what it is about, in words ("" where the id names nothing we can show)."""

    event: AuditEvent
    patient: str
    object: str
    # A list view's event names several patients (`patient_ids`): how many, shown as such.
    patients: int = 0


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def about_patient(patient_id: uuid.UUID | str) -> Q:
    """THE filter for "events about patient X": the events naming X alone (`patient_id`) and
    the list views that showed X among others (`patient_ids`). Every reader of a patient's
    events (audit page and API, their export, tests) goes through this or `about_patients`.
    Both halves are index lookups (the (practice, patient_id, created_at) btree and the GIN on
    patient_ids), OR-ed by a bitmap scan."""
    return Q(patient_id=patient_id) | Q(patient_ids__contains=[patient_id])


def about_patients(patient_ids: Any) -> Q:
    """`about_patient` for any of several patients: `patient_ids` is a queryset of ids (a
    subquery, no read) or a list."""
    if isinstance(patient_ids, models.QuerySet):
        return Q(patient_id__in=patient_ids) | Q(patient_ids__overlap=ArraySubquery(patient_ids))
    ids = list(patient_ids)
    return Q(patient_id__in=ids) | Q(patient_ids__overlap=ids)


def audit_patient_filter(*, practice: Practice, text: str) -> Q:
    """Events about the practice's patients matching `text` (name or MRN; a patient id, as
    older links carry, matches that patient). No reads: the match is a subquery."""
    if not text.strip():
        return Q()
    patient_id = _as_uuid(text)
    if patient_id is not None:
        return about_patient(patient_id)
    match = Q(pk__in=[])
    for search in audit_patient_search:
        match |= about_patients(search(practice, text))
    return match


def _practice_rows(model: type[models.Model], practice: Practice) -> Any:
    """The model's rows that belong to `practice`, or None when it has no such notion."""
    manager: Any = model._default_manager
    if hasattr(manager, "for_practice"):
        return manager.for_practice(practice)
    if model is Practice:
        return Practice.objects.filter(pk=practice.pk)
    if model is User:
        return User.objects.filter(memberships__practice=practice)
    return None


def _object_labels(practice: Practice, events: Iterable[AuditEvent]) -> dict[tuple[str, str], str]:
    ids_by_type: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.object_type and event.object_id:
            ids_by_type[event.object_type].add(event.object_id)
    labels: dict[tuple[str, str], str] = {}
    for object_type, ids in ids_by_type.items():
        try:
            model = apps.get_model(object_type)
        except (LookupError, ValueError):
            continue  # a type of an earlier version of the code: the raw id stays
        rows = _practice_rows(model, practice)
        if rows is None:
            continue
        pks = []
        for text in ids:
            try:
                pks.append(model._meta.pk.to_python(text))
            except ValidationError:
                continue
        noun = str(model._meta.verbose_name).capitalize()
        # select_related(): objects whose name reads a required relation (a membership's
        # user) get it in the same query.
        for obj in rows.filter(pk__in=pks).select_related():
            labels[(object_type, str(obj.pk))] = f"{noun}: {obj}"
    return labels


def audit_rows(*, practice: Practice, events: Sequence[AuditEvent]) -> list[AuditRow]:
    """The events with their patients' and objects' names, resolved within `practice` only
    (reads: one query for the patients, one per object type on the page)."""
    patient_ids = {e.patient_id for e in events if e.patient_id}
    names: dict[uuid.UUID, str] = {}
    if patient_ids:
        for lookup in audit_patient_names:
            names.update(lookup(practice, patient_ids))
    objects = _object_labels(practice, events)
    return [
        AuditRow(
            event=e,
            patient=names.get(e.patient_id, "") if e.patient_id else "",
            object=objects.get((e.object_type, e.object_id), ""),
            patients=len(e.patient_ids),
        )
        for e in events
    ]
