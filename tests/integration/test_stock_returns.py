"""Returns to the supplier: the pharmacy sends packs back on a RETURN shipment and quantities off its
books as RETURN movements; the supplier confirms (its books and custody take them in) or rejects
(the quantities go back on the pharmacy's books, the packs are shipped back to it)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pharma.stock import returns
from pharma.trace import movements as trace
from pharma.trace.models import Shipment
from tests.integration.stock_helpers import API, assert_stock_in_step, on_hand
from tests.integration.test_stock_acts import movements, scan, shelf
from tests.integration.trace_helpers import licensed, received_with_missing, stock

RETURNS = f"{API}/returns"


def drafted(client, caller, s, supplier_location_id=None, **lines) -> dict:
    res = client.post(RETURNS, headers=caller.headers, json={
        "location_id": s.here, "reason": "DAMAGED", "note": "crushed box",
        "supplier_location_id": supplier_location_id})
    assert res.status_code == 201, res.json
    ret = res.json
    if lines:
        res = client.post(f"{RETURNS}/{ret['id']}/lines", headers=caller.headers, json=lines)
        assert res.status_code == 200, res.json
        ret = res.json
    return ret


def sent(client, make, s, packs: int = 2, units: int = 2):
    """A return of ``packs`` packs and ``units`` units of Q1, sent; returns (return, pharmacist, supplier)."""
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    supplier = make.caller("importer", org=s.importer)
    ret = drafted(client, pharmacist, s, scans=[scan(s.lot, serial) for serial in s.lot.serials[:packs]],
                  batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": units}] if units else [])
    res = client.post(f"{RETURNS}/{ret['id']}/send", headers=pharmacist.headers)
    assert res.status_code == 200, res.json
    return res.json, pharmacist, supplier


def test_sending_a_return_ships_the_packs_back_and_takes_the_quantities_off_the_books(client, make, db_session):
    s = shelf(make, packs=3, units=5)
    ret, _, _ = sent(client, make, s)
    supplier_loc = s.importer.locations[0].id
    assert ret["status"] == "SENT" and ret["number"].startswith("RT-")
    assert ret["supplier_location_id"] == supplier_loc  # from the delivery that brought the packs
    shipment = db_session.get(Shipment, ret["shipment_id"])
    assert (shipment.kind, shipment.status, shipment.to_location_id, shipment.return_of_id, shipment.packs_count) == (
        "RETURN", "IN_TRANSIT", supplier_loc, s.delivery_id, 2)
    out = movements(db_session, s.here)[-2:]
    assert sorted(m[:4] for m in out) == [("RETURN", None, -2, False), ("RETURN", None, -2, True)]
    assert ("return", ret["number"]) in {m[4:] for m in out}
    assert on_hand(db_session, s.here) == {(s.gtin, "Q1"): 3, (s.lot.gtin, s.lot.batch): 1}
    assert_stock_in_step(db_session)


def test_the_supplier_confirms_and_takes_packs_and_quantities_in(client, make, db_session):
    s = shelf(make, packs=3, units=5)
    ret, pharmacist, supplier = sent(client, make, s)
    incoming = client.get(f"{RETURNS}?direction=incoming", headers=supplier.headers).json
    assert [r["number"] for r in incoming["items"]] == [ret["number"]]
    assert client.post(f"{RETURNS}/{ret['id']}/confirm", headers=pharmacist.headers).status_code == 403
    res = client.post(f"{RETURNS}/{ret['id']}/confirm", headers=supplier.headers)
    assert res.status_code == 200, res.json
    assert res.json["status"] == "CONFIRMED"
    supplier_loc = s.importer.locations[0].id
    assert on_hand(db_session, supplier_loc) == {(s.gtin, "Q1"): 2, (s.lot.gtin, s.lot.batch): 2}
    assert ("TRANSFER_IN", "RETURNED", 2, False, "return", ret["number"]) in movements(db_session, supplier_loc)
    assert db_session.get(Shipment, ret["shipment_id"]).status == "RECEIVED"
    again = client.post(f"{RETURNS}/{ret['id']}/reject", headers=supplier.headers, json={"reason": "too late"})
    assert (again.status_code, again.json["code"]) == (409, "DOCUMENT_STATE")
    assert_stock_in_step(db_session)


def test_a_rejected_return_puts_the_quantities_back_and_ships_the_packs_back(client, make, db_session):
    s = shelf(make, packs=3, units=5)
    ret, pharmacist, supplier = sent(client, make, s)
    res = client.post(f"{RETURNS}/{ret['id']}/reject", headers=supplier.headers, json={"reason": ""})
    assert res.status_code == 422
    res = client.post(f"{RETURNS}/{ret['id']}/reject", headers=supplier.headers,
                      json={"reason": "not bought from us"})
    assert res.status_code == 200, res.json
    assert (res.json["status"], res.json["rejection_reason"]) == ("REJECTED", "not bought from us")
    assert ("ADJUSTMENT", "RETURNED", 2, False, "return", ret["number"]) in movements(db_session, s.here)
    back = db_session.get(Shipment, res.json["back_shipment_id"])
    assert (back.kind, back.status, back.to_location_id) == ("RETURN", "IN_TRANSIT", s.here)
    assert on_hand(db_session, s.importer.locations[0].id) == {}
    assert_stock_in_step(db_session)
    # the pharmacy receives the packs back like any delivery
    trace.receive(make.uow(pharmacist.user), back.id, trace.Receipt(
        packs=tuple(trace.PackRef(s.lot.gtin, serial) for serial in s.lot.serials[:2])))
    assert on_hand(db_session, s.here) == {(s.gtin, "Q1"): 5, (s.lot.gtin, s.lot.batch): 3}
    assert_stock_in_step(db_session)


def test_a_pack_from_another_supplier_or_not_delivered_here_is_refused(client, make, db_session):
    s = shelf(make, packs=2, units=1)
    other = licensed(make, make.org("importer"))
    lot2 = stock(make, other, packs=1)
    received_with_missing(make, lot2, s.pharmacy, lot2.serials)
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    ret = drafted(client, pharmacist, s, scans=[scan(s.lot, s.lot.serials[0])])
    res = client.post(f"{RETURNS}/{ret['id']}/lines", headers=pharmacist.headers,
                      json={"scans": [scan(lot2, lot2.serials[0]), scan(s.lot, s.lot.serials[1])]})
    assert res.status_code == 409
    assert [(line["code"], line["serial"]) for line in res.json["lines"]] == [("OTHER_SUPPLIER", lot2.serials[0])]
    assert client.get(f"{RETURNS}/{ret['id']}", headers=pharmacist.headers).json["packs"] == 1



def test_recalled_stock_goes_back_to_the_supplier_but_is_never_delivered_again(client, make, db_session):
    from tests.integration.trace_helpers import system_uow

    s = shelf(make, packs=2, units=1)
    trace.recall_batch(system_uow(make), s.lot.gtin, s.lot.batch, "sterility failure")
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    supplier = make.caller("importer", org=s.importer)
    ret = drafted(client, pharmacist, s, scans=[scan(s.lot, s.lot.serials[0])])
    assert ret["packs"] == 1 and ret["supplier_location_id"] == s.importer.locations[0].id
    res = client.post(f"{RETURNS}/{ret['id']}/send", headers=pharmacist.headers)
    assert res.status_code == 200, res.json
    res = client.post(f"{RETURNS}/{ret['id']}/confirm", headers=supplier.headers)
    assert (res.status_code, res.json["status"]) == (200, "CONFIRMED")
    supplier_loc = s.importer.locations[0].id
    assert on_hand(db_session, supplier_loc) == {(s.lot.gtin, s.lot.batch): 1}
    # back at the supplier, the recalled pack can be destroyed but not delivered anywhere again
    res = client.post("/api/v1/trace/shipments", headers=supplier.headers, json={
        "from_location_id": supplier_loc, "to_location_id": s.here,
        "packs": [{"gtin": s.lot.gtin, "serial": s.lot.serials[0]}]})
    assert res.status_code == 409 and res.json["code"] == "PACKS_REFUSED"
    assert [(p["code"], p["state"]) for p in res.json["errors"]] == [("PACK_NOT_ACTIVE", "RECALLED")]
    assert_stock_in_step(db_session)


def test_a_rejected_return_of_recalled_packs_comes_back_to_the_pharmacy(client, make, db_session):
    from tests.integration.trace_helpers import system_uow

    s = shelf(make, packs=1, units=1)
    trace.recall_batch(system_uow(make), s.lot.gtin, s.lot.batch, "sterility failure")
    ret, _, supplier = sent(client, make, s, packs=1, units=0)
    res = client.post(f"{RETURNS}/{ret['id']}/reject", headers=supplier.headers, json={"reason": "not ours"})
    assert res.status_code == 200, res.json
    back = db_session.get(Shipment, res.json["back_shipment_id"])
    assert (back.kind, back.to_location_id, back.status) == ("RETURN", s.here, "IN_TRANSIT")
    assert_stock_in_step(db_session)


def test_stock_goes_back_only_to_a_licensed_importer_or_wholesaler(client, make, db_session):
    s = shelf(make, packs=1, units=1)
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    targets = [org.locations[0].id for org in (make.org("pharmacy"), make.org("importer"))]
    for target in targets:  # a pharmacy; an importer without a licence
        res = client.post(RETURNS, headers=pharmacist.headers, json={
            "location_id": s.here, "reason": "SURPLUS", "supplier_location_id": target})
        assert (res.status_code, res.json["code"]) == (409, "SUPPLIER_NOT_ELIGIBLE")
    ret = drafted(client, pharmacist, s, batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 1}])
    res = client.post(f"{RETURNS}/{ret['id']}/send", headers=pharmacist.headers)
    assert (res.status_code, res.json["code"]) == (409, "SUPPLIER_MISSING")


def test_a_line_no_longer_possible_refuses_the_whole_sending(client, make, db_session):
    s = shelf(make, packs=2, units=3)
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    ret = drafted(client, pharmacist, s, scans=[scan(s.lot, serial) for serial in s.lot.serials],
                  batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 3}])
    assert client.post(f"{API}/issues", headers=pharmacist.headers, json={
        "location_id": s.here, "kind": "SALE", "document": "FD-2",
        "lines": [{"gtin": s.gtin, "batch": "Q1", "quantity": 1}]}).status_code == 201
    res = client.post(f"{RETURNS}/{ret['id']}/send", headers=pharmacist.headers)
    assert (res.status_code, res.json["code"]) == (409, "LINES_REFUSED")
    assert [line["code"] for line in res.json["lines"]] == ["INSUFFICIENT_STOCK"]
    assert movements(db_session, s.here, "return") == []
    assert db_session.scalars(select(Shipment).where(Shipment.kind == "RETURN")).all() == []
    assert client.get(f"{RETURNS}/{ret['id']}", headers=pharmacist.headers).json["status"] == "DRAFT"
    assert_stock_in_step(db_session)


def test_a_draft_may_be_cancelled_and_a_sent_return_may_not(client, make, db_session):
    s = shelf(make, packs=1, units=2)
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    ret = drafted(client, pharmacist, s, batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 1}])
    assert client.post(f"{RETURNS}/{ret['id']}/cancel", headers=pharmacist.headers).json["status"] == "CANCELLED"
    assert client.post(f"{RETURNS}/{ret['id']}/send", headers=pharmacist.headers).status_code == 409
    done, pharmacist, _ = sent(client, make, s, packs=1, units=1)
    res = client.post(f"{RETURNS}/{done['id']}/cancel", headers=pharmacist.headers)
    assert (res.status_code, res.json["code"]) == (409, "DOCUMENT_NOT_DRAFT")


def test_a_return_is_seen_by_the_pharmacy_its_supplier_and_the_agency_only(client, make, db_session):
    s = shelf(make, packs=1, units=1)
    ret, pharmacist, supplier = sent(client, make, s, packs=1, units=1)
    stranger = make.caller("importer", org=licensed(make, make.org("importer")))
    regulator = make.caller("regulator")
    for caller, status in ((pharmacist, 200), (supplier, 200), (regulator, 200), (stranger, 403)):
        assert client.get(f"{RETURNS}/{ret['id']}", headers=caller.headers).status_code == status
    assert client.get(RETURNS, headers=stranger.headers).json["items"] == []
    assert client.post(f"{RETURNS}/{ret['id']}/confirm", headers=stranger.headers).status_code == 403


def test_the_pharmacy_sends_and_the_supplier_confirms_on_the_pages(client, make, db_session):
    from tests.integration.test_movements_pages import labelled, page
    from tests.integration.test_signin import sign_in

    s = shelf(make, packs=2, units=2)
    pharmacist = make.user("pharmacist", org=s.pharmacy)
    sign_in(client, pharmacist.username)
    html, token = page(client, "/stock/returns")
    labelled(html, "location_id", "reason", "supplier_location_id", "note")
    res = client.post("/stock/returns", data={"csrf_token": token, "location_id": s.here, "reason": "DAMAGED"})
    assert res.status_code == 302
    url = res.headers["Location"]
    html, token = page(client, url)
    labelled(html, "scans", "gtin", "batch", "quantity")
    res = client.post(f"{url}/lines", data={"csrf_token": token, "scans": scan(s.lot, s.lot.serials[0]),
                                            "gtin": s.gtin, "batch": "Q1", "quantity": "1"})
    assert res.status_code == 302, res.get_data(as_text=True)
    assert client.post(f"{url}/send", data={"csrf_token": token}).status_code == 302
    client.post("/sign-out", data={"csrf_token": token})

    sign_in(client, make.user("importer", org=s.importer).username)
    html, token = page(client, "/stock/returns?direction=incoming")
    assert "RT-" in html
    html, token = page(client, url)
    labelled(html, "reject-reason")
    assert client.post(f"{url}/confirm", data={"csrf_token": token}).status_code == 302
    assert on_hand(db_session, s.importer.locations[0].id) == {(s.gtin, "Q1"): 1, (s.lot.gtin, s.lot.batch): 1}
    assert_stock_in_step(db_session)


@pytest.mark.postgres_only
def test_confirming_and_rejecting_at_once_leave_one_decision(client, make, db_session):
    from tests.integration.test_movements_races import _actor, _uow, race

    s = shelf(make, packs=2, units=3)
    ret, _, supplier = sent(client, make, s, packs=2, units=2)
    actor = _actor(make, supplier.user)
    results = race([lambda session: returns.confirm_return(_uow(actor, session), ret["id"]),
                    lambda session: returns.reject_return(_uow(actor, session), ret["id"], "changed our mind"),
                    lambda session: returns.confirm_return(_uow(actor, session), ret["id"])])
    assert sorted(type(r).__name__ for r in results) == ["StockReturn", "WrongState", "WrongState"]
    assert len(movements(db_session, s.importer.locations[0].id, "return")) + len(
        movements(db_session, s.here, "return")) == 2  # the RETURN sent, and one decision's line
    assert_stock_in_step(db_session)


def test_the_demo_pharmacy_has_a_confirmed_write_off_act_and_a_sent_return(app, db_session):
    from pharma import fixtures
    from pharma.stock.documents_models import StockReturn, WriteOffAct

    with app.app_context():
        report = fixtures.load_all()
    assert (report.counts.get("demo_write_off_acts"), report.counts.get("demo_returns")) == (1, 1)
    act = db_session.scalars(select(WriteOffAct)).one()
    assert act.status == "CONFIRMED" and act.lines
    ret = db_session.scalars(select(StockReturn)).one()
    assert ret.status == "SENT" and ret.shipment_id is not None and len(ret.lines) == 2
    assert_stock_in_step(db_session)
