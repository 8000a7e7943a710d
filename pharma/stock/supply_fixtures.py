"""Demo supply: stock levels at the demo pharmacy (the products without serials of the stock demo
and the serialized products the demo importer holds), and one request SENT from the demo pharmacy
to the demo importer for serialized packs it holds, so the importer can ship against it. Written in
the caller's transaction through the supply services (their commits only flush here)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pharma.parties.models import Location, User
from pharma.register.models import ProductGtin
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.stock import supply_services as svc
from pharma.trace.models import Batch, Pack


def _actor(user: User) -> Actor:
    return Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles, username=user.username)


def load_supply_demo(session: Session) -> dict[str, int]:
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(["pharmacist", "importer"])))}
    if len(users) < 2:
        return {}
    pharmacist, importer = users["pharmacist"], users["importer"]
    here = session.scalars(select(Location.id).where(Location.organisation_id == pharmacist.organisation_id)
                           .order_by(Location.id)).first()
    if here is None:
        return {}
    serialized = select(Batch.gtin).distinct()
    legacy = list(session.scalars(select(ProductGtin.gtin).where(ProductGtin.gtin.not_in(serialized))
                                  .order_by(ProductGtin.gtin).limit(3)))
    held = list(session.execute(
        select(Pack.gtin, func.count()).join(Location, Location.id == Pack.location_id)
        .where(Location.organisation_id == importer.organisation_id, Pack.state == "ACTIVE",
               Pack.shipment_id.is_(None)).group_by(Pack.gtin).order_by(Pack.gtin).limit(2)))
    pharmacy = UnitOfWork(session, _actor(pharmacist)).enlisted()
    levels = [svc.LevelLine(gtin, low, high) for gtin, (low, high) in zip(legacy, ((10, 40), (5, 20), (2, 8)),
                                                                          strict=False)]
    levels += [svc.LevelLine(gtin, 5, 20) for gtin, _ in held]
    if levels:
        svc.set_levels(pharmacy, svc.SetLevels(here, tuple(levels)))
    counts = {"demo_stock_levels": len(levels)}
    lines = tuple(svc.RequestLine(gtin, min(4, n)) for gtin, n in held if n)
    if lines:
        draft = svc.create_request(pharmacy, svc.NewRequest(here, lines, "Demo: weekly order"))
        svc.send_request(pharmacy, draft.id, importer.organisation_id)
        counts["demo_supply_requests"] = 1
    return counts
