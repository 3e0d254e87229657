"""Reads of the core app. Each takes the practice explicitly and has a fixed query count."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Aggregate, Field, QuerySet, Subquery

from ccm.audit_selectors import about_patient, audit_patient_filter
from ccm.models import ApiToken, AuditEvent, Membership, Practice


def per_row(
    rows: QuerySet[Any], group: str, aggregate: Aggregate, output_field: Field | None = None
) -> Subquery:
    """A correlated subquery of one aggregate for each outer row: `rows` (filtered on
    `group=OuterRef("pk")`) grouped by that column alone. A subquery, not a JOIN + GROUP BY:
    PostgreSQL sorts and limits the outer query first and aggregates only the rows it keeps.
    `order_by()` drops the model's default ordering, which would join the GROUP BY."""
    grouped = rows.order_by().values(group).annotate(value=aggregate).values("value")
    return Subquery(grouped, output_field=output_field)


def member_list(*, practice: Practice) -> QuerySet[Membership]:
    """The practice's members, active first, with their users (one query)."""
    return (
        Membership.objects.for_practice(practice)
        .select_related("user")
        .order_by("-is_active", "user__full_name", "user__email")
    )


def token_list(*, practice: Practice) -> QuerySet[ApiToken]:
    """The practice's API tokens, live first, with member and user (one query)."""
    return (
        ApiToken.objects.for_practice(practice)
        .select_related("membership__user")
        .order_by("revoked_at", "-created_at")
    )


def audit_event_list(
    *,
    practice: Practice,
    actor_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    patient_search: str = "",
    action: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """The practice's audit events, newest first, filtered; dates are UTC calendar days;
    `patient_id`: the events about that patient, alone or among a list's (`about_patient`);
    `patient_search` is a name or MRN of the practice's patients."""
    qs = AuditEvent.objects.for_practice(practice).select_related("actor")
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if patient_id:
        qs = qs.filter(about_patient(patient_id))
    if patient_search:
        qs = qs.filter(audit_patient_filter(practice=practice, text=patient_search))
    if action:
        qs = qs.filter(action__startswith=action)
    # Half-open ranges on created_at itself (not created_at::date): the indexes serve them and
    # PostgreSQL skips the months' partitions outside the range.
    if date_from:
        qs = qs.filter(created_at__gte=_utc_midnight(date_from))
    if date_to:
        qs = qs.filter(created_at__lt=_utc_midnight(date_to + dt.timedelta(days=1)))
    return qs.order_by("-created_at", "-id")


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
