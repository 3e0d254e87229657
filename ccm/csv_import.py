"""The one CSV import pipeline (../shared/style.md §10): an upload is previewed (file checks,
every row checked, nothing but the import record saved), then applied once, in one
transaction, re-checking every row.

Each importing app describes its file with an `ImportKind` (its columns, how one row is
checked, how the valid rows are written) and a concrete `ImportRecord` table; this module
owns the rest: size, encoding and header checks, the row loop with per-row errors, preview
storage, the claim that applies an import once, and the bulk audit of the written rows
(`ccm.audit`). Error messages name the row and the field, never the value.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import filetype
import tablib
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from tablib.exceptions import InvalidDimensions

from ccm import audit
from ccm.models import Membership, Practice
from ccm.roles import Capability, can
from ccm.tenancy import TenantModel

NOT_CSV_MESSAGE = (
    "The file is not a CSV text file. Export the list from the EHR as CSV "
    "(comma-separated values) and upload that file."
)
TOO_BIG_MESSAGE = "The file is larger than the {limit} MB limit; split the list into smaller files."
MALFORMED_MESSAGE = (
    "The file could not be read as CSV: a row has more cells than the header has columns."
)
EMPTY_MESSAGE = "The file has no data rows under the header row."
DUPLICATE_COLUMN_MESSAGE = "Two columns mean the same thing ({column}); keep only one of them."
REQUIRED_MESSAGE = "This field is required."
ALREADY_APPLIED_MESSAGE = "This import has already been applied; nothing was imported again."
NOTHING_TO_IMPORT_MESSAGE = "The file has no valid rows to import; correct it and upload it again."

MAX_STORED_ERRORS = 1000  # enough to fix a file; a wholly wrong file would store megabytes
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")

Cells = dict[str, str]  # field → the row's stripped cell
RowT = TypeVar("RowT")
RecordT = TypeVar("RecordT", bound="ImportRecord")
# One row's check: the row to write, or None and field → first error message.
RowCheck = Callable[[int, Cells], tuple[RowT | None, dict[str, str]]]


class ImportRecord(TenantModel):
    """An uploaded file: previewed (row errors shown) before it is applied, once."""

    class State(models.TextChoices):
        PREVIEWED = "previewed", "Previewed"
        APPLIED = "applied", "Applied"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    uploaded_by = models.ForeignKey("ccm.Membership", on_delete=models.PROTECT, related_name="+")
    content = models.TextField()  # the CSV as uploaded (PHI at rest, like the patients table)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PREVIEWED)
    row_count = models.PositiveIntegerField(default=0)
    valid_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{row, field, message}], no values
    created_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering: ClassVar = ["-created_at"]


@dataclass
class Parsed(Generic[RowT]):
    row_count: int = 0
    rows: list[RowT] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Written:
    """What an app's write hook did: the record's counts and one audit event per row."""

    counts: dict[str, int]
    events: list[audit.RowEvent]


class ImportKind(ABC, Generic[RowT, RecordT]):
    """An app's import: its table, columns and roles, and the hooks `checker`,
    `preview_counts` and `write`; `preview`, `apply` and `recent` are the pipeline's."""

    model: type[RecordT]
    columns: dict[str, tuple[str, ...]]  # field → accepted header names (after header_key)
    labels: dict[str, str]  # field → label, in the order a row's errors are listed
    required: tuple[str, ...]
    missing_columns_message: str
    capability: Capability
    role_message: str
    conflict_message: str | None = None  # said when a unique constraint refuses the write

    @functools.cached_property
    def aliases(self) -> dict[str, str]:
        return {alias: name for name, aliases in self.columns.items() for alias in aliases}

    @abstractmethod
    def checker(self, practice: Practice, rows: list[tuple[int, Cells]]) -> RowCheck[RowT]:
        """The check of one row, given every row first (for lookups in a fixed number of
        queries); called in file order."""

    @abstractmethod
    def preview_counts(self, practice: Practice, rows: list[RowT]) -> dict[str, int]:
        """What applying would do, stored on the previewed record."""

    @abstractmethod
    def write(
        self, practice: Practice, actor: Membership, rows: list[RowT], now: dt.datetime
    ) -> Written:
        """Write the valid rows (inside the apply's transaction); the counts and audit rows."""

    def preview(self, *, practice: Practice, actor: Membership, content: bytes | str) -> RecordT:
        """Check an upload and save it as a previewed record with counts and row errors;
        writes nothing else. Audited (the import only)."""
        record: RecordT = _preview(self, practice, actor, content)
        return record

    def apply(self, *, practice: Practice, actor: Membership, record: RecordT) -> RecordT:
        """Apply a previewed import once, in one transaction: re-check every row (the
        practice's records may have changed since), write the valid ones, audit each. A
        second apply is refused and changes nothing."""
        try:
            _apply(self, practice, actor, record)
        except IntegrityError as exc:
            # A concurrent write took a unique value first: the whole import (including the
            # state change) rolled back.
            if self.conflict_message is None:
                raise
            raise ValidationError(self.conflict_message) from exc
        return record

    def recent(self, practice: Practice, limit: int = 10) -> models.QuerySet[RecordT]:
        """The practice's latest imports, without their content (the upload page's list)."""
        return (
            self.model.objects.for_practice(practice)
            .defer("content", "errors")
            .select_related("uploaded_by__user")
            .order_by("-created_at")[:limit]
        )


