"""The register's pages: search (with a scanned GTIN), a product's page, the regulator's forms."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from pharma.register.models import Certificate, PriceRecord, Product
from tests.factories import PASSWORD
from tests.integration.register_helpers import register

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client, user) -> str:
    """Sign in through the form, as a browser would; returns the CSRF token for later forms."""
    token = CSRF.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    res = client.post("/sign-in", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert res.status_code == 302, res.get_data(as_text=True)
    return CSRF.search(client.get("/register/").get_data(as_text=True)).group(1)


@pytest.fixture()
def regulator(make):
    return make.caller("regulator")


@pytest.fixture()
def augmentin(client, regulator):
    return register(client, regulator, trade_name="Augmentin", gtins=["4030096123457"],
                    max_retail_price=1250, price_from="2025-01-01")


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    res = client.get("/register/")
    assert res.status_code == 302
    assert "/sign-in" in res.headers["Location"]


def test_the_search_page_lists_matching_products_with_links(client, make, augmentin):
    sign_in(client, make.user("pharmacist"))
    res = client.get("/register/", query_string={"q": "amoxi"})
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert 'id="q"' in html and "autofocus" in html
    assert '<label for="q">' in html
    assert f'href="/register/products/{augmentin["id"]}"' in html
    assert "12.50 AZN" in html
    assert "Register a product" not in html  # pharmacists do not register products


def test_a_scanned_gtin_opens_the_product_page(client, make, augmentin):
    sign_in(client, make.user("pharmacist"))
    for scanned in ("4030096123457", "0104030096123457", "0104030096123457172801311012345"):
        res = client.get("/register/", query_string={"q": scanned})
        assert res.status_code == 302
        assert res.headers["Location"].endswith(f"/register/products/{augmentin['id']}")


def test_the_product_page_shows_facts_certificate_history_and_prices(client, make, augmentin):
    sign_in(client, make.user("physician"))
    html = client.get(f"/register/products/{augmentin['id']}").get_data(as_text=True)
    for fact in ("Augmentin", "amoxicillin 875 mg", "J01CR02", "Film coated tablet", "04030096123457",
                 augmentin["certificate"]["number"], "Status history", "12.50 AZN", "2025-01-01"):
        assert fact in html
    assert "Suspend" not in html  # only the regulator sees the forms


def test_the_regulator_suspends_a_certificate_from_the_product_page(client, regulator, augmentin, db_session):
    token = sign_in(client, regulator.user)
    page = client.get(f"/register/products/{augmentin['id']}").get_data(as_text=True)
    assert 'for="suspend-reason"' in page
    cert = augmentin["certificate"]["id"]
    res = client.post(f"/register/certificates/{cert}/suspend",
                      data={"csrf_token": token, "reason": "GMP inspection failed", "product_id": augmentin["id"]})
    assert res.status_code == 302
    assert res.headers["Location"].endswith(f"/register/products/{augmentin['id']}")
    html = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "is now suspended" in html
    assert "GMP inspection failed" in html
    assert db_session.get(Certificate, cert).status == "suspended"


def test_a_refused_certificate_act_is_flashed_on_the_product_page(client, regulator, augmentin):
    token = sign_in(client, regulator.user)
    cert = augmentin["certificate"]["id"]
    res = client.post(f"/register/certificates/{cert}/reinstate",
                      data={"csrf_token": token, "reason": "No reason to", "product_id": augmentin["id"]},
                      follow_redirects=True)
    assert res.status_code == 200
    assert "Only a suspended certificate can be reinstated" in res.get_data(as_text=True)


def test_a_certificate_form_without_the_csrf_token_is_refused(client, regulator, augmentin, db_session):
    sign_in(client, regulator.user)
    cert = augmentin["certificate"]["id"]
    res = client.post(f"/register/certificates/{cert}/revoke", data={"reason": "No token here"})
    assert res.status_code == 400
    assert db_session.get(Certificate, cert).status == "active"


def test_the_regulator_renews_and_sets_a_price_from_the_product_page(client, regulator, augmentin, db_session):
    token = sign_in(client, regulator.user)
    cert = augmentin["certificate"]["id"]
    later = (date.today() + timedelta(days=3000)).isoformat()
    client.post(f"/register/certificates/{cert}/renew",
                data={"csrf_token": token, "reason": "Dossier renewed", "valid_until": later})
    assert db_session.get(Certificate, cert).valid_until.isoformat() == later
    res = client.post(f"/register/products/{augmentin['id']}/prices",
                      data={"csrf_token": token, "max_retail_price": "13,40", "effective_from": "2026-01-01"},
                      follow_redirects=True)
    assert "13.40 AZN" in res.get_data(as_text=True)
    prices = db_session.scalars(select(PriceRecord.max_retail_price).order_by(PriceRecord.effective_from)).all()
    assert prices == [1250, 1340]


def test_the_regulator_registers_a_product_through_the_form(client, regulator, db_session):
    token = sign_in(client, regulator.user)
    assert 'for="trade_name"' in client.get("/register/products/new").get_data(as_text=True)
    form = {
        "csrf_token": token, "trade_name": "Enap", "atc_code": "c09aa02", "dosage_form": "TABLET",
        "route": "ORAL", "pack_size": "20", "pack_unit": "tablet", "rx": "yes", "controlled_schedule": "",
        "gtins": "3838989512347\n", "inn_0": "enalapril", "strength_0": "10 mg", "number": "DV-2025-0001",
        "holder": "KRKA d.d.", "manufacturer": "KRKA d.d.", "country": "si", "issued": "2025-01-10",
        "valid_until": (date.today() + timedelta(days=1000)).isoformat(), "max_retail_price": "4.20",
        "price_from": "2025-02-01",
    }
    res = client.post("/register/products/new", data=form)
    assert res.status_code == 302, res.get_data(as_text=True)
    product = db_session.scalars(select(Product)).one()
    assert (product.trade_name, product.atc_code, product.gtins[0].gtin) == ("Enap", "C09AA02", "03838989512347")
    assert product.prices[0].max_retail_price == 420


def test_a_refused_registration_form_keeps_what_was_typed(client, regulator, db_session):
    token = sign_in(client, regulator.user)
    res = client.post("/register/products/new", data={
        "csrf_token": token, "trade_name": "Enap", "gtins": "3838989512342", "inn_0": "enalapril",
        "strength_0": "10 mg", "atc_code": "C09AA02", "dosage_form": "TABLET", "route": "ORAL",
        "pack_size": "20", "pack_unit": "tablet", "rx": "yes", "number": "DV-1", "holder": "KRKA",
        "manufacturer": "KRKA", "country": "SI", "issued": "2025-01-10", "valid_until": "2030-01-01"})
    html = res.get_data(as_text=True)
    assert res.status_code == 422
    assert "GTIN check digit is 2, expected 7" in html
    assert 'value="Enap"' in html
    assert db_session.scalar(select(func.count()).select_from(Product)) == 0


def test_only_the_regulator_opens_the_registration_form(client, make):
    sign_in(client, make.user("pharmacist"))
    assert client.get("/register/products/new").status_code == 403
