"""A pharmacist's stock in a browser: receive a product without serials in two batches, sell it by
scanning with a keyboard-wedge scanner (each scan a line), and see the earliest batch go first."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.stock_helpers import TODAY, legacy_product

pytestmark = pytest.mark.browser


def test_a_pharmacist_receives_and_sells_by_scanning_earliest_expiry_first(page, make, screenshot):
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    gtin = legacy_product(make, "Aspirin EAN")
    switch_user(page, pharmacist.username)

    page.goto("/stock/receive")
    page.get_by_label("Supplier's invoice or delivery note").fill("INV-E2E")
    for row, (batch, years, quantity) in enumerate((("LATE", 2, "5"), ("SOON", 1, "2")), start=1):
        page.get_by_label(f"GTIN, row {row}").fill(gtin[1:])
        page.get_by_label(f"Batch, row {row}").fill(batch)
        page.get_by_label(f"Expiry, row {row}").fill(TODAY.replace(year=TODAY.year + years).isoformat())
        page.get_by_label(f"Quantity, row {row}").fill(quantity)
        page.get_by_label(f"Unit cost, row {row}").fill("3.20")
    page.get_by_role("button", name="Receive").click()
    expect(page.locator("main")).to_contain_text("Received 7 units, document INV-E2E")
    expect(page.locator("#totals")).to_contain_text("2 batches, 7 units, value 22.40")

    page.get_by_role("link", name="Sell or dispense").click()
    page.get_by_label("Fiscal receipt or prescription number").fill("FD-E2E-1")
    box = page.get_by_label("Scan each pack")
    box.click()
    for _ in range(3):  # the scanner types the code and presses Enter
        page.keyboard.type(gtin[1:])
        page.keyboard.press("Enter")
    page.get_by_role("button", name="Issue").click()
    expect(page.locator("main")).to_contain_text("Issued 3 units, document FD-E2E-1")
    issued = page.get_by_role("row")
    expect(issued.filter(has_text="SOON")).to_contain_text("2")
    expect(issued.filter(has_text="LATE")).to_contain_text("1")
    screenshot("sale-fefo")

    page.get_by_role("link", name="Stock on hand").click()
    expect(page.locator("#totals")).to_contain_text("1 batch, 4 units, value 12.80")
    expect(page.get_by_role("row").filter(has_text="LATE")).to_contain_text("4")
    screenshot("stock-on-hand")
