"""The practice archive's documentation, generated from the models so that it describes
every file and field the archive holds (billing.exports.practice_services): README.txt for
people, schema.json for programs. No side effects."""

from __future__ import annotations

import textwrap
from typing import Any

from django.db import models

from billing.exports import practice_services as archive

INTRO = """\
CareMonth practice archive
==========================

All of one practice's data, as it was at one instant (the build reads every table in one
REPEATABLE READ transaction). Built at the request of a practice admin; the request and every
download are in the audit log (data/ccm.auditevent.ndjson of a later archive).

Files
-----
README.txt        this description
schema.json       the same, for programs: every table's fields with type, nullability, meaning
manifest.json     practice id, created_at (UTC), row_counts per table file, "members": the
                  SHA-256 and size in bytes of every other file in this zip, and
                  "missing_files": uploaded files the storage no longer had (normally empty)
data/*.ndjson     one table per file, one JSON object per line (newline-delimited JSON),
                  keys are the field names below, in primary-key order
files/...         uploaded files (signed consent forms, care transition documents):
                  files/<table>/<row id>-<field>.<ext>; the row's field holds this path

Values: datetimes are ISO 8601 in UTC (2026-10-31T14:05:00+00:00); dates ISO 8601
(2026-10-31); money and other decimals are JSON strings ("66.13", exact); ids are UUID
strings (audit events: integers); a foreign key is the field name with _id and holds the
id of a row in the table named; arrays are JSON arrays; null means no value.

Verify: sha256sum of each file must match manifest.json "members" (python3 -c or
`sha256sum data/patients.patient.ndjson`), and the number of lines of each data file its
"row_counts" entry.
"""


def _json_type(field: models.Field[Any, Any]) -> str:
    kind = field.get_internal_type()
    if kind in {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField",
                "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
                "PositiveSmallIntegerField"}:  # fmt: skip
        return "integer"
    if kind == "BooleanField":
        return "boolean"
    if kind == "ArrayField":
        return "array"
    if kind == "JSONField":
        return "object"
    return "string"


def _format(field: models.Field[Any, Any]) -> str:
    return {
        "DateTimeField": "date-time (UTC)",
        "DateField": "date",
        "DecimalField": "decimal",
        "UUIDField": "uuid",
        "GenericIPAddressField": "ip address",
        "EmailField": "email",
        "FileField": "archive path under files/",
        "BinaryField": "base64",
    }.get(field.get_internal_type(), "")


def _meaning(field: models.Field[Any, Any]) -> str:
    parts = [str(field.verbose_name)]
    if field.help_text:
        parts.append(str(field.help_text))
    if field.many_to_one and field.related_model is not None:
        parts.append(f"id in {_table_file(field.related_model)}")
    if field.choices:
        parts.append("one of: " + ", ".join(f"{v} ({label})" for v, label in field.choices))
    return "; ".join(parts)


def _table_file(model: Any) -> str:
    if model is archive.User:
        return archive.USERS_MEMBER
    if model is archive.Practice:
        return archive.PRACTICE_MEMBER
    return archive.member_name(model)


def _fields(model: type[models.Model], names: list[str]) -> list[dict[str, Any]]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [
        {
            "name": name,
            "type": _json_type(by_attname[name]),
            "format": _format(by_attname[name]),
            "nullable": by_attname[name].null,
            "description": _meaning(by_attname[name]),
        }
        for name in names
    ]


def _about(model: type[models.Model]) -> str:
    doc = (model.__doc__ or "").strip()
    if doc.startswith(model.__name__ + "("):  # Django's generated docstring: no meaning
        doc = ""
    return " ".join(doc.split()) or str(model._meta.verbose_name).capitalize()


def schema() -> dict[str, Any]:
    """Every file of the archive's data/ folder: its table, meaning and fields."""
    tables: list[dict[str, Any]] = [
        {
            "file": archive.PRACTICE_MEMBER,
            "table": "ccm.practice",
            "description": "The practice itself (one row).",
            "fields": _fields(
                archive.Practice, [f.attname for f in archive.Practice._meta.concrete_fields]
            ),
        },
        {
            "file": archive.USERS_MEMBER,
            "table": "ccm.user",
            "description": "The people with a membership in the practice (no password hash).",
            "fields": _fields(archive.User, list(archive.USER_COLUMNS)),
        },
    ]
    for model in archive.exported_models():
        label = model._meta.label_lower
        tables.append(
            {
                "file": archive.member_name(model),
                "table": label,
                "description": _about(model),
                "fields": _fields(model, archive.column_names(model)),
                "left_out": archive.SKIPPED_COLUMNS.get(label, {}),
            }
        )
    return {"format": "caremonth-practice-archive", "version": 1, "tables": tables}


def readme() -> str:
    """README.txt: the intro, then every table file and its fields."""
    lines = [INTRO, "Tables", "------", ""]
    for table in schema()["tables"]:
        lines.append(f"{table['file']}  ({table['table']})")
        lines.extend(
            textwrap.wrap(table["description"], 92, initial_indent="  ", subsequent_indent="  ")
        )
        for name, why in table.get("left_out", {}).items():
            lines.append(f"  (left out: {name}, {why})")
        for f in table["fields"]:
            kind = f["type"] + (f", {f['format']}" if f["format"] else "")
            kind += ", may be null" if f["nullable"] else ""
            lines.extend(
                textwrap.wrap(
                    f"{f['name']} [{kind}]: {f['description']}",
                    92,
                    initial_indent="    ",
                    subsequent_indent="      ",
                )
            )
        lines.append("")
    skipped = {
        **archive.SKIPPED_TABLES,
        **{k: f"file not copied: {v}" for k, v in archive.SKIPPED_FILES.items()},
    }
    if skipped:
        lines += ["Left out", "--------", *(f"{k}: {v}" for k, v in skipped.items()), ""]
    return "\n".join(lines)
