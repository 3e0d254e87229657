"""Rows written with PostgreSQL's COPY (psycopg 3 `cursor.copy`): the month close stores
tens of thousands of outcomes, claims and lines, and `bulk_create` spends most of that time
building model instances and one parameter per value (bench/month_close.py).

Rows are plain dicts of field attnames; a missing field takes the model's default as Django
would (a fresh uuid4, `timezone.now()`, an empty list, "" for a blank text). Nothing here
checks the tenant: the caller puts its own practice's id in every row, as bulk_create would.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection, models

_NO_VALUE = object()


def _columns(model: type[models.Model]) -> list[tuple[models.Field[Any, Any], Any]]:
    """Each concrete field with how its value becomes COPY text (JSON: dumped here)."""
    out: list[tuple[models.Field[Any, Any], Any]] = []
    for field in model._meta.concrete_fields:
        if isinstance(field, models.JSONField):
            encoder = field.encoder
            out.append((field, lambda value, encoder=encoder: json.dumps(value, cls=encoder)))
        else:
            out.append((field, None))
    return out


def copy_rows(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """COPY `rows` into the model's table in the current transaction; how many rows."""
    columns = _columns(model)
    quote = connection.ops.quote_name
    names = ", ".join(quote(str(field.column)) for field, _dump in columns)
    sql = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            values = []
            for field, dump in columns:
                value = row.get(field.attname, _NO_VALUE)
                if value is _NO_VALUE:
                    value = field.get_default()
                if dump is not None and value is not None:
                    value = dump(value)
                values.append(value)
            copy.write_row(values)
            count += 1
    return count
