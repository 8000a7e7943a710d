"""Write-off acts: drafted by scanning packs and listing batches, confirmed by the head pharmacist in
one transaction (quantities written off on the ledger, packs decommissioned in trace, both on the
act's document), refused whole when a line is no longer possible."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.stock import acts
from pharma.stock import services as stock_svc
from pharma.stock.documents_models import WriteOffAct
from pharma.stock.models import StockMovement
from pharma.stock.schemas import ReceiptLineIn
from pharma.trace import movements as trace
from pharma.trace.models import Pack, TraceEvent
from tests.integration.stock_helpers import API, assert_stock_in_step, legacy_product, on_hand, receipt_line
from tests.integration.trace_helpers import licensed, received_with_missing, stock

ACTS = f"{API}/write-off-acts"


@dataclass
class Shelf:
    """A pharmacy holding serialized packs delivered by an importer and a batch without serials."""

    importer: object
    pharmacy: object
    here: int
    lot: object  # the serialized packs (now at the pharmacy)
    delivery_id: int
    gtin: str  # the product without serials
    batch: str = "Q1"


def shelf(make, packs: int = 3, units: int = 5) -> Shelf:
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    lot = stock(make, importer, packs=packs)
    delivery_id = received_with_missing(make, lot, pharmacy, lot.serials)
    gtin = legacy_product(make)
    here = pharmacy.locations[0].id
    line = ReceiptLineIn().load(receipt_line(gtin, "Q1", units))
    stock_svc.receive_stock(UnitOfWork(make.session, Actor.system("test")),
                            stock_svc.ReceiveStock(here, "INV-Q", (line,)))
    return Shelf(importer, pharmacy, here, lot, delivery_id, gtin)


def scan(lot, serial: str) -> str:
    """A pack's code as printed under its DataMatrix (the raw scanner form is tested by verify)."""
    return f"(01){lot.gtin}(21){serial}"


def draft(client, caller, s: Shelf, reason: str = "EXPIRED", **lines):
    res = client.post(ACTS, headers=caller.headers, json={"location_id": s.here, "reason": reason, "note": "shelf 3"})
    assert res.status_code == 201, res.json
    act = res.json
    if lines:
        res = client.post(f"{ACTS}/{act['id']}/lines", headers=caller.headers, json=lines)
        assert res.status_code == 200, res.json
        act = res.json
    return act


def movements(db_session, location_id: int, document_type: str | None = None) -> list[tuple]:
    db_session.expire_all()
    q = select(StockMovement).where(StockMovement.location_id == location_id)
    if document_type:
        q = q.where(StockMovement.document_type == document_type)
    return [(m.kind, m.reason, m.quantity, m.serialized, m.document_type, m.document_id)
            for m in db_session.scalars(q.order_by(StockMovement.id))]


def states(db_session, lot) -> dict[str, str]:
    db_session.expire_all()
    return dict(db_session.execute(select(Pack.serial, Pack.state).where(Pack.batch_id == lot.batch_id)).all())


def test_a_confirmed_act_writes_off_its_packs_and_batches_on_its_document(client, make, db_session):
    s = shelf(make)
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, pharmacist, s, scans=[scan(s.lot, s.lot.serials[0]), f"{s.lot.gtin} {s.lot.serials[1]}"],
                batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 2}])
    assert act["number"].startswith("WO-") and act["status"] == "DRAFT"
    assert (act["packs"], act["units"]) == (2, 2)

    res = client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers)
    assert res.status_code == 200, res.json
    assert res.json["status"] == "CONFIRMED"
    doc = ("write_off_act", act["number"])
    assert sorted(movements(db_session, s.here, "write_off_act")) == sorted([
        ("WRITE_OFF", "EXPIRED", -2, False, *doc), ("WRITE_OFF", "DESTROYED", -2, True, *doc)])
    assert states(db_session, s.lot) == {s.lot.serials[0]: "DESTROYED", s.lot.serials[1]: "DESTROYED",
                                         s.lot.serials[2]: "ACTIVE"}
    event = db_session.scalars(select(TraceEvent).where(TraceEvent.type == "DECOMMISSION")).one()
    assert (event.document_type, event.document_id) == doc
    assert on_hand(db_session, s.here) == {(s.gtin, "Q1"): 3, (s.lot.gtin, s.lot.batch): 1}
    assert_stock_in_step(db_session)


@pytest.mark.parametrize(("reason", "state"), [("STOLEN", "STOLEN"), ("SAMPLE", "SAMPLE"), ("DAMAGED", "DESTROYED")])
def test_the_acts_reason_sets_the_packs_state(client, make, db_session, reason, state):
    s = shelf(make, packs=1, units=1)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s, reason, scans=[scan(s.lot, s.lot.serials[0])])
    assert client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers).status_code == 200
    assert states(db_session, s.lot) == {s.lot.serials[0]: state}
    assert_stock_in_step(db_session)


