"""Demo stock: products without serials received at the demo pharmacy in a few batches (one of
them expired), a sale picked FEFO and a write-off; the serialized demo packs are already in the
ledger through their trace events. Written in the caller's transaction (pharma/fixtures.py commits).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.models import Location, User
from pharma.register.models import ProductGtin
from pharma.shared.actor import Actor
from pharma.shared.time import today, utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import Kind, Move, Reason, expiry_raw_of
from pharma.stock.ledger import post
from pharma.trace.models import Batch

# (batch, days to expiry, quantity, unit cost in minor units)
LOTS = (("EAN-A1", 45, 12, 180), ("EAN-A2", 400, 30, 195), ("EAN-X0", -20, 4, 170))


def load_stock_demo(session: Session) -> dict[str, int]:
    user = session.scalars(select(User).where(User.username == "pharmacist")).one_or_none()
    if user is None:
        return {}
    here = session.scalars(select(Location.id).where(Location.organisation_id == user.organisation_id)
                           .order_by(Location.id)).first()
    serialized = select(Batch.gtin).distinct()
    gtins = list(session.scalars(select(ProductGtin.gtin).where(ProductGtin.gtin.not_in(serialized))
                                 .order_by(ProductGtin.gtin).limit(3)))
    if here is None or not gtins:
        return {}
    uow = UnitOfWork(session, Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles,
                                    username=user.username))
    now, on = utcnow(), today()
    moves = [Move(here, gtin, f"{lot}-{i}", on + timedelta(days=days), expiry_raw_of(on + timedelta(days=days)),
                  Kind.RECEIPT, quantity, unit_cost=cost + 40 * i)
             for i, gtin in enumerate(gtins) for lot, days, quantity, cost in LOTS]
    posted = post(uow, moves, ("supplier_invoice", "INV-DEMO-1"), at=now - timedelta(days=5))
    first = gtins[0]
    soon = next(m for m in moves if m.gtin == first and m.batch.startswith("EAN-A1"))
    posted += post(uow, [Move(here, first, soon.batch, soon.expiry, soon.expiry_raw, Kind.SALE, -3)],
                   ("receipt", "FD-DEMO-1"), at=now - timedelta(days=1))
    old = next(m for m in moves if m.gtin == gtins[-1] and m.batch.startswith("EAN-X0"))
    posted += post(uow, [Move(here, old.gtin, old.batch, old.expiry, old.expiry_raw, Kind.WRITE_OFF, -1,
                              Reason.DAMAGED)], ("write_off_act", "WO-DEMO-2"), at=now - timedelta(hours=3))
    session.flush()
    from pharma.stock.counts_fixtures import load_count_demo
    from pharma.stock.documents_fixtures import load_documents_demo
    from pharma.stock.expiry_fixtures import load_expiry_demo
    from pharma.stock.supply_fixtures import load_supply_demo
    from pharma.stock.valuation_fixtures import load_valuation_demo

    return {"demo_stock_movements": len(posted), **load_expiry_demo(session), **load_supply_demo(session),
            **load_valuation_demo(session), **load_documents_demo(session),
            **load_count_demo(session)}
