"""Supply requests through the API and the pages: levels, the reorder proposal, a request from
draft to fulfilment, who sees what; and (PostgreSQL) two wholesaler users racing on one request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pharma.register.models import Product, ProductGtin
from pharma.shared.time import utcnow
from pharma.stock import supply_services as svc
from pharma.stock.models import StockMovement
from pharma.stock.supply_models import StockLevel, SupplyRequest, SupplyRequestShipment
from pharma.trace import movements as trace_svc
from pharma.trace.models import Pack, Shipment
from tests.integration.stock_helpers import assert_stock_in_step, issue, legacy_product, receipt_line, receive
from tests.integration.test_movements_pages import labelled, page
from tests.integration.test_signin import sign_in
from tests.integration.trace_helpers import licensed, stock

API = "/api/v1/supply"


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy")


@pytest.fixture()
def pharmacist(make, pharmacy):
    return make.caller("pharmacist", org=pharmacy)


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


@pytest.fixture()
def importer(make):
    return licensed(make, make.org("importer"))


@pytest.fixture()
def wholesaler(make, importer):
    return make.caller("importer", org=importer)


def _levels(client, caller, location_id, *levels, remove=()):
    return client.put(f"{API}/levels", headers=caller.headers,
                      json={"location_id": location_id, "remove": list(remove),
                            "levels": [{"gtin": g, "min_quantity": lo, "max_quantity": hi} for g, lo, hi in levels]})


def _draft(client, caller, location_id, *lines):
    res = client.post(f"{API}/requests", headers=caller.headers,
                      json={"location_id": location_id, "lines": [{"gtin": g, "quantity": n} for g, n in lines]})
    assert res.status_code == 201, res.json
    return res.json


def _sent(client, pharmacist, here, supplier, *lines):
    draft = _draft(client, pharmacist, here, *lines)
    res = client.post(f"{API}/requests/{draft['id']}/send", headers=pharmacist.headers,
                      json={"supplier_id": supplier.id})
    assert res.status_code == 200, res.json
    return res.json


def _lines(body):
    return {x["gtin"]: (x["quantity"], x["shipped"], x["remaining"]) for x in body["lines"]}


# ---------------------------------------------------------------- levels


def test_levels_are_set_in_bulk_changed_and_removed(client, make, db_session, pharmacist, here):
    a, b = legacy_product(make), legacy_product(make)
    res = _levels(client, pharmacist, here, (a, 2, 10), (b[1:], 0, 5))
    assert res.status_code == 200, res.json
    assert {(x["gtin"], x["min_quantity"], x["max_quantity"]) for x in res.json["levels"]} == {(a, 2, 10), (b, 0, 5)}
    res = _levels(client, pharmacist, here, (a, 4, 4), remove=[b])
    assert [(x["gtin"], x["min_quantity"], x["max_quantity"]) for x in res.json["levels"]] == [(a, 4, 4)]
    got = client.get(f"{API}/levels?location_id={here}", headers=pharmacist.headers)
    assert [x["gtin"] for x in got.json["levels"]] == [a]


def test_a_minimum_above_the_maximum_refuses_the_whole_table(client, make, db_session, pharmacist, here):
    a, b = legacy_product(make), legacy_product(make)
    res = _levels(client, pharmacist, here, (a, 1, 3), (b, 6, 5))
    assert res.status_code == 422
    assert res.json["code"] == "LEVELS_OUT_OF_ORDER"
    assert "application/problem+json" in res.content_type
    negative = _levels(client, pharmacist, here, (a, -1, 3))
    assert negative.status_code == 422 and negative.json["code"] == "VALIDATION_FAILED"
    unknown = _levels(client, pharmacist, here, (a, 1, 3), ("4006381333931", 1, 2))
    assert unknown.status_code == 409 and unknown.json["code"] == "UNREGISTERED_PRODUCT"
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(StockLevel)) == 0


def test_a_pharmacist_cannot_set_another_pharmacys_levels(client, make, db_session, pharmacist):
    theirs = make.org("pharmacy")
    res = _levels(client, pharmacist, theirs.locations[0].id, (legacy_product(make), 1, 2))
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"


# ---------------------------------------------------------------- the proposal


def test_the_proposal_counts_sellable_stock_transit_open_requests_and_consumption(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    legacy = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(legacy, "OK", 40, days=300), receipt_line(legacy, "OLD", 9, days=-2))
    # 30 sold over the window: one a day on average
    assert issue(client, pharmacist, here, {"gtin": legacy, "quantity": 30}).status_code == 201
    lot = stock(make, importer, packs=6)
    trace_svc.ship(make.uow(wholesaler.user), trace_svc.ShipPacks(
        lot.location_id, here, tuple(trace_svc.PackRef(lot.gtin, s) for s in lot.serials[:2])))
    _levels(client, pharmacist, here, (legacy, 8, 20), (lot.gtin, 5, 10))
    _draft(client, pharmacist, here, (lot.gtin, 1))

    res = client.get(f"{API}/proposal?location_id={here}", headers=pharmacist.headers)
    assert res.status_code == 200, res.json
    lines = {x["gtin"]: x for x in res.json["lines"]}
    # legacy: 10 sellable (the expired batch does not count), 1 a day: 10 - 7 = 3 <= 8, order 20 - 10
    assert {k: lines[legacy][k] for k in ("on_hand", "in_transit", "requested", "consumed", "proposed")} == {
        "on_hand": 10, "in_transit": 0, "requested": 0, "consumed": 30, "proposed": 10}
    assert lines[legacy]["daily_consumption"] == 1.0 and lines[legacy]["projected"] == 3.0
    # serialized: 2 in transit + 1 requested = 3 <= 5: order 10 - 3
    assert {k: lines[lot.gtin][k] for k in ("on_hand", "in_transit", "requested", "proposed")} == {
        "on_hand": 0, "in_transit": 2, "requested": 1, "proposed": 7}


def test_consumption_older_than_the_window_is_not_counted(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 50))
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 20})
    db_session.execute(StockMovement.__table__.update().where(StockMovement.kind == "SALE")
                       .values(created_at=utcnow() - timedelta(days=40)))
    db_session.commit()
    res = client.get(f"{API}/proposal?location_id={here}&days=30", headers=pharmacist.headers)
    assert res.json["lines"] == []
    res = client.get(f"{API}/proposal?location_id={here}&days=60", headers=pharmacist.headers)
    (line,) = res.json["lines"]
    assert (line["consumed"], line["level_suggested"]) == (20, True)
    assert (line["min_quantity"], line["max_quantity"]) == (3, 7)  # 1/3 a day: ceil(7/3), ceil(21/3)
    assert line["proposed"] == 0  # 30 on hand


def test_a_draft_made_from_the_proposal_takes_the_products_to_order(client, make, db_session, pharmacist, here):
    low, fine = legacy_product(make), legacy_product(make)
    receive(client, pharmacist, here, receipt_line(low, "A", 1), receipt_line(fine, "B", 9))
    _levels(client, pharmacist, here, (low, 2, 6), (fine, 2, 6))
    res = client.post(f"{API}/requests", headers=pharmacist.headers, json={"location_id": here, "from_proposal": True})
    assert res.status_code == 201, res.json
    assert res.json["status"] == "DRAFT" and res.json["number"].startswith("SR-")
    assert _lines(res.json) == {low: (5, 0, 5)}
    again = client.post(f"{API}/requests", headers=pharmacist.headers, json={"location_id": here,
                                                                             "from_proposal": True})
    assert again.status_code == 409 and again.json["code"] == "SUPPLY_REQUEST_EMPTY"  # the draft counts


# ---------------------------------------------------------------- a request's life


def test_a_draft_is_edited_then_sent_to_a_licensed_supplier_only(client, make, db_session, pharmacist, here,
                                                                  importer):
    a, b = legacy_product(make), legacy_product(make)
    draft = _draft(client, pharmacist, here, (a, 3))
    res = client.put(f"{API}/requests/{draft['id']}/lines", headers=pharmacist.headers,
                     json={"lines": [{"gtin": b, "quantity": 4, "note": "urgent"}], "note": "before Friday"})
    assert res.status_code == 200, res.json
    assert _lines(res.json) == {b: (4, 0, 4)} and res.json["note"] == "before Friday"
    unlicensed = make.org("wholesaler")
    refused = client.post(f"{API}/requests/{draft['id']}/send", headers=pharmacist.headers,
                          json={"supplier_id": unlicensed.id})
    assert refused.status_code == 409 and refused.json["code"] == "SUPPLIER_NOT_LICENSED"
    other_pharmacy = make.org("pharmacy")
    assert client.post(f"{API}/requests/{draft['id']}/send", headers=pharmacist.headers,
                       json={"supplier_id": other_pharmacy.id}).json["code"] == "SUPPLIER_NOT_LICENSED"
    sent = client.post(f"{API}/requests/{draft['id']}/send", headers=pharmacist.headers,
                       json={"supplier_id": importer.id})
    assert sent.status_code == 200 and sent.json["status"] == "SENT" and sent.json["supplier_name"] == importer.name
    late = client.put(f"{API}/requests/{draft['id']}/lines", headers=pharmacist.headers,
                      json={"lines": [{"gtin": a, "quantity": 1}]})
    assert late.status_code == 409 and late.json["code"] == "SUPPLY_REQUEST_STATE"


def test_duplicate_lines_and_zero_quantities_are_refused(client, make, db_session, pharmacist, here):
    a = legacy_product(make)
    res = client.post(f"{API}/requests", headers=pharmacist.headers,
                      json={"location_id": here, "lines": [{"gtin": a, "quantity": 1}, {"gtin": a, "quantity": 2}]})
    assert res.status_code == 422 and "lines.1.gtin" in res.json["errors"]
    res = client.post(f"{API}/requests", headers=pharmacist.headers,
                      json={"location_id": here, "lines": [{"gtin": a, "quantity": 0}]})
    assert res.status_code == 422


def test_the_supplier_sees_only_requests_sent_to_it_and_a_pharmacy_only_its_own(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    a = legacy_product(make)
    sent = _sent(client, pharmacist, here, importer, (a, 2))
    draft = _draft(client, pharmacist, here, (a, 1))
    other_importer = licensed(make, make.org("importer"))
    stranger = make.caller("importer", org=other_importer)
    other_pharmacist = make.caller("pharmacist", org=make.org("pharmacy"))
    listed = client.get(f"{API}/requests", headers=wholesaler.headers).json
    assert [x["id"] for x in listed["items"]] == [sent["id"]]
    assert client.get(f"{API}/requests/{draft['id']}", headers=wholesaler.headers).status_code == 403
    assert client.get(f"{API}/requests", headers=stranger.headers).json["items"] == []
    assert client.get(f"{API}/requests/{sent['id']}", headers=stranger.headers).status_code == 403
    assert client.get(f"{API}/requests/{sent['id']}", headers=other_pharmacist.headers).status_code == 403
    assert client.get(f"{API}/requests", headers=other_pharmacist.headers).json["total"] == 0
    mine = client.get(f"{API}/requests", headers=pharmacist.headers).json
    assert {x["id"] for x in mine["items"]} == {sent["id"], draft["id"]}
    regulator = make.caller("regulator")
    assert client.get(f"{API}/requests?status=SENT", headers=regulator.headers).json["total"] == 1
    acted = client.post(f"{API}/requests/{sent['id']}/acknowledge", headers=stranger.headers)
    assert acted.status_code == 403


def test_the_supplier_acknowledges_and_then_the_pharmacy_can_no_longer_cancel(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    sent = _sent(client, pharmacist, here, importer, (legacy_product(make), 2))
    res = client.post(f"{API}/requests/{sent['id']}/acknowledge", headers=wholesaler.headers)
    assert res.status_code == 200 and res.json["status"] == "ACKNOWLEDGED"
    twice = client.post(f"{API}/requests/{sent['id']}/acknowledge", headers=wholesaler.headers)
    assert twice.status_code == 409 and twice.json["code"] == "SUPPLY_REQUEST_STATE"
    cancel = client.post(f"{API}/requests/{sent['id']}/cancel", headers=pharmacist.headers, json={})
    assert cancel.status_code == 409 and cancel.json["code"] == "SUPPLY_REQUEST_STATE"


def test_a_sent_request_is_cancelled_by_the_pharmacy_and_a_rejection_needs_a_reason(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    a = legacy_product(make)
    first = _sent(client, pharmacist, here, importer, (a, 2))
    res = client.post(f"{API}/requests/{first['id']}/cancel", headers=pharmacist.headers,
                      json={"reason": "found elsewhere"})
    assert res.status_code == 200 and (res.json["status"], res.json["reason"]) == ("CANCELLED", "found elsewhere")
    assert client.post(f"{API}/requests/{first['id']}/acknowledge",
                       headers=wholesaler.headers).json["code"] == "SUPPLY_REQUEST_STATE"
    second = _sent(client, pharmacist, here, importer, (a, 2))
    blank = client.post(f"{API}/requests/{second['id']}/reject", headers=wholesaler.headers, json={"reason": ""})
    assert blank.status_code == 422
    res = client.post(f"{API}/requests/{second['id']}/reject", headers=wholesaler.headers,
                      json={"reason": "out of stock until March"})
    assert res.status_code == 200 and (res.json["status"], res.json["reason"]) == ("REJECTED",
                                                                                   "out of stock until March")


def test_shipping_against_a_request_fills_its_lines_until_fulfilled(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    lot = stock(make, importer, packs=6, per_case=2)
    other = stock(make, importer, packs=3)
    sent = _sent(client, pharmacist, here, importer, (lot.gtin, 5), (other.gtin, 2))
    first = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                        json={"from_location_id": lot.location_id, "cases": lot.cases[:2],
                              "packs": other.packs(other.serials[0])})
    assert first.status_code == 201, first.json
    assert first.json["request"]["status"] == "PARTIALLY_SHIPPED"
    assert _lines(first.json["request"]) == {lot.gtin: (5, 4, 1), other.gtin: (2, 1, 1)}
    assert first.json["shipment_number"].startswith("SH-")
    second = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                         json={"from_location_id": lot.location_id,
                               "packs": [lot.pack(lot.case_serials[2][0]), other.pack(other.serials[1])]})
    assert second.status_code == 201, second.json
    body = second.json["request"]
    assert body["status"] == "FULFILLED" and body["closed_at"]
    assert _lines(body) == {lot.gtin: (5, 5, 0), other.gtin: (2, 2, 0)}
    assert [s["packs_count"] for s in body["shipments"]] == [5, 2]
    shipments = db_session.scalars(select(Shipment).order_by(Shipment.id)).all()
    assert {s.to_location_id for s in shipments} == {here}
    # the pharmacy receives them; the proposal no longer counts them in transit, its stock does
    for sh in shipments:
        trace_svc.receive(make.uow(pharmacist.user), sh.id, trace_svc.Receipt(
            packs=tuple(trace_svc.PackRef(p.gtin, p.serial) for p in db_session.scalars(
                select(Pack).join(Pack.batch).where(Pack.shipment_id == sh.id)))))
    lines = {x["gtin"]: x for x in client.get(f"{API}/proposal?location_id={here}",
                                              headers=pharmacist.headers).json["lines"]}
    assert lines == {}  # no levels, no consumption yet
    after = client.get(f"{API}/requests/{sent['id']}", headers=pharmacist.headers).json
    assert _lines(after) == {lot.gtin: (5, 5, 0), other.gtin: (2, 2, 0)}
    assert_stock_in_step(db_session)


def test_a_partly_shipped_request_is_closed_short_by_either_side_and_stops_counting_as_requested(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    lot = stock(make, importer, packs=4)
    sent = _sent(client, pharmacist, here, importer, (lot.gtin, 3))
    url = f"{API}/requests/{sent['id']}/close"
    early = client.post(url, headers=pharmacist.headers, json={"reason": "Not needed any more"})
    assert early.status_code == 409 and early.json["code"] == "SUPPLY_REQUEST_STATE"
    shipped = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                          json={"from_location_id": lot.location_id, "packs": lot.packs(lot.serials[0])})
    assert shipped.json["request"]["status"] == "PARTIALLY_SHIPPED"
    db_session.commit()
    assert svc._requested(db_session, here) == {lot.gtin: 2}
    assert client.post(url, headers=pharmacist.headers, json={"reason": ""}).status_code == 422
    stranger = make.caller("pharmacist")
    assert client.post(url, headers=stranger.headers, json={"reason": "Not mine"}).status_code == 403
    res = client.post(url, headers=wholesaler.headers, json={"reason": "Out of stock at the maker"})
    assert res.status_code == 200, res.json
    assert (res.json["status"], res.json["reason"]) == ("CLOSED_SHORT", "Out of stock at the maker")
    assert res.json["closed_at"] and _lines(res.json) == {lot.gtin: (3, 1, 2)}
    again = client.post(url, headers=pharmacist.headers, json={"reason": "Not needed any more"})
    assert again.status_code == 409
    db_session.commit()
    assert svc._requested(db_session, here) == {}


def test_a_shipment_with_products_not_requested_or_too_many_packs_moves_nothing(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    lot = stock(make, importer, packs=4)
    stranger = stock(make, importer, packs=1)
    sent = _sent(client, pharmacist, here, importer, (lot.gtin, 2))
    res = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                      json={"from_location_id": lot.location_id, "packs": lot.packs(lot.serials[0]) + stranger.packs()})
    assert res.status_code == 409 and res.json["code"] == "PRODUCT_NOT_REQUESTED"
    res = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                      json={"from_location_id": lot.location_id, "packs": lot.packs(*lot.serials[:3])})
    assert res.status_code == 409 and res.json["code"] == "MORE_THAN_REQUESTED"
    res = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                      json={"from_location_id": here, "packs": lot.packs(lot.serials[0])})
    assert res.status_code == 422
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Shipment)) == 0
    assert db_session.scalar(select(func.count()).select_from(SupplyRequestShipment)) == 0
    assert db_session.scalar(select(func.count()).select_from(Pack).where(Pack.shipment_id.is_not(None))) == 0
    assert db_session.get(SupplyRequest, sent["id"]).status == "SENT"
    assert_stock_in_step(db_session)


def test_packs_the_supplier_does_not_hold_are_refused_by_custody_rules(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    elsewhere = stock(make, licensed(make, make.org("importer")), packs=2)
    sent = _sent(client, pharmacist, here, importer, (elsewhere.gtin, 2))
    res = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                      json={"from_location_id": importer.locations[0].id, "packs": elsewhere.packs()})
    assert res.status_code == 409 and res.json["code"] == "PACKS_REFUSED"
    assert client.get(f"{API}/requests/{sent['id']}", headers=wholesaler.headers).json["status"] == "SENT"


def test_nobody_ships_against_a_draft_or_a_rejected_request(client, make, db_session, pharmacist, here, importer,
                                                              wholesaler):
    lot = stock(make, importer, packs=2)
    sent = _sent(client, pharmacist, here, importer, (lot.gtin, 2))
    client.post(f"{API}/requests/{sent['id']}/reject", headers=wholesaler.headers, json={"reason": "no stock"})
    res = client.post(f"{API}/requests/{sent['id']}/shipments", headers=wholesaler.headers,
                      json={"from_location_id": lot.location_id, "packs": lot.packs()})
    assert res.status_code == 409 and res.json["code"] == "SUPPLY_REQUEST_STATE"
    draft = _draft(client, pharmacist, here, (lot.gtin, 1))
    res = client.post(f"{API}/requests/{draft['id']}/shipments", headers=wholesaler.headers,
                      json={"from_location_id": lot.location_id, "packs": lot.packs()})
    assert res.status_code == 403


# ---------------------------------------------------------------- pages


def test_a_pharmacist_keeps_levels_turns_the_proposal_into_a_request_and_sends_it(
        app, make, db_session, pharmacist, here, importer):
    web = app.test_client()
    sign_in(web, pharmacist.user.username)
    gtin = legacy_product(make)
    name = db_session.scalar(select(Product.trade_name).join(ProductGtin).where(ProductGtin.gtin == gtin))
    html, token = page(web, "/stock/supply/levels")
    assert "Save levels" in html
    labelled(html, "location_id")
    assert 'aria-label="GTIN, new row 1"' in html and 'aria-label="Maximum, new row 1"' in html
    res = web.post("/stock/supply/levels", data={"csrf_token": token, "location_id": here, "rows": 1,
                                                 "gtin-0": gtin, "min-0": "6", "max-0": "4"})
    assert res.status_code == 422 and "above the maximum" in res.get_data(as_text=True)
    res = web.post("/stock/supply/levels", data={"csrf_token": token, "location_id": here, "rows": 1,
                                                 "gtin-0": gtin, "min-0": "2", "max-0": "8"})
    assert res.status_code == 302
    spare = legacy_product(make)
    web.post("/stock/supply/levels", data={"csrf_token": token, "location_id": here, "rows": 1,
                                           "gtin-0": spare, "min-0": "1", "max-0": "1"})
    html, token = page(web, "/stock/supply/levels")
    assert 'value="8"' in html and spare in html
    res = web.post("/stock/supply/levels", data={"csrf_token": token, "location_id": here, "rows": 2,
                                                 "gtin-0": gtin, "known-0": "1", "min-0": "2", "max-0": "8",
                                                 "gtin-1": spare, "known-1": "1", "min-1": "", "max-1": ""})
    assert res.status_code == 302
    db_session.commit()
    assert db_session.scalars(select(StockLevel.gtin)).all() == [gtin]
    html, token = page(web, f"/stock/supply/proposal?location_id={here}")
    assert gtin in html
    labelled(html, "note", "days")
    assert f'aria-label="Packs of {name}"' in html
    res = web.post("/stock/supply/requests/new", data={"csrf_token": token, "location_id": here, "rows": 1,
                                                      "gtin-0": gtin, "quantity-0": "8", "note": "weekly"})
    assert res.status_code == 302
    request_id = int(res.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    html, token = page(web, f"/stock/supply/requests/{request_id}")
    assert importer.name in html
    labelled(html, "supplier_id", "note")
    assert f'aria-label="Packs of {name}"' in html and 'aria-label="GTIN, extra row 1"' in html
    res = web.post(f"/stock/supply/requests/{request_id}/send", data={"csrf_token": token,
                                                                     "supplier_id": importer.id})
    assert res.status_code == 302
    db_session.commit()
    assert db_session.get(SupplyRequest, request_id).status == "SENT"
    html, _ = page(web, f"/stock/supply/requests/{request_id}")
    assert "Cancel the request" in html and "Send the request" not in html


def test_a_wholesaler_ships_against_a_request_by_scanning_cases(app, make, db_session, pharmacist, here, importer,
                                                                 wholesaler, client):
    lot = stock(make, importer, packs=4, per_case=2)
    sent = _sent(client, pharmacist, here, importer, (lot.gtin, 4))
    web = app.test_client()
    sign_in(web, wholesaler.user.username)
    html, _ = page(web, "/stock/supply/requests")
    assert sent["number"] in html
    html, token = page(web, f"/stock/supply/requests/{sent['id']}")
    assert "Ship against this request" in html and "You hold" in html
    labelled(html, "from_location_id", "scans", "reject-reason")
    bad = web.post(f"/stock/supply/requests/{sent['id']}/ship",
                   data={"csrf_token": token, "from_location_id": lot.location_id, "scans": "not a code"})
    assert bad.status_code == 422
    res = web.post(f"/stock/supply/requests/{sent['id']}/ship",
                   data={"csrf_token": token, "from_location_id": lot.location_id, "scans": "\n".join(lot.cases)})
    assert res.status_code == 302, res.get_data(as_text=True)[:2000]
    db_session.commit()
    assert db_session.get(SupplyRequest, sent["id"]).status == "FULFILLED"
    html, _ = page(web, f"/stock/supply/requests/{sent['id']}")
    assert "Fulfilled" in html and "Ship against this request" not in html
    assert_stock_in_step(db_session)


def test_the_agency_reads_a_request_page_and_another_pharmacy_is_refused(app, make, db_session, client, pharmacist,
                                                                         here, importer):
    sent = _sent(client, pharmacist, here, importer, (legacy_product(make), 2))
    web = app.test_client()
    sign_in(web, make.user("regulator").username)
    html, _ = page(web, f"/stock/supply/requests/{sent['id']}")
    assert sent["number"] in html and "Sent" in html
    assert "Acknowledge" not in html and "Cancel the request" not in html and "Send the request" not in html
    html, _ = page(web, f"/stock/supply/proposal?location_id={here}")
    assert "Save as a draft request" not in html
    other = app.test_client()
    sign_in(other, make.user("pharmacist", org=make.org("pharmacy")).username)
    assert other.get(f"/stock/supply/requests/{sent['id']}").status_code == 403
    html, _ = page(other, "/stock/supply/requests")
    assert sent["number"] not in html


# ---------------------------------------------------------------- races (PostgreSQL)


@pytest.mark.postgres_only
def test_two_wholesaler_users_acknowledging_at_once_leave_one_winner(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    from tests.integration.test_movements_races import _actor, _uow, race

    sent = _sent(client, pharmacist, here, importer, (legacy_product(make), 3))
    colleague = make.user("importer", org=importer)
    a, b = _actor(make, wholesaler.user), _actor(make, colleague)
    results = race([lambda s: svc.acknowledge_request(_uow(a, s), sent["id"]),
                    lambda s: svc.acknowledge_request(_uow(b, s), sent["id"])])
    assert sorted(type(r).__name__ for r in results) == ["RequestNotInState", "RequestView"]
    db_session.commit()
    assert db_session.get(SupplyRequest, sent["id"]).status == "ACKNOWLEDGED"


@pytest.mark.postgres_only
def test_a_cancellation_racing_an_acknowledgement_leaves_one_winner(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    from tests.integration.test_movements_races import _actor, _uow, race

    sent = _sent(client, pharmacist, here, importer, (legacy_product(make), 3))
    supplier, pharmacy = _actor(make, wholesaler.user), _actor(make, pharmacist.user)
    results = race([lambda s: svc.acknowledge_request(_uow(supplier, s), sent["id"]),
                    lambda s: svc.cancel_request(_uow(pharmacy, s), sent["id"], "found elsewhere")])
    winners = [r for r in results if isinstance(r, svc.RequestView)]
    assert len(winners) == 1
    assert [type(r).__name__ for r in results if r not in winners] == ["RequestNotInState"]
    db_session.commit()
    assert db_session.get(SupplyRequest, sent["id"]).status == winners[0].status


@pytest.mark.postgres_only
def test_two_wholesaler_users_shipping_the_whole_request_at_once_ship_it_once(
        client, make, db_session, pharmacist, here, importer, wholesaler):
    from tests.integration.test_movements_races import _actor, _uow, race

    lot = stock(make, importer, packs=6)
    sent = _sent(client, pharmacist, here, importer, (lot.gtin, 3))
    colleague = make.user("importer", org=importer)
    a, b = _actor(make, wholesaler.user), _actor(make, colleague)

    def ship(actor, serials):
        return lambda s: svc.ship_against(_uow(actor, s), sent["id"], svc.ShipAgainst(
            lot.location_id, tuple(trace_svc.PackRef(lot.gtin, x) for x in serials)))

    results = race([ship(a, lot.serials[:3]), ship(b, lot.serials[3:])])
    assert sorted(type(r).__name__ for r in results) == ["RequestNotInState", "tuple"]
    db_session.commit()
    assert db_session.get(SupplyRequest, sent["id"]).status == "FULFILLED"
    assert db_session.scalar(select(func.count()).select_from(Shipment)) == 1
    assert db_session.scalar(select(func.count()).select_from(Pack).where(Pack.shipment_id.is_not(None))) == 3
    assert_stock_in_step(db_session)


# ---------------------------------------------------------------- the demo


def test_the_demo_importer_has_a_request_from_the_demo_pharmacy_to_ship_against(app, client, make, db_session):
    from pharma import fixtures
    from pharma.parties.models import Location, User
    from tests.factories import Made

    with app.app_context():
        report = fixtures.load_all()
    assert report.counts["demo_supply_requests"] == 1 and report.counts["demo_stock_levels"] >= 3
    users = {u.username: u for u in db_session.scalars(select(User).where(User.username.in_(["importer",
                                                                                            "pharmacist"])))}
    importer, pharmacist = (Made(users[n], make.token(users[n])) for n in ("importer", "pharmacist"))
    (incoming,) = client.get(f"{API}/requests", headers=importer.headers).json["items"]
    assert incoming["status"] == "SENT" and incoming["supplier_id"] == users["importer"].organisation_id
    assert incoming["organisation_id"] == users["pharmacist"].organisation_id
    levels = client.get(f"{API}/levels?location_id={incoming['location_id']}", headers=pharmacist.headers).json
    assert len(levels["levels"]) == report.counts["demo_stock_levels"]
    detail = client.get(f"{API}/requests/{incoming['id']}", headers=importer.headers).json
    line = detail["lines"][0]
    theirs = select(Location.id).where(Location.organisation_id == incoming["supplier_id"])
    packs = db_session.scalars(select(Pack).where(Pack.gtin == line["gtin"], Pack.shipment_id.is_(None),
                                                  Pack.state == "ACTIVE", Pack.location_id.in_(theirs))
                               .limit(line["quantity"])).all()
    res = client.post(f"{API}/requests/{incoming['id']}/shipments", headers=importer.headers,
                      json={"from_location_id": packs[0].location_id,
                            "packs": [{"gtin": p.gtin, "serial": p.serial} for p in packs]})
    assert res.status_code == 201, res.json
    assert res.json["request"]["status"] in ("PARTIALLY_SHIPPED", "FULFILLED")
    assert_stock_in_step(db_session)
