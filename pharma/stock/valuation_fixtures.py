"""Demo prices: the importer's import costs of the demo declaration and its selling prices on the
demo shipment (so serialized stock comes in at a purchase cost), and the demo pharmacy's retail
prices for what it holds, with an older price in the history. Written in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from pharma.parties.models import User
from pharma.shared.time import today, utcnow
from pharma.stock.models import StockBalance
from pharma.stock.prices import regulated_maximum
from pharma.stock.valuation_models import DeclarationCost, RetailPrice, ShipmentPrice

DEFAULT_PRICE = 1000  # minor units, for a product without a regulated maximum


def price_demo_shipment(session: Session, shipment_id: int, set_by: int | None = None) -> int:
    """Price every GTIN a demo shipment carries at 70% of its regulated maximum retail price."""
    from pharma.trace.models import Batch, Pack, ShipmentPack

    gtins = sorted(session.scalars(
        select(Batch.gtin).distinct().select_from(ShipmentPack).join(Pack, Pack.id == ShipmentPack.pack_id)
        .join(Batch, Batch.id == Pack.batch_id).where(ShipmentPack.shipment_id == shipment_id)))
    maxima = regulated_maximum(session, gtins, today())
    rows = [{"shipment_id": shipment_id, "gtin": gtin, "batch": None,
             "unit_price": maxima.get(gtin, DEFAULT_PRICE) * 70 // 100, "set_at": utcnow(), "set_by": set_by}
            for gtin in gtins]
    if rows:
        session.execute(insert(ShipmentPrice.__table__), rows)
    return len(rows)


def cost_demo_declaration(session: Session, declaration_id: int, set_by: int | None = None) -> int:
    """Import costs of every GTIN of a demo declaration's batches at 50% of its regulated maximum."""
    from pharma.trace.models import Batch

    gtins = sorted(session.scalars(select(Batch.gtin).distinct().where(Batch.declaration_id == declaration_id)))
    maxima = regulated_maximum(session, gtins, today())
    rows = [{"declaration_id": declaration_id, "gtin": gtin, "batch": None,
             "unit_cost": maxima.get(gtin, DEFAULT_PRICE) * 50 // 100, "set_at": utcnow(), "set_by": set_by}
            for gtin in gtins]
    if rows:
        session.execute(insert(DeclarationCost.__table__), rows)
    return len(rows)


def load_valuation_demo(session: Session) -> dict[str, int]:
    head = session.scalars(select(User).where(User.username == "headpharmacist")).one_or_none()
    if head is None or head.organisation_id is None:
        return {}
    from pharma.parties.models import Location

    b = StockBalance.__table__.c
    held = session.execute(
        select(b.gtin, func.sum(b.quantity), func.sum(b.value)).join(Location, Location.id == b.location_id)
        .where(Location.organisation_id == head.organisation_id, b.quantity > 0).group_by(b.gtin)
        .order_by(b.gtin)).all()
    if not held:
        return {}
    on = today()
    maxima = regulated_maximum(session, [g for g, _q, _v in held], on)
    now, rows = utcnow(), []
    for gtin, quantity, value in held:
        cost = int(value) // int(quantity) if quantity else 0
        price = max(cost * 135 // 100, 100) if cost else DEFAULT_PRICE
        if gtin in maxima:
            price = min(price, maxima[gtin] * 95 // 100)
        for valid_from, amount in ((on - timedelta(days=60), price * 90 // 100), (on - timedelta(days=7), price)):
            rows.append({"organisation_id": head.organisation_id, "location_id": None, "gtin": gtin,
                         "price": max(amount, 1), "valid_from": valid_from, "set_at": now, "set_by": head.id})
    session.execute(insert(RetailPrice.__table__), rows)
    return {"demo_retail_prices": len(rows)}
