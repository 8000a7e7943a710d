"""Serialized stock follows custody: the trace acts post the ledger movements, and each location's
balances always equal the ACTIVE packs it holds (not travelling)."""

from __future__ import annotations

from sqlalchemy import select

from pharma.stock.models import StockMovement
from pharma.trace import movements as svc
from pharma.trace.missing import ResolveMissing, resolve_missing
from tests.integration.stock_helpers import API, assert_stock_in_step, on_hand
from tests.integration.trace_helpers import licensed, received_with_missing, stock, system_uow


def _refs(lot, *serials):
    return tuple(svc.PackRef(lot.gtin, s) for s in serials)


def _movements(db_session, location_id):
    db_session.expire_all()
    return [(m.kind, m.reason, m.quantity, m.document_type) for m in db_session.scalars(
        select(StockMovement).where(StockMovement.location_id == location_id).order_by(StockMovement.id))]


def test_commissioned_packs_are_received_into_the_importers_stock(make, db_session):
    importer = licensed(make, make.org("importer"))
    lot = stock(make, importer, packs=5)
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 5}
    assert _movements(db_session, lot.location_id) == [("RECEIPT", None, 5, "declaration")]
    assert_stock_in_step(db_session)


def test_a_shipment_with_a_missing_pack_moves_only_the_received_packs(make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    lot = stock(make, importer, packs=4)
    received_with_missing(make, lot, pharmacy, lot.serials[:3])
    assert on_hand(db_session, lot.location_id) == {}
    assert on_hand(db_session, pharmacy.locations[0].id) == {(lot.gtin, lot.batch): 3}
    assert [m[0] for m in _movements(db_session, lot.location_id)] == ["RECEIPT", "TRANSFER_OUT"]
    assert _movements(db_session, pharmacy.locations[0].id) == [("TRANSFER_IN", None, 3, "shipment")]
    assert_stock_in_step(db_session)


def test_missing_packs_found_returned_or_lost_keep_stock_and_custody_in_step(make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    lot = stock(make, importer, packs=5)
    shipment_id = received_with_missing(make, lot, pharmacy, lot.serials[:2])
    uow = system_uow(make)
    resolve_missing(uow, shipment_id, ResolveMissing(_refs(lot, lot.serials[2]), "FOUND"))
    resolve_missing(uow, shipment_id, ResolveMissing(_refs(lot, lot.serials[3]), "RETURNED"))
    resolve_missing(uow, shipment_id, ResolveMissing(_refs(lot, lot.serials[4]), "LOST", "fell off the van"))
    assert on_hand(db_session, pharmacy.locations[0].id) == {(lot.gtin, lot.batch): 3}
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 1}
    assert _movements(db_session, lot.location_id)[-3:] == [
        ("TRANSFER_IN", "RETURNED", 1, "shipment"), ("TRANSFER_IN", "LOST", 1, "shipment"),
        ("WRITE_OFF", "STOLEN", -1, "shipment")]
    assert_stock_in_step(db_session)


def test_decommissioning_writes_off_and_its_undo_puts_the_packs_back(make, db_session):
    pharmacy = licensed(make, make.org("pharmacy"))
    lot = stock(make, pharmacy, packs=3)
    uow = system_uow(make)
    svc.decommission(uow, svc.Decommission(lot.location_id, _refs(lot, *lot.serials[:2]), "DESTROYED",
                                           document="WO-7"))
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 1}
    assert _movements(db_session, lot.location_id)[-1] == ("WRITE_OFF", "DESTROYED", -2, "act")
    assert_stock_in_step(db_session)
    svc.undo(uow, svc.Undo(lot.location_id, _refs(lot, lot.serials[0]), "destroyed by mistake"))
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 2}
    assert _movements(db_session, lot.location_id)[-1][:3] == ("ADJUSTMENT", "UNDO", 1)
    assert_stock_in_step(db_session)


