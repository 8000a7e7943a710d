"""From the counter to the regulator in a browser: a pharmacist scans an unknown pack with a
keyboard-wedge scanner (typed keys, GS sent as "~", Enter at the end), the regulator finds the
alert in the queue and closes it with a reason."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.verify_helpers import counter

pytestmark = pytest.mark.browser


def test_a_counterfeit_scanned_at_the_counter_reaches_the_regulator_who_closes_the_case(page, make, screenshot):
    c = counter(make, serials=("GEN1",))
    regulator = make.user("regulator")

    switch_user(page, c.pharmacist.user.username)
    page.goto("/verify/")
    box = page.get_by_label("Scan the pack's code")
    expect(box).to_be_focused()
    page.keyboard.type(c.scan("GEN1").replace("\x1d", "~"))  # what the scanner types, GS as its substitute
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_contain_text("Genuine: you may sell it")
    expect(page.get_by_label("Scan the pack's code")).to_be_focused()  # ready for the next scan
    page.keyboard.type(c.scan("FAKE9").replace("\x1d", "~"))
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_contain_text("Unknown pack: suspected counterfeit")
    expect(page.locator("main")).to_contain_text("The regulator has been alerted")
    expect(page.locator("#recent tr")).to_have_count(2)
    screenshot("counter-unknown-pack")

    switch_user(page, regulator.username)
    page.goto("/alerts/")
    row = page.get_by_role("row").filter(has_text="FAKE9")
    expect(row).to_contain_text("UNKNOWN_PACK")
    expect(row).to_contain_text(c.pharmacy.name)
    screenshot("alert-queue")
    row.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/alerts/\d+$"))
    expect(page.locator("main")).to_contain_text(c.pharmacist.user.username)
    page.get_by_role("button", name="Investigate").click()
    expect(page.locator("#alert-status")).to_have_text("Investigating")
    page.get_by_label("Reason", exact=True).select_option("CONFIRMED_COUNTERFEIT")
    page.get_by_label('Note (required when the reason is "Another reason")').fill(
        "Pack seized; supplier reported to the police.")
    page.get_by_role("button", name="Close", exact=True).click()
    expect(page.locator("#alert-status")).to_have_text("Closed")
    expect(page.locator("main")).to_contain_text("Pack seized; supplier reported to the police.")
    screenshot("alert-closed")
    page.goto("/alerts/")
    expect(page.get_by_role("row").filter(has_text="FAKE9")).to_have_count(0)
