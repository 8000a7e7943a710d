"""A pharmacist's expiry list in a browser: from the stock pages to the expiring batches by band,
acknowledge one, and download the list as an XLSX file that opens with the same lines."""

from __future__ import annotations

from datetime import datetime

import openpyxl
import pytest
from playwright.sync_api import expect

from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.stock import services as svc
from tests.e2e.test_supply_chain_browser import switch_user
from tests.integration.stock_helpers import TODAY, legacy_product

pytestmark = pytest.mark.browser


def test_a_pharmacist_sees_expiring_stock_acknowledges_it_and_exports_it(page, make, screenshot, tmp_path):
    from datetime import timedelta

    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    gtin = legacy_product(make, "Expiring EAN")
    here = pharmacy.locations[0].id
    svc.receive_stock(UnitOfWork(make.session, Actor.system("test")), svc.ReceiveStock(here, "INV-EXP", (
        svc.ReceiptLine(gtin, "GONE", TODAY - timedelta(days=3), 2, 150),
        svc.ReceiptLine(gtin, "SOON", TODAY + timedelta(days=12), 5, 200),
        svc.ReceiptLine(gtin, "FAR", TODAY + timedelta(days=400), 9, 200))))
    switch_user(page, pharmacist.username)

    page.goto("/stock")
    page.get_by_role("link", name="Expiring stock").click()
    rows = page.locator("#expiring tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("GONE")
    expect(rows.nth(0)).to_contain_text("Expired")
    expect(rows.nth(1)).to_contain_text("SOON")
    expect(page.locator("#bands")).to_contain_text("Expires within 30 days")
    rows.nth(1).get_by_role("button", name="Acknowledge").click()
    expect(page.locator("main")).to_contain_text("Acknowledged batch SOON")
    expect(page.locator("#expiring tbody tr").nth(1)).to_contain_text(pharmacist.username)
    screenshot("expiry-list")

    with page.expect_download() as got:
        page.get_by_role("link", name="Export XLSX").click()
    download = got.value
    assert download.suggested_filename.startswith("stock-expiry_") and download.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    sheet = [list(r) for r in openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True)]
    assert [(r[0], r[4], r[5], r[6]) for r in sheet[1:]] == [
        ("EXPIRED", "GONE", datetime.combine(TODAY - timedelta(days=3), datetime.min.time()), 2),
        ("D30", "SOON", datetime.combine(TODAY + timedelta(days=12), datetime.min.time()), 5)]
