"""The chain in a browser: the regulator approves a permit, the importer uploads the arrival
and ships a case, the pharmacist receives it by scanning, and the pack's history shows it all; a
second case arrives a pack short, and the pharmacist records that pack as found."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from pharma.permits import services as permits
from pharma.shared.identifiers import gs1_check_digit
from tests.e2e.test_browser import sign_in_as
from tests.factories import PASSWORD
from tests.integration.declaration_helpers import EXPIRY, product
from tests.integration.trace_helpers import licensed

pytestmark = pytest.mark.browser


def sscc(n: int) -> str:
    body = f"1476999{n:010d}"
    return body + str(gs1_check_digit(body))


def switch_user(page: Page, username: str) -> None:
    page.goto("/")
    sign_out = page.get_by_role("button", name="Sign out")
    if sign_out.count():
        sign_out.click()
    page.goto("/sign-in")
    sign_in_as(page, username, PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_pack_goes_from_permit_to_a_pharmacys_shelf_through_the_pages(page, make, screenshot, tmp_path):
    importer_org = licensed(make, make.org("importer"), "import")
    importer = make.user("importer", org=importer_org)
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    regulator = make.user("regulator")
    product_id, gtin = product(make, 4242, "Chain Test 500")
    applied = permits.apply_for_permit(make.uow(importer), permits.PermitApplication(
        requested_valid_until=date.today() + timedelta(days=200),
        lines=(permits.LineRequest(packs_requested=100, product_id=product_id),)))

    # the regulator approves 60 of the 100 packs asked for
    switch_user(page, regulator.username)
    page.goto(f"/permits/{applied.id}")
    page.locator(f"#line_{applied.lines[0].id}").fill("60")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("main")).to_contain_text("Approved")
    screenshot("permit-approved")

    # the importer uploads the arrival: 40 packs in two cases
    switch_user(page, importer.username)
    rows = ["gtin,batch,expiry,serial,sscc"] + [
        f"{gtin},CH1,{EXPIRY},CHAIN{i:03d},{sscc(1 + i // 20)}" for i in range(40)]
    upload = tmp_path / "arrival.csv"
    upload.write_text("\n".join(rows) + "\n")
    page.goto("/declarations/")
    page.locator("#permit_id").select_option(str(applied.id))
    page.locator("#file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload declaration").click()
    expect(page.locator("#status")).to_have_text("Accepted")
    expect(page.locator("main")).to_contain_text("40 of 40 packs")
    screenshot("declaration-accepted")

    # ... and ships the first case to the pharmacy by scanning its SSCC
    page.goto("/trace/shipments/new")
    page.locator("#to_gln").fill(pharmacy.locations[0].gln)
    page.locator("#scans").fill("00" + sscc(1))
    page.get_by_role("button", name="Ship").click()
    expect(page).to_have_url(re.compile(r"/trace/shipments/\d+$"))
    shipment_url = page.url
    screenshot("shipped")

    # the pharmacist receives it by scanning the case
    switch_user(page, pharmacist.username)
    page.goto(shipment_url + "/receive")
    page.locator("#scans").fill(sscc(1))
    page.get_by_role("button", name="Receive").click()
    expect(page.locator("main")).to_contain_text("Received")
    screenshot("received")

    # the pack's page tells the whole story
    page.goto("/packs/")
    page.get_by_label("GTIN and serial, or scan the pack").fill(f"01{'0' + gtin}21CHAIN000")
    page.get_by_label("GTIN and serial, or scan the pack").press("Enter")
    history = page.get_by_role("table")
    expect(history).to_contain_text("Commissioned")
    expect(history).to_contain_text("Shipped")
    expect(history).to_contain_text("Received")
    expect(page.locator("main")).to_contain_text(pharmacy.locations[0].gln)
    screenshot("pack-history")

    # the second case arrives one pack short; the pharmacist finds that pack later and says so
    switch_user(page, importer.username)
    page.goto("/trace/shipments/new")
    page.locator("#to_gln").fill(pharmacy.locations[0].gln)
    page.locator("#scans").fill("00" + sscc(2))
    page.get_by_role("button", name="Ship").click()
    expect(page).to_have_url(re.compile(r"/trace/shipments/\d+$"))
    second_url = page.url
    switch_user(page, pharmacist.username)
    page.goto(second_url + "/receive")
    page.locator("#scans").fill("\n".join(f"0{gtin} CHAIN{i:03d}" for i in range(20, 39)))
    page.get_by_role("button", name="Receive").click()
    expect(page.locator("main")).to_contain_text("Received")
    page.goto(second_url)
    resolve = page.locator("form", has=page.get_by_role("button", name="Resolve"))
    expect(resolve).to_contain_text("CHAIN039")
    resolve.locator("#missing-1").check()  # the only missing pack: CHAIN039
    resolve.get_by_label("Found by the receiver").check()
    resolve.get_by_role("button", name="Resolve").click()
    expect(page.locator("main")).to_contain_text("Found by the receiver")
    expect(page.get_by_role("button", name="Resolve")).to_have_count(0)
    screenshot("missing-pack-found")
    page.goto("/packs/")
    page.get_by_label("GTIN and serial, or scan the pack").fill(f"0{gtin} CHAIN039")
    page.get_by_label("GTIN and serial, or scan the pack").press("Enter")
    expect(page.get_by_role("table")).to_contain_text("Missing pack resolved")
    expect(page.locator("main")).to_contain_text(pharmacy.locations[0].gln)
