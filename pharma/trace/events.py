"""Writing the append-only event history. Every change to packs goes through ``record``.

An event covers explicit packs (``pack_ids`` or ``packs_from``, a SELECT of pack ids, linked
row by row in one INSERT ... SELECT) or, for facts about many packs at once, a scope: a batch,
a product, or a declaration (its commissioned packs). Scoped events are found by the history
query through the pack's batch, product and declaration; they need no per-pack rows.

Listeners (``subscribe``) are called at the end of ``record``, in the same transaction, with the
event's id, type and arguments: other contexts keep in step with custody this way (the stock
ledger posts its movements) without trace knowing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import Select, insert, literal, select

from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace.models import TraceEvent, TraceEventPack

Listener = Callable[..., None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Call ``listener(uow, event_id, type, **arguments)`` after every recorded event (once)."""
    if listener not in _listeners:
        _listeners.append(listener)


def record(
    uow: UnitOfWork,
    type: str,
    *,
    location_id: int | None,
    to_state: str | None = None,
    reason: str | None = None,
    document: tuple[str, object] | None = None,
    pack_ids: Iterable[int] | None = None,
    packs_from: Select | None = None,
    batch_id: int | None = None,
    product_id: int | None = None,
    declaration_id: int | None = None,
    count: int | None = None,
    details: dict | None = None,
    at: datetime | None = None,
) -> int:
    """Append one event and link it to its packs; returns the event id. Runs in the caller's
    transaction (the caller commits with the change it records)."""
    actor = uow.actor
    event_id = uow.session.execute(
        insert(TraceEvent).values(
            type=type, at=at or utcnow(), organisation_id=actor.org_id, location_id=location_id,
            user_id=actor.user_id, username=actor.username or "", to_state=to_state, reason=reason,
            document_type=document[0] if document else None,
            document_id=str(document[1]) if document else None,
            batch_id=batch_id, product_id=product_id, declaration_id=declaration_id,
            count=count or 0, details=details or {},
        ).returning(TraceEvent.id)
    ).scalar_one()
    linked = 0
    if pack_ids is not None:
        pack_ids = list(pack_ids)
        rows = [{"pack_id": pid, "event_id": event_id} for pid in pack_ids]
        if rows:
            uow.session.execute(insert(TraceEventPack), rows)
        linked = len(rows)
    if packs_from is not None:
        sub = packs_from.subquery()
        result = uow.session.execute(
            insert(TraceEventPack).from_select(["pack_id", "event_id"], select(sub.c[0], literal(event_id)))
            .execution_options(preserve_rowcount=True)  # INSERT ... SELECT counts only when asked to
        )
        linked += result.rowcount or 0
    if count is None and linked:
        uow.session.execute(
            TraceEvent.__table__.update().where(TraceEvent.id == event_id).values(count=linked))
    for listener in _listeners:
        listener(uow, event_id, str(type), location_id=location_id, to_state=to_state, reason=reason,
                 document=document, pack_ids=pack_ids, packs_from=packs_from, batch_id=batch_id,
                 product_id=product_id, declaration_id=declaration_id, details=details or {}, at=at)
    return event_id
