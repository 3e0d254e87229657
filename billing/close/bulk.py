"""Rows written with PostgreSQL's COPY (psycopg 3 `cursor.copy`): the month close stores
tens of thousands of outcomes, claims and lines, and `bulk_create` spends most of that time
building model instances and one parameter per value (bench/month_close.py).

Rows are plain tuples of the values of the `fields` named (attnames, JSON already dumped to
text); every other field takes the model's default as Django would ("" for a blank text, None,
a constant), worked out once per model and field list and appended to each row as is: no
Python work per value. A field whose default is computed per row (a uuid4, `timezone.now()`,
an empty list) must be among `fields`. Nothing here checks the tenant: the caller puts its
own practice's id in every row, as bulk_create would.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection, models


@functools.cache
def _plan(model: type[models.Model], fields: tuple[str, ...]) -> tuple[str, tuple[Any, ...]]:
    """The COPY statement (the given fields, then the others) and the others' values."""
    concrete = {field.attname: field for field in model._meta.concrete_fields}
    unknown = set(fields) - concrete.keys()
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}.")
    rest = [field for name, field in concrete.items() if name not in fields]
    tail = []
    for field in rest:
        if field.has_default() and callable(field.default):
            raise ValueError(f"{model.__name__}.{field.attname}: give its value in each row.")
        value = field.get_default()
        if isinstance(field, models.JSONField) and value is not None:
            value = json.dumps(value, cls=field.encoder)
        tail.append(value)
    quote = connection.ops.quote_name
    columns = [concrete[name].column for name in fields] + [field.column for field in rest]
    names = ", ".join(quote(str(column)) for column in columns)
    return f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN", tuple(tail)


def copy_rows(
    model: type[models.Model], fields: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> int:
    """COPY `rows` (tuples of `fields`' values) into the model's table in the current
    transaction; how many rows."""
    sql, tail = _plan(model, fields)
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        write = copy.write_row
        for row in rows:
            write(row + tail)
            count += 1
    return count


# The variant's hex digit (RFC 4122: binary 10xx) from a random one, keeping its two low bits.
_VARIANT = {f"{n:x}": "89ab"[n & 3] for n in range(16)}


def new_ids() -> Iterator[str]:
    """Fresh version-4 UUIDs as text (what COPY takes), as `uuid.uuid4()` makes them (random
    bits from the OS, then the version and variant set) but drawn 4 KiB at a time: a close
    makes one per outcome, claim and line, and a `uuid4()` call was a few microseconds each
    (a system call and a Python constructor)."""
    while True:
        text = os.urandom(4096).hex()
        for at in range(0, 8192, 32):
            yield (
                f"{text[at : at + 8]}-{text[at + 8 : at + 12]}-4{text[at + 13 : at + 16]}-"
                f"{_VARIANT[text[at + 16]]}{text[at + 17 : at + 20]}-{text[at + 20 : at + 32]}"
            )
