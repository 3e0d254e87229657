"""The audit log: one helper every app calls for every read and write of patient data.

`record()` inserts an `AuditEvent` in the caller's transaction, so a rolled-back change
leaves no event and a committed one always has its event. Who and from where (IP, user agent,
request id) come from the request context set by `ccm.middleware.RequestContextMiddleware`,
so services need no request object. Nothing here writes PHI: only ids and field names.

A list page or API writes one event naming every patient it showed (`read_many`:
`patient_ids`), not one per row; `ccm.audit_selectors.about_patient` finds both shapes.

`seal()` (hourly, from beat) chains the events older than an hour into `AuditSeal` rows, and
`verify()` (`manage.py audit_verify`) recomputes the chain and names, by id, every sealed event
that was added, changed or removed since: evidence even against a database superuser, who can
get past the trigger and the runtime role's grants. The same job creates the monthly partitions
of the log ahead of time (`partitions_ensure`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import struct
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from ccm.models import AuditEvent, AuditSeal, Membership, Practice, User

logger = logging.getLogger(__name__)


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
    patient_ids: Iterable[uuid.UUID | str] = (),
) -> AuditEvent:
    """Append one event (same transaction as the change). Returns the saved event.
    `patient_ids`: the patients of an event about several (a list shown), instead of
    `patient_id`."""
    ctx = _request_context.get()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    # Unscoped: some events belong to no practice (a failed sign-in for an unknown email).
    return AuditEvent.objects.unscoped().create(
        practice=practice,
        actor=actor if actor is not None and actor.pk else None,
        actor_email=(actor.email if actor is not None and actor.pk else actor_email)[:254],
        role=role,
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        patient_id=patient_id,
        patient_ids=_distinct(patient_ids),
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


def record_by(
    practice: Practice,
    membership: Membership | None,
    action: str,
    obj: models.Model,
    *,
    patient_id: Any = None,
    changed_fields: Iterable[str] = (),
) -> AuditEvent:
    """`record()` for a member, or for the system when there is none (a beat job's close)."""
    return record(
        practice=practice,
        actor=membership.user if membership else None,
        role=membership.role if membership else "",
        action=action,
        obj=obj,
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


def _distinct(ids: Iterable[Any]) -> list[str]:
    """Patient ids as text, each once, in the order shown (None dropped)."""
    return list(dict.fromkeys(str(i) for i in ids if i is not None))


# One statement with four array parameters, whatever the number of events: Django's
# bulk_create builds and binds 15 parameters per row, which cost a list page more than the
# insert itself (bench/audit.py). An event's patients travel as one array literal per event
# ('{id,id}'), cast back to uuid[] per row: unnest() cannot take a ragged array of arrays.
_BULK_INSERT = """
INSERT INTO ccm_auditevent
    (practice_id, actor_id, actor_email, role, action, ip, user_agent, request_id,
     changed_fields, created_at, object_type, object_id, patient_id, patient_ids)
SELECT %s, %s, %s, %s, %s, %s::inet, %s, %s, %s::varchar(64)[], %s,
       rows.object_type, rows.object_id, rows.patient_id, rows.patient_ids::uuid[]
FROM unnest(%s::varchar(64)[], %s::varchar(64)[], %s::uuid[], %s::text[])
    AS rows (object_type, object_id, patient_id, patient_ids)
"""


# The same columns for one event (a list page's read, most requests' only event): scalar
# parameters, its patients as one array literal. Adapting the four arrays of _BULK_INSERT
# cost most of a one-event insert's Python.
_ONE_INSERT = """
INSERT INTO ccm_auditevent
    (practice_id, actor_id, actor_email, role, action, ip, user_agent, request_id,
     changed_fields, created_at, object_type, object_id, patient_id, patient_ids)
VALUES (%s, %s, %s, %s, %s, %s::inet, %s, %s, %s::varchar(64)[], %s, %s, %s, %s::uuid,
        %s::uuid[])
"""


# An event of a bulk insert: object type, object id, patient id, patient ids.
_Row = tuple[str, str, str | None, list[str]]


def _insert(
    membership: Membership, action: str, changed_fields: Iterable[str], events: list[_Row]
) -> int:
    """Insert events (object type, object id, patient id, patient ids) of one actor and
    action in one statement; the number inserted."""
    if not events:
        return 0
    ctx = _request_context.get()
    params: list[Any] = [
        membership.practice_id,
        membership.user_id,
        membership.user.email[:254],
        membership.role,
        action,
        ctx.ip if ctx else None,
        ctx.user_agent if ctx else "",
        ctx.request_id if ctx else "",
        sorted(set(changed_fields)),
        timezone.now(),
    ]
    if len(events) == 1:
        ((object_type, object_id, patient_id, patient_ids),) = events
        params += [object_type, object_id, patient_id, "{" + ",".join(patient_ids) + "}"]
        sql = _ONE_INSERT
    else:
        params += [
            [e[0] for e in events],
            [e[1] for e in events],
            [e[2] for e in events],
            ["{" + ",".join(e[3]) + "}" for e in events],
        ]
        sql = _BULK_INSERT
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(events)


def record_many(
    membership: Membership,
    pairs: Iterable[tuple[models.Model, Any]],
    *,
    action: str,
    changed_fields: Iterable[str] = (),
) -> int:
    """Audit one action on many objects (each with its patient's id), in one INSERT: one
    event per object, naming all of that object's patients (an export batch of 500 patients
    is one event; 20 claims whose status changed are 20). Returns the number of events."""
    patients_of: dict[tuple[str, str], list[Any]] = {}
    for obj, patient_id in pairs:
        patients_of.setdefault((obj._meta.label_lower, str(obj.pk)), []).append(patient_id)
    events: list[_Row] = []
    for (object_type, object_id), ids in patients_of.items():
        distinct = _distinct(ids)
        if len(distinct) == 1:
            events.append((object_type, object_id, distinct[0], []))
        else:
            events.append((object_type, object_id, None, distinct))
    return _insert(membership, action, changed_fields, events)


def read_many(membership: Membership, objects: Iterable[models.Model], *, action: str) -> int:
    """Audit a list page's (or list API's) reads: ONE event naming every patient shown, in
    `patient_ids` (`objects` are the patients, in the order shown). Returns the number of
    events (1, or 0 for an empty list)."""
    shown = list(objects)
    if not shown:
        return 0
    object_type = shown[0]._meta.label_lower
    event: _Row = (object_type, "", None, _distinct(o.pk for o in shown))
    return _insert(membership, action, (), [event])


@dataclass(frozen=True)
class RowEvent:
    """One row of a bulk write (an import): its own action and changed fields."""

    action: str
    obj: models.Model
    patient_id: Any
    changed_fields: Iterable[str] = ()


def record_rows(membership: Membership, events: Iterable[RowEvent], batch_size: int = 1000) -> int:
    """Audit a bulk write: one event per row, in one INSERT per batch (ids and field names)."""
    ctx = _request_context.get()
    user = membership.user
    rows = [
        AuditEvent(
            practice_id=membership.practice_id,
            actor=user,
            actor_email=user.email,
            role=membership.role,
            action=event.action,
            object_type=event.obj._meta.label_lower,
            object_id=str(event.obj.pk),
            patient_id=event.patient_id,
            ip=ctx.ip if ctx else None,
            user_agent=ctx.user_agent if ctx else "",
            request_id=ctx.request_id if ctx else "",
            changed_fields=sorted(event.changed_fields),
        )
        for event in events
    ]
    events_of = AuditEvent.objects.for_practice(membership.practice_id)
    events_of.bulk_create(rows, batch_size=batch_size)
    return len(rows)


# --- Partitions: one per month, created ahead ------------------------------------------------

PARTITION_MONTHS_AHEAD = 2


def partitions_ensure(months_ahead: int = PARTITION_MONTHS_AHEAD) -> int:
    """Create the audit log's partitions of this month and the next `months_ahead` (UTC) that
    are missing; the number created. Idempotent and cheap when they exist; run by the hourly
    seal job, so a month always has its partition weeks before its first event (an event
    with no month partition lands in the default one and keeps that month there). The SQL
    function (migration 0009) runs as the table's owner: the runtime role owns no table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ccm_audit_partitions_ensure(%s)", [months_ahead])
        created = int(cursor.fetchone()[0])
    if created:
        logger.info("audit log: %d monthly partitions created", created)
    return created


# --- Seals: a hash chain over the log ---------------------------------------------------------

# Events younger than this stay unsealed: a transaction still open (a month close runs up to
# its 20-minute hard time limit) may yet commit an event with a lower id.
SEAL_DELAY_SECONDS = 60 * 60
SEAL_MAX_ROWS = 50_000  # events per seal; a backlog becomes several seals
_SEAL_LOCK = 0x6363_6D5F_7365_616C  # pg_advisory_xact_lock key ("ccm_seal"): one sealer at a time
_DIGEST = struct.Struct(">q32s")  # per event: id, SHA-256 of its canonical form
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The canonical form of an event: these columns, in this order (never reorder or extend it
# without versioning: every existing seal depends on it).
SEALED_FIELDS = (
    "id",
    "practice_id",
    "actor_id",
    "actor_email",
    "role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip",
    "user_agent",
    "request_id",
    "changed_fields",
    "created_at",
)
# Version 2 of the canonical form, backward compatible: an event naming several patients
# (`patient_ids` not empty: a list view, issue 18) has that list appended, as the 15th value.
# Every event sealed before it existed has an empty list, so its form, and its seal, stay as
# they were; filling in or emptying a sealed event's list changes its digest all the same.
SEALED_LIST = "patient_ids"


@dataclass(frozen=True)
class SealResult:
    seals: int
    events: int


@dataclass
class VerifyResult:
    """What `verify()` found; ids and seal numbers only (nothing here is PHI)."""

    seals: int = 0
    events: int = 0
    head: str = ""
    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    broken_seals: list[int] = field(default_factory=list)
    unchained_seals: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.added or self.changed or self.removed or self.broken_seals or self.unchained_seals
        )

    @property
    def problems(self) -> list[str]:
        return [
            *(
                f"seal {n} altered (its hash does not match its contents)"
                for n in self.broken_seals
            ),
            *(f"seal {n} does not follow the seal before it" for n in self.unchained_seals),
            *(f"event {i} added after sealing" for i in sorted(self.added)),
            *(f"event {i} changed after sealing" for i in sorted(self.changed)),
            *(f"event {i} removed after sealing" for i in sorted(self.removed)),
        ]


def _event_digest(row: tuple[Any, ...]) -> bytes:
    """The SHA-256 of the canonical form of a row of SEALED_FIELDS + (SEALED_LIST,)."""
    *sealed, patient_ids = row
    if patient_ids:
        sealed.append([str(i) for i in patient_ids])
    values = [v.astimezone(dt.UTC).isoformat() if isinstance(v, dt.datetime) else v for v in sealed]
    text = json.dumps(values, default=str, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()


def _event_digests(after_id: int, last_id: int, limit: int | None = None) -> dict[int, bytes]:
    rows = (  # unscoped: one seal chain runs over every practice's events, in id order
        AuditEvent.objects.unscoped()
        .filter(id__gt=after_id, id__lte=last_id)
        .order_by("id")
        .values_list(*SEALED_FIELDS, SEALED_LIST)
    )
    return {row[0]: _event_digest(row) for row in (rows[:limit] if limit else rows.iterator())}


def _seal_hash(
    *,
    sequence: int,
    after_event_id: int,
    last_event_id: int,
    event_count: int,
    sealed_through: dt.datetime,
    previous_hash: str,
    digests: bytes,
) -> str:
    head = (
        f"{sequence}|{after_event_id}|{last_event_id}|{event_count}|"
        f"{sealed_through.astimezone(dt.UTC).isoformat()}|{previous_hash}|"
    )
    return hashlib.sha256(head.encode() + digests).hexdigest()


def _last_sealed_id() -> int:
    return AuditSeal.objects.aggregate(last=Max("last_event_id"))["last"] or 0


def seal(*, delay_seconds: int = SEAL_DELAY_SECONDS, max_rows: int = SEAL_MAX_ROWS) -> SealResult:
    """Chain every unsealed event created more than `delay_seconds` ago into new seals."""
    cutoff = timezone.now() - dt.timedelta(seconds=delay_seconds)
    # The newest event created before the cutoff; every visible event created before it has a
    # lower id. Computed once: a backlog is then sealed in chunks by cheap id-range reads.
    boundary = (  # unscoped: the chain covers every practice's events
        AuditEvent.objects.unscoped()
        .filter(created_at__lt=cutoff, id__gt=_last_sealed_id())
        .aggregate(last=Max("id"))["last"]
    )
    seals = events = 0
    while boundary is not None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])
            last = AuditSeal.objects.defer("digests").order_by("-sequence").first()
            after = last.last_event_id if last else 0
            since = last.sealed_through if last else _EPOCH
            if cutoff <= since or boundary <= after:
                break
            digests = _event_digests(after, boundary, limit=max_rows)
            if not digests:
                break
            last_id = max(digests)
            # A seal cut short by max_rows claims nothing beyond the previous seal's instant.
            through = cutoff if last_id == boundary else since
            packed = b"".join(_DIGEST.pack(i, d) for i, d in digests.items())
            fields: dict[str, Any] = {
                "sequence": last.sequence + 1 if last else 1,
                "after_event_id": after,
                "last_event_id": last_id,
                "event_count": len(digests),
                "sealed_through": through,
                "previous_hash": last.hash if last else "",
            }
            new = AuditSeal.objects.create(
                **fields, digests=packed, hash=_seal_hash(**fields, digests=packed)
            )
        logger.info("audit seal %d: %d events, hash %s", new.sequence, len(digests), new.hash)
        seals += 1
        events += len(digests)
        if last_id == boundary:
            break
    return SealResult(seals=seals, events=events)


def verify() -> VerifyResult:
    """Recompute every seal and compare the sealed events with the table as it is now."""
    result = VerifyResult()
    previous_hash, previous_last, since = "", 0, _EPOCH
    seal_ids = AuditSeal.objects.order_by("sequence").values_list("pk", flat=True)
    for expected, pk in enumerate(list(seal_ids), start=1):
        sealed = AuditSeal.objects.get(pk=pk)
        packed = bytes(sealed.digests)
        recomputed = _seal_hash(
            sequence=sealed.sequence,
            after_event_id=sealed.after_event_id,
            last_event_id=sealed.last_event_id,
            event_count=sealed.event_count,
            sealed_through=sealed.sealed_through,
            previous_hash=sealed.previous_hash,
            digests=packed,
        )
        if recomputed != sealed.hash or len(packed) != sealed.event_count * _DIGEST.size:
            result.broken_seals.append(sealed.sequence)
        if (sealed.sequence, sealed.previous_hash, sealed.after_event_id) != (
            expected,
            previous_hash,
            previous_last,
        ):
            result.unchained_seals.append(sealed.sequence)
        stored = dict(_DIGEST.iter_unpack(packed[: len(packed) // _DIGEST.size * _DIGEST.size]))
        current = _event_digests(sealed.after_event_id, sealed.last_event_id)
        result.added += [i for i in current if i not in stored]
        result.removed += [i for i in stored if i not in current]
        result.changed += [i for i, d in current.items() if i in stored and stored[i] != d]
        result.seals += 1
        result.events += len(stored)
        previous_hash, previous_last, since = (
            sealed.hash,
            sealed.last_event_id,
            sealed.sealed_through,
        )
    # Back-dated: created before the last seal's instant, yet not in any seal (unscoped: the
    # chain covers every practice).
    result.added += list(
        AuditEvent.objects.unscoped()
        .filter(id__gt=previous_last, created_at__lt=since)
        .order_by("id")
        .values_list("id", flat=True)
    )
    result.head = previous_hash
    return result
