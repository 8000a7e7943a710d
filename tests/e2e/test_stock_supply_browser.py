"""Supply requests in a browser: the pharmacist sets a stock level, turns the reorder proposal into a
draft and sends it to a wholesaler; the wholesaler acknowledges it and ships against it by scanning a
case with a keyboard-wedge scanner; the request is fulfilled."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.trace_helpers import licensed, stock

pytestmark = pytest.mark.browser


def test_a_pharmacist_requests_stock_and_the_wholesaler_ships_against_it(page, make, screenshot):
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    supplier = licensed(make, make.org("wholesaler", name="Demo Wholesale MMC"))
    wholesaler = make.user("importer", org=supplier)
    lot = stock(make, supplier, packs=4, per_case=4)
    switch_user(page, pharmacist.username)

    page.goto("/stock/supply/levels")
    page.get_by_label("GTIN, new row 1").fill(lot.gtin)
    page.get_by_label("Minimum, new row 1").fill("2")
    page.get_by_label("Maximum, new row 1").fill("4")
    page.get_by_role("button", name="Save levels").click()
    expect(page.locator("main")).to_contain_text("Saved 1 level.")

    page.get_by_role("link", name="Reorder proposal").click()
    row = page.get_by_role("row").filter(has_text=lot.gtin)
    expect(row.get_by_role("textbox").first).to_have_value("4")  # nothing on hand: order up to the maximum
    screenshot("proposal")
    page.get_by_role("button", name="Save as a draft request").click()
    expect(page.locator("main")).to_contain_text("Draft request")
    page.get_by_label("Send to").select_option(label="Demo Wholesale MMC")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#status")).to_have_text("Sent")
    number = page.get_by_role("heading", level=1).inner_text().rsplit(" ", 1)[1]

    switch_user(page, wholesaler.username)
    page.get_by_role("navigation").get_by_role("link", name="Stock", exact=True).first.click()
    page.get_by_role("link", name="Supply requests").first.click()
    page.get_by_role("link", name=number).click()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#status")).to_have_text("Acknowledged")
    box = page.get_by_label("Scans: one case (SSCC) or pack per line")
    box.click()
    page.keyboard.type(lot.cases[0])  # the scanner types the SSCC and presses Enter
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Ship").click()
    expect(page.locator("main")).to_contain_text("is on its way; the request is Fulfilled")
    expect(page.locator("#status")).to_have_text("Fulfilled")
    expect(page.locator("#lines").get_by_role("row").filter(has_text=lot.gtin)).to_contain_text("4")
    screenshot("fulfilled")
