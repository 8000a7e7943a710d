"""Non-serialized stock through the API: receipts at unit cost, FEFO issues, write-offs, stock on
hand, the journal and the stock card; balances never negative."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from pharma.shared.time import utcnow
from pharma.stock.models import StockBalance, StockMovement
from pharma.trace import movements as trace_svc
from tests.factories import gtin13
from tests.integration.stock_helpers import (
    API,
    TODAY,
    assert_stock_in_step,
    issue,
    legacy_product,
    on_hand,
    receipt_line,
    receive,
)
from tests.integration.trace_helpers import licensed, stock, system_uow


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy")


@pytest.fixture()
def pharmacist(make, pharmacy):
    return make.caller("pharmacist", org=pharmacy)


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


def test_a_receipt_adds_stock_at_its_unit_cost(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    res = receive(client, pharmacist, here, receipt_line(gtin, "A1", 10, unit_cost=250), document="INV-77")
    assert res.status_code == 201, res.json
    assert [(m["kind"], m["quantity"], m["value"], m["document_type"], m["document_id"])
            for m in res.json["movements"]] == [("RECEIPT", 10, 2500, "supplier_invoice", "INV-77")]
    body = client.get(f"{API}/balances?location_id={here}", headers=pharmacist.headers).json
    assert (body["lines"], body["units"], body["value"]) == (1, 10, 2500)
    assert body["items"][0]["sellable"] is True and body["items"][0]["trade_name"].startswith("Paracetamol")


def test_a_sale_picks_the_earliest_expiring_batch_first_and_splits(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "LATE", 5, days=500), receipt_line(gtin, "SOON", 2, days=40),
            receipt_line(gtin, "MID", 4, days=200))
    res = issue(client, pharmacist, here, {"gtin": gtin[1:], "quantity": 4})
    assert res.status_code == 201, res.json
    assert [(m["batch"], m["quantity"], m["kind"], m["document_type"]) for m in res.json["movements"]] == [
        ("SOON", -2, "SALE", "receipt"), ("MID", -2, "SALE", "receipt")]
    assert on_hand(db_session, here) == {(gtin, "LATE"): 5, (gtin, "MID"): 2}


def test_an_expired_or_recalled_batch_is_never_picked(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "OLD", 5, days=-1), receipt_line(gtin, "GOOD", 1, days=90))
    res = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2})
    assert res.status_code == 409
    assert res.json["code"] == "INSUFFICIENT_STOCK"
    named = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 1, "batch": "OLD"})
    assert named.status_code == 409 and named.json["code"] == "BATCH_NOT_SELLABLE"
    assert on_hand(db_session, here) == {(gtin, "OLD"): 5, (gtin, "GOOD"): 1}


def test_a_sale_of_more_than_is_on_hand_is_refused_and_nothing_moves(client, make, db_session, pharmacist, here):
    gtin, other = legacy_product(make), legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "A", 3), receipt_line(other, "B", 1))
    res = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2}, {"gtin": other, "quantity": 2})
    assert res.status_code == 409
    assert res.json["code"] == "INSUFFICIENT_STOCK"
    assert res.json["shortages"][0]["gtin"] == other
    assert on_hand(db_session, here) == {(gtin, "A"): 3, (other, "B"): 1}
    assert db_session.scalar(select(func.count()).select_from(StockMovement)) == 2


def test_issues_take_value_at_the_weighted_average_cost(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "W", 10, unit_cost=100))
    receive(client, pharmacist, here, receipt_line(gtin, "W", 10, unit_cost=200), document="INV-2")
    res = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 5}, kind="DISPENSE", document="RX-9")
    assert [(m["value"], m["kind"], m["document_type"]) for m in res.json["movements"]] == [
        (-750, "DISPENSE", "prescription")]
    balance = db_session.scalar(select(StockBalance).where(StockBalance.gtin == gtin))
    assert (balance.quantity, balance.value) == (15, 2250)
    last = issue(client, pharmacist, here, {"gtin": gtin, "quantity": 15})
    assert last.status_code == 201, last.json
    db_session.commit()
    assert db_session.execute(select(StockBalance.quantity, StockBalance.value)
                              .where(StockBalance.gtin == gtin)).one() == (0, 0)


def test_a_write_off_names_its_reason_and_act(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "X", 4, days=-10))
    res = client.post(f"{API}/write-offs", headers=pharmacist.headers, json={
        "location_id": here, "reason": "EXPIRED", "document": "ACT-3", "lines": [{"gtin": gtin, "batch": "X",
                                                                                  "quantity": 4}]})
    assert res.status_code == 201, res.json
    assert [(m["kind"], m["reason"], m["quantity"], m["document_id"]) for m in res.json["movements"]] == [
        ("WRITE_OFF", "EXPIRED", -4, "ACT-3")]
    assert on_hand(db_session, here) == {}


def test_serialized_batches_are_not_received_or_written_off_by_quantity(client, make, db_session, pharmacy,
                                                                         pharmacist, here):
    lot = stock(make, licensed(make, pharmacy), packs=2)
    res = receive(client, pharmacist, here, receipt_line(lot.gtin, lot.batch, 1))
    assert res.status_code == 409 and res.json["code"] == "SERIALIZED_STOCK"
    res = client.post(f"{API}/write-offs", headers=pharmacist.headers, json={
        "location_id": here, "reason": "DAMAGED", "document": "ACT-1",
        "lines": [{"gtin": lot.gtin, "batch": lot.batch, "quantity": 1}]})
    assert res.status_code == 409 and res.json["code"] == "SERIALIZED_STOCK"
    res = issue(client, pharmacist, here, {"gtin": lot.gtin, "quantity": 1})
    assert res.status_code == 409 and res.json["code"] == "SERIALIZED_STOCK"
    assert_stock_in_step(db_session)


def test_an_unregistered_gtin_is_refused(client, pharmacist, here):
    res = receive(client, pharmacist, here, receipt_line(gtin13(999_999), "A", 1))
    assert res.status_code == 409 and res.json["code"] == "UNREGISTERED_PRODUCT"


def test_the_stock_card_shows_opening_movements_and_closing(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "C", 10, unit_cost=10))
    db_session.execute(update(StockMovement).values(created_at=utcnow() - timedelta(days=5)))
    db_session.commit()
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 3})
    issue(client, pharmacist, here, {"gtin": gtin, "quantity": 2, "batch": "C"}, document="FD-2")
    start = (TODAY - timedelta(days=1)).isoformat()
    body = client.get(f"{API}/card?location_id={here}&gtin={gtin}&batch=C&date_from={start}",
                      headers=pharmacist.headers).json
    assert (body["opening"], body["closing"], body["opening_value"], body["closing_value"]) == (10, 5, 100, 50)
    assert [(m["quantity"], m["balance"]) for m in body["movements"]] == [(-3, 7), (-2, 5)]
    journal = client.get(f"{API}/movements?location_id={here}&kind=SALE", headers=pharmacist.headers).json
    assert journal["total"] == 2 and [m["document_id"] for m in journal["items"]] == ["FD-2", "FD-1"]


def test_balances_filter_by_gtin_and_expiry(client, make, pharmacist, here):
    gtin, other = legacy_product(make), legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "S", 1, days=20), receipt_line(gtin, "L", 1, days=300),
            receipt_line(other, "O", 1, days=10))
    before = (TODAY + timedelta(days=30)).isoformat()
    body = client.get(f"{API}/balances?location_id={here}&gtin={gtin}&expiring_before={before}",
                      headers=pharmacist.headers).json
    assert [i["batch"] for i in body["items"]] == ["S"]


def test_another_pharmacys_stock_is_not_visible(client, make, here):
    stranger = make.caller("pharmacist", org=make.org("pharmacy"))
    res = client.get(f"{API}/balances?location_id={here}", headers=stranger.headers)
    assert res.status_code == 403


def test_a_balance_cannot_go_negative_even_past_the_service(make, db_session, here):
    gtin = legacy_product(make)
    db_session.add(StockBalance(location_id=here, gtin=gtin, batch="Z", expiry=TODAY, expiry_raw="000000",
                                quantity=1, value=0))
    db_session.commit()
    with pytest.raises(IntegrityError):
        db_session.execute(update(StockBalance).values(quantity=-1))
        db_session.flush()
    db_session.rollback()


def test_a_retried_sale_with_the_same_idempotency_key_posts_once(client, make, db_session, pharmacist, here):
    gtin = legacy_product(make)
    receive(client, pharmacist, here, receipt_line(gtin, "I", 5))
    body = {"location_id": here, "kind": "SALE", "document": "FD-5", "lines": [{"gtin": gtin, "quantity": 1}]}
    headers = {**pharmacist.headers, "Idempotency-Key": "sale-5"}
    first = client.post(f"{API}/issues", headers=headers, json=body)
    again = client.post(f"{API}/issues", headers=headers, json=body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json == again.json
    assert on_hand(db_session, here) == {(gtin, "I"): 4}


def test_trace_acts_refuse_nothing_when_stock_and_custody_agree(make, db_session):
    """The ledger runs inside the trace act: a shipment of every pack leaves the sender at zero."""
    importer = licensed(make, make.org("importer"))
    lot = stock(make, importer, packs=2)
    trace_svc.ship(system_uow(make), trace_svc.ShipPacks(lot.location_id, make.org("pharmacy").locations[0].id,
                                                         packs=tuple(trace_svc.PackRef(lot.gtin, s)
                                                                     for s in lot.serials)))
    assert on_hand(db_session, lot.location_id) == {}
    assert_stock_in_step(db_session)


def test_stock_on_hand_is_valued_at_cost_and_at_the_regulated_retail_price(client, make, pharmacist, here):
    from pharma.register import services as reg
    from tests.integration.trace_helpers import product

    product_id, gtin = product(make, "Priced")
    unpriced = legacy_product(make)
    reg.set_max_price(system_uow(make), product_id, reg.NewPrice(450, TODAY - timedelta(days=1)))
    receive(client, pharmacist, here, receipt_line(gtin, "P", 4, unit_cost=300), receipt_line(unpriced, "U", 1))
    body = client.get(f"{API}/balances?location_id={here}", headers=pharmacist.headers).json
    assert (body["value"], body["retail_value"]) == (1300, 1800)
    assert {i["gtin"]: (i["max_retail_price"], i["retail_value"]) for i in body["items"]} == {
        gtin: (450, 1800), unpriced: (None, None)}
