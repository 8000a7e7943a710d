"""The labels API and page: importers draw pack, case and EAN-13 labels from checked data."""

from __future__ import annotations

import base64
import html
import re

import pytest

from pharma.barcodes.corpus import TRICKY
from pharma.barcodes.decode import Decoded, decode_image
from tests.integration.test_signin import sign_in

API = "/api/v1/labels"
GTIN = "04030096123457"
SSCC = "376123450000000016"
PACK = {"gtin": GTIN[1:], "serial": TRICKY, "batch": "L+7 ", "expiry": "270600"}


@pytest.fixture()
def importer(make):
    return make.caller("importer")


def test_an_importer_draws_a_pack_label_with_every_tricky_character(client, importer):
    query = {**PACK, "batch": "L+7", "format": "png"}
    res = client.get(f"{API}/pack", query_string=query, headers=importer.headers)
    assert res.status_code == 200, res.get_json()
    assert res.content_type == "image/png"
    assert res.headers["Content-Disposition"] == f'inline; filename="pack-{GTIN[1:]}-__________-_________.png"'
    assert decode_image(res.data) == [Decoded("]d2", f"01{GTIN}1727060010L+7\x1d21{TRICKY}".encode(), "DataMatrix")]


def test_a_pack_label_is_svg_unless_png_is_asked_for(client, importer):
    res = client.get(f"{API}/pack", query_string={**PACK, "batch": "L7"}, headers=importer.headers)
    assert res.status_code == 200
    assert res.content_type == "image/svg+xml; charset=utf-8"
    assert res.data.startswith(b"<?xml") and b"<svg" in res.data


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"gtin": "4030096123458"}, "gtin", "GTIN check digit is 8, expected 7"),
    ({"batch": "L+7 "}, "batch", "Batch has characters outside GS1 set 82: ' '"),
    ({"serial": "X" * 21}, "serial", "Serial must have 1 to 20 characters, not 21"),
    ({"expiry": "270231"}, "expiry", "Expiry day 31 does not exist in 2027-02"),
])
def test_a_pack_label_is_not_drawn_from_invalid_data(client, importer, change, field, message):
    res = client.get(f"{API}/pack", query_string={**PACK, "batch": "L7", **change}, headers=importer.headers)
    assert res.status_code == 422
    assert res.content_type == "application/problem+json"
    assert (res.json["code"], res.json["errors"], res.json["detail"]) == ("INVALID_IDENTIFIER", {field: [message]},
                                                                          message)


def test_missing_fields_and_an_unknown_format_are_refused_by_name(client, importer):
    res = client.get(f"{API}/pack", query_string={"gtin": GTIN, "format": "gif"}, headers=importer.headers)
    assert res.status_code == 422
    assert res.json["code"] == "VALIDATION_FAILED"
    assert res.json["errors"] == {"serial": ["Missing data for required field."],
                                  "batch": ["Missing data for required field."],
                                  "expiry": ["Missing data for required field."],
                                  "format": ["Must be one of: svg, png."]}


def test_a_case_label_is_gs1_128_with_the_sscc(client, importer):
    res = client.get(f"{API}/sscc/{SSCC}?format=png", headers=importer.headers)
    assert res.status_code == 200
    assert res.headers["Content-Disposition"] == f'inline; filename="sscc-{SSCC}.png"'
    assert decode_image(res.data) == [Decoded("]C1", f"00{SSCC}".encode(), "Code128")]
    svg = client.get(f"{API}/sscc/{SSCC}", headers=importer.headers)
    assert svg.content_type.startswith("image/svg+xml") and f"(00) {SSCC}".encode() in svg.data


def test_a_case_label_with_a_wrong_check_digit_is_refused(client, importer):
    res = client.get(f"{API}/sscc/376123450000000013", headers=importer.headers)
    assert res.status_code == 422
    assert res.json["errors"] == {"sscc": ["SSCC check digit is 3, expected 6"]}


def test_an_ean13_label_is_drawn_for_a_gtin13_but_not_for_a_gtin14_with_an_indicator(client, importer):
    res = client.get(f"{API}/ean13/{GTIN[1:]}?format=png", headers=importer.headers)
    assert res.status_code == 200
    assert decode_image(res.data) == [Decoded("]E0", GTIN[1:].encode(), "EAN13")]
    res = client.get(f"{API}/ean13/14030096123454", headers=importer.headers)
    assert res.status_code == 422
    assert res.json["detail"] == "GTIN 14030096123454 has indicator digit 1: it cannot be drawn as EAN-13"


def test_a_pharmacist_may_not_draw_labels(client, make):
    pharmacist = make.caller("pharmacist")
    res = client.get(f"{API}/ean13/{GTIN[1:]}", headers=pharmacist.headers)
    assert res.status_code == 403
    assert res.json["detail"] == "Your role may not do 'labels.draw' here."


# ---------------------------------------------------------------- the page


def test_an_importer_draws_a_pack_label_on_the_page_and_downloads_it(client, make):
    user = make.user("importer")
    sign_in(client, user.username)
    assert 'href="/labels/"' in client.get("/labels/").get_data(as_text=True)
    res = client.get("/labels/", query_string={"kind": "pack", **PACK, "batch": "L+7"})
    assert res.status_code == 200
    page = html.unescape(res.get_data(as_text=True))
    preview = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(preview).startswith(b"<?xml")
    png_link = re.search(r'href="([^"]+format=png[^"]*)"', page).group(1)
    download = client.get(png_link)
    assert download.status_code == 200 and download.content_type == "image/png"
    assert decode_image(download.data)[0].data == f"01{GTIN}1727060010L+7\x1d21{TRICKY}".encode()


def test_the_page_says_what_is_wrong_with_the_data(client, make):
    user = make.user("importer")
    sign_in(client, user.username)
    res = client.get("/labels/", query_string={"kind": "sscc", "sscc": "376123450000000013"})
    assert res.status_code == 422
    assert "SSCC check digit is 3, expected 6" in res.get_data(as_text=True)
    assert "data:image/svg" not in res.get_data(as_text=True)


def test_a_pharmacist_does_not_see_the_labels_page(client, make):
    user = make.user("pharmacist")
    sign_in(client, user.username)
    assert client.get("/labels/").status_code == 403
    assert 'href="/labels/"' not in client.get("/").get_data(as_text=True)
