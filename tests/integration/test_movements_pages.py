"""The movement pages, driven as a person with a keyboard-wedge scanner would: ship by scanning,
receive by scanning, decommission and undo, recall and withdraw."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from pharma.shared.errors import InvalidIdentifier
from pharma.trace.models import Batch, Pack, Shipment
from pharma.trace.movements import pack_state
from tests.integration.test_signin import csrf_from, sign_in
from tests.integration.trace_helpers import licensed, stock


def page(client, url) -> tuple[str, str]:
    res = client.get(url)
    assert res.status_code == 200, res.status_code
    html = res.get_data(as_text=True)
    return html, csrf_from(html)


def labelled(html: str, *ids: str) -> None:
    for i in ids:
        assert f'id="{i}"' in html and f'for="{i}"' in html, i


def test_an_importer_ships_by_scanning_and_the_pharmacy_receives_by_scanning(client, make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    sender, receiver = make.user("importer", org=importer), make.user("pharmacist", org=pharmacy)
    lot = stock(make, importer, packs=4, per_case=2)
    loose = stock(make, importer, packs=1)

    sign_in(client, sender.username)
    html, token = page(client, "/trace/shipments/new")
    labelled(html, "from_location_id", "to_gln", "scans", "kind", "return_of")
    assert pharmacy.locations[0].gln in html  # offered in the receivers' list
    scans = "\n".join([lot.cases[0], "00" + lot.cases[1], f"(01){loose.gtin}(21){loose.serials[0]}"])
    res = client.post("/trace/shipments/new", data={
        "csrf_token": token, "from_location_id": lot.location_id, "to_gln": pharmacy.locations[0].gln,
        "kind": "DELIVERY", "scans": scans})
    assert res.status_code == 302, res.get_data(as_text=True)
    shipment = db_session.scalar(select(Shipment))
    assert res.headers["Location"].endswith(f"/trace/shipments/{shipment.id}")
    html, _ = page(client, res.headers["Location"])
    assert shipment.number in html and "5 packs" in html and "In transit" in html
    client.post("/sign-out", data={"csrf_token": token})

    sign_in(client, receiver.username)
    html, _ = page(client, "/trace/shipments?direction=incoming")
    assert shipment.number in html and f'/trace/shipments/{shipment.id}/receive' in html
    html, token = page(client, f"/trace/shipments/{shipment.id}/receive")
    labelled(html, "scans", "damaged")
    res = client.post(f"/trace/shipments/{shipment.id}/receive", data={
        "csrf_token": token, "scans": f"{lot.cases[0]}\n{lot.gtin} {lot.case_serials[1][0]}",
        "damaged": f"01{loose.gtin}21{loose.serials[0]}"})
    assert res.status_code == 302
    html, _ = page(client, res.headers["Location"])
    assert "1 missing, 0 extra, 1 damaged" in html
    assert "Discrepancies" in html and "Missing" in html and "Damaged" in html
    db_session.expire_all()
    here = pharmacy.locations[0].id
    assert db_session.get(Pack, lot.pack_ids[lot.case_serials[0][0]]).location_id == here
    assert db_session.get(Pack, lot.pack_ids[lot.case_serials[1][1]]).location_id == lot.location_id


def test_a_bad_scan_keeps_the_form_and_names_the_line(client, make, db_session):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    lot = stock(make, importer, packs=1)
    sign_in(client, make.user("importer", org=importer).username)
    _, token = page(client, "/trace/shipments/new")
    res = client.post("/trace/shipments/new", data={
        "csrf_token": token, "from_location_id": lot.location_id, "to_gln": pharmacy.locations[0].gln,
        "kind": "DELIVERY", "scans": f"{lot.gtin} {lot.serials[0]}\ngarbage"})
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert "scans line 2" in html and f"{lot.gtin} {lot.serials[0]}" in html  # nothing typed is lost
    assert db_session.scalar(select(Shipment)) is None


def test_a_refused_pack_is_named_on_the_page(client, make):
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    lot = stock(make, importer, packs=1)
    sign_in(client, make.user("importer", org=importer).username)
    _, token = page(client, "/trace/shipments/new")
    res = client.post("/trace/shipments/new", data={
        "csrf_token": token, "from_location_id": lot.location_id, "to_gln": pharmacy.locations[0].gln,
        "kind": "DELIVERY", "scans": f"{lot.gtin} NOT-THERE"})
    assert res.status_code == 409
    assert "UNKNOWN_PACK" in res.get_data(as_text=True)


def test_a_pharmacist_decommissions_and_undoes_on_the_page(client, make, db_session):
    pharmacy = make.org("pharmacy")
    lot = stock(make, pharmacy, packs=2)
    sign_in(client, make.user("pharmacist", org=pharmacy).username)
    html, token = page(client, "/trace/decommission")
    labelled(html, "dec-location", "dec-state", "dec-scans", "dec-note", "dec-document", "undo-scans", "undo-reason")
    res = client.post("/trace/decommission", data={
        "csrf_token": token, "action": "decommission", "location_id": lot.location_id, "state": "STOLEN",
        "scans": "\n".join(f"{lot.gtin} {s}" for s in lot.serials), "note": "break-in", "document": "POL-1"})
    assert res.status_code == 302
    assert {pack_state(db_session, lot.gtin, s).value for s in lot.serials} == {"STOLEN"}
    html, token = page(client, "/trace/decommission")
    assert "2 packs are now Stolen" in html
    res = client.post("/trace/decommission", data={
        "csrf_token": token, "action": "undo", "location_id": lot.location_id, "reason": "found again",
        "scans": f"{lot.gtin} {lot.serials[0]}"})
    assert res.status_code == 302
    db_session.expire_all()
    assert pack_state(db_session, lot.gtin, lot.serials[0]).value == "ACTIVE"


def test_the_regulator_recalls_and_withdraws_on_the_recalls_page(client, make, db_session):
    pharmacy = make.org("pharmacy")
    lot = stock(make, pharmacy, packs=1)
    other = stock(make, pharmacy, packs=1)
    sign_in(client, make.user("regulator").username)
    html, token = page(client, "/")
    assert 'href="/trace/recalls"' in html and 'href="/trace/shipments"' in html
    html, token = page(client, "/trace/recalls")
    labelled(html, "recall-gtin", "recall-batch", "recall-reason", "withdraw-product", "withdraw-reason")
    res = client.post("/trace/recalls", data={"csrf_token": token, "action": "recall", "gtin": lot.gtin[1:],
                                              "batch": lot.batch, "reason": "sterility failure"})
    assert res.status_code == 302
    res = client.post("/trace/recalls", data={"csrf_token": token, "action": "withdraw", "product": other.gtin,
                                              "reason": "withdrawn by the holder"})
    assert res.status_code == 302
    html, token = page(client, "/trace/recalls")
    assert "sterility failure" in html and "withdrawn by the holder" in html and lot.batch in html
    assert pack_state(db_session, lot.gtin, lot.serials[0]).value == "RECALLED"
    assert pack_state(db_session, other.gtin, other.serials[0]).value == "WITHDRAWN"
    res = client.post("/trace/recalls", data={"csrf_token": token, "action": "recall", "gtin": lot.gtin,
                                              "batch": lot.batch, "reason": "again"})
    assert res.status_code == 409 and "was recalled on" in res.get_data(as_text=True)
    assert db_session.get(Batch, lot.batch_id).recall_reason == "sterility failure"


def test_a_pharmacist_sees_no_recall_forms_and_no_recall_link(client, make):
    pharmacy = make.org("pharmacy")
    sign_in(client, make.user("pharmacist", org=pharmacy).username)
    html, _ = page(client, "/trace/recalls")
    assert "Recall a batch" not in html
    home, _ = page(client, "/")
    assert 'href="/trace/recalls"' not in home and 'href="/trace/shipments"' in home
    assert re.search(r"No recalls or withdrawals", html)


def test_a_scan_without_its_group_separator_is_settled_by_the_packs_on_record(client, make, db_session):
    from pharma.trace.scans import CommissionedPacks, ScannedPack, parse_scan

    importer = licensed(make, make.org("importer"))
    lot = stock(make, importer, packs=1)
    serial = lot.serials[0]
    mangled = f"01{lot.gtin}21M1017S0"  # reads as serial "M1017S0" or serial "M" + batch "17S0"
    db_session.execute(update(Pack).where(Pack.serial == serial).values(serial="M1017S0"))
    db_session.commit()
    with pytest.raises(InvalidIdentifier) as refused:
        parse_scan(mangled)
    assert "can be read 2 ways" in refused.value.message
    assert parse_scan(mangled, CommissionedPacks(db_session)) == ScannedPack(lot.gtin, "M1017S0")

    class Asked(CommissionedPacks):
        calls = 0

        def known(self, readings):
            Asked.calls += 1
            return super().known(readings)

    clean = f"]d201{lot.gtin}10{lot.batch}\x1d21M1017S0"  # with its GS: the data alone settles it
    assert parse_scan(clean, Asked(db_session)) == ScannedPack(lot.gtin, "M1017S0") and Asked.calls == 0
    with pytest.raises(InvalidIdentifier):  # no such pack either way: still a rescan
        parse_scan(f"01{lot.gtin}21X1017S0", CommissionedPacks(db_session))
