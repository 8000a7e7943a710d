"""The counter page as a pharmacist with a keyboard-wedge scanner uses it, the photo form, and the
regulator's queue, alert page and alert rate."""

from __future__ import annotations

import io
import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from pharma.barcodes.draw import pack_label
from pharma.verify.models import Alert
from pharma.verify.parser import ScanRefused, parse_scan
from tests.integration.test_signin import csrf_from, sign_in
from tests.integration.verify_helpers import counter


def page(client, url: str, status: int = 200) -> tuple[str, str | None]:
    res = client.get(url)
    assert res.status_code == status, res.status_code
    html = res.get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    return html, found.group(1) if found else None


def test_a_pharmacist_scans_at_the_counter_and_sees_the_verdict_and_recent_scans(client, make):
    c = counter(make)
    sign_in(client, c.pharmacist.user.username)
    html, token = page(client, "/verify/")
    assert 'id="scan"' in html and 'for="scan"' in html and "autofocus" in html
    res = client.post("/verify/", data={"csrf_token": token, "scan": c.scan("P1").replace("\x1d", "~") + "\r\n"})
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "Genuine: you may sell it" in html and "Paracetamol Test" in html
    res = client.post("/verify/", data={"csrf_token": token, "scan": c.scan("FAKE1")})
    html = res.get_data(as_text=True)
    assert "Unknown pack: suspected counterfeit" in html
    alert_id = client.application.extensions["pharma_db"].session.scalar(select(Alert.id))
    assert f"The regulator has been alerted (case {alert_id}). Keep the pack aside." in html
    recent = html.split('id="recent"')[1]
    assert recent.index("FAKE1") < recent.index("P1")  # newest first


def test_an_unreadable_scan_asks_for_another_scan(client, make):
    c = counter(make)
    sign_in(client, c.pharmacist.user.username)
    _, token = page(client, "/verify/")
    raw = "(01)04030096123457(21)AB"
    html = client.post("/verify/", data={"csrf_token": token, "scan": raw}).get_data(as_text=True)
    with pytest.raises(ScanRefused) as refusal:
        parse_scan(raw)
    assert "The code cannot be read: scan it again" in html and str(escape(refusal.value.detail)) in html


def test_a_photo_of_a_label_is_verified_on_the_counter_page(client, make):
    c = counter(make)
    sign_in(client, c.pharmacist.user.username)
    _, token = page(client, "/verify/")
    png = pack_label(c.lot.gtin, "P2", c.lot.batch, c.expiry, kind="png")
    res = client.post("/verify/photo", data={"csrf_token": token, "photo": (io.BytesIO(png), "label.png")},
                      content_type="multipart/form-data")
    html = res.get_data(as_text=True)
    assert res.status_code == 200 and "Genuine: you may sell it" in html and "P2" in html


def test_a_pharmacy_with_several_locations_chooses_where_it_scans(client, make):
    c = counter(make)
    chain = make.org("pharmacy", locations=2)
    user = make.user("pharmacist", org=chain)
    sign_in(client, user.username)
    html, token = page(client, "/verify/")
    assert chain.locations[1].gln in html and 'id="location_gln"' in html
    res = client.post("/verify/", data={"csrf_token": token, "scan": c.scan("P1")})
    assert res.status_code == 422 and "send the scanning location" in res.get_data(as_text=True)
    res = client.post("/verify/", data={"csrf_token": token, "scan": c.scan("P1"),
                                        "location_gln": chain.locations[1].gln})
    assert "Held by another location: do not sell" in res.get_data(as_text=True)


def test_the_regulator_works_the_queue_in_the_pages(client, make):
    c = counter(make)
    regulator = make.user("regulator")
    sign_in(client, c.pharmacist.user.username)
    _, token = page(client, "/verify/")
    client.post("/verify/", data={"csrf_token": token, "scan": c.scan("FAKE1")})
    client.post("/sign-out", data={"csrf_token": token})

    sign_in(client, regulator.username)
    html, _ = page(client, "/alerts/")
    for name in ("status", "verdict", "region", "organisation_id", "from", "to"):
        assert f'id="{name}"' in html and f'for="{name}"' in html
    assert "1 alerts" in html and "UNKNOWN_PACK" in html and c.pharmacy.name in html
    alert_id = int(re.search(r'/alerts/(\d+)"', html).group(1))
    html, token = page(client, f"/alerts/{alert_id}")
    assert "FAKE1" in html and c.pharmacist.user.username in html
    res = client.post(f"/alerts/{alert_id}/investigate", data={"csrf_token": token})
    assert res.status_code == 302
    html, token = page(client, res.headers["Location"])
    assert f"Alert {alert_id} is under investigation." in html
    res = client.post(f"/alerts/{alert_id}/close", data={"csrf_token": token, "reason": "OTHER", "note": ""})
    html, token = page(client, res.headers["Location"])
    assert "Closing for another reason needs a note." in html
    res = client.post(f"/alerts/{alert_id}/close", data={"csrf_token": token, "reason": "CONFIRMED_COUNTERFEIT",
                                                         "note": "seized"})
    html, _ = page(client, res.headers["Location"])
    assert f"Alert {alert_id} is closed." in html and 'action="/alerts/' not in html
    html, _ = page(client, "/alerts/")  # the queue shows open cases by default
    assert "0 alerts" in html
    html, _ = page(client, "/alerts/rate")
    assert "Daily alert rate" in html and "100.00 %" in html


def test_the_queue_is_the_agencys(client, make):
    c = counter(make)
    sign_in(client, c.pharmacist.user.username)
    page(client, "/alerts/", status=403)
    inspector = make.user("inspector")
    client.post("/sign-out", data={"csrf_token": csrf_from(page(client, "/verify/")[0])})
    sign_in(client, inspector.username)
    html, _ = page(client, "/alerts/")
    assert "Alerts" in html


def test_findings_and_refusals_read_in_the_pharmacists_language(client, make):
    c = counter(make)
    sign_in(client, c.pharmacist.user.username)
    _, token = page(client, "/verify/")
    client.post("/locale", data={"locale": "ru", "csrf_token": token, "next": "/verify/"})
    html = client.post("/verify/", data={"csrf_token": token, "scan": c.scan("FAKE1")}).get_data(as_text=True)
    gtin = c.lot.gtin
    assert f"Упаковка с серийным номером FAKE1 для GTIN {gtin} никогда не вводилась в оборот." in html
    assert "was ever commissioned" not in html
    html = client.post("/verify/", data={"csrf_token": token, "scan": "]d2" + "(01)" + gtin}).get_data(as_text=True)
    assert "Скан — это текст для чтения человеком" in html
    client.post("/locale", data={"locale": "az", "csrf_token": token, "next": "/verify/"})
    html = client.post("/verify/", data={"csrf_token": token, "scan": "]D2" + c.scan("P1")[3:]}).get_data(as_text=True)
    assert ("Skan ]d2 əvəzinə ]D2 ilə başlayır: skanerin yazdığı kompüterdə Caps Lock açıqdır. Caps Lock-u söndürün "
            "və yenidən skan edin.") in html


def test_the_api_keeps_the_exact_english_messages_whatever_the_language(client, make):
    c = counter(make)
    res = client.post("/api/v1/verify", json={"scan": c.scan("FAKE1")},
                      headers={**c.pharmacist.headers, "Accept-Language": "ru"})
    assert res.get_json()["findings"][0]["message"] == (
        f"No pack with serial FAKE1 was ever commissioned for GTIN {c.lot.gtin}.")
