"""The session store (SESSION_ENGINE): Django's database sessions, read by one precompiled
statement.

Every signed-in request reads its session; Django's backend builds and compiles the same ORM
query for it each time (`Session.objects.get(session_key=..., expire_date__gt=now)`), about
as much CPU as the rest of a small request's Python. This store runs that query's SQL as
written once, with the same conditions (the key, not expired), so it answers exactly what
Django's would. Everything else is Django's: the table, the encoding and signing, writes,
expiry, `cycle_key` at sign-in, `flush` at sign-out, clearsessions (ccm.services) - a session
deleted or expired in the database is gone on the next request, whichever worker serves it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        data = self._session_data_from_db()
        return self.decode(data) if data is not None else {}

    def _session_data_from_db(self) -> str | None:
        """The stored (encoded) data of this unexpired session, else None (and no key, as
        Django's `_get_session_from_db` leaves it: a new key is made on save)."""
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",  # noqa: S608  (the table name is the model's)
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return str(row[0])
