"""Demo packs: a declaration commissioned against the demo importer's approved permit, a
delivery to the demo pharmacy received there, one pack destroyed, and a recalled batch.

Written in the caller's transaction (pharma/fixtures.py commits), with the events the real
acts would have written, so the pack page and the EPCIS export have a history to show.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from pharma.parties.models import Location, Organisation, User
from pharma.permits.models import ImportPermit, PermitLine
from pharma.register.models import ProductGtin
from pharma.shared.actor import Actor
from pharma.shared.identifiers import gs1_check_digit
from pharma.shared.time import today, utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace import events
from pharma.trace.domain import EventType
from pharma.trace.models import Batch, Case, Declaration, Pack, Shipment, ShipmentPack

PACKS_PER_BATCH = 60
PER_CASE = 20
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def serial(n: int) -> str:
    """A demo serial that looks like a real one: 12 characters from a digest of ``n``."""
    digest = hashlib.sha256(f"demo-{n}".encode()).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:12])


def sscc(n: int) -> str:
    body = f"0476000{n:010d}"
    return body + str(gs1_check_digit(body))


def _actor(session: Session, username: str) -> Actor:
    user = session.scalars(select(User).where(User.username == username)).one()
    return Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles, username=username)


def load_trace_demo(session: Session) -> dict[str, int]:
    importer = _actor(session, "importer")
    pharmacist = _actor(session, "pharmacist")
    permit = session.scalars(select(ImportPermit).where(ImportPermit.importer_id == importer.org_id,
                                                        ImportPermit.status == "APPROVED")
                             .order_by(ImportPermit.id)).first()
    if permit is None:
        return {}
    warehouse = session.scalars(select(Location).where(Location.organisation_id == importer.org_id)).first()
    pharmacy = session.scalars(select(Location).join(Organisation)
                               .where(Organisation.id == pharmacist.org_id).order_by(Location.id)).first()
    lines = list(session.scalars(select(PermitLine).where(PermitLine.permit_id == permit.id)
                                 .order_by(PermitLine.id)))[:2]
    now = utcnow()
    declaration = Declaration(number=f"DCL-{now.year}-DEMO1", importer_id=importer.org_id, permit_id=permit.id,
                              location_id=warehouse.id, status="ACCEPTED", source_format="csv",
                              filename="demo-arrival.csv", created_by=importer.user_id, started_at=now,
                              finished_at=now)
    session.add(declaration)
    session.flush()
    expiry = today() + timedelta(days=730)
    packs: list[dict] = []
    batches: list[int] = []
    n = 0
    for k, line in enumerate(lines):
        gtin = session.scalars(select(ProductGtin.gtin).where(ProductGtin.product_id == line.product_id)).first()
        batch = Batch(gtin=gtin, batch=f"AZD{24 + k}{k + 1:03d}", expiry_raw=expiry.strftime("%y%m%d"),
                      expiry=expiry, manufactured_on=today() - timedelta(days=120), product_id=line.product_id,
                      declaration_id=declaration.id)
        session.add(batch)
        session.flush()
        batches.append(batch.id)
        for i in range(PACKS_PER_BATCH):
            if i % PER_CASE == 0:
                case = Case(sscc=sscc(n // PER_CASE + 1), declaration_id=declaration.id, location_id=warehouse.id)
                session.add(case)
                session.flush()
            n += 1
            packs.append({"gtin": gtin, "serial": serial(n), "batch_id": batch.id, "declaration_id": declaration.id,
                          "case_id": case.id, "location_id": warehouse.id, "state": "ACTIVE",
                          "state_changed_at": now, "state_location_id": warehouse.id})
        session.execute(update(PermitLine).where(PermitLine.id == line.id)
                        .values(packs_used=PermitLine.packs_used + PACKS_PER_BATCH))
    session.execute(insert(Pack), packs)
    declaration.packs_total = declaration.packs_done = len(packs)
    as_importer = UnitOfWork(session, importer)
    from pharma.stock.valuation_fixtures import cost_demo_declaration, price_demo_shipment  # purchase costs

    cost_demo_declaration(session, declaration.id, importer.user_id)
    events.record(as_importer, EventType.COMMISSION, location_id=warehouse.id, to_state="ACTIVE",
                  declaration_id=declaration.id, count=len(packs), document=("declaration", declaration.number),
                  at=now - timedelta(days=6))
    # the first case of each batch goes to the demo pharmacy and is received there
    shipped = list(session.scalars(select(Pack.id).join(Case, Case.id == Pack.case_id)
                                   .where(Pack.declaration_id == declaration.id,
                                          Case.sscc.in_([sscc(1), sscc(PACKS_PER_BATCH // PER_CASE + 1)]))
                                   .order_by(Pack.id)))
    shipment = Shipment(number=f"SH-{now.year}-DEMO1", from_location_id=warehouse.id, to_location_id=pharmacy.id,
                        status="RECEIVED", packs_count=len(shipped), shipped_at=now - timedelta(days=3),
                        shipped_by=importer.user_id, received_at=now - timedelta(days=2),
                        received_by=pharmacist.user_id, discrepancies={"missing": 0, "extra": 0, "damaged": 0})
    session.add(shipment)
    session.flush()
    session.execute(insert(ShipmentPack), [{"shipment_id": shipment.id, "pack_id": p, "outcome": "RECEIVED"}
                                           for p in shipped])
    session.execute(update(Pack).where(Pack.id.in_(shipped)).values(location_id=pharmacy.id))
    session.execute(update(Case).where(Case.sscc.in_([sscc(1), sscc(PACKS_PER_BATCH // PER_CASE + 1)]))
                    .values(location_id=pharmacy.id))
    doc = ("shipment", shipment.number)
    events.record(as_importer, EventType.SHIP, location_id=warehouse.id, pack_ids=shipped, document=doc,
                  at=now - timedelta(days=3))
    price_demo_shipment(session, shipment.id, importer.user_id)
    events.record(UnitOfWork(session, pharmacist), EventType.RECEIVE, location_id=pharmacy.id, pack_ids=shipped,
                  document=doc, at=now - timedelta(days=2))
    # one pack broke at the pharmacy
    broken = shipped[-1]
    session.execute(update(Pack).where(Pack.id == broken).values(
        state="DESTROYED", state_changed_at=now - timedelta(days=1), state_location_id=pharmacy.id,
        state_org_id=pharmacist.org_id))
    events.record(UnitOfWork(session, pharmacist), EventType.DECOMMISSION, location_id=pharmacy.id,
                  to_state="DESTROYED", reason="Dropped and broken at the counter", pack_ids=[broken],
                  document=("act", "WO-DEMO-1"), at=now - timedelta(days=1))
    # the regulator recalled the second batch
    regulator = _actor(session, "regulator")
    session.execute(update(Batch).where(Batch.id == batches[-1]).values(
        recalled_at=now, recall_reason="Out-of-specification dissolution results"))
    events.record(UnitOfWork(session, regulator), EventType.RECALL, location_id=None, batch_id=batches[-1],
                  reason="Out-of-specification dissolution results", document=("recall", f"RC-{now.year}-DEMO1"))
    session.flush()
    return {"demo_packs": len(packs), "demo_shipments": 1}
