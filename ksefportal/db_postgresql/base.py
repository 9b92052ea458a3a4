"""Django's PostgreSQL backend with a health check that needs no round trip while the connection is quiet,
and prepared statements for the few statements every page runs.

With CONN_HEALTH_CHECKS, Django runs ``SELECT 1`` on a kept connection before each request's first query,
so that a connection the server dropped (a restart, a failover, an administrator's kill) is replaced
instead of failing the request. That statement costs ~0.3 ms of CPU per page between the two processes.
A server that ends a connection tells the client (a termination message, then the socket's end), so an
idle connection with nothing to read has not been ended; only when something has arrived does the real
``SELECT 1`` decide. A silently dropped network path is not detected either way (``SELECT 1`` would wait
for TCP to give up).

Prepared statements: PostgreSQL plans a statement every time it is sent, ~0.05-0.1 ms for the page's user
lookup or the Dokumenty list, more than executing it. ``prepared_cursor()`` gives a cursor (server-side
binding) whose statements are prepared on their first execution on a connection and then run without
planning: measured on the list, the server's CPU per statement halved (~0.2 to ~0.1 ms). Only code that
asks for that cursor gets it (ksefportal.model_rows.page_cursor); Django's own cursors bind on the client
and never prepare. Off with ``PREPARED_STATEMENTS = False`` in the database settings
(``DB_PREPARED_STATEMENTS=0``), for PgBouncer in transaction mode older than 1.21, which cannot keep them.
The statements name their columns, so a migration that adds columns leaves them working; one that changes
the type of a column they read makes PostgreSQL refuse them ("cached plan must not change result type")
until the web process reconnects: at its restart by the deployment, at the latest CONN_MAX_AGE later.
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.utils import CursorWrapper
from django.utils.asyncio import async_unsafe
from psycopg.pq import TransactionStatus

# psycopg's default; it counts only for server-binding cursors, and ours ask to prepare at once.
_PREPARE_THRESHOLD = 5


class _PreparingCursor(psycopg.Cursor[Any]):
    """Server-side binding, every statement prepared (Django's CursorWrapper passes no ``prepare``)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str | None:  # type: ignore[override]
        if isinstance(cursor, _PreparingCursor):
            # Bound on the server, psycopg keeps no text with the values: compose it as Django does when all
            # binding is on the server (for query logging and captured queries).
            try:
                return self.compose_sql(sql, params)
            except psycopg.errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        if self.settings_dict.get("PREPARED_STATEMENTS", True) and params.get("prepare_threshold") is None:
            params["prepare_threshold"] = _PREPARE_THRESHOLD
        return params

    @async_unsafe
    def prepared_cursor(self) -> CursorWrapper:
        """A cursor whose statements are prepared (see the module's docstring), wrapped as Django wraps its
        own (errors, execute wrappers, query logging); the usual cursor when prepared statements are off."""
        if not self.settings_dict.get("PREPARED_STATEMENTS", True):
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(_PreparingCursor(self.connection))  # type: ignore[attr-defined]

    def close_if_health_check_failed(self) -> None:
        done: bool = self.health_check_done  # type: ignore[has-type]
        if (
            not self.pool
            and self.connection is not None
            and self.settings_dict["CONN_HEALTH_CHECKS"]
            and not done
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self) -> bool:
        """Open, outside a transaction, and nothing from the server waiting to be read."""
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
