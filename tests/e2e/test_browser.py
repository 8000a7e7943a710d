"""A person at a browser: sign in, search the register, open a product; keyboard only too."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, gtin13

pytestmark = pytest.mark.browser


def register_product(make, trade_name: str, inn: str, n: int):
    """A product entered by a regulator through the register's own service."""
    from pharma.register import services as reg

    regulator = make.user("regulator")
    return reg.register_product(make.uow(regulator), reg.NewProduct(
        trade_name=trade_name, substances=(reg.SubstanceLine(inn, "500 mg"),), atc_code="N02BE01",
        dosage_form="FILM_COATED_TABLET", route="ORAL", pack_size=20, pack_unit="tablet",
        gtins=(gtin13(700_000 + n),), rx=False,
        certificate=reg.NewCertificate(number=f"E2E-{n:05d}", holder="Holder LLC", manufacturer="Maker AG",
                                       country="AZ", issued=date.today() - timedelta(days=30),
                                       valid_until=date.today() + timedelta(days=5 * 365)),
        max_retail_price=245,
    ))


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    sign_in_as(page, username, password)


def sign_in_as(page: Page, username: str, password: str) -> None:
    """Fill the sign-in form on the current page, in whatever language it is in."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form.signin button[type=submit]").click()


def test_a_user_signs_in_and_lands_on_the_start_page(page, make, screenshot):
    user = make.user("pharmacist")
    sign_in(page, user.username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(user.username)
    expect(page.locator("#q")).to_be_focused()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    screenshot("start")


def test_a_pharmacist_finds_a_product_from_the_start_page_and_opens_it(page, make, screenshot):
    wanted = register_product(make, "Ağrıkəsən Forte 500", "paracetamol", 1)
    register_product(make, "Other Brand 500", "ibuprofen", 2)
    gtin = wanted.gtins[0].gtin
    user = make.user("pharmacist")

    sign_in(page, user.username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/$"))
    page.locator("#q").fill("Ağrıkəsən")
    page.locator("#q").press("Enter")

    expect(page).to_have_url(re.compile(r"/register/\?q="))
    results = page.get_by_role("table").get_by_role("link")
    expect(results).to_have_count(1)
    expect(results).to_have_text("Ağrıkəsən Forte 500")
    screenshot("search")
    results.click()

    expect(page).to_have_url(re.compile(rf"/register/products/{wanted.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ağrıkəsən Forte 500")
    expect(page.locator("main")).to_contain_text(gtin)
    expect(page.locator("main")).to_contain_text("paracetamol")
    expect(page.locator("main")).to_contain_text("E2E-00001")
    screenshot("product")


def test_a_wrong_password_shows_the_error_and_does_not_sign_in(page, make, screenshot):
    user = make.user("pharmacist")
    sign_in(page, user.username, "not the password")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    expect(page.get_by_role("status")).to_contain_text("wrong")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_label("Username")).to_have_value(user.username)
    expect(page.get_by_label("Password")).to_have_value("")
    screenshot("wrong-password")


def test_a_keyboard_only_user_reaches_the_search_box_with_tab(page, make):
    user = make.user("pharmacist")
    page.goto("/sign-in")
    expect(page.get_by_label("Username")).to_be_focused()  # the focus is there on arrival
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))

    # start from the top of the page, as after loading it without autofocus
    page.evaluate("document.activeElement && document.activeElement.blur()")
    presses = 0
    while page.evaluate("document.activeElement && document.activeElement.id") != "q":
        presses += 1
        if presses > 40:
            pytest.fail("40 presses of Tab never reached the register search box #q")
        page.keyboard.press("Tab")
    assert presses <= 15, f"the search box is {presses} Tab presses deep"


@pytest.mark.parametrize(("language", "sign_in_text", "search_text"), [
    ("Azərbaycanca", "Daxil ol", "Axtar"),
    ("Русский", "Войти", "Найти"),
], ids=["az", "ru"])
def test_the_language_switch_translates_the_pages(page, make, screenshot, language, sign_in_text, search_text):
    register_product(make, "Ağrıkəsən Forte 500", "paracetamol", 3)
    user = make.user("pharmacist")
    page.goto("/sign-in")
    page.get_by_label("Language").select_option(label=language)
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(sign_in_text)
    screenshot("sign-in")

    sign_in_as(page, user.username, PASSWORD)
    page.get_by_label("Language").select_option(label=language)  # signing in applies the account's language
    page.locator("header form.locale button[type=submit]").click()
    expect(page.get_by_role("button", name=search_text)).to_be_visible()
    page.locator("#q").fill("Ağrıkəsən")
    page.locator("#q").press("Enter")
    page.get_by_role("table").get_by_role("link", name="Ağrıkəsən Forte 500").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ağrıkəsən Forte 500")
    expect(page.locator("html")).to_have_attribute("lang", {"Azərbaycanca": "az", "Русский": "ru"}[language])
    screenshot("product")
