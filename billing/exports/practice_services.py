"""All of one practice's data as one documented zip (issue 19): every tenant table as NDJSON
(found generically: every model with a foreign key to the practice), the uploaded files, a
README.txt and schema.json describing every file and field, and a manifest.json with the row
counts and the SHA-256 of every member. A practice admin requests it (audited), a worker
builds it (`practice_archive_build`, ids only), the admin downloads it (audited: the download
and one event per AUDIT_BATCH patients in it) until it expires (ARCHIVE_DAYS).

It lives in billing, the top layer, because it reads every app's tables (style.md §10). It
streams: rows are read by primary-key ranges of CHUNK rows (no server-side cursor, which a
transaction-mode pooler breaks), written into the zip on disk, never held in memory."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import logging
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from billing.exports import tasks
from billing.exports.services import ExportFile
from billing.models import PREPARING, PracticeArchive, PreparedStatus
from ccm import audit, jobs
from ccm.api_auth import StateConflict
from ccm.models import Membership, Practice, User
from ccm.tenancy import practice_scope

logger = logging.getLogger(__name__)

FORMAT_NDJSON = "ndjson"
FORMATS = (FORMAT_NDJSON,)
FORMAT_MESSAGE = "Choose ndjson: the archive's tables are newline-delimited JSON."
NOT_READY_MESSAGE = "This archive is not ready: wait until it is, or prepare a new one."
FAILED_MESSAGE = "The archive could not be built; prepare a new one or contact support."
EXPIRED_MESSAGE = "This archive has expired and its file was deleted; prepare a new one."

CHUNK = 2000  # rows per query (primary-key range): memory stays flat whatever the table size
COPY_BLOCK = 1024 * 1024  # bytes per read when copying an uploaded file into the zip
ARCHIVE_DAYS = 7  # a ready archive can be downloaded this long, then its file is deleted
AUDIT_BATCH = 1000  # patients named by one audit event of a download

# Tenant tables left out of the archive, each with why. Empty: every table holding practice
# data is exported (tests/billing/test_practice_export.py holds every tenant table to this).
SKIPPED_TABLES: dict[str, str] = {}
# Columns left out: credentials, never data the practice needs back.
SKIPPED_COLUMNS: dict[str, dict[str, str]] = {
    "ccm.apitoken": {"token_hash": "the SHA-256 of a secret API token: a credential"},
}
# Uploaded files left out (the row is exported, its file field names no member).
SKIPPED_FILES: dict[str, str] = {
    "billing.preparedexport": "a month export built from the claims, which are in the archive",
    "billing.practicearchive": "an earlier archive of this same data",
}
# Members' columns of the users table (never the password hash or staff flags).
USER_COLUMNS = ("id", "email", "full_name", "is_active", "date_joined")
PRACTICE_MEMBER = "data/ccm.practice.ndjson"
USERS_MEMBER = "data/ccm.user.ndjson"


# --- Which tables ------------------------------------------------------------------------


def tenant_models() -> list[type[models.Model]]:
    """Every model with a foreign key to the practice (its rows belong to one practice), in
    label order: found from the app registry, so a new table is exported without a change."""
    found = [
        model
        for model in apps.get_models()
        if any(f.many_to_one and f.related_model is Practice for f in model._meta.concrete_fields)
    ]
    return sorted(found, key=lambda m: m._meta.label_lower)


def exported_models() -> list[type[models.Model]]:
    return [m for m in tenant_models() if m._meta.label_lower not in SKIPPED_TABLES]


def member_name(model: type[models.Model]) -> str:
    return f"data/{model._meta.label_lower}.ndjson"


def columns_of(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    skipped = SKIPPED_COLUMNS.get(model._meta.label_lower, {})
    return [f for f in model._meta.concrete_fields if f.name not in skipped]


def _file_fields(model: type[models.Model]) -> list[models.FileField]:
    if model._meta.label_lower in SKIPPED_FILES:
        return []
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


# --- Values as JSON ----------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A column's value as JSON: datetimes ISO 8601 in UTC, dates ISO 8601, decimals as text
    (exact), UUIDs as text, bytes as base64, arrays element by element."""
    kind = type(value)
    if kind in _AS_IS:  # most values: one dict lookup (the build's hottest line)
        return value
    if kind is uuid.UUID or kind is decimal.Decimal:
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return f"PT{value.total_seconds():g}S"
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