def test_a_line_no_longer_possible_refuses_the_whole_confirmation(client, make, db_session):
    s = shelf(make)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s, scans=[scan(s.lot, s.lot.serials[0]), scan(s.lot, s.lot.serials[1])],
                batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 4}])
    # meanwhile one pack is reported stolen and two units are sold
    trace.decommission(make.uow(head.user), trace.Decommission(s.here, (trace.PackRef(s.lot.gtin, s.lot.serials[1]),),
                                                               "STOLEN"))
    assert client.post(f"{API}/issues", headers=head.headers, json={
        "location_id": s.here, "kind": "SALE", "document": "FD-9",
        "lines": [{"gtin": s.gtin, "batch": "Q1", "quantity": 2}]}).status_code == 201

    res = client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers)
    assert res.status_code == 409
    assert res.json["code"] == "LINES_REFUSED"
    assert sorted((line["code"], line.get("serial") or line.get("batch")) for line in res.json["lines"]) == [
        ("INSUFFICIENT_STOCK", "Q1"), ("PACK_NOT_ACTIVE", s.lot.serials[1])]
    assert movements(db_session, s.here, "write_off_act") == []
    assert states(db_session, s.lot)[s.lot.serials[0]] == "ACTIVE"
    assert client.get(f"{ACTS}/{act['id']}", headers=head.headers).json["status"] == "DRAFT"
    assert_stock_in_step(db_session)


def test_adding_packs_held_elsewhere_or_unknown_is_refused_line_by_line(client, make, db_session):
    s = shelf(make)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s)
    elsewhere = stock(make, s.importer, packs=1, product_id=s.lot.product_id, gtin=s.lot.gtin)
    res = client.post(f"{ACTS}/{act['id']}/lines", headers=head.headers, json={
        "scans": [scan(s.lot, s.lot.serials[0]), scan(elsewhere, elsewhere.serials[0]), scan(s.lot, "NEVER1")],
        "batches": [{"gtin": s.gtin, "batch": "Q1", "quantity": 6}]})
    assert res.status_code == 409
    assert sorted(line["code"] for line in res.json["lines"]) == ["INSUFFICIENT_STOCK", "NOT_IN_CUSTODY",
                                                                 "UNKNOWN_PACK"]
    assert client.get(f"{ACTS}/{act['id']}", headers=head.headers).json["lines"] == []


def test_an_unreadable_scan_is_named_and_nothing_is_added(client, make, db_session):
    s = shelf(make, packs=1)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s)
    res = client.post(f"{ACTS}/{act['id']}/lines", headers=head.headers,
                      json={"scans": [scan(s.lot, s.lot.serials[0]), "0104800000000000"]})
    assert res.status_code == 422
    assert list(res.json["errors"]) == ["scans.1"]
    assert client.get(f"{ACTS}/{act['id']}", headers=head.headers).json["lines"] == []


def test_scanning_a_pack_twice_keeps_one_line_and_batches_add_up(client, make, db_session):
    s = shelf(make)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s, scans=[scan(s.lot, s.lot.serials[0])] * 2,
                batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 1}])
    res = client.post(f"{ACTS}/{act['id']}/lines", headers=head.headers, json={
        "scans": [scan(s.lot, s.lot.serials[0])], "batches": [{"gtin": s.gtin, "batch": "Q1", "quantity": 2}]})
    assert (res.json["packs"], res.json["units"], res.json["lines_count"]) == (1, 3, 2)
    line = next(x for x in res.json["lines"] if x["serialized"])
    res = client.delete(f"{ACTS}/{act['id']}/lines/{line['id']}", headers=head.headers)
    assert (res.json["packs"], res.json["units"]) == (0, 3)


def test_only_the_head_pharmacist_confirms_and_only_a_draft(client, make, db_session):
    s = shelf(make)
    pharmacist = make.caller("pharmacist", org=s.pharmacy)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    other_head = make.caller("head_pharmacist", org=make.org("pharmacy"))
    act = draft(client, pharmacist, s, batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 1}])
    assert client.post(f"{ACTS}/{act['id']}/confirm", headers=pharmacist.headers).status_code == 403
    assert client.post(f"{ACTS}/{act['id']}/confirm", headers=other_head.headers).status_code == 403
    assert client.get(f"{ACTS}/{act['id']}", headers=other_head.headers).status_code == 403
    assert client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers).status_code == 200
    again = client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers)
    assert (again.status_code, again.json["code"]) == (409, "DOCUMENT_NOT_DRAFT")
    assert client.post(f"{ACTS}/{act['id']}/cancel", headers=head.headers).status_code == 409
    assert len(movements(db_session, s.here, "write_off_act")) == 1


