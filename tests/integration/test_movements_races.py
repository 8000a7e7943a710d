"""Races on PostgreSQL, with real threads and separate sessions: one pack, one winner."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pharma.shared.errors import PharmaError
from pharma.shared.uow import UnitOfWork
from pharma.trace import movements as svc
from pharma.trace.missing import ResolveMissing, resolve_missing
from pharma.trace.models import Pack, Shipment, ShipmentPack, TraceEvent
from tests.integration.trace_helpers import licensed, received_with_missing, stock

pytestmark = pytest.mark.postgres_only


def race(acts) -> list:
    """Run each act in its own thread and session, started together; returns results or errors."""
    from pharma.extensions import db

    barrier = threading.Barrier(len(acts))
    results: list = [None] * len(acts)

    def run(i, act):
        session = Session(db.engine, expire_on_commit=False)
        try:
            barrier.wait()
            results[i] = act(session)
        except PharmaError as exc:
            results[i] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(i, act)) for i, act in enumerate(acts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def _actor(make, user):
    """The user's actor, read here in the test's thread (a thread must not touch the test's session)."""
    return make.uow(user).actor


def _uow(actor, session):
    return UnitOfWork(session, actor)


def test_two_shipments_of_the_same_packs_leave_one_winner(make, db_session):
    importer = licensed(make, make.org("importer"))
    caller = make.caller("importer", org=importer)
    lot = stock(make, importer, packs=20)
    targets = [make.org("pharmacy") for _ in range(4)]
    refs = tuple(svc.PackRef(lot.gtin, s) for s in reversed(lot.serials))  # listed in another order than ids

    actor = _actor(make, caller.user)

    def shipping(to):
        return lambda session: svc.ship(_uow(actor, session), svc.ShipPacks(
            lot.location_id, to.locations[0].id, packs=refs))

    results = race([shipping(t) for t in targets])
    won = [r for r in results if isinstance(r, svc.ShipmentView)]
    lost = [r for r in results if isinstance(r, PharmaError)]
    assert len(won) == 1 and len(lost) == 3, results
    assert {e.code for e in lost} <= {"PACKS_REFUSED", "PACK_BUSY"}
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Shipment)) == 1
    assert set(db_session.scalars(select(Pack.shipment_id).where(Pack.batch_id == lot.batch_id))) == {won[0].id}
    assert db_session.scalar(select(func.count()).select_from(TraceEvent).where(TraceEvent.type == "SHIP")) == 1


def test_shipping_and_destroying_one_pack_at_once_leave_one_winner(make, db_session):
    pharmacy = make.org("pharmacy")
    pharmacist = make.caller("pharmacist", org=pharmacy)
    lot = stock(make, pharmacy, packs=1)
    other = make.org("pharmacy")
    refs = (svc.PackRef(lot.gtin, lot.serials[0]),)
    actor = _actor(make, pharmacist.user)
    results = race([
        lambda session: svc.ship(_uow(actor, session),
                                 svc.ShipPacks(lot.location_id, other.locations[0].id, packs=refs)),
        lambda session: svc.decommission(_uow(actor, session),
                                         svc.Decommission(lot.location_id, refs, "DESTROYED")),
    ])
    assert sum(isinstance(r, PharmaError) for r in results) == 1, results
    db_session.expire_all()
    row = db_session.get(Pack, lot.pack_ids[lot.serials[0]])
    assert (row.shipment_id is None) == (row.state == "DESTROYED")


def test_one_shipment_received_twice_at_once_is_received_once(make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    sender = make.caller("importer", org=importer)
    receivers = [make.caller("pharmacist", org=pharmacy) for _ in range(3)]
    lot = stock(make, importer, packs=5)
    refs = tuple(svc.PackRef(lot.gtin, s) for s in lot.serials)
    shipment = svc.ship(make.uow(sender.user), svc.ShipPacks(lot.location_id, pharmacy.locations[0].id, packs=refs))

    def receiving(actor):
        return lambda session: svc.receive(_uow(actor, session), shipment.id, svc.Receipt(packs=refs))

    results = race([receiving(_actor(make, r.user)) for r in receivers])
    assert sum(isinstance(r, svc.ShipmentView) for r in results) == 1, results
    assert {r.code for r in results if isinstance(r, PharmaError)} == {"SHIPMENT_ALREADY_RECEIVED"}
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(TraceEvent).where(TraceEvent.type == "RECEIVE")) == 1
    assert set(db_session.scalars(select(Pack.location_id).where(Pack.batch_id == lot.batch_id))) == {
        pharmacy.locations[0].id}


def test_missing_packs_resolved_four_times_at_once_are_resolved_once(make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    senders = [make.caller("importer", org=importer) for _ in range(2)]
    receivers = [make.caller("pharmacist", org=pharmacy) for _ in range(2)]
    lot = stock(make, importer, packs=5)
    shipment_id = received_with_missing(make, lot, pharmacy, lot.serials[:1], sender_user=senders[0].user,
                                        receiver_user=receivers[0].user)
    refs = tuple(svc.PackRef(lot.gtin, s) for s in reversed(lot.serials[1:]))  # not in id order

    def resolving(actor, resolution):
        return lambda session: resolve_missing(_uow(actor, session), shipment_id,
                                               ResolveMissing(refs, resolution, "checked the van"))

    results = race([resolving(_actor(make, receivers[0].user), "FOUND"),
                    resolving(_actor(make, receivers[1].user), "FOUND"),
                    resolving(_actor(make, senders[0].user), "RETURNED"),
                    resolving(_actor(make, senders[1].user), "LOST")])
    won = [r for r in results if isinstance(r, svc.ShipmentView)]
    lost = [r for r in results if isinstance(r, PharmaError)]
    assert len(won) == 1 and len(lost) == 3, results
    assert {e.code for e in lost} <= {"PACKS_REFUSED", "PACK_BUSY"}
    db_session.expire_all()
    (event,) = db_session.scalars(select(TraceEvent).where(TraceEvent.type == "RESOLVE_MISSING"))
    winner = event.details["resolution"]
    lines = db_session.scalars(select(ShipmentPack).where(ShipmentPack.shipment_id == shipment_id,
                                                          ShipmentPack.outcome == "MISSING")).all()
    assert {line.resolution for line in lines} == {winner} and len(lines) == 4
    packs = [db_session.get(Pack, lot.pack_ids[s]) for s in lot.serials[1:]]
    where = pharmacy.locations[0].id if winner == "FOUND" else lot.location_id
    state = "STOLEN" if winner == "LOST" else "ACTIVE"
    assert {(p.location_id, p.shipment_id, p.state) for p in packs} == {(where, None, state)}
