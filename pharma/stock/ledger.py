"""The ledger: post movements and keep the balances in step, in the caller's transaction.

``post`` is the one place that writes ``stock_movements`` and ``stock_balances``. It locks the
balance rows it touches in key order (location, GTIN, batch), so two acts on the same batches
queue up and never deadlock; applies the movements in order to the locked quantities and values
(weighted-average cost, see ``pharma.stock.domain``; FIFO cost layers for the organisations that
chose it, see ``pharma.stock.valuation``); refuses the whole post with
INSUFFICIENT_STOCK when any balance would go below zero; then writes in bulk: an executemany
UPDATE of the existing balances (by delta, guarded by ``quantity + delta >= 0`` and its row count
checked), one upsert of new balances, one INSERT of the movements; on PostgreSQL many rows go as
one UPDATE ... FROM unnest, one INSERT ... SELECT FROM unnest ... ON CONFLICT, and a COPY. The CHECK
``quantity >= 0`` is the last line behind it.

Two tills selling the last unit: both lock the balance row; the second waits, then reads 0 and
is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import ExpiryMismatch, InsufficientStock, Move, value_out
from pharma.stock.models import StockBalance, StockMovement
from pharma.stock.valuation import fifo_book

LOCK_CHUNK = 300  # keys per IN list (three parameters each)
BULK_ROWS = 50  # from here on PostgreSQL gets COPY and arrays instead of a statement per row
UNNEST_CHUNK = 10_000
MOVEMENT_COLUMNS = ("location_id", "gtin", "batch", "expiry", "expiry_raw", "kind", "reason", "quantity", "unit_cost",
                    "value", "document_type", "document_id", "trace_event_id", "serialized", "created_at", "user_id",
                    "organisation_id")
BALANCES = StockBalance.__table__
MOVEMENTS = StockMovement.__table__
Key = tuple[int, str, str]


class Held:
    """A locked balance row as read: its id, quantity, value, expiry and whether it is serialized."""

    __slots__ = ("expiry", "expiry_raw", "id", "quantity", "serialized", "value")

    def __init__(self, id, quantity, value, expiry, expiry_raw, serialized) -> None:
        self.id, self.quantity, self.value = id, quantity, value
        self.expiry, self.expiry_raw, self.serialized = expiry, expiry_raw, serialized


def lock_balances(s: Session, keys: Sequence[Key]) -> dict[Key, Held]:
    """Lock the existing balance rows of these keys (in key order) and read them."""
    keys = sorted(set(keys))
    held: dict[Key, Held] = {}
    b = BALANCES.c
    if _pg_bulk(s, keys):
        rows = s.execute(text(
            "SELECT b.id, b.location_id, b.gtin, b.batch, b.quantity, b.value, b.expiry, b.expiry_raw, b.serialized "
            "FROM stock_balances AS b JOIN unnest(CAST(:locs AS integer[]), CAST(:gtins AS text[]),"
            " CAST(:batches AS text[])) AS k(location_id, gtin, batch)"
            " ON b.location_id = k.location_id AND b.gtin = k.gtin AND b.batch = k.batch "
            "ORDER BY b.location_id, b.gtin, b.batch FOR UPDATE OF b"),
            {"locs": [k[0] for k in keys], "gtins": [k[1] for k in keys], "batches": [k[2] for k in keys]})
        return {(r.location_id, r.gtin, r.batch): Held(r.id, r.quantity, r.value, r.expiry, r.expiry_raw, r.serialized)
                for r in rows}
    for start in range(0, len(keys), LOCK_CHUNK):
        chunk = keys[start:start + LOCK_CHUNK]
        where = (tuple_(b.location_id, b.gtin, b.batch).in_(chunk) if len(chunk) > 1 else
                 (b.location_id == chunk[0][0]) & (b.gtin == chunk[0][1]) & (b.batch == chunk[0][2]))
        for row in s.execute(
                select(b.id, b.location_id, b.gtin, b.batch, b.quantity, b.value, b.expiry, b.expiry_raw,
                       b.serialized)
                .where(where).order_by(b.location_id, b.gtin, b.batch).with_for_update()):
            held[(row.location_id, row.gtin, row.batch)] = Held(row.id, row.quantity, row.value, row.expiry,
                                                                row.expiry_raw, row.serialized)
    return held


def post(uow: UnitOfWork, moves: Sequence[Move], document: tuple[str, object], *,
         trace_event_id: int | None = None, at: datetime | None = None,
         held: dict[Key, Held] | None = None) -> list[dict]:
    """Append ``moves`` to the ledger and change the balances with them; all or nothing. ``held``:
    the balance rows the caller has locked already (for every key of ``moves``). Returns the
    movement rows written. Does not commit."""
    if not moves:
        return []
    s = uow.session
    now = at or utcnow()
    keys = sorted({m.key for m in moves})
    if held is None:
        held = lock_balances(s, keys)
    state = {k: [held[k].quantity, held[k].value] if k in held else [0, 0] for k in keys}
    expiries = {k: held[k].expiry for k in keys if k in held}
    fifo = fifo_book(s, keys, state, now)  # FIFO valuation (pharma.stock.valuation): None for weighted average
    actor = uow.actor
    doc_type, doc_id = document[0], str(document[1])[:64]
    rows: list[dict] = []
    shortages: list[dict] = []
    for m in moves:
        q, v = state[m.key]
        if m.quantity > 0:
            known = expiries.setdefault(m.key, m.expiry)
            if known != m.expiry:
                raise ExpiryMismatch(f"Batch {m.batch} of {m.gtin} is kept here with expiry {known.isoformat()},"
                                     f" not {m.expiry.isoformat()}.")
            moved = m.quantity * (m.unit_cost or 0)
            if fifo is not None and m.key in fifo:
                fifo.add(m.key, m.quantity, m.unit_cost or 0, now)
        else:
            if -m.quantity > q:
                shortages.append({"location_id": m.location_id, "gtin": m.gtin, "batch": m.batch,
                                  "wanted": -m.quantity, "on_hand": q})
                continue
            moved = -(fifo.take(m.key, -m.quantity) if fifo is not None and m.key in fifo
                      else value_out(q, v, -m.quantity))
        state[m.key] = [q + m.quantity, v + moved]
        rows.append({"location_id": m.location_id, "gtin": m.gtin, "batch": m.batch, "expiry": m.expiry,
                     "expiry_raw": m.expiry_raw, "kind": str(m.kind), "reason": str(m.reason) if m.reason else None,
                     "quantity": m.quantity, "unit_cost": m.unit_cost, "value": moved, "document_type": doc_type,
                     "document_id": doc_id, "trace_event_id": trace_event_id, "serialized": m.serialized,
                     "created_at": now, "user_id": actor.user_id, "organisation_id": actor.org_id})
    if shortages:
        first = shortages[0]
        raise InsufficientStock(
            f"Only {first['on_hand']} of batch {first['batch']} ({first['gtin']}) on hand; {first['wanted']} wanted.",
            shortages=shortages[:100])

    changed, new = [], []
    first_move = {}
    for m in moves:
        first_move.setdefault(m.key, m)
    for k in keys:
        q, v = state[k]
        if k in held:
            dq, dv = q - held[k].quantity, v - held[k].value
            if dq or dv:
                changed.append({"b_id": held[k].id, "dq": dq, "dv": dv, "now": now})
        elif q or v:
            m = first_move[k]
            new.append({"location_id": k[0], "gtin": k[1], "batch": k[2], "expiry": m.expiry,
                        "expiry_raw": m.expiry_raw, "serialized": m.serialized, "quantity": q, "value": v,
                        "updated_at": now})
    if changed and _update_balances(s, changed, now) != len(changed):
        raise InsufficientStock("The stock changed meanwhile; try again.")
    if new:
        _insert_balances(s, new)
    if fifo is not None:
        fifo.write(s)
    _insert_movements(s, rows)
    return rows


def _pg_bulk(s: Session, rows: list) -> bool:
    return len(rows) >= BULK_ROWS and s.get_bind().dialect.name == "postgresql"


def _insert_movements(s: Session, rows: list[dict]) -> None:
    """Many rows on PostgreSQL: COPY on the session's connection (in its transaction); else INSERT."""
    if not _pg_bulk(s, rows):
        s.execute(_INSERT_MOVEMENTS, rows)
        return
    cursor = s.connection().connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY stock_movements ({', '.join(MOVEMENT_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in MOVEMENT_COLUMNS])


def _insert_balances(s: Session, rows: list[dict]) -> None:
    """Insert new balance rows; one inserted meanwhile by another transaction gets the delta added."""
    if not _pg_bulk(s, rows):
        s.execute(_upsert(s), rows)
        return
    cols = ("location_id", "gtin", "batch", "expiry", "expiry_raw", "serialized", "quantity", "value")
    types = ("integer", "text", "text", "date", "text", "boolean", "integer", "bigint")
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(cols, types, strict=True))
    s.execute(text(
        f"INSERT INTO stock_balances ({', '.join(cols)}, updated_at) "
        f"SELECT *, CAST(:now AS timestamptz) FROM unnest({arrays}) "
        "ON CONFLICT (location_id, gtin, batch) DO UPDATE SET quantity = stock_balances.quantity + excluded.quantity,"
        " value = stock_balances.value + excluded.value, updated_at = excluded.updated_at"),
        {**{c: [r[c] for r in rows] for c in cols}, "now": rows[0]["updated_at"]})


