"""A stock count in a browser: the pharmacist opens a count, scans a product's EAN-13 with a
keyboard-wedge scanner (the code and Enter, the field keeps the focus), enters another batch's
count and submits; the head pharmacist approves and the shortage is posted."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.stock_helpers import TODAY, legacy_product

pytestmark = pytest.mark.browser


def test_a_pharmacist_counts_by_scanning_and_the_head_pharmacist_approves(page, make, screenshot):
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import services as svc

    pharmacy = make.org("pharmacy")
    here = pharmacy.locations[0].id
    pharmacist = make.user("pharmacist", org=pharmacy)
    head = make.user("head_pharmacist", org=pharmacy)
    gtin = legacy_product(make, "Aspirin EAN")
    later = TODAY.replace(year=TODAY.year + 1)
    svc.receive_stock(UnitOfWork(make.session, Actor.system("test")), svc.ReceiveStock(
        here, "INV-E2E", (svc.ReceiptLine(gtin, "SHELF", later, 3, 100), svc.ReceiptLine(gtin, "BACK", later, 5, 100))))
    switch_user(page, pharmacist.username)

    page.goto("/stock/counts")
    page.get_by_role("button", name="Open the count").click()
    expect(page.locator("#count-summary")).to_contain_text("0 of 2 batches counted")
    page.get_by_label("Batch of the products scanned by EAN-13").fill("SHELF")
    for _ in range(2):  # the scanner types the code and presses Enter; the page comes back focused
        page.get_by_label("Scan a pack, or the EAN-13").focus()
        page.keyboard.type(gtin[1:])
        page.keyboard.press("Enter")
        expect(page.locator(".flashes")).to_contain_text("counted")
    expect(page.get_by_label("Scan a pack, or the EAN-13")).to_be_focused()
    page.get_by_label("GTIN", exact=True).fill(gtin[1:])
    page.locator("#line-batch").fill("BACK")
    page.get_by_label("Units found").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#count-lines").get_by_role("row").filter(has_text="SHELF")).to_contain_text("-1")
    page.get_by_role("button", name="Submit for approval").click()
    expect(page.locator("#count-status")).to_contain_text("Submitted")
    screenshot("count-submitted")

    url = page.url
    switch_user(page, head.username)
    page.goto(url)
    page.get_by_role("button", name="Approve and post").click()
    expect(page.locator("#count-status")).to_contain_text("Approved")
    expect(page.locator("#count-result")).to_contain_text("units surplus 0, units short 1")
    page.goto("/stock/findings")
    expect(page.locator("#findings").get_by_role("row").filter(has_text="SHELF")).to_contain_text("Shortage")
    screenshot("count-findings")
