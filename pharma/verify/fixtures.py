"""Demo verifications at the demo pharmacy's counter: genuine packs, and the cases they raise for
the regulator's queue (an unknown serial seen twice, a copied serial with another batch, a pack its
importer never shipped), one of them already under investigation.

Written in the caller's transaction (pharma/fixtures.py commits), through the same service the API
uses, so the demo's cases and sightings are what real scans would have made."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pharma.parties.models import Location, User
from pharma.shared.actor import Actor
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace.models import Batch, Pack
from pharma.verify.models import Alert
from pharma.verify.services import Scan, VerifyScans, record_verifications

GS = "\x1d"


def _scan(gtin: str, serial: str, batch: str, expiry: str) -> Scan:
    return Scan(f"]d201{gtin}17{expiry}10{batch}{GS}21{serial}")


def load_verify_demo(session: Session) -> dict[str, int]:
    user = session.scalars(select(User).where(User.username == "pharmacist")).one()
    counter = session.scalars(select(Location).where(Location.organisation_id == user.organisation_id)
                              .order_by(Location.id)).first()
    packs = session.execute(
        select(Pack.gtin, Pack.serial, Batch.batch, Batch.expiry_raw, Pack.location_id)
        .join(Batch, Batch.id == Pack.batch_id).where(Pack.state == "ACTIVE", Batch.recalled_at.is_(None))
        .order_by(Pack.id)).all()
    here = [p for p in packs if p.location_id == counter.id]
    warehouse = [p for p in packs if p.location_id != counter.id]
    if not here or not warehouse:
        return {}
    genuine = [_scan(*p[:4]) for p in here[:5]]
    first = here[0]
    scans = (*genuine, _scan(first.gtin, "DEMOFAKE0001", first.batch, first.expiry_raw),
             _scan(first.gtin, "DEMOFAKE0001", first.batch, first.expiry_raw),
             _scan(first.gtin, here[1].serial, "FAKE01", first.expiry_raw), _scan(*warehouse[0][:4]))
    actor = Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles, username=user.username)
    results = record_verifications(UnitOfWork(session, actor), VerifyScans(scans, counter.gln))
    investigated = next(r.alert_id for r in results if r.alert_id)
    regulator = session.scalar(select(User.id).where(User.username == "regulator"))
    session.execute(update(Alert).where(Alert.id == investigated).values(
        status="INVESTIGATING", investigated_at=utcnow(), investigated_by=regulator))
    session.flush()
    return {"demo_verifications": len(results), "demo_alerts": len({r.alert_id for r in results if r.alert_id})}
