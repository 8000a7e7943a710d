"""Hot statements (verification, token authentication) run for a fraction of SQLAlchemy's per-statement cost.

A counter's single verification is four short statements (the token, the place, the product and
pack, the row written), and SQLAlchemy's execution machinery costs three to four times what the
statement itself costs psycopg (about 280 against 80 microseconds of CPU). ``Prepared`` compiles a
Core statement once for PostgreSQL and runs it on the session's own psycopg connection, in the
session's transaction (or autocommit), as a server-side prepared statement; rows come back as
plain tuples, the same values SQLAlchemy returns for these columns (tested). Elsewhere (SQLite,
whose types SQLAlchemy converts), and whenever someone listens to the engine's cursor events
(logging, tests counting statements), the statement goes through SQLAlchemy as usual.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable


class Prepared:
    """One statement, ``postgresql`` optionally a PostgreSQL-only form of it (same columns and
    bind names, e.g. ``= ANY(:array)`` rather than an expanding ``IN``)."""

    __slots__ = ("_defaults", "_expanding", "_pg", "_sql", "statement")

    def __init__(self, statement: Executable, postgresql: Executable | None = None) -> None:
        self.statement = statement
        self._pg = postgresql if postgresql is not None else statement
        self._sql: str | None = None
        self._defaults: dict[str, Any] = {}
        # a list bound as ``IN (...)`` is spelled out by SQLAlchemy per execution: such a statement
        # always goes through it
        self._expanding = any(bind.expanding for bind in self._pg.compile().binds.values())

    def _direct(self, connection: Connection) -> bool:
        dialect, dispatch = connection.dialect, connection.dispatch
        return dialect.name == "postgresql" and dialect.driver == "psycopg" and not self._expanding \
            and not dispatch.before_cursor_execute and not dispatch.after_cursor_execute

    def _compiled(self, connection: Connection) -> str:
        if self._sql is None:
            compiled = self._pg.compile(dialect=connection.dialect)
            # literal values bound in the statement itself (``Shipment.status == "IN_TRANSIT"``)
            self._defaults = {k: v for k, v in compiled.params.items() if v is not None}
            # with the values SQLAlchemy renders into the text (``literal_execute``) put in
            self._sql = compiled.construct_expanded_state(compiled.params).statement
        return self._sql

    def rows(self, connection: Connection, params: dict[str, Any]) -> list[tuple]:
        """Every row of the statement, as tuples."""
        if not self._direct(connection):
            return [tuple(row) for row in connection.execute(self.statement, params)]
        sql = self._compiled(connection)
        with connection.connection.driver_connection.cursor() as cur:
            cur.execute(sql, {**self._defaults, **params} if self._defaults else params, prepare=True)
            return cur.fetchall()

    def write(self, connection: Connection, params: list[dict[str, Any]]) -> None:
        """Run a statement that returns no rows, once per parameter set."""
        if not self._direct(connection):
            connection.execute(self.statement, params)
            return
        sql = self._compiled(connection)
        with connection.connection.driver_connection.cursor() as cur:
            if len(params) == 1:
                cur.execute(sql, params[0], prepare=True)
            else:
                cur.executemany(sql, params)