def _update_balances(s: Session, changed: list[dict], now: datetime) -> int:
    """Add the deltas to the balance rows, each guarded by ``quantity + delta >= 0``; returns the rows
    changed. On PostgreSQL many rows go in one statement (UPDATE ... FROM unnest of arrays)."""
    if len(changed) > 1 and s.get_bind().dialect.name == "postgresql":
        total = 0
        for start in range(0, len(changed), UNNEST_CHUNK):
            part = changed[start:start + UNNEST_CHUNK]
            total += s.execute(text(
                "UPDATE stock_balances AS b SET quantity = b.quantity + d.dq, value = b.value + d.dv,"
                " updated_at = :now "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:dqs AS integer[]), CAST(:dvs AS bigint[])) AS d(id, dq, dv) "
                "WHERE b.id = d.id AND b.quantity + d.dq >= 0"
            ).bindparams(bindparam("now", type_=BALANCES.c.updated_at.type)),
                {"ids": [c["b_id"] for c in part], "dqs": [c["dq"] for c in part], "dvs": [c["dv"] for c in part],
                 "now": now}).rowcount
        return total
    return s.execute(_ADD_TO_BALANCE, changed).rowcount


_ADD_TO_BALANCE = (
    update(BALANCES).where(BALANCES.c.id == bindparam("b_id"), BALANCES.c.quantity + bindparam("dq") >= 0)
    .values(quantity=BALANCES.c.quantity + bindparam("dq"), value=BALANCES.c.value + bindparam("dv"),
            updated_at=bindparam("now")))
_INSERT_MOVEMENTS = insert(MOVEMENTS)


def _upsert(s: Session):
    dialect = s.get_bind().dialect.name
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(BALANCES)
    return stmt.on_conflict_do_update(
        index_elements=["location_id", "gtin", "batch"],
        set_={"quantity": BALANCES.c.quantity + stmt.excluded.quantity,
              "value": BALANCES.c.value + stmt.excluded.value, "updated_at": stmt.excluded.updated_at})
