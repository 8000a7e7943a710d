"""Helpers for the stock tests: legacy (non-serialized) products, receipts, and the invariant that
serialized stock and custody agree."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlalchemy import func, select

from pharma.stock.models import StockBalance, StockMovement
from pharma.trace.models import Batch, Pack
from tests.integration.trace_helpers import product

API = "/api/v1/stock"
TODAY = date.today()


def legacy_product(make, name: str = "Paracetamol EAN") -> str:
    """A registered product sold without serials; returns its GTIN-14."""
    return product(make, name)[1]


def receipt_line(gtin: str, batch: str, quantity: int, unit_cost: int = 100, days: int = 400) -> dict:
    return {"gtin": gtin, "batch": batch, "expiry": (TODAY + timedelta(days=days)).isoformat(),
            "quantity": quantity, "unit_cost": unit_cost}


def receive(client, caller, location_id: int, *lines: dict, document: str = "INV-1"):
    return client.post(f"{API}/receipts", headers=caller.headers,
                       json={"location_id": location_id, "document": document, "lines": list(lines)})


def issue(client, caller, location_id: int, *lines: dict, kind: str = "SALE", document: str = "FD-1"):
    return client.post(f"{API}/issues", headers=caller.headers,
                       json={"location_id": location_id, "kind": kind, "document": document, "lines": list(lines)})


def on_hand(session, location_id: int) -> dict[tuple[str, str], int]:
    """Balances with stock at a location: {(gtin, batch): quantity}."""
    session.commit()  # a fresh snapshot: the requests committed in their own sessions
    session.expire_all()
    return {(b.gtin, b.batch): b.quantity for b in session.scalars(
        select(StockBalance).where(StockBalance.location_id == location_id, StockBalance.quantity > 0))}


def assert_stock_in_step(session) -> None:
    """Every location's serialized balance of a batch is the number of its ACTIVE packs of that batch
    not travelling on a shipment; and every balance is the sum of its ledger movements."""
    session.commit()  # a fresh snapshot: the requests committed in their own sessions
    session.expire_all()
    held = Counter({(loc, gtin, lot): n for loc, gtin, lot, n in session.execute(
        select(Pack.location_id, Batch.gtin, Batch.batch, func.count()).join(Batch, Batch.id == Pack.batch_id)
        .where(Pack.state == "ACTIVE", Pack.shipment_id.is_(None), Pack.location_id.is_not(None))
        .group_by(Pack.location_id, Batch.gtin, Batch.batch))})
    balances = {(b.location_id, b.gtin, b.batch): b for b in session.scalars(select(StockBalance))}
    serialized = Counter({k: b.quantity for k, b in balances.items() if b.serialized and b.quantity})
    assert serialized == held
    ledger = {(loc, gtin, lot): (q, v) for loc, gtin, lot, q, v in session.execute(
        select(StockMovement.location_id, StockMovement.gtin, StockMovement.batch, func.sum(StockMovement.quantity),
               func.sum(StockMovement.value))
        .group_by(StockMovement.location_id, StockMovement.gtin, StockMovement.batch))}
    assert {k: (b.quantity, b.value) for k, b in balances.items()} == {
        k: (q, v) for k, (q, v) in ledger.items() if k in balances or q or v}
