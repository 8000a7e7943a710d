"""A head pharmacist prices a product by scanning it and reads the stock value with its margin."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.stock_helpers import TODAY, legacy_product

pytestmark = pytest.mark.browser


def test_a_head_pharmacist_sets_a_retail_price_and_sees_the_margin(page, make, screenshot):
    from datetime import timedelta

    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import services as svc

    pharmacy = make.org("pharmacy")
    head = make.user("head_pharmacist", org=pharmacy)
    gtin = legacy_product(make, "Ibuprofen EAN")
    here = pharmacy.locations[0].id
    svc.receive_stock(UnitOfWork(make.session, Actor.system("test")), svc.ReceiveStock(
        here, "INV-E2E", (svc.ReceiptLine(gtin, "B1", TODAY + timedelta(days=400), 4, 250),)))
    switch_user(page, head.username)

    page.goto("/stock/prices")
    box = page.get_by_label("Product: scan or type the GTIN")
    box.click()
    page.keyboard.type(gtin[1:])  # the scanner types the code
    page.get_by_label("Price of a pack").fill("4.10")
    page.get_by_role("button", name="Set the price").click()
    expect(page.locator("main")).to_contain_text(f"Price 4.10 set for {gtin}")
    expect(page.locator("#prices")).to_contain_text("In force")
    screenshot("retail-prices")

    page.get_by_role("link", name="Stock value").first.click()
    expect(page.locator("#totals")).to_contain_text("purchase value 10.00")
    expect(page.locator("#totals")).to_contain_text("retail value 16.40")
    expect(page.locator("#totals")).to_contain_text("margin 6.40")
    screenshot("stock-value")