_AS_IS = frozenset({str, int, bool, float, type(None), dict})
BLOCK = 64 * 1024  # bytes of lines handed to the zip at once (one compress call each)


def _blocks(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines joined into blocks of about BLOCK bytes."""
    pending: list[bytes] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= BLOCK:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _line(record: dict[str, Any]) -> bytes:
    # default=str: values of library types (a phone number) as their text form.
    return (
        json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n"
    )


def file_member(model: type[models.Model], pk: Any, field: str, stored: str) -> str:
    """Where an uploaded file goes in the zip: its table, row id and field (no PHI)."""
    extension = stored.rsplit(".", 1)[-1] if "." in stored.rsplit("/", 1)[-1] else "bin"
    return f"files/{model._meta.label_lower}/{pk}-{field}.{extension}"


# --- Reading in chunks -------------------------------------------------------------------


def chunked(queryset: models.QuerySet[Any], *columns: str) -> Iterator[tuple[Any, ...]]:
    """The rows of `queryset` as value tuples (`columns`, the first being the primary key), by
    primary-key ranges of CHUNK: one query per CHUNK rows, none of them held longer."""
    ordered = queryset.order_by("pk").values_list(*columns)
    last = None
    while True:
        page = ordered if last is None else ordered.filter(pk__gt=last)
        rows = list(page[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


def column_names(model: type[models.Model]) -> list[str]:
    """The exported columns' names (`patient_id` for a foreign key), the primary key first."""
    pk = model._meta.pk.attname
    return [pk, *(f.attname for f in columns_of(model) if f.attname != pk)]


# --- Writing the zip ---------------------------------------------------------------------


@dataclass
class _Zip:
    """The zip being written, with each member's SHA-256 and size for the manifest."""

    archive: zipfile.ZipFile
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    stamp: tuple[int, ...] = field(
        default_factory=lambda: timezone.now().astimezone(dt.UTC).timetuple()[:6]
    )

    def write(self, name: str, chunks: Iterable[bytes]) -> None:
        digest, size = hashlib.sha256(), 0
        info = zipfile.ZipInfo(name, date_time=self.stamp)  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED
        with self.archive.open(info, "w", force_zip64=True) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        self.members[name] = {"sha256": digest.hexdigest(), "bytes": size}


@dataclass
class Built:
    """What the build wrote: rows per member, the patients, files missing from storage."""

    row_counts: dict[str, int] = field(default_factory=dict)
    patient_ids: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)


def _ndjson(
    model: type[models.Model], practice: Practice, built: Built, member: str
) -> Iterator[bytes]:
    names = column_names(model)
    manager: Any = model._default_manager
    files = {f.attname: f.name for f in _file_fields(model)}
    is_patient = model._meta.label_lower == "patients.patient"
    count = 0
    for row in chunked(manager.for_practice(practice), *names):
        record = dict(zip(names, (json_value(v) for v in row), strict=True))
        for attname, name in files.items():
            if record[attname]:
                record[attname] = file_member(model, row[0], name, record[attname])
        if is_patient:
            built.patient_ids.append(str(row[0]))
        count += 1
        yield _line(record)
    built.row_counts[member] = count


def _practice_ndjson(practice: Practice, built: Built) -> Iterator[bytes]:
    practice = Practice.objects.get(pk=practice.pk)  # as of the build's snapshot
    fields = Practice._meta.concrete_fields
    record = {f.attname: json_value(getattr(practice, f.attname)) for f in fields}
    built.row_counts[PRACTICE_MEMBER] = 1
    yield _line(record)


def _users_ndjson(practice: Practice, built: Built) -> Iterator[bytes]:
    members = Membership.objects.for_practice(practice).values("user_id")
    count = 0
    for row in chunked(User.objects.filter(pk__in=members), *USER_COLUMNS):
        record = dict(zip(USER_COLUMNS, (json_value(v) for v in row), strict=True))
        count += 1
        yield _line(record)
    built.row_counts[USERS_MEMBER] = count


