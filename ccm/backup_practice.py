"""Restore ONE practice's rows from a scratch database (a full backup restored there) into the
live database, without touching any other practice (docs/operations.md, "Restore one practice").

Every tenant table carries `practice_id`, so the practice's rows are `WHERE practice_id = …`.
They are copied in foreign-key order (a table after every tenant table it references), each
through a temporary staging table and `INSERT … ON CONFLICT DO NOTHING`: rows that still exist
in the live database are kept as they are, missing ones come back with their ids (a sealed
audit event with its id, so the seal chain matches again). Before the tenant tables: the
practice row itself and the users of its memberships, where missing. One transaction: any
error (a schema that differs, a user whose e-mail now belongs to another id) changes nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from ccm.backup import BackupError, _connect

NO_PRACTICE = "No practice with the slug {slug} in the scratch database."

# Tenant tables (a practice_id column; partitions go through their parent), each with its
# depth: 0 references no other tenant table, n+1 references one of depth n at most.
TENANT_TABLES = """
WITH RECURSIVE tenant AS (
    SELECT c.oid, c.relname FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
), edge AS (
    SELECT DISTINCT conrelid AS child, confrelid AS parent FROM pg_constraint
    WHERE contype = 'f' AND conrelid <> confrelid
      AND conrelid IN (SELECT oid FROM tenant) AND confrelid IN (SELECT oid FROM tenant)
), depth AS (
    SELECT oid, 0 AS level FROM tenant
    UNION ALL
    SELECT e.child, d.level + 1 FROM depth d JOIN edge e ON e.parent = d.oid
)
SELECT t.relname, max(d.level) FROM depth d JOIN tenant t USING (oid)
GROUP BY t.relname ORDER BY 2, 1
"""
COLUMNS = """
SELECT attname FROM pg_attribute
WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
ORDER BY attnum
"""


def tenant_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """The tenant tables in foreign-key order (parents first)."""
    return [name for name, _ in conn.execute(TENANT_TABLES).fetchall()]


def _copy(
    src: psycopg.Connection[Any], dst: psycopg.Connection[Any], table: str, where: sql.Composable
) -> int:
    """Copy the rows of `table` matching `where` from src into dst where missing; how many."""
    columns = [name for (name,) in dst.execute(COLUMNS, [table]).fetchall()]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    stage = sql.Identifier(f"restore_{table}")
    dst.execute(
        sql.SQL("CREATE TEMP TABLE {} (LIKE {}) ON COMMIT DROP").format(
            stage, sql.Identifier(table)
        )
    )
    out = sql.SQL("COPY (SELECT {} FROM {} WHERE {}) TO STDOUT").format(
        names, sql.Identifier(table), where
    )
    into = sql.SQL("COPY {} ({}) FROM STDIN").format(stage, names)
    with src.cursor().copy(out) as reader, dst.cursor().copy(into) as writer:
        for data in reader:
            writer.write(data)
    insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING")
    return dst.execute(insert.format(sql.Identifier(table), names, names, stage)).rowcount


def practice_restore(
    *, source: dict[str, str], target: dict[str, str], slug: str
) -> dict[str, int]:
    """Copy one practice's missing rows from `source` (scratch) into `target` (live), in one
    transaction; rows inserted per table (tables with none left out)."""
    with _connect(source) as src, _connect(target) as dst:
        found = src.execute("SELECT id FROM ccm_practice WHERE slug = %s", [slug]).fetchone()
        if found is None:
            raise BackupError(NO_PRACTICE.format(slug=slug))
        practice = sql.Literal(str(found[0]))
        members = sql.SQL(
            "id IN (SELECT user_id FROM ccm_membership WHERE practice_id = {})"
        ).format(practice)
        steps = [("ccm_practice", sql.SQL("id = {}").format(practice)), ("ccm_user", members)]
        steps += [(t, sql.SQL("practice_id = {}").format(practice)) for t in tenant_tables(dst)]
        with dst.transaction():
            inserted = {table: _copy(src, dst, table, where) for table, where in steps}
    return {table: n for table, n in inserted.items() if n}
