"""The unit of work: one transaction per act, with its audit entries written inside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from sqlalchemy.orm import Session

from pharma.shared.actor import Actor


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


class UnitOfWork:
    """``with uow: ...; uow.commit()``: leaving the block without commit rolls back."""

    def __init__(
        self,
        session: Session,
        actor: Actor,
        request_id: str | None = None,
        address: str | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.request_id = request_id
        self.address = address
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        self._committed = False
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._committed:
            self.session.rollback()

    def commit(self) -> None:
        self.session.commit()
        self._committed = True

    def enlisted(self) -> UnitOfWork:
        """This unit's transaction lent to another act (a trace act run inside a stock act): the
        borrower's ``with`` and ``commit`` only flush, so its refusal rolls back both acts and this
        unit alone commits them together."""
        return _Enlisted(self)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """The statements of the block in one transaction, also when the session reads in
        autocommit mode (see ``pharma.shared.http.autocommit_reads``): then the block opens and
        commits (or rolls back) its own transaction on the session's connection. In a session
        with a transaction already, the block is simply part of it."""
        connection = self.session.connection()
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            yield
            return
        connection.exec_driver_sql("BEGIN")
        try:
            yield
            self.session.flush()
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")

    def audit(self, action: str, object_type: str, object_id, change: dict | None = None,
              count: int = 1) -> None:
        """Record who did what to which object, in this transaction."""
        from pharma.auditlog.models import AuditEntry

        self.session.add(
            AuditEntry(
                user_id=self.actor.user_id,
                device_id=self.actor.device_id,
                organisation_id=self.actor.org_id,
                username=self.actor.username,
                action=action,
                object_type=object_type,
                object_id=str(object_id),
                request_id=self.request_id,
                change=_jsonable(change or {}),
                address=self.address,
                count=count,
            )
        )


class _Enlisted(UnitOfWork):
    def __init__(self, outer: UnitOfWork) -> None:
        super().__init__(outer.session, outer.actor, outer.request_id, outer.address)

    def __exit__(self, exc_type, exc, tb) -> None:
        return None  # the lender rolls back

    def commit(self) -> None:
        self.session.flush()
        self._committed = True