def _stored_file(stored: str) -> Iterator[bytes]:
    with default_storage.open(stored, "rb") as handle:
        while block := handle.read(COPY_BLOCK):
            yield block


def _files(out: _Zip, model: type[models.Model], practice: Practice, built: Built) -> None:
    manager: Any = model._default_manager
    for file_field in _file_fields(model):
        rows = manager.for_practice(practice).exclude(**{file_field.name: ""})
        for pk, stored in chunked(rows, "pk", file_field.attname):
            name = file_member(model, pk, file_field.name, stored)
            if not default_storage.exists(stored):
                built.missing_files.append(name)  # listed in the manifest, not fatal
                continue
            out.write(name, _stored_file(stored))


def _manifest(archive: PracticeArchive, out: _Zip, built: Built) -> bytes:
    practice = archive.practice
    manifest = {
        "format": "caremonth-practice-archive",
        "version": 1,
        "practice": {"id": str(practice.pk), "slug": practice.slug, "name": practice.name},
        "archive_id": str(archive.pk),
        "requested_by": str(archive.requested_by_id),
        "created_at": json_value(timezone.now()),
        "row_counts": built.row_counts,
        "files": sum(1 for name in out.members if name.startswith("files/")),
        "missing_files": built.missing_files,
        "members": out.members,
    }
    return json.dumps(manifest, ensure_ascii=False, indent=2).encode()


def write_archive(archive: PracticeArchive, target: IO[bytes]) -> Built:
    """Write the zip of `archive`'s practice into `target` (a file open for writing)."""
    from billing.exports.practice_schema import readme, schema

    practice, built = archive.practice, Built()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive_zip:
        out = _Zip(archive_zip)
        out.write("README.txt", [readme().encode()])
        out.write("schema.json", [json.dumps(schema(), indent=2).encode()])
        out.write(PRACTICE_MEMBER, _practice_ndjson(practice, built))
        out.write(USERS_MEMBER, _users_ndjson(practice, built))
        for model in exported_models():
            rows = _ndjson(model, practice, built, member_name(model))
            out.write(member_name(model), _blocks(rows))
        for model in exported_models():
            _files(out, model, practice, built)
        out.write("manifest.json", [_manifest(archive, out, built)])
    return built


# --- Request, build, download, expiry ----------------------------------------------------


def practice_archive_request(*, actor: Membership, format: str = FORMAT_NDJSON) -> PracticeArchive:
    """Ask a worker to build the practice's archive (pages and API), audited
    (`practice_archive.request`: who, when, from where); idempotent while one is being
    prepared (that one is returned). Deletes the files of the practice's expired archives.
    Queues `practice_archive_build` once committed (ccm.jobs: kept in the outbox when the
    broker does not answer). ValidationError for an unknown format; nothing is saved then."""
    if format not in FORMATS:
        raise ValidationError({"format": FORMAT_MESSAGE})
    practice = actor.practice
    practice_archives_purge(practice=practice)
    preparing = PracticeArchive.objects.for_practice(practice).filter(status__in=PREPARING)
    existing = preparing.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            archive = PracticeArchive.objects.for_practice(practice).create(
                practice=practice, requested_by=actor
            )
            audit.record_for(actor, "practice_archive.request", obj=archive)
    except IntegrityError:  # a concurrent request created it (billing_practice_archive_once)
        return preparing.get()
    jobs.enqueue_on_commit(tasks.practice_archive_build, str(practice.pk), str(archive.pk))
    return archive


def _update(archive: PracticeArchive, **fields: Any) -> None:
    PracticeArchive.objects.for_practice(archive.practice_id).filter(pk=archive.pk).update(**fields)


def _snapshot_write(archive: PracticeArchive, target: IO[bytes]) -> Built:
    """`write_archive` in one REPEATABLE READ, READ ONLY transaction: every table as of one
    instant (claim lines match their claims) however long the build takes. (Inside an
    enclosing transaction, a test's, the enclosing one's snapshot rules apply.)"""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return write_archive(archive, target)