def test_a_recall_changes_no_quantity_but_the_stock_becomes_unsellable(client, make, db_session):
    pharmacy = licensed(make, make.org("pharmacy"))
    lot = stock(make, pharmacy, packs=2)
    svc.recall_batch(system_uow(make), lot.gtin, lot.batch, "sterility failure")
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 2}
    caller = make.caller("pharmacist", org=pharmacy)
    body = client.get(f"{API}/balances?location_id={lot.location_id}", headers=caller.headers).json
    assert [(i["quantity"], i["recalled"], i["sellable"], i["serialized"]) for i in body["items"]] == [
        (2, True, False, True)]
    assert_stock_in_step(db_session)


def test_a_return_shipment_moves_stock_back_to_the_sender(make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    lot = stock(make, importer, packs=3)
    shipment_id = received_with_missing(make, lot, pharmacy, lot.serials)
    uow = system_uow(make)
    back = svc.ship(uow, svc.ShipPacks(pharmacy.locations[0].id, lot.location_id, packs=_refs(lot, lot.serials[0]),
                                       kind="RETURN", return_of_id=shipment_id))
    assert on_hand(db_session, pharmacy.locations[0].id) == {(lot.gtin, lot.batch): 2}
    assert_stock_in_step(db_session)
    svc.receive(uow, back.id, svc.Receipt(packs=_refs(lot, lot.serials[0])))
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 1}
    assert_stock_in_step(db_session)


def test_declarations_commission_into_stock_also_when_they_add_packs_to_a_known_batch(client, make, db_session):
    from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit, upload

    imp = importer_with_permit(make)
    g1, g2 = imp.gtins
    first = [(g1, "B1", EXPIRY, f"S{i}", "", "") for i in range(3)] + [(g2, "B2", EXPIRY, "T1", "", "")]
    assert upload(client, imp, csv_file(first)).json["status"] == "ACCEPTED"
    again = [(g1, "B1", EXPIRY, f"U{i}", "", "") for i in range(2)]
    assert upload(client, imp, csv_file(again)).json["status"] == "ACCEPTED"
    assert on_hand(db_session, imp.location_id) == {("0" + g1, "B1"): 5, ("0" + g2, "B2"): 1}
    assert [m[:3] for m in _movements(db_session, imp.location_id)] == [
        ("RECEIPT", None, 3), ("RECEIPT", None, 1), ("RECEIPT", None, 2)]
    assert_stock_in_step(db_session)


def test_a_dispense_event_posts_a_sale_on_a_receipt_and_a_dispense_on_a_prescription(make, db_session):
    from sqlalchemy import update

    from pharma.trace.events import record
    from pharma.trace.models import Pack

    pharmacy = licensed(make, make.org("pharmacy"))
    lot = stock(make, pharmacy, packs=3)
    uow = system_uow(make)
    for serial, document in ((lot.serials[0], ("receipt", "FD-9")), (lot.serials[1], ("prescription", "RX-9"))):
        db_session.execute(update(Pack).where(Pack.id == lot.pack_ids[serial]).values(state="DISPENSED"))
        record(uow, "DISPENSE", location_id=lot.location_id, to_state="DISPENSED", document=document,
               pack_ids=[lot.pack_ids[serial]])
        db_session.commit()
    assert _movements(db_session, lot.location_id)[-2:] == [("SALE", None, -1, "receipt"),
                                                            ("DISPENSE", None, -1, "prescription")]
    assert on_hand(db_session, lot.location_id) == {(lot.gtin, lot.batch): 1}
    assert_stock_in_step(db_session)


def test_a_trace_act_on_packs_the_ledger_does_not_hold_is_refused_whole(make, db_session):
    import pytest
    from sqlalchemy import delete

    from pharma.stock.domain import InsufficientStock
    from pharma.stock.models import StockBalance
    from pharma.trace.models import Pack

    pharmacy = licensed(make, make.org("pharmacy"))
    lot = stock(make, pharmacy, packs=2)
    db_session.execute(delete(StockBalance))  # out of step on purpose, as packs loaded without events would be
    db_session.commit()
    with pytest.raises(InsufficientStock):
        svc.decommission(system_uow(make), svc.Decommission(lot.location_id, _refs(lot, *lot.serials), "DESTROYED"))
    db_session.expire_all()
    assert {p.state for p in db_session.scalars(select(Pack).where(Pack.batch_id == lot.batch_id))} == {"ACTIVE"}
