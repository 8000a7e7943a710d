"""Demo expiry: a batch expiring within 30 days at the demo pharmacy (next to the stock demo's
batches at 45 days and the expired one), then the expiry scan, so the expiry list is not empty.
Written in the caller's transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.models import Location, User
from pharma.register.models import ProductGtin
from pharma.shared.actor import Actor
from pharma.shared.time import today, utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import Kind, Move, expiry_raw_of
from pharma.stock.expiry import mark_expiry
from pharma.stock.ledger import post
from pharma.trace.models import Batch


def load_expiry_demo(session: Session) -> dict[str, int]:
    user = session.scalars(select(User).where(User.username == "pharmacist")).one_or_none()
    if user is None:
        return {}
    here = session.scalars(select(Location.id).where(Location.organisation_id == user.organisation_id)
                           .order_by(Location.id)).first()
    gtin = session.scalars(select(ProductGtin.gtin).where(ProductGtin.gtin.not_in(select(Batch.gtin).distinct()))
                           .order_by(ProductGtin.gtin).offset(1)).first()
    if here is None or gtin is None:
        return {}
    on = today()
    uow = UnitOfWork(session, Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles,
                                    username=user.username))
    soon = on + timedelta(days=12)
    post(uow, [Move(here, gtin, "EAN-S1", soon, expiry_raw_of(soon), Kind.RECEIPT, 8, unit_cost=215)],
         ("supplier_invoice", "INV-DEMO-EXP"), at=utcnow() - timedelta(days=60))
    result = mark_expiry(session, on)
    return {"demo_expiry_notices": sum(result.bands.values())}
