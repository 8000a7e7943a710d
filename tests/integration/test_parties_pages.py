"""The organisation pages a regulator works in."""

from __future__ import annotations

from tests.integration.test_signin import csrf_from, sign_in


def test_a_regulator_creates_an_organisation_and_records_its_licence_and_location(client, make):
    regulator = make.user("regulator")
    sign_in(client, regulator.username)
    token = csrf_from(client.get("/organisations").get_data(as_text=True))
    res = client.post("/organisations", data={"csrf_token": token, "key": "şəfa-aptek", "type": "pharmacy",
                                              "name": "Şəfa Aptek"})
    assert res.status_code == 302  # the key breaks the rules: back to the list with the reason
    res = client.post("/organisations", data={"csrf_token": token, "key": "sefa-aptek", "type": "pharmacy",
                                              "name": "Şəfa Aptek", "tax_id": "1700000001"})
    org_page = res.headers["Location"]
    assert org_page.startswith("/organisations/")
    org_id = int(org_page.rsplit("/", 1)[1])
    client.post(f"/organisations/{org_id}/licences", data={
        "csrf_token": token, "number": "AP-2026-0001", "kind": "pharmacy_retail",
        "valid_from": "2026-01-01", "valid_until": "2031-01-01"})
    client.post(f"/organisations/{org_id}/locations", data={
        "csrf_token": token, "gln": "4760000000016", "name": "Şəfa – Yasamal", "region": "Baku",
        "city": "Bakı", "address": "Şərifzadə 10"})
    page = client.get(org_page).get_data(as_text=True)
    assert "AP-2026-0001" in page
    assert "4760000000016" in page
    assert "Şəfa – Yasamal" in page


def test_a_location_with_a_bad_gln_is_refused_on_the_page_with_the_reason(client, make):
    regulator = make.user("regulator")
    org = make.org("importer", locations=0)
    sign_in(client, regulator.username)
    token = csrf_from(client.get(f"/organisations/{org.id}").get_data(as_text=True))
    res = client.post(f"/organisations/{org.id}/locations", follow_redirects=True, data={
        "csrf_token": token, "gln": "4760000000011", "name": "Depot", "region": "Baku",
        "city": "Bakı", "address": "X"})
    assert "GLN check digit is 1, expected 6" in res.get_data(as_text=True)
    assert "Depot" not in client.get(f"/organisations/{org.id}").get_data(as_text=True)


def test_a_pharmacist_sees_no_regulator_forms_and_cannot_post_them(client, make):
    pharmacist = make.user("pharmacist")
    org = make.org("importer")
    sign_in(client, pharmacist.username)
    page = client.get(f"/organisations/{org.id}").get_data(as_text=True)
    assert "Record a licence" not in page
    token = csrf_from(page)
    res = client.post(f"/organisations/{org.id}/licences", follow_redirects=True, data={
        "csrf_token": token, "number": "X-1", "kind": "import", "valid_from": "2026-01-01",
        "valid_until": "2027-01-01"})
    assert "Your role may not do &#39;parties.licence.manage&#39; here." in res.get_data(as_text=True)
