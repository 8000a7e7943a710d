"""Retail prices (never above the regulated maximum, with history) and the stock value report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pharma.register import services as register_svc
from pharma.stock.prices import current_prices
from tests.integration.stock_helpers import API, TODAY, issue, legacy_product, receipt_line, receive
from tests.integration.trace_helpers import product, system_uow


@pytest.fixture()
def pharmacy(make):
    return make.org("pharmacy", locations=2)


@pytest.fixture()
def head(make, pharmacy):
    return make.caller("head_pharmacist", org=pharmacy)


@pytest.fixture()
def here(pharmacy):
    return pharmacy.locations[0].id


def _regulated(make, maximum: int) -> str:
    """A product with a regulated maximum retail price in force; returns its GTIN-14."""
    product_id, gtin = product(make, "Priced")
    register_svc.set_max_price(system_uow(make), product_id,
                               register_svc.NewPrice(maximum, TODAY - timedelta(days=30)))
    make.session.commit()
    return gtin


def _set(client, caller, gtin, price, **extra):
    return client.post(f"{API}/prices", headers=caller.headers, json={"gtin": gtin, "price": price, **extra})


def test_a_head_pharmacist_sets_a_retail_price_up_to_the_regulated_maximum(client, make, db_session, head, here):
    gtin = _regulated(make, 1500)
    res = _set(client, head, gtin, 1500)
    assert res.status_code == 201, res.json
    assert (res.json["price"], res.json["location_id"], res.json["max_retail_price"]) == (1500, None, 1500)
    assert current_prices(db_session, here, [gtin])[gtin]["price"] == 1500


def test_a_price_above_the_regulated_maximum_is_refused(client, make, db_session, head, here):
    gtin = _regulated(make, 1500)
    res = _set(client, head, gtin, 1501)
    assert res.status_code == 409
    assert (res.json["code"], res.json["max_retail_price"]) == ("PRICE_ABOVE_MAXIMUM", 1500)
    assert current_prices(db_session, here, [gtin]) == {}


def test_a_location_price_wins_over_the_organisations_and_the_other_location_keeps_it(client, make, db_session,
                                                                                    head, pharmacy):
    gtin = legacy_product(make)
    first, second = (loc.id for loc in pharmacy.locations)
    _set(client, head, gtin, 900)
    assert _set(client, head, gtin, 850, location_id=second).status_code == 201
    assert current_prices(db_session, first, [gtin])[gtin]["price"] == 900
    assert current_prices(db_session, second, [gtin])[gtin] | {"valid_from": None} == {
        "price": 850, "scope": "LOCATION", "valid_from": None}


def test_a_new_price_supersedes_and_the_history_is_kept(client, make, db_session, head, here):
    gtin = legacy_product(make)
    _set(client, head, gtin, 900)
    _set(client, head, gtin, 950)
    later = (TODAY + timedelta(days=10)).isoformat()
    _set(client, head, gtin, 990, valid_from=later)
    assert current_prices(db_session, here, [gtin])[gtin]["price"] == 950
    assert current_prices(db_session, here, [gtin], TODAY + timedelta(days=10))[gtin]["price"] == 990
    now = client.get(f"{API}/prices?gtin={gtin}", headers=head.headers).json
    assert [(p["price"], p["current"], p["scheduled"]) for p in now["items"]] == [(990, False, True),
                                                                                  (950, True, False)]
    history = client.get(f"{API}/prices?gtin={gtin}&history=true", headers=head.headers).json
    assert [p["price"] for p in history["items"]] == [990, 950, 900]


def test_a_price_may_not_start_in_the_past(client, make, head):
    res = _set(client, head, legacy_product(make), 100, valid_from=(TODAY - timedelta(days=1)).isoformat())
    assert res.status_code == 422 and "valid_from" in res.json["errors"]


def test_an_unregistered_gtin_gets_no_price(client, head):
    res = _set(client, head, "4006381333931", 100)
    assert res.status_code == 409 and res.json["code"] == "UNREGISTERED_PRODUCT"


def test_a_pharmacist_reads_but_may_not_set_prices_and_another_pharmacy_sees_none(client, make, pharmacy, head):
    gtin = legacy_product(make)
    _set(client, head, gtin, 900)
    pharmacist = make.caller("pharmacist", org=pharmacy)
    assert _set(client, pharmacist, gtin, 800).status_code == 403
    assert client.get(f"{API}/prices", headers=pharmacist.headers).json["total"] == 1
    stranger = make.caller("head_pharmacist", org=make.org("pharmacy"))
    assert _set(client, stranger, gtin, 800, location_id=pharmacy.locations[0].id).status_code == 403
    assert client.get(f"{API}/prices", headers=stranger.headers).json["total"] == 0
    assert client.get(f"{API}/prices?organisation_id={pharmacy.id}", headers=stranger.headers).status_code == 403


def test_the_stock_value_shows_purchase_and_retail_value_and_the_margin(client, make, db_session, head, here):
    own = legacy_product(make)
    capped = _regulated(make, 700)
    unpriced = legacy_product(make)
    receive(client, head, here, receipt_line(own, "A", 4, unit_cost=500), receipt_line(capped, "B", 2, unit_cost=300),
            receipt_line(unpriced, "C", 1, unit_cost=50))
    issue(client, head, here, {"gtin": own, "quantity": 1})
    _set(client, head, own, 800)
    res = client.get(f"{API}/value?location_id={here}", headers=head.headers)
    assert res.status_code == 200, res.json
    lines = {v["gtin"]: v for v in res.json["items"]}
    assert {g: (v["quantity"], v["purchase_value"], v["retail_price"], v["price_source"], v["retail_value"],
                v["margin"]) for g, v in lines.items()} == {
        own: (3, 1500, 800, "ORGANISATION", 2400, 900),
        capped: (2, 600, 700, "MAXIMUM", 1400, 800),
        unpriced: (1, 50, None, None, None, None)}
    assert res.json["totals"] == {"products": 3, "quantity": 6, "purchase_value": 2150, "retail_value": 3800,
                                  "margin": 1700, "unpriced_products": 1}
    assert res.json["method"] == "WEIGHTED_AVERAGE"


def test_the_regulator_sees_the_value_of_every_location_and_a_pharmacy_only_its_own(client, make, db_session,
                                                                                   head, here):
    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=100))
    other = make.org("pharmacy")
    other_head = make.caller("head_pharmacist", org=other)
    receive(client, other_head, other.locations[0].id, receipt_line(gtin, "A", 1, unit_cost=40))
    regulator = make.caller("regulator")
    everyone = client.get(f"{API}/value/locations", headers=regulator.headers).json
    assert sorted((v["location_id"], v["purchase_value"]) for v in everyone["items"]) == sorted(
        [(here, 200), (other.locations[0].id, 40)])
    assert client.get(f"{API}/value?location_id={here}", headers=regulator.headers).status_code == 200
    own = client.get(f"{API}/value/locations", headers=head.headers).json
    assert [(v["location_id"], v["quantity"]) for v in own["items"]] == [(here, 2)]
    assert client.get(f"{API}/value?location_id={here}", headers=other_head.headers).status_code == 403


def test_the_pages_set_a_price_and_show_the_value(client, make, db_session, head, here):
    from tests.integration.test_movements_pages import labelled, page
    from tests.integration.test_signin import sign_in

    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=100))
    sign_in(client, head.user.username)
    html, token = page(client, "/stock/prices")
    labelled(html, "gtin", "price", "valid_from", "location_id")
    res = client.post("/stock/prices", data={"csrf_token": token, "gtin": gtin[1:], "price": "12,50",
                                             "scope": "organisation"})
    assert res.status_code == 302, res.get_data(as_text=True)
    page = client.get("/stock/prices").get_data(as_text=True)
    assert "12.50" in page
    refused = client.post("/stock/prices", data={"csrf_token": token, "gtin": "123", "price": "1"})
    assert refused.status_code == 422
    value = client.get(f"/stock/value?location_id={here}").get_data(as_text=True)
    assert "25.00" in value and "2.00" in value  # retail value, purchase value
    method = client.get("/stock/valuation")
    assert method.status_code == 200
    switched = client.post("/stock/valuation", data={"csrf_token": token, "method": "FIFO"})
    assert switched.status_code == 302
    assert "FIFO" in client.get(f"/stock/valuation?location_id={here}").get_data(as_text=True)


def test_the_demo_stock_came_in_at_a_cost_and_the_pharmacy_has_retail_prices(app, db_session):
    from sqlalchemy import select

    from pharma import fixtures
    from pharma.parties.models import User
    from pharma.stock.models import StockBalance
    from tests.integration.stock_helpers import assert_stock_in_step

    with app.app_context():
        fixtures.load_all()
    assert_stock_in_step(db_session)
    head = db_session.scalars(select(User).where(User.username == "headpharmacist")).one()
    serialized = db_session.scalars(select(StockBalance).where(StockBalance.serialized.is_(True),
                                                               StockBalance.quantity > 0)).all()
    assert serialized and all(b.value > 0 for b in serialized)
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.stock.prices import PriceQuery, list_prices, stock_value

    uow = UnitOfWork(db_session, Actor.system("test"))
    prices = list_prices(uow, PriceQuery(organisation_id=head.organisation_id, history=True))
    assert prices.total >= 2 and any(not p["current"] for p in prices.items)
    here = serialized[0].location_id
    value = stock_value(uow, here)
    assert value.totals["retail_value"] > value.totals["purchase_value"] > 0


def test_the_regulator_s_value_page_lists_every_location_holding_stock(client, make, db_session, head, here):
    from tests.integration.test_signin import sign_in

    gtin = legacy_product(make)
    receive(client, head, here, receipt_line(gtin, "A", 2, unit_cost=150))
    regulator = make.user("regulator")
    sign_in(client, regulator.username)
    res = client.get("/stock/value")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and 'id="value-locations"' in html and "3.00" in html
    assert client.get(f"/stock/value?location_id={here}").status_code == 200
