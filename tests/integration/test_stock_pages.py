"""The stock pages, driven as a pharmacist with a keyboard-wedge scanner: receive without serials,
sell by scanning (one line per pack), see stock on hand and the stock card."""

from __future__ import annotations

from tests.integration.stock_helpers import TODAY, legacy_product, on_hand
from tests.integration.test_movements_pages import labelled, page
from tests.integration.test_signin import sign_in


def test_a_pharmacist_receives_sells_by_scanning_and_reads_the_card(client, make, db_session):
    pharmacy = make.org("pharmacy")
    here = pharmacy.locations[0].id
    pharmacist = make.user("pharmacist", org=pharmacy)
    gtin = legacy_product(make)
    sign_in(client, pharmacist.username)

    html, token = page(client, "/stock/receive")
    labelled(html, "location_id", "document", "supplier")
    res = client.post("/stock/receive", data={
        "csrf_token": token, "location_id": here, "document": "INV-100", "supplier": "Wholesale MMC",
        "gtin-0": gtin[1:], "batch-0": "SOON", "expiry-0": TODAY.replace(year=TODAY.year + 1).isoformat(),
        "quantity-0": "2", "cost-0": "1.50",
        "gtin-1": gtin[1:], "batch-1": "LATER", "expiry-1": TODAY.replace(year=TODAY.year + 2).isoformat(),
        "quantity-1": "5", "cost-1": "2"})
    assert res.status_code == 302, res.get_data(as_text=True)
    assert on_hand(db_session, here) == {(gtin, "SOON"): 2, (gtin, "LATER"): 5}

    html, token = page(client, "/stock/issue")
    labelled(html, "location_id", "kind", "document", "scans")
    scans = "\n".join([gtin[1:], "]E0" + gtin[1:], f"(01){gtin}"])  # three packs scanned, three ways
    res = client.post("/stock/issue", data={"csrf_token": token, "location_id": here, "kind": "SALE",
                                            "document": "FD-100", "scans": scans})
    html = res.get_data(as_text=True)
    assert res.status_code == 200, html
    assert "Issued 3 units, document FD-100" in html
    assert on_hand(db_session, here) == {(gtin, "LATER"): 4}

    res = client.post("/stock/issue", data={"csrf_token": token, "location_id": here, "kind": "SALE",
                                            "document": "FD-101", "scans": f"{gtin} * 9"})
    assert res.status_code == 409
    assert "Only 4 sellable units" in res.get_data(as_text=True)

    html, _ = page(client, f"/stock?location_id={here}")
    assert "LATER" in html and "SOON" not in html and "value 8.00" in html
    html, _ = page(client, f"/stock/card?location_id={here}&gtin={gtin}")
    assert 'id="opening">0<' in html and 'id="closing">4<' in html and "FD-100" in html
    html, _ = page(client, f"/stock/movements?location_id={here}&kind=SALE")
    assert "FD-100" in html and "INV-100" not in html


def test_an_unreadable_scan_is_named_and_nothing_is_sold(client, make, db_session):
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    sign_in(client, pharmacist.username)
    _html, token = page(client, "/stock/issue")
    res = client.post("/stock/issue", data={"csrf_token": token, "location_id": pharmacy.locations[0].id,
                                            "kind": "SALE", "document": "FD-1", "scans": "12345"})
    assert res.status_code == 422
    assert "line 1" in res.get_data(as_text=True)


def test_the_stock_link_is_shown_to_those_who_may_read_stock(client, make):
    pharmacist = make.user("pharmacist", org=make.org("pharmacy"))
    sign_in(client, pharmacist.username)
    html, _ = page(client, "/")
    assert 'href="/stock"' in html


def test_the_agency_reads_a_pharmacys_stock_by_location_and_another_pharmacy_cannot(client, make, db_session):
    pharmacy = make.org("pharmacy")
    here = pharmacy.locations[0].id
    gtin = legacy_product(make)
    from tests.integration.stock_helpers import receipt_line, receive

    receive(client, make.caller("pharmacist", org=pharmacy), here, receipt_line(gtin, "AG1", 3))
    sign_in(client, make.user("inspector").username)
    html, _ = page(client, "/stock")
    assert "Type the id of the location" in html
    html, token = page(client, f"/stock?location_id={here}")
    assert "AG1" in html
    client.post("/sign-out", data={"csrf_token": token})
    sign_in(client, make.user("pharmacist", org=make.org("pharmacy")).username)
    assert client.get(f"/stock?location_id={here}").status_code == 403
