"""Demo count: an open count at the demo pharmacy with a few lines recorded by the pharmacist (one
batch as expected, one short by a unit, one serialized pack scanned), ready to be finished, submitted
and approved by the head pharmacist. Written in the caller's transaction (pharma/fixtures.py commits)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.models import Location, User
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.stock import counts as svc
from pharma.stock.counts_models import StockCountLine
from pharma.trace.models import Batch, Pack


def load_count_demo(session: Session) -> dict[str, int]:
    user = session.scalars(select(User).where(User.username == "pharmacist")).one_or_none()
    if user is None:
        return {}
    here = session.scalars(select(Location.id).where(Location.organisation_id == user.organisation_id)
                           .order_by(Location.id)).first()
    if here is None:
        return {}
    uow = UnitOfWork(session, Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles,
                                    username=user.username)).enlisted()
    count = svc.open_count(uow, svc.OpenCount(here, note="Demo: monthly count of the shelves"))
    plain = session.execute(select(StockCountLine.gtin, StockCountLine.batch, StockCountLine.expected)
                            .where(StockCountLine.count_id == count["id"], StockCountLine.serialized.is_(False),
                                   StockCountLine.expected > 0)
                            .order_by(StockCountLine.gtin, StockCountLine.batch).limit(2)).all()
    lines = tuple(svc.CountedLine(r.gtin, r.batch, r.expected - i) for i, r in enumerate(plain))
    pack = session.execute(select(Pack.gtin, Pack.serial, Batch.batch, Batch.expiry_raw)
                           .join(Batch, Batch.id == Pack.batch_id)
                           .where(Pack.location_id == here, Pack.state == "ACTIVE", Pack.shipment_id.is_(None))
                           .order_by(Pack.id).limit(1)).first()
    scans = (svc.CountScan(f"01{pack.gtin}17{pack.expiry_raw}10{pack.batch}\x1d21{pack.serial}"),) if pack else ()
    if lines or scans:
        svc.record_lines(uow, count["id"], svc.RecordLines(lines, scans))
    return {"demo_counts": 1}
