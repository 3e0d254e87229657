"""The audit log: one helper every app calls for every read and write of patient data.

`record()` inserts an `AuditEvent` in the caller's transaction, so a rolled-back change
leaves no event and a committed one always has its event. Who and from where (IP, user agent,
request id) come from the request context set by `ccm.middleware.RequestContextMiddleware`,
so services need no request object. Nothing here writes PHI: only ids and field names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models

from ccm.models import AuditEvent, Membership, Practice, User


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    user_agent: str
    request_id: str


_request_context: ContextVar[RequestContext | None] = ContextVar("audit_request", default=None)


def set_request_context(ctx: RequestContext | None) -> Any:
    return _request_context.set(ctx)


def reset_request_context(token: Any) -> None:
    _request_context.reset(token)


def current_request_context() -> RequestContext | None:
    return _request_context.get()


def record(
    *,
    practice: Practice | None,
    actor: User | None,
    action: str,
    role: str = "",
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    patient_id: uuid.UUID | str | None = None,
    changed_fields: Iterable[str] = (),
    actor_email: str = "",
) -> AuditEvent:
    """Append one event (same transaction as the change). Returns the saved event."""
    ctx = _request_context.get()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    return AuditEvent.objects.unscoped().create(
        practice=practice,
        actor=actor if actor is not None and actor.pk else None,
        actor_email=(actor.email if actor is not None and actor.pk else actor_email)[:254],
        role=role,
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        patient_id=patient_id,
        ip=ctx.ip if ctx else None,
        user_agent=ctx.user_agent if ctx else "",
        request_id=ctx.request_id if ctx else "",
        changed_fields=sorted(set(changed_fields)),
    )


def record_for(
    membership: Membership,
    action: str,
    *,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: Any = "",
    patient_id: uuid.UUID | str | None = None,
    changed_fields: Iterable[str] = (),
) -> AuditEvent:
    """`record()` for an actor acting through a membership (the usual case in views/services)."""
    return record(
        practice=membership.practice,
        actor=membership.user,
        role=membership.role,
        action=action,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        changed_fields=changed_fields,
    )


def read(membership: Membership, obj: models.Model, *, patient_id: Any = None) -> AuditEvent:
    """Audit a read of an object (patient data: pass the patient's id)."""
    return record_for(membership, f"{obj._meta.model_name}.read", obj=obj, patient_id=patient_id)


def write(
    membership: Membership,
    obj: models.Model,
    verb: str,
    *,
    patient_id: Any = None,
    changed_fields: Iterable[str] = (),
) -> AuditEvent:
    """Audit a write (`verb`: create, update, delete, or a domain verb such as sign)."""
    return record_for(
        membership,
        f"{obj._meta.model_name}.{verb}",
        obj=obj,
        patient_id=patient_id,
        changed_fields=changed_fields,
    )


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Names of the fields whose values differ (values themselves are never logged)."""
    return sorted(k for k in after if before.get(k) != after[k])


def _bulk(
    membership: Membership,
    pairs: Iterable[tuple[models.Model, Any]],
    action: str,
    changed_fields: Iterable[str] = (),
) -> int:
    """One event per (object, patient id), in one INSERT."""
    ctx = _request_context.get()
    fields = list(changed_fields)
    events = [
        AuditEvent(
            practice=membership.practice,
            actor=membership.user,
            actor_email=membership.user.email,
            role=membership.role,
            action=action,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            patient_id=patient_id,
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else "",
            request_id=ctx.request_id if ctx else "",
            changed_fields=fields,
        )
        for obj, patient_id in pairs
    ]
    AuditEvent.objects.unscoped().bulk_create(events)
    return len(events)


def read_many(membership: Membership, objects: Iterable[models.Model], *, action: str) -> int:
    """Audit a list page's reads: one event per patient shown, in one INSERT."""
    return _bulk(membership, ((obj, obj.pk) for obj in objects), action)


def record_many(
    membership: Membership,
    pairs: Iterable[tuple[models.Model, Any]],
    *,
    action: str,
    changed_fields: Iterable[str] = (),
) -> int:
    """Audit one action on many objects (each with its patient's id), in one INSERT."""
    return _bulk(membership, pairs, action, changed_fields)