def _store(archive: PracticeArchive, built: Built, target: IO[bytes]) -> None:
    target.seek(0)
    digest = hashlib.sha256()
    while block := target.read(COPY_BLOCK):
        digest.update(block)
    size = target.tell()
    target.seek(0)
    archive.file.save("archive.zip", File(target), save=False)
    finished = timezone.now()
    with transaction.atomic():  # ready, and its audit event, together
        audit.record_by(archive.practice, archive.requested_by, "practice_archive.build", archive)
        _update(
            archive,
            file=archive.file.name,
            size=size,
            sha256=digest.hexdigest(),
            row_counts=built.row_counts,
            patient_ids=built.patient_ids,
            status=PreparedStatus.READY,
            finished_at=finished,
            expires_at=finished + dt.timedelta(days=ARCHIVE_DAYS),
        )


def practice_archive_build(*, practice_id: Any, archive_id: Any) -> PracticeArchive:
    """The worker's part: build the archive into a temporary file, store it (private
    storage), its size, SHA-256, row counts and patients, and mark it ready; a failure marks
    it failed (a message without PHI) and the task fails loudly. Audited when ready
    (`practice_archive.build`, on behalf of the requester). Idempotent: a ready or
    failed archive is left as it is, a redelivered running one is built again."""
    with practice_scope(practice_id):
        archives = PracticeArchive.objects.for_practice(practice_id)
        claimed = archives.filter(pk=archive_id, status__in=PREPARING).update(
            status=PreparedStatus.RUNNING
        )
        archive = archives.select_related("practice", "requested_by__user").get(pk=archive_id)
        if not claimed:
            return archive
        try:
            with tempfile.TemporaryFile() as target:
                built = _snapshot_write(archive, target)
                _store(archive, built, target)
        except Exception:
            # Not left "running" for ever (it would block the next request); the traceback
            # goes to the worker's log (no PHI in it: ids and table names only).
            _update(archive, status=PreparedStatus.FAILED, error=FAILED_MESSAGE,
                    finished_at=timezone.now())  # fmt: skip
            raise
        archive.refresh_from_db()
        return archive


def archive_name(archive: PracticeArchive) -> str:
    return f"caremonth-{archive.practice.slug}-archive-{archive.created_at:%Y%m%d-%H%M%S}.zip"


def practice_archive_download(*, actor: Membership, archive: PracticeArchive) -> ExportFile:
    """A ready archive's stored file; the download audited (`practice_archive.download`, and
    `patient.export` events naming every patient in it, AUDIT_BATCH to an event).
    StateConflict while it is not ready, or once it has expired."""
    if archive.status != PreparedStatus.READY:
        failed = archive.status == PreparedStatus.FAILED
        raise StateConflict(FAILED_MESSAGE if failed else NOT_READY_MESSAGE)
    if archive.expired or not archive.file:
        raise StateConflict(EXPIRED_MESSAGE)
    with transaction.atomic():
        audit.record_for(actor, "practice_archive.download", obj=archive)
        ids = list(archive.patient_ids)
        for start in range(0, len(ids), AUDIT_BATCH):
            pairs = [(archive, patient_id) for patient_id in ids[start : start + AUDIT_BATCH]]
            audit.record_many(actor, pairs, action="patient.export")
    return ExportFile(archive_name(archive), "application/zip", archive.file.open("rb"))


def practice_archives_purge(*, practice: Practice | Any) -> int:
    """Delete the stored files of the practice's expired archives (the rows stay: who asked
    and when remains visible); the number deleted."""
    expired = (
        PracticeArchive.objects.for_practice(practice)
        .filter(expires_at__lte=timezone.now())
        .exclude(file="")
    )
    deleted = 0
    for archive in expired:
        archive.file.delete(save=False)
        _update(archive, file="")
        deleted += 1
    return deleted


def practice_archives_purge_all() -> int:
    """`practice_archives_purge` for every practice (the daily job)."""
    return sum(practice_archives_purge(practice=p) for p in Practice.objects.order_by("pk"))