AnyKind = ImportKind[Any, Any]


# --- Reading the file ------------------------------------------------------------------------


def too_big_message() -> str:
    return TOO_BIG_MESSAGE.format(limit=settings.PATIENT_IMPORT_MAX_BYTES // (1024 * 1024))


def decode(content: bytes | str) -> str:
    """The upload as text (UTF-8 with or without BOM, UTF-16 with BOM, else Latin-1);
    refuses binary files and files over the size limit."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if len(data) > settings.PATIENT_IMPORT_MAX_BYTES:
        raise ValidationError({"file": too_big_message()})
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": NOT_CSV_MESSAGE}) from exc
    # Spreadsheets, PDFs and images have a signature or NUL bytes; PostgreSQL text can't hold NUL.
    if b"\x00" in data or filetype.guess(data[:261]) is not None:
        raise ValidationError({"file": NOT_CSV_MESSAGE})
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older exports (Windows-1252 is close enough)


def header_key(header: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", (header or "").lower()).split())


def load_csv(text: str) -> tablib.Dataset:
    try:
        return tablib.Dataset().load(text, format="csv")
    except (InvalidDimensions, csv.Error) as exc:
        raise ValidationError({"file": MALFORMED_MESSAGE}) from exc


def map_columns(kind: AnyKind, headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """(field → column index, ignored header names); raises for missing or doubled columns."""
    mapping: dict[str, int] = {}
    ignored = []
    for index, header in enumerate(headers):
        name = kind.aliases.get(header_key(header))
        if name is None:
            if header.strip():
                ignored.append(header.strip())
        elif name in mapping:
            column = kind.labels[name]
            raise ValidationError({"file": DUPLICATE_COLUMN_MESSAGE.format(column=column)})
        else:
            mapping[name] = index
    missing = [kind.labels[name] for name in kind.required if name not in mapping]
    if missing:
        message = kind.missing_columns_message.format(columns=", ".join(missing))
        raise ValidationError({"file": message})
    return mapping, ignored


def file_columns(kind: AnyKind, text: str) -> tuple[list[str], list[str]]:
    """(labels of the recognised columns, header names ignored) from the header row only."""
    header_line = text.lstrip("\ufeff").split("\n", 1)[0]
    try:
        mapping, ignored = map_columns(kind, load_csv(header_line).headers or [])
    except ValidationError:
        return [], []
    return [label for name, label in kind.labels.items() if name in mapping], ignored


def read_cells(kind: AnyKind, text: str) -> list[tuple[int, Cells]]:
    """[(row number, field → stripped cell)], row 1 being the first under the header;
    wholly empty lines are no rows. A file-level problem raises ValidationError."""
    dataset = load_csv(text)
    if not dataset.headers:
        raise ValidationError({"file": EMPTY_MESSAGE})
    mapping, _ignored = map_columns(kind, dataset.headers)
    rows = []
    for number, raw in enumerate(dataset, start=1):
        cells = {name: str(raw[i] or "").strip() for name, i in mapping.items()}
        if any(cells.values()):  # a spreadsheet's trailing ",,,,," line is no row
            rows.append((number, cells))
    if not rows:
        raise ValidationError({"file": EMPTY_MESSAGE})
    return rows


def parse_date(text: str, *, min_year: int) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            day = dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date)
        except ValueError:
            continue
        return day if day.year >= min_year else None
    return None


def parse(kind: ImportKind[RowT, Any], practice: Practice, text: str) -> Parsed[RowT]:
    """Every data row checked: the valid rows and the errors [{row, field, message}]."""
    cells = read_cells(kind, text)
    check = kind.checker(practice, cells)
    order = {name: i for i, name in enumerate(kind.labels)}
    parsed: Parsed[RowT] = Parsed(row_count=len(cells))
    for number, row_cells in cells:
        row, errors = check(number, row_cells)
        if row is not None:
            parsed.rows.append(row)
        parsed.errors += [
            {"row": number, "field": name, "message": message}
            for name, message in sorted(errors.items(), key=lambda e: order[e[0]])
        ]
    return parsed


# --- Preview and apply -----------------------------------------------------------------------


def check_actor(kind: AnyKind, practice: Practice, actor: Membership) -> None:
    if actor.practice_id != practice.pk or not can(actor, kind.capability):
        raise PermissionDenied(kind.role_message)


@transaction.atomic
def _preview(kind: AnyKind, practice: Practice, actor: Membership, content: bytes | str) -> Any:
    check_actor(kind, practice, actor)
    text = decode(content)
    parsed = parse(kind, practice, text)
    record = kind.model.objects.for_practice(practice).create(
        practice=practice,
        uploaded_by=actor,
        content=text,
        row_count=parsed.row_count,
        valid_count=len(parsed.rows),
        errors=parsed.errors[:MAX_STORED_ERRORS],
        **kind.preview_counts(practice, parsed.rows),
    )
    audit.write(actor, record, "preview")
    return record


@transaction.atomic
def _apply(kind: AnyKind, practice: Practice, actor: Membership, record: ImportRecord) -> None:
    check_actor(kind, practice, actor)
    if record.practice_id != practice.pk:
        raise PermissionDenied(kind.role_message)
    if record.state == ImportRecord.State.PREVIEWED and not record.valid_count:
        raise ValidationError(NOTHING_TO_IMPORT_MESSAGE)
    now = timezone.now()
    _claim(kind, practice, record, now)
    parsed = parse(kind, practice, record.content)
    written = kind.write(practice, actor, parsed.rows, now)
    audit.record_rows(actor, written.events)
    _store_result(record, parsed, written.counts, now)
    audit.write(actor, record, "apply", changed_fields=["state"])


def _claim(kind: AnyKind, practice: Practice, record: ImportRecord, now: Any) -> None:
    # Conditional UPDATE claims the import: a second confirm (double click, another tab)
    # waits on this row lock, then matches no row and is refused.
    claimed = (
        kind.model.objects.for_practice(practice)
        .filter(pk=record.pk, state=ImportRecord.State.PREVIEWED)
        .update(state=ImportRecord.State.APPLIED, applied_at=now)
    )
    if not claimed:
        raise ValidationError(ALREADY_APPLIED_MESSAGE)


def _store_result(
    record: ImportRecord, parsed: Parsed[Any], counts: dict[str, int], now: dt.datetime
) -> None:
    record.state, record.applied_at = ImportRecord.State.APPLIED, now
    record.row_count, record.valid_count = parsed.row_count, len(parsed.rows)
    for name, count in counts.items():
        setattr(record, name, count)
    record.errors = parsed.errors[:MAX_STORED_ERRORS]
    record.save(update_fields=["row_count", "valid_count", *counts, "errors"])
