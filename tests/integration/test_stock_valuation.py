"""Valuation: FIFO cost layers behind the ledger, the method switch, and the purchase cost of
serialized packs (shipment prices, declaration costs)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pharma.parties.models import Location
from pharma.stock.models import StockBalance, StockMovement
from pharma.stock.valuation_models import CostLayer, ValuationSetting
from pharma.trace import movements as trace_svc
from tests.integration.stock_helpers import (
    API,
    assert_stock_in_step,
    issue,
    legacy_product,
    receipt_line,
    receive,
)
from tests.integration.trace_helpers import licensed, stock, system_uow


def assert_layers_in_step(session) -> None:
    """Under FIFO every balance's quantity and value are the sums of its cost layers; elsewhere no
    layers at all."""
    session.commit()
    session.expire_all()
    fifo_locations = set(session.scalars(
        select(Location.id).join(ValuationSetting, ValuationSetting.organisation_id == Location.organisation_id)
        .where(ValuationSetting.method == "FIFO")))
    layers = {(loc, gtin, lot): (q, v) for loc, gtin, lot, q, v in session.execute(
        select(CostLayer.location_id, CostLayer.gtin, CostLayer.batch, func.sum(CostLayer.quantity_left),
               func.sum(CostLayer.quantity_left * CostLayer.unit_cost))
        .group_by(CostLayer.location_id, CostLayer.gtin, CostLayer.batch))}
    assert all(k[0] in fifo_locations for k in layers)
    balances = {(b.location_id, b.gtin, b.batch): (b.quantity, b.value) for b in session.scalars(
        select(StockBalance).where(StockBalance.location_id.in_(fifo_locations), StockBalance.quantity > 0))}
    assert layers == balances


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy")


@pytest.fixture()
def head(make, pharmacy):
    return make.caller("head_pharmacist", org=pharmacy)


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


def _fifo(client, caller):
    res = client.put(f"{API}/valuation", headers=caller.headers, json={"method": "FIFO"})
    assert res.status_code == 200, res.json
    return res.json


def _balance(session, location_id, gtin, batch) -> tuple[int, int]:
    session.commit()
    session.expire_all()
    b = session.scalars(select(StockBalance).where(StockBalance.location_id == location_id,
                                                   StockBalance.gtin == gtin, StockBalance.batch == batch)).one()
    return b.quantity, b.value


def test_the_weighted_average_is_the_default_and_writes_no_layers(client, make, db_session, head, here):
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=100), document="INV-1")
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=300), document="INV-2")
    res = issue(client, head, here, {"gtin": gtin, "quantity": 1, "batch": "A"})
    assert res.json["movements"][0]["value"] == -200
    assert client.get(f"{API}/valuation", headers=head.headers).json["method"] == "WEIGHTED_AVERAGE"
    assert db_session.scalar(select(func.count()).select_from(CostLayer)) == 0
    assert_layers_in_step(db_session)


def test_under_fifo_a_sale_takes_its_value_from_the_oldest_receipts(client, make, db_session, head, here):
    _fifo(client, head)
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=100), document="INV-1")
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=300), document="INV-2")
    res = issue(client, head, here, {"gtin": gtin, "quantity": 3, "batch": "A"})
    assert res.status_code == 201, res.json
    assert res.json["movements"][0]["value"] == -(2 * 100 + 300)
    assert _balance(db_session, here, gtin, "A") == (1, 300)
    layers = client.get(f"{API}/valuation/layers?location_id={here}", headers=head.headers).json
    assert [(x["quantity_left"], x["unit_cost"]) for x in layers] == [(1, 300)]
    assert_layers_in_step(db_session)
    assert_stock_in_step(db_session)


def test_under_fifo_write_offs_and_sales_of_the_last_units_empty_the_layers(client, make, db_session, head, here):
    _fifo(client, head)
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 3, unit_cost=70), receipt_line(gtin, "B", 1, unit_cost=5))
    res = client.post(f"{API}/write-offs", headers=head.headers, json={
        "location_id": here, "reason": "DAMAGED", "document": "ACT-1",
        "lines": [{"gtin": gtin, "batch": "A", "quantity": 3}]})
    assert res.status_code == 201, res.json
    assert res.json["movements"][0]["value"] == -210
    assert _balance(db_session, here, gtin, "A") == (0, 0)
    assert db_session.scalar(select(func.count()).select_from(CostLayer).where(CostLayer.batch == "A")) == 0
    assert_layers_in_step(db_session)


def test_a_refused_sale_under_fifo_leaves_the_layers_alone(client, make, db_session, head, here):
    _fifo(client, head)
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=100))
    res = issue(client, head, here, {"gtin": gtin, "quantity": 5})
    assert res.status_code == 409 and res.json["code"] == "INSUFFICIENT_STOCK"
    assert_layers_in_step(db_session)
    assert _balance(db_session, here, gtin, "A") == (2, 200)


def test_switching_to_fifo_with_stock_rebuilds_layers_at_the_same_value(client, make, db_session, head, here):
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=100), document="INV-1")
    receive(client, head, here, receipt_line(gtin, "A", 1, unit_cost=101), document="INV-2")
    before = _balance(db_session, here, gtin, "A")
    assert before == (3, 301)
    change = _fifo(client, head)
    assert (change["previous"], change["method"], change["balances"]) == ("WEIGHTED_AVERAGE", "FIFO", 1)
    assert _balance(db_session, here, gtin, "A") == before
    assert_layers_in_step(db_session)
    res = issue(client, head, here, {"gtin": gtin, "quantity": 3, "batch": "A"})
    assert res.json["movements"][0]["value"] == -301
    assert_layers_in_step(db_session)


def test_switching_back_to_the_weighted_average_drops_the_layers(client, make, db_session, head, here):
    _fifo(client, head)
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 1, unit_cost=100), receipt_line(gtin, "A", 1, unit_cost=300))
    res = client.put(f"{API}/valuation", headers=head.headers, json={"method": "WEIGHTED_AVERAGE"})
    assert res.status_code == 200 and res.json["previous"] == "FIFO"
    assert db_session.scalar(select(func.count()).select_from(CostLayer)) == 0
    assert issue(client, head, here, {"gtin": gtin, "quantity": 1}).json["movements"][0]["value"] == -200
    assert_layers_in_step(db_session)


def test_an_unknown_method_is_refused(client, head):
    res = client.put(f"{API}/valuation", headers=head.headers, json={"method": "LIFO"})
    assert res.status_code == 422


def test_a_pharmacist_may_not_change_the_method(client, make, pharmacy):
    pharmacist = make.caller("pharmacist", org=pharmacy)
    res = client.put(f"{API}/valuation", headers=pharmacist.headers, json={"method": "FIFO"})
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"


def test_fifo_of_one_organisation_leaves_the_others_on_the_weighted_average(client, make, db_session, head, here):
    other = make.org("pharmacy")
    other_head = make.caller("head_pharmacist", org=other)
    _fifo(client, head)
    gtin = legacy_product(make)
    for caller, loc in ((head, here), (other_head, other.locations[0].id)):
        receive(client, caller, loc, receipt_line(gtin, "A", 1, unit_cost=100), receipt_line(gtin, "A", 1,
                                                                                            unit_cost=300))
    assert issue(client, head, here, {"gtin": gtin, "quantity": 1}).json["movements"][0]["value"] == -100
    assert issue(client, other_head, other.locations[0].id, {"gtin": gtin, "quantity": 1}
                 ).json["movements"][0]["value"] == -200
    assert_layers_in_step(db_session)


# ---------------------------------------------------------------- serialized packs at a price


def _ship(make, lot, receiver, serials=None):
    refs = tuple(trace_svc.PackRef(lot.gtin, s) for s in (serials or lot.serials))
    return trace_svc.ship(system_uow(make), trace_svc.ShipPacks(lot.location_id, receiver.locations[0].id,
                                                                 packs=refs)).id


def _receive(make, lot, shipment_id, serials):
    trace_svc.receive(system_uow(make), shipment_id,
                      trace_svc.Receipt(packs=tuple(trace_svc.PackRef(lot.gtin, s) for s in serials)))


def test_a_received_shipment_comes_in_at_the_senders_prices(client, make, db_session, pharmacy):
    importer = licensed(make, make.org("importer"))
    seller = make.caller("importer", org=importer)
    lot = stock(make, importer, packs=4)
    shipment_id = _ship(make, lot, pharmacy)
    res = client.put(f"{API}/shipment-prices/{shipment_id}", headers=seller.headers,
                     json={"lines": [{"gtin": lot.gtin, "unit_price": 1250}]})
    assert res.status_code == 200, res.json
    assert (res.json["total_value"], res.json["unpriced_packs"]) == (4 * 1250, 0)
    _receive(make, lot, shipment_id, lot.serials[:3])
    here = pharmacy.locations[0].id
    assert _balance(db_session, here, lot.gtin, lot.batch) == (3, 3 * 1250)
    moved = db_session.scalars(select(StockMovement).where(StockMovement.location_id == here)).one()
    assert (moved.kind, moved.unit_cost, moved.value) == ("TRANSFER_IN", 1250, 3750)
    assert_stock_in_step(db_session)


def test_a_batch_price_wins_over_its_gtins_and_a_missing_pack_found_comes_in_at_it(client, make, db_session,
                                                                                  pharmacy):
    from pharma.trace.missing import ResolveMissing, resolve_missing

    importer = licensed(make, make.org("importer"))
    seller = make.caller("importer", org=importer)
    lot = stock(make, importer, packs=3)
    shipment_id = _ship(make, lot, pharmacy)
    client.put(f"{API}/shipment-prices/{shipment_id}", headers=seller.headers, json={"lines": [
        {"gtin": lot.gtin, "unit_price": 999}, {"gtin": lot.gtin, "batch": lot.batch, "unit_price": 500}]})
    _receive(make, lot, shipment_id, lot.serials[:2])
    resolve_missing(system_uow(make), shipment_id,
                    ResolveMissing((trace_svc.PackRef(lot.gtin, lot.serials[2]),), "FOUND"))
    assert _balance(db_session, pharmacy.locations[0].id, lot.gtin, lot.batch) == (3, 1500)
    assert_stock_in_step(db_session)


def test_a_shipment_without_prices_comes_in_at_no_cost(make, db_session, pharmacy):
    importer = licensed(make, make.org("importer"))
    lot = stock(make, importer, packs=2)
    _receive(make, lot, _ship(make, lot, pharmacy), lot.serials)
    assert _balance(db_session, pharmacy.locations[0].id, lot.gtin, lot.batch) == (2, 0)


def test_prices_of_a_received_shipment_are_fixed(client, make, db_session, pharmacy):
    importer = licensed(make, make.org("importer"))
    seller = make.caller("importer", org=importer)
    lot = stock(make, importer, packs=1)
    shipment_id = _ship(make, lot, pharmacy)
    _receive(make, lot, shipment_id, lot.serials)
    res = client.put(f"{API}/shipment-prices/{shipment_id}", headers=seller.headers,
                     json={"lines": [{"gtin": lot.gtin, "unit_price": 100}]})
    assert res.status_code == 409 and res.json["code"] == "SHIPMENT_ALREADY_RECEIVED"


def test_a_price_for_a_product_not_on_the_shipment_is_refused_and_nothing_is_written(client, make, db_session,
                                                                                      pharmacy):
    importer = licensed(make, make.org("importer"))
    seller = make.caller("importer", org=importer)
    lot = stock(make, importer, packs=1)
    shipment_id = _ship(make, lot, pharmacy)
    client.put(f"{API}/shipment-prices/{shipment_id}", headers=seller.headers,
               json={"lines": [{"gtin": lot.gtin, "unit_price": 100}]})
    res = client.put(f"{API}/shipment-prices/{shipment_id}", headers=seller.headers, json={"lines": [
        {"gtin": lot.gtin, "unit_price": 200}, {"gtin": lot.gtin, "batch": "NOPE", "unit_price": 1}]})
    assert res.status_code == 422 and res.json["code"] == "NOT_ON_SHIPMENT"
    got = client.get(f"{API}/shipment-prices/{shipment_id}", headers=seller.headers).json
    assert [(x["gtin"], x["unit_price"]) for x in got["lines"]] == [(lot.gtin, 100)]


def test_the_receiver_reads_but_may_not_set_the_shipment_prices(client, make, db_session, pharmacy, head):
    importer = licensed(make, make.org("importer"))
    lot = stock(make, importer, packs=1)
    shipment_id = _ship(make, lot, pharmacy)
    res = client.put(f"{API}/shipment-prices/{shipment_id}", headers=head.headers,
                     json={"lines": [{"gtin": lot.gtin, "unit_price": 1}]})
    assert res.status_code == 403
    assert client.get(f"{API}/shipment-prices/{shipment_id}", headers=head.headers).status_code == 200
    stranger = make.caller("head_pharmacist", org=make.org("pharmacy"))
    assert client.get(f"{API}/shipment-prices/{shipment_id}", headers=stranger.headers).status_code == 403


def test_under_fifo_the_receiver_lays_a_shipment_at_its_prices(client, make, db_session, pharmacy, head):
    _fifo(client, head)
    importer = licensed(make, make.org("importer"))
    seller = make.caller("importer", org=importer)
    lot = stock(make, importer, packs=2)
    first = _ship(make, lot, pharmacy, lot.serials[:1])
    client.put(f"{API}/shipment-prices/{first}", headers=seller.headers,
               json={"lines": [{"gtin": lot.gtin, "unit_price": 100}]})
    _receive(make, lot, first, lot.serials[:1])
    second = _ship(make, lot, pharmacy, lot.serials[1:])
    client.put(f"{API}/shipment-prices/{second}", headers=seller.headers,
               json={"lines": [{"gtin": lot.gtin, "unit_price": 400}]})
    _receive(make, lot, second, lot.serials[1:])
    here = pharmacy.locations[0].id
    assert _balance(db_session, here, lot.gtin, lot.batch) == (2, 500)
    trace_svc.decommission(system_uow(make), trace_svc.Decommission(
        here, (trace_svc.PackRef(lot.gtin, lot.serials[1]),), "DESTROYED"))
    assert _balance(db_session, here, lot.gtin, lot.batch) == (1, 400)
    assert_layers_in_step(db_session)
    assert_stock_in_step(db_session)


def test_a_declaration_is_commissioned_at_its_import_costs(client, make, db_session):
    from pharma.trace.declarations import NewDeclaration, process_declaration, submit_declaration
    from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit

    imp = importer_with_permit(make, products=2)
    rows = [(imp.gtins[0], "L1", EXPIRY, f"S{i}", "", "") for i in range(3)] + [
        (imp.gtins[1], "L2", EXPIRY, "T1", "", "")]
    declaration = submit_declaration(make.uow(imp.caller.user), NewDeclaration(
        imp.permit_id, imp.location_id, "csv", "a.csv", csv_file(rows)))
    res = client.put(f"{API}/declaration-costs/{declaration.id}", headers=imp.caller.headers,
                     json={"lines": [{"gtin": imp.gtins[0], "batch": "L1", "unit_cost": 800}]})
    assert res.status_code == 200, res.json
    process_declaration(system_uow(make), declaration.id)
    assert _balance(db_session, imp.location_id, imp.gtins[0].zfill(14), "L1") == (3, 2400)
    assert _balance(db_session, imp.location_id, imp.gtins[1].zfill(14), "L2") == (1, 0)
    again = client.put(f"{API}/declaration-costs/{declaration.id}", headers=imp.caller.headers,
                       json={"lines": []})
    assert again.status_code == 409 and again.json["code"] == "DECLARATION_ALREADY_PROCESSED"
    assert_stock_in_step(db_session)


def test_the_declaration_file_carries_its_import_costs_per_batch(client, make, db_session):
    from pharma.trace.declarations import NewDeclaration, process_declaration, submit_declaration
    from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit

    imp = importer_with_permit(make, products=2)
    header = "gtin,batch,expiry,serial,unit_cost"
    rows = [(imp.gtins[0], "L1", EXPIRY, f"S{i}", "800" if i else "") for i in range(3)] + [
        (imp.gtins[1], "L2", EXPIRY, "T1", "1250")]
    declaration = submit_declaration(make.uow(imp.caller.user), NewDeclaration(
        imp.permit_id, imp.location_id, "csv", "a.csv", csv_file(rows, header)))
    process_declaration(system_uow(make), declaration.id)
    assert _balance(db_session, imp.location_id, imp.gtins[0].zfill(14), "L1") == (3, 2400)
    assert _balance(db_session, imp.location_id, imp.gtins[1].zfill(14), "L2") == (1, 1250)
    assert_stock_in_step(db_session)


def test_a_batch_with_two_costs_or_a_cost_that_is_not_a_number_refuses_the_file(client, make, db_session):
    from pharma.trace.declarations import NewDeclaration, process_declaration, submit_declaration
    from pharma.trace.models import Declaration
    from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit

    imp = importer_with_permit(make, products=1)
    rows = [(imp.gtins[0], "L1", EXPIRY, "S1", "800"), (imp.gtins[0], "L1", EXPIRY, "S2", "900"),
            (imp.gtins[0], "L1", EXPIRY, "S3", "12.50")]
    declaration = submit_declaration(make.uow(imp.caller.user), NewDeclaration(
        imp.permit_id, imp.location_id, "csv", "a.csv", csv_file(rows, "gtin,batch,expiry,serial,unit_cost")))
    process_declaration(system_uow(make), declaration.id)
    db_session.expire_all()
    stored = db_session.get(Declaration, declaration.id)
    assert stored.status == "REJECTED"
    assert sorted((e["line"], e["code"]) for e in stored.errors) == [(3, "BATCH_COST_CONFLICT"), (4, "INVALID_COST")]
    assert db_session.scalar(select(StockBalance).where(StockBalance.location_id == imp.location_id)) is None


@pytest.mark.postgres_only
def test_two_tills_under_fifo_take_different_layers_never_the_same_twice(client, make, db_session, head, here):
    from pharma.stock import services as svc
    from tests.integration.test_movements_races import _actor, _uow, race

    _fifo(client, head)
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 1, unit_cost=100), document="INV-1")
    receive(client, head, here, receipt_line(gtin, "A", 1, unit_cost=300), document="INV-2")
    actor = _actor(make, head.user)

    def sell(n):
        return lambda session: svc.issue_stock(_uow(actor, session), svc.IssueStock(
            here, "SALE", f"TILL-{n}", (svc.IssueLine(gtin, 1),)))

    results = race([sell(1), sell(2)])
    assert sorted(r.movements[0]["value"] for r in results) == [-300, -100]
    assert _balance(db_session, here, gtin, "A") == (0, 0)
    assert_layers_in_step(db_session)


@pytest.mark.postgres_only
def test_a_method_switch_racing_a_sale_keeps_the_layers_in_step(client, make, db_session, head, here):
    from pharma.stock import services as svc
    from pharma.stock import valuation
    from tests.integration.test_movements_races import _actor, _uow, race

    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 4, unit_cost=100), receipt_line(gtin, "B", 3, unit_cost=7))
    actor = _actor(make, head.user)
    org = make.session.get(Location, here).organisation_id
    results = race([
        lambda session: svc.issue_stock(_uow(actor, session), svc.IssueStock(
            here, "SALE", "TILL-1", (svc.IssueLine(gtin, 5),))),
        lambda session: valuation.set_method(_uow(actor, session), org, "FIFO")])
    assert not [r for r in results if isinstance(r, Exception)]
    assert_layers_in_step(db_session)
    assert_stock_in_step(db_session)
