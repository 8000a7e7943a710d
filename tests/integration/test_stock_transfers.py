"""Internal transfers of non-serialized stock between two locations of one organisation: out at the
sender's value, in at exactly that value, all lines or none; a transfer racing a sale of the last
unit leaves one winner."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pharma.stock.models import StockMovement
from pharma.stock.transfers import TransferLine, TransferStock, arrivals, transfer_stock
from tests.integration.stock_helpers import (
    API,
    assert_stock_in_step,
    legacy_product,
    on_hand,
    receipt_line,
    receive,
)
from tests.integration.test_movements_races import _actor, _uow, race
from tests.integration.test_signin import csrf_from, sign_in


@pytest.fixture()
def chain(make):
    return make.org("pharmacy", locations=2)


@pytest.fixture()
def pharmacist(make, chain):
    return make.caller("pharmacist", org=chain)


def move(client, caller, source: int, target: int, *lines: tuple[str, str, int], document: str = "TN-1"):
    return client.post(f"{API}/transfers", headers=caller.headers, json={
        "from_location_id": source, "to_location_id": target, "document": document,
        "lines": [{"gtin": g, "batch": b, "quantity": q} for g, b, q in lines]})


def test_arrivals_bring_in_exactly_the_value_that_left():
    assert arrivals(4, 1000) == [(4, 250)]
    assert arrivals(3, 1000) == [(2, 333), (1, 334)]
    assert arrivals(5, 0) == [(5, 0)]
    for quantity in range(1, 30):
        for value in (0, 1, 7, 999, 1001, 123457):
            lines = arrivals(quantity, value)
            assert sum(n for n, _ in lines) == quantity and sum(n * c for n, c in lines) == value


def test_a_transfer_moves_stock_between_branches_at_the_senders_value(client, make, db_session, chain, pharmacist):
    a, b = (loc.id for loc in chain.locations)
    gtin = legacy_product(make)
    receive(client, pharmacist, a, receipt_line(gtin, "L1", 3, unit_cost=100),
            receipt_line(gtin, "L1", 3, unit_cost=101))
    res = move(client, pharmacist, a, b, (gtin, "L1", 4), document="TN-7")
    assert res.status_code == 201, res.json
    sent, received = res.json["sent"]["movements"], res.json["received"]["movements"]
    assert [(m["kind"], m["quantity"], m["value"]) for m in sent] == [("TRANSFER_OUT", -4, -402)]
    assert [(m["kind"], m["quantity"], m["unit_cost"]) for m in received] == [("TRANSFER_IN", 2, 100),
                                                                              ("TRANSFER_IN", 2, 101)]
    assert sum(m["value"] for m in received) == 402
    assert {m["document_id"] for m in sent + received} == {"TN-7"}
    assert on_hand(db_session, a) == {(gtin, "L1"): 2} and on_hand(db_session, b) == {(gtin, "L1"): 4}
    a_value = client.get(f"{API}/balances?location_id={a}", headers=pharmacist.headers).json["value"]
    b_value = client.get(f"{API}/balances?location_id={b}", headers=pharmacist.headers).json["value"]
    assert (a_value, b_value) == (201, 402)  # 603 received, none lost or made
    assert_stock_in_step(db_session)


def test_a_transfer_of_more_than_is_on_hand_moves_nothing(client, make, db_session, chain, pharmacist):
    a, b = (loc.id for loc in chain.locations)
    gtin, other = legacy_product(make), legacy_product(make, "Ibuprofen EAN")
    receive(client, pharmacist, a, receipt_line(gtin, "L1", 5), receipt_line(other, "M1", 1))
    res = move(client, pharmacist, a, b, (gtin, "L1", 5), (other, "M1", 2))
    assert res.status_code == 409 and res.json["code"] == "INSUFFICIENT_STOCK"
    assert res.json["shortages"] == [{"location_id": a, "gtin": other, "batch": "M1", "wanted": 2, "on_hand": 1}]
    assert on_hand(db_session, a) == {(gtin, "L1"): 5, (other, "M1"): 1} and on_hand(db_session, b) == {}
    assert db_session.scalars(select(StockMovement.kind).where(StockMovement.kind.like("TRANSFER%"))).all() == []


def test_transfers_stay_within_the_organisation_and_need_two_locations(client, make, chain, pharmacist):
    a, b = (loc.id for loc in chain.locations)
    gtin = legacy_product(make)
    receive(client, pharmacist, a, receipt_line(gtin, "L1", 5))
    assert move(client, pharmacist, a, a, (gtin, "L1", 1)).json["code"] == "TRANSFER_TO_SAME_LOCATION"
    elsewhere = make.org("pharmacy").locations[0].id
    res = move(client, pharmacist, a, elsewhere, (gtin, "L1", 1))
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"
    inspector = make.caller("inspector")
    assert move(client, inspector, a, b, (gtin, "L1", 1)).status_code == 403
    res = move(client, pharmacist, a, b, (gtin, "L1", 0))
    assert res.status_code == 422 and "lines" in res.json["errors"]


def test_a_system_transfer_between_two_organisations_is_refused(make, db_session, chain):
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork

    other = make.org("pharmacy").locations[0].id
    with pytest.raises(Exception) as refused:
        transfer_stock(UnitOfWork(db_session, Actor.system("test")),
                       TransferStock(chain.locations[0].id, other, "TN-X", (TransferLine("0" * 14, "L", 1),)))
    assert getattr(refused.value, "code", None) == "TRANSFER_BETWEEN_ORGANISATIONS"


def test_serialized_batches_are_shipped_not_transferred(client, make, db_session):
    from tests.integration.trace_helpers import stock

    importer = make.org("importer", locations=2)
    lot = stock(make, importer, packs=3)
    caller = make.caller("importer", org=importer)
    res = move(client, caller, importer.locations[0].id, importer.locations[1].id, (lot.gtin, lot.batch, 1))
    assert res.status_code == 409 and res.json["code"] == "SERIALIZED_STOCK"
    assert on_hand(db_session, importer.locations[0].id) == {(lot.gtin, lot.batch): 3}
    assert_stock_in_step(db_session)


def test_a_pharmacist_transfers_on_the_page(client, make, db_session, chain):
    user = make.user("pharmacist", org=chain)
    a, b = (loc.id for loc in chain.locations)
    gtin = legacy_product(make)
    caller = make.caller("pharmacist", org=chain)
    receive(client, caller, a, receipt_line(gtin, "L1", 5))
    sign_in(client, user.username)
    html = client.get("/stock/transfer").get_data(as_text=True)
    assert 'name="to_location_id"' in html
    res = client.post("/stock/transfer", data={"csrf_token": csrf_from(html), "from_location_id": a,
                                               "to_location_id": b, "gtin-0": gtin[1:], "batch-0": "L1",
                                               "quantity-0": "2", "document": "TN-9"})
    assert res.status_code == 302, res.get_data(as_text=True)
    assert on_hand(db_session, b) == {(gtin, "L1"): 2}
    res = client.post("/stock/transfer", data={"csrf_token": csrf_from(html), "from_location_id": a,
                                               "to_location_id": b, "gtin-0": gtin, "batch-0": "L1",
                                               "quantity-0": "9", "document": "TN-10"})
    assert res.status_code == 409 and "Only 3 of batch L1" in res.get_data(as_text=True)


@pytest.mark.postgres_only
def test_a_transfer_and_a_sale_racing_for_the_last_unit_leave_one_winner(client, make, db_session, chain,
                                                                         pharmacist):
    a, b = (loc.id for loc in chain.locations)
    gtin = legacy_product(make)
    receive(client, pharmacist, a, receipt_line(gtin, "L1", 1))
    actor = _actor(make, pharmacist.user)
    from pharma.stock import services as svc

    results = race([
        lambda session: transfer_stock(_uow(actor, session),
                                       TransferStock(a, b, "TN-R", (TransferLine(gtin, "L1", 1),))),
        lambda session: svc.issue_stock(_uow(actor, session), svc.IssueStock(a, "SALE", "TILL-1",
                                                                             (svc.IssueLine(gtin, 1),))),
    ])
    assert sorted(type(r).__name__ for r in results) in (["InsufficientStock", "Transferred"],
                                                         ["InsufficientStock", "Posted"])
    held = {**on_hand(db_session, a), **{("b", *k): n for k, n in on_hand(db_session, b).items()}}
    assert sum(held.values()) in (0, 1) and len(held) <= 1
    assert_stock_in_step(db_session)
