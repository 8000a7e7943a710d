"""Demo stock documents at the demo pharmacy: a confirmed write-off act (an expired batch without
serials; the demo's packs keep their states) and a return of a pack and a few units, sent to the
importer that delivered the pack.

Written through the services in the caller's transaction (``UnitOfWork.enlisted``: their commits only flush);
each document in a savepoint, so demo data that does not fit leaves it out instead of failing the load.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.models import Location, User
from pharma.shared.actor import Actor
from pharma.shared.errors import PharmaError
from pharma.shared.time import today
from pharma.shared.uow import UnitOfWork
from pharma.stock import acts, returns
from pharma.stock.documents import AddLines, BatchLine, PackLine
from pharma.stock.models import StockBalance
from pharma.trace.models import Batch, Pack, Shipment, ShipmentPack


def _uow(session: Session, username: str) -> UnitOfWork | None:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        return None
    return UnitOfWork(session, Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles,
                                     username=user.username)).enlisted()


def _packs(session: Session, location_id: int, n: int) -> list[PackLine]:
    """Active, unexpired, not recalled packs here that came on a received delivery (the last ones: the demo's
    first packs keep their plain history)."""
    rows = session.execute(
        select(Pack.gtin, Pack.serial).join(ShipmentPack, ShipmentPack.pack_id == Pack.id)
        .join(Shipment, Shipment.id == ShipmentPack.shipment_id).join(Batch, Batch.id == Pack.batch_id)
        .where(Batch.recalled_at.is_(None), Batch.expiry >= today(), Pack.location_id == location_id,
               Pack.shipment_id.is_(None), Pack.state == "ACTIVE",
               Shipment.to_location_id == location_id, ShipmentPack.outcome == "RECEIVED")
        .order_by(Pack.id.desc()).limit(n))
    return [PackLine(gtin, serial) for gtin, serial in rows]


def _batch(session: Session, location_id: int, expired: bool) -> BatchLine | None:
    b = StockBalance
    where = [b.location_id == location_id, b.serialized.is_(False), b.quantity > 1,
             b.expiry < today() if expired else b.expiry >= today()]
    row = session.execute(select(b.gtin, b.batch, b.quantity).where(*where).order_by(b.expiry, b.id).limit(1)).first()
    return BatchLine(row.gtin, row.batch, 1 if not expired else row.quantity - 1) if row else None


def load_documents_demo(session: Session) -> dict[str, int]:
    pharmacist = _uow(session, "pharmacist")
    if pharmacist is None:
        return {}
    here = session.scalars(select(Location.id).where(Location.organisation_id == pharmacist.actor.org_id)
                           .order_by(Location.id)).first()
    if here is None:
        return {}
    head = _uow(session, "headpharmacist")
    counts = {}
    packs = _packs(session, here, 1)
    expired = _batch(session, here, expired=True)
    if expired:
        try:
            with session.begin_nested():
                act = acts.create_act(pharmacist, acts.NewAct(here, "EXPIRED", "Expired on the shelf; destroyed"))
                acts.add_act_lines(pharmacist, act.id, AddLines(batches=(expired,)))
                acts.confirm_act(head if head and head.actor.org_id == pharmacist.actor.org_id else
                                 UnitOfWork(session, Actor.system("fixtures")).enlisted(), act.id)
            counts["demo_write_off_acts"] = 1
        except PharmaError:
            pass
    current = _batch(session, here, expired=False)
    if packs:
        try:
            with session.begin_nested():
                ret = returns.create_return(pharmacist, returns.NewReturn(here, "DAMAGED", "Crushed outer box"))
                returns.add_return_lines(pharmacist, ret.id, AddLines(packs=tuple(packs)))
                if current is not None and ret.supplier_location_id is not None:
                    returns.add_return_lines(pharmacist, ret.id, AddLines(batches=(current,)))
                returns.send_return(pharmacist, ret.id)
            counts["demo_returns"] = 1
        except PharmaError:
            pass
    return counts
