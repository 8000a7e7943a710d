"""The pack page: type or scan a pack, see its state in big letters, its facts and its history."""

from __future__ import annotations

import html
from urllib.parse import quote

import pytest

from pharma.shared.errors import InvalidIdentifier
from pharma.trace.views_history import parse_pack_query
from tests.integration.history_helpers import commission, decommission, deliver
from tests.integration.test_signin import sign_in

GTIN = "04030096123457"


# ---------------------------------------------------------------- what can be typed or scanned


@pytest.mark.parametrize("typed", [
    f"{GTIN} AB12", f"  {GTIN[1:]}   AB12 ", f"(01){GTIN}(21)AB12", f"01{GTIN}21AB12",
    f"01{GTIN}21AB12\x1d17270630", f"]d201{GTIN}21AB12", f"(01){GTIN}(17)270630(21)AB12(10)L1"])
def test_a_pack_can_be_typed_or_scanned_in_these_forms(typed):
    assert parse_pack_query(typed) == (GTIN, "AB12")


@pytest.mark.parametrize(("typed", "field"), [
    ("AB12", "q"), (f"{GTIN}", "q"), (f"(01){GTIN}", "q"), ("04030096123458 AB12", "gtin"),
    (f"{GTIN} {'X' * 21}", "serial")])
def test_what_is_not_a_pack_is_refused_with_the_field_at_fault(typed, field):
    with pytest.raises(InvalidIdentifier) as caught:
        parse_pack_query(typed)
    assert caught.value.field == field


# ---------------------------------------------------------------- the page


def test_a_pharmacist_scans_a_pack_and_sees_its_state_facts_and_history(client, make):
    lot = commission(make, serials=("AB/12",))
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    shipment = deliver(make, lot, pharmacy, pharmacist=pharmacist)
    decommission(make, pharmacist, lot.pack_id("AB/12"), pharmacy.locations[0].id, "DESTROYED", "Dropped")
    sign_in(client, pharmacist.username)

    res = client.get("/packs/", query_string={"q": f"(01){lot.gtin}(21)AB/12"})
    assert res.status_code == 302
    page_url = res.headers["Location"]
    assert page_url == f"/packs/{lot.gtin}/AB/12"
    page = html.unescape(client.get(page_url).get_data(as_text=True))
    assert 'class="pack-state state-destroyed"' in page and ">\n  Destroyed</p>" in page
    assert "Paracetamol Test" in page and lot.batch in page and lot.case_sscc in page
    for text in ("Commissioned", "Shipped", "Received", "Decommissioned: Destroyed", "Dropped",
                 lot.declaration_number, shipment.number, lot.importer_user.username, pharmacy.locations[0].gln):
        assert text in page, text
    epcis = f"/api/v1/packs/{lot.gtin}/{quote('AB/12', safe='')}/epcis"
    assert f'href="{epcis}"' in page
    # the export link works with the same signed-in session
    assert client.get(epcis).json["type"] == "EPCISDocument"


def test_the_nav_shows_the_pack_page_only_to_roles_that_may_read_packs(client, make):
    sign_in(client, make.user("inspector").username)
    assert 'href="/packs/"' in client.get("/").get_data(as_text=True)
    other = make.app.test_client()
    sign_in(other, make.user("physician").username)
    assert 'href="/packs/"' not in other.get("/").get_data(as_text=True)
    assert other.get("/packs/").status_code == 403


def test_an_unknown_or_foreign_pack_shows_the_search_again_with_a_message(client, make):
    lot = commission(make, serials=("F1",))
    pharmacist = make.user("pharmacist", org=make.org("pharmacy"))
    sign_in(client, pharmacist.username)
    res = client.get(f"/packs/{lot.gtin}/F1")
    assert res.status_code == 404
    page = html.unescape(res.get_data(as_text=True))
    assert f"No pack {lot.gtin} / F1 is known." in page
    assert 'id="pack-q"' in page


def test_a_code_that_is_not_a_pack_is_explained_on_the_page(client, make):
    sign_in(client, make.user("regulator").username)
    res = client.get("/packs/", query_string={"q": "hello"})
    assert res.status_code == 422
    assert "Type a GTIN and a serial" in html.unescape(res.get_data(as_text=True))


def test_an_empty_search_shows_the_box_with_its_label(client, make):
    sign_in(client, make.user("regulator").username)
    page = client.get("/packs/").get_data(as_text=True)
    assert '<label for="pack-q">' in page and 'name="q"' in page
