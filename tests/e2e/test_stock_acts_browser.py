"""A write-off act in a browser: the head pharmacist drafts it, scans the packs with a keyboard-wedge
scanner (each scan a line), adds a batch without serials, confirms and prints it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.test_stock_acts import scan, shelf

pytestmark = pytest.mark.browser


def test_the_head_pharmacist_writes_off_scanned_packs_on_an_act_and_prints_it(page, make, screenshot):
    s = shelf(make, packs=3, units=4)
    head = make.user("head_pharmacist", org=s.pharmacy)
    switch_user(page, head.username)

    page.goto("/stock/acts")
    page.get_by_label("Reason").select_option("DAMAGED")
    page.get_by_label("Note").fill("dropped in the store room")
    page.get_by_role("button", name="Draft the act").click()
    expect(page.locator("main")).to_contain_text("drafted")
    box = page.get_by_label("Scan packs (one code per line)")
    box.click()
    for serial in s.lot.serials[:2]:  # the scanner types the code and presses Enter
        page.keyboard.type(scan(s.lot, serial))
        page.keyboard.press("Enter")
    page.get_by_label("GTIN").fill(s.gtin[1:])
    page.get_by_label("Batch").fill("Q1")
    page.get_by_label("Quantity").fill("3")
    page.get_by_role("button", name="Add lines").click()
    expect(page.locator("main")).to_contain_text("Lines added.")
    expect(page.get_by_role("row").filter(has_text=s.lot.serials[1])).to_contain_text("1")
    page.get_by_role("button", name="Confirm and write off").click()
    expect(page.locator("main")).to_contain_text("Write-off act confirmed")
    screenshot("write-off-act")

    page.get_by_role("link", name="Printable act").click()
    expect(page.locator("h1")).to_contain_text("Write-off act WO-")
    expect(page.locator("body")).to_contain_text("Head pharmacist")
    expect(page.get_by_role("row").filter(has_text="Q1")).to_contain_text("3")
