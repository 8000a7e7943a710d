"""Serialized stock follows custody: every trace event that moves packs posts its ledger movements.

Registered with ``pharma.trace.events.subscribe`` (in ``pharma/stock/__init__.py``), so it runs in
the transaction of the trace act that recorded the event. The event's packs are counted per batch
by the database (one grouped SELECT over packs and batches), never pack by pack in Python:

| event | movement |
|---|---|
| COMMISSION | RECEIPT at the importer's location (the declaration's packs, counted through its batches) |
| SHIP | TRANSFER_OUT at the sender (RETURN for a return shipment) |
| RECEIVE | TRANSFER_IN at the receiver (only the packs received; missing ones stay in transit) |
| DECOMMISSION | WRITE_OFF with the new state as the reason |
| UNDO | ADJUSTMENT (UNDO), back in stock |
| RESOLVE_MISSING | FOUND: TRANSFER_IN at the receiver; RETURNED: TRANSFER_IN at the sender; |
|  | LOST: TRANSFER_IN (LOST) and WRITE_OFF (STOLEN) at the sender |
| DISPENSE | SALE (on a fiscal receipt) or DISPENSE (against a prescription) |
| RECALL, WITHDRAW | none: the stock stays, unsellable |

Incoming movements carry the unit cost set for them (``pharma.stock.prices.incoming_costs``): the
sender's shipment prices for RECEIVE and FOUND, the importer's declared costs for COMMISSION.

So a location's serialized balance of a batch is always the number of its ACTIVE packs of that
batch that are not travelling on a shipment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Select, func, or_, select

from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import Kind, Move, Reason
from pharma.stock.ledger import post
from pharma.stock.prices import incoming_costs
from pharma.trace.models import Batch, Declaration, Pack

CHUNK = 1000
RETAIL_DOCUMENTS = frozenset({"receipt", "fiscal_receipt", "sale"})
GROUP = (Batch.gtin, Batch.batch, Batch.expiry, Batch.expiry_raw)


def on_trace_event(uow: UnitOfWork, event_id: int, type: str, *, location_id: int | None, to_state: str | None,
                   document: tuple[str, object] | None, pack_ids: list[int] | None, packs_from: Select | None,
                   declaration_id: int | None, details: dict, at=None, **_) -> None:
    """Post the ledger movements of one trace event (see the table above)."""
    plan = _plan(type, to_state, details, document)
    if not plan or location_id is None:
        return
    s = uow.session
    if type == "COMMISSION":
        groups = _commissioned(s, declaration_id) if declaration_id is not None else []
    else:
        groups = _grouped(s, pack_ids, packs_from)
    costs = incoming_costs(s, type, details, document, declaration_id)  # {(gtin, batch or None): unit cost}
    moves = [Move(location_id, gtin, batch, expiry, expiry_raw, kind, sign * n, reason, serialized=True,
                  unit_cost=costs.get((gtin, batch), costs.get((gtin, None))) if costs and sign > 0 else None)
             for kind, sign, reason in plan for (gtin, batch, expiry, expiry_raw), n in groups]
    if moves:
        post(uow, moves, document or ("trace_event", event_id), trace_event_id=event_id, at=at)


def _plan(type: str, to_state: str | None, details: dict, document) -> list[tuple[Kind, int, str | None]]:
    if type == "COMMISSION":
        return [(Kind.RECEIPT, 1, None)]
    if type == "SHIP":  # a return shipment (to the supplier) leaves the books as a RETURN
        returning = details.get("kind") == "RETURN" or (document is not None and document[0] == "return")
        return [(Kind.RETURN if returning else Kind.TRANSFER_OUT, -1, None)]
    if type == "RECEIVE":
        return [(Kind.TRANSFER_IN, 1, None)]
    if type == "DECOMMISSION":
        return [(Kind.WRITE_OFF, -1, to_state if to_state in Reason.__members__ else Reason.OTHER)]
    if type == "UNDO":
        return [(Kind.ADJUSTMENT, 1, Reason.UNDO)]
    if type == "RESOLVE_MISSING":
        resolution = details.get("resolution")
        if resolution == "LOST":
            return [(Kind.TRANSFER_IN, 1, Reason.LOST), (Kind.WRITE_OFF, -1, Reason.STOLEN)]
        if resolution in ("FOUND", "RETURNED"):
            return [(Kind.TRANSFER_IN, 1, Reason(resolution))]
        return []
    if type == "DISPENSE":
        retail = document is not None and str(document[0]).lower() in RETAIL_DOCUMENTS
        return [(Kind.SALE if retail else Kind.DISPENSE, -1, None)]
    return []


def _grouped(s, pack_ids: Iterable[int] | None, packs_from: Select | None) -> list[tuple[tuple, int]]:
    """The event's packs counted per batch."""
    base = select(*GROUP, func.count()).select_from(Pack).join(Batch, Batch.id == Pack.batch_id).group_by(
        Batch.id, *GROUP)
    counts: dict[tuple, int] = defaultdict(int)
    if packs_from is not None:
        for *key, n in s.execute(base.where(Pack.id.in_(packs_from.scalar_subquery()))):
            counts[tuple(key)] += n
    ids = sorted(set(pack_ids or ()))
    for start in range(0, len(ids), CHUNK):
        for *key, n in s.execute(base.where(Pack.id.in_(ids[start:start + CHUNK]))):
            counts[tuple(key)] += n
    return sorted(counts.items())


def _commissioned(s, declaration_id: int) -> list[tuple[tuple, int]]:
    """A declaration's packs counted per batch, reached through its batches: the batches it created
    and those of its permit's products (a declaration may add packs to a known batch). Both are
    indexed, and so is ``packs.batch_id``: no scan of the whole packs table."""
    from pharma.permits.models import PermitLine

    permit_products = (select(PermitLine.product_id).join(Declaration, Declaration.permit_id == PermitLine.permit_id)
                       .where(Declaration.id == declaration_id))
    rows = s.execute(
        select(*GROUP, func.count()).select_from(Batch).join(Pack, Pack.batch_id == Batch.id)
        .where(or_(Batch.declaration_id == declaration_id, Batch.product_id.in_(permit_products)),
               Pack.declaration_id == declaration_id)
        .group_by(Batch.id, *GROUP))
    return sorted((tuple(key), n) for *key, n in rows)