def test_a_cancelled_act_posts_nothing_and_cannot_be_confirmed(client, make, db_session):
    s = shelf(make)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s, batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 1}])
    assert client.post(f"{ACTS}/{act['id']}/cancel", headers=head.headers).json["status"] == "CANCELLED"
    assert client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers).status_code == 409
    assert movements(db_session, s.here, "write_off_act") == []


def test_an_empty_act_cannot_be_confirmed(client, make, db_session):
    s = shelf(make, packs=1, units=1)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s)
    res = client.post(f"{ACTS}/{act['id']}/confirm", headers=head.headers)
    assert (res.status_code, res.json["code"]) == (409, "DOCUMENT_EMPTY")


def test_acts_are_listed_for_their_organisation_and_the_agency(client, make, db_session):
    s = shelf(make, packs=1, units=1)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s)
    other = make.caller("head_pharmacist", org=make.org("pharmacy"))
    inspector = make.caller("inspector")
    assert [a["number"] for a in client.get(ACTS, headers=head.headers).json["items"]] == [act["number"]]
    assert client.get(ACTS, headers=other.headers).json["items"] == []
    assert client.get(f"{ACTS}?status=DRAFT", headers=inspector.headers).json["total"] == 1
    assert client.get(f"{ACTS}/{act['id']}", headers=inspector.headers).status_code == 200


def test_the_head_pharmacist_drafts_scans_confirms_and_prints_an_act_on_the_pages(client, make, db_session):
    from tests.integration.test_movements_pages import labelled, page
    from tests.integration.test_signin import sign_in

    s = shelf(make, packs=2, units=3)
    head = make.user("head_pharmacist", org=s.pharmacy)
    sign_in(client, head.username)
    html, token = page(client, "/stock/acts")
    labelled(html, "location_id", "reason", "note")
    res = client.post("/stock/acts", data={"csrf_token": token, "location_id": s.here, "reason": "DAMAGED",
                                           "note": "dropped"})
    assert res.status_code == 302
    url = res.headers["Location"]
    html, token = page(client, url)
    labelled(html, "scans", "gtin", "batch", "quantity")
    res = client.post(f"{url}/lines", data={"csrf_token": token, "scans": f"{scan(s.lot, s.lot.serials[0])}\n\n",
                                            "gtin": s.gtin[1:], "batch": "Q1", "quantity": "2"})
    assert res.status_code == 302, res.get_data(as_text=True)
    res = client.post(f"{url}/lines", data={"csrf_token": token, "scans": scan(s.lot, "NOPE99")})
    assert res.status_code == 409
    assert "UNKNOWN_PACK" in res.get_data(as_text=True)
    assert client.post(f"{url}/confirm", data={"csrf_token": token}).status_code == 302
    number = db_session.scalar(select(WriteOffAct.number))
    printed = client.get(f"{url}/print").get_data(as_text=True)
    assert number in printed and s.lot.serials[0] in printed
    pdf = client.get(f"{url}/pdf")
    assert (pdf.status_code, pdf.mimetype, pdf.data[:5]) == (200, "application/pdf", b"%PDF-")
    assert on_hand(db_session, s.here) == {(s.gtin, "Q1"): 1, (s.lot.gtin, s.lot.batch): 1}
    assert_stock_in_step(db_session)


def test_the_quick_write_off_still_posts_on_its_own_document(client, make, db_session):
    s = shelf(make, packs=1, units=2)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    res = client.post(f"{API}/write-offs", headers=head.headers, json={
        "location_id": s.here, "reason": "DAMAGED", "document": "ACT-7",
        "lines": [{"gtin": s.gtin, "batch": "Q1", "quantity": 1}]})
    assert res.status_code == 201
    assert db_session.scalar(select(func.count()).select_from(WriteOffAct)) == 0


@pytest.mark.postgres_only
def test_two_head_pharmacists_confirming_the_same_act_leave_one_write_off(client, make, db_session):
    from tests.integration.test_movements_races import _actor, _uow, race

    s = shelf(make, packs=2, units=4)
    head = make.caller("head_pharmacist", org=s.pharmacy)
    act = draft(client, head, s, scans=[scan(s.lot, serial) for serial in s.lot.serials],
                batches=[{"gtin": s.gtin, "batch": "Q1", "quantity": 3}])
    actor = _actor(make, head.user)
    results = race([lambda session: acts.confirm_act(_uow(actor, session), act["id"])] * 2)
    assert sorted(type(r).__name__ for r in results) == ["NotDraft", "WriteOffAct"]
    assert len(movements(db_session, s.here, "write_off_act")) == 2
    assert on_hand(db_session, s.here) == {(s.gtin, "Q1"): 1}
    assert_stock_in_step(db_session)
