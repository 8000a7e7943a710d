"""Permit pages: the importer's list and application form, the regulator's queue and decisions."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

from pharma.permits.models import ImportPermit
from tests.integration.test_permits_support import applied, approved, license_importer, product
from tests.integration.test_signin import csrf_from, sign_in

LATER = (date.today() + timedelta(days=120)).isoformat()


def _signed_in(client, make, role: str, org=None):
    user = make.user(role, org=org)
    assert sign_in(client, user.username).status_code == 302
    return user


def _post(client, page_url: str, url: str, data: dict):
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def test_an_importer_applies_by_scanning_a_gtin_and_typing_a_name(client, make, db_session):
    org = license_importer(make)
    scanned, typed = product(make), product(make, trade_name="Zinnat 500")
    _signed_in(client, make, "importer", org)
    page = client.get("/permits/new").get_data(as_text=True)
    assert 'for="requested_valid_until"' in page and 'name="product_0"' in page
    res = _post(client, "/permits/new", "/permits/new?rows=6", {
        "requested_valid_until": LATER,
        "product_0": f"01{scanned['gtin']}", "packs_0": "500",
        "product_1": "zinnat", "packs_1": "80", "manufacturer_1": "GSK", "country_1": "gb"})
    assert res.status_code == 302, res.get_data(as_text=True)
    permit = db_session.scalars(select(ImportPermit)).one()
    assert res.headers["Location"] == f"/permits/{permit.id}"
    assert [(x.product_id, x.packs_requested, x.country_of_origin) for x in permit.lines] == \
        [(scanned["id"], 500, "SI"), (typed["id"], 80, "GB")]
    shown = client.get(res.headers["Location"]).get_data(as_text=True)
    assert permit.number in shown and f"/permits/{permit.id}/pdf" in shown and "Zinnat 500" in shown
    listing = client.get("/permits/").get_data(as_text=True)
    assert "My permits" in listing and permit.number in listing


def test_a_name_that_matches_several_products_offers_a_choice(client, make, db_session):
    org = license_importer(make)
    product(make, trade_name="Augmentin 625")
    second = product(make, trade_name="Augmentin 1000")
    _signed_in(client, make, "importer", org)
    form = {"requested_valid_until": LATER, "product_0": "augmentin", "packs_0": "10"}
    res = _post(client, "/permits/new", "/permits/new", form)
    assert res.status_code == 422
    page = res.get_data(as_text=True)
    assert 'id="choice_0"' in page and "Augmentin 1000" in page and "Several products match" in page
    res = _post(client, "/permits/new", "/permits/new", {**form, "choice_0": str(second["id"])})
    assert res.status_code == 302
    assert db_session.scalars(select(ImportPermit)).one().lines[0].product_id == second["id"]


def test_an_application_refused_by_a_rule_keeps_the_form_and_says_why(client, make, db_session):
    org = make.org("importer")  # no import licence
    item = product(make)
    _signed_in(client, make, "importer", org)
    res = _post(client, "/permits/new", "/permits/new",
                {"requested_valid_until": LATER, "product_0": item["gtin"], "packs_0": "5"})
    assert res.status_code == 409
    page = res.get_data(as_text=True)
    assert "holds no import licence in force" in page and item["gtin"] in page
    assert db_session.scalars(select(ImportPermit)).first() is None


def test_the_regulator_works_the_queue_oldest_first_and_approves_with_fewer_packs(client, make, db_session):
    org = license_importer(make)
    p1, p2 = product(make), product(make)
    older = applied(make, org.id, [(p1["id"], 100), (p2["id"], 40)])
    newer = applied(make, org.id, [(p2["id"], 5)])
    _signed_in(client, make, "regulator")
    queue = client.get("/permits/queue").get_data(as_text=True)
    numbers = [db_session.get(ImportPermit, i).number for i in (older, newer)]
    assert queue.index(numbers[0]) < queue.index(numbers[1])
    page = client.get(f"/permits/{older}").get_data(as_text=True)
    lines = db_session.get(ImportPermit, older).lines
    assert f'name="line_{lines[0].id}"' in page and 'value="100"' in page  # prefilled with the request
    until = (date.today() + timedelta(days=60)).isoformat()
    res = _post(client, f"/permits/{older}", f"/permits/{older}/approve",
                {f"line_{lines[0].id}": "70", f"line_{lines[1].id}": "40", "valid_from": date.today().isoformat(),
                 "valid_until": until, "reason": ""})
    assert res.status_code == 302
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "is now approved" in page
    db_session.expire_all()
    permit = db_session.get(ImportPermit, older)
    assert (permit.status, [x.packs_approved for x in permit.lines]) == ("APPROVED", [70, 40])
    assert permit.valid_until.isoformat() == until
    assert f'action="/permits/{older}/revoke"' in page


def test_a_refused_decision_on_the_page_flashes_the_rule(client, make, db_session):
    org = license_importer(make)
    item = product(make)
    permit_id = applied(make, org.id, [(item["id"], 10)])
    line = db_session.get(ImportPermit, permit_id).lines[0]
    _signed_in(client, make, "regulator")
    res = _post(client, f"/permits/{permit_id}", f"/permits/{permit_id}/approve", {f"line_{line.id}": "11"})
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "only 10 were requested" in page
    res = _post(client, f"/permits/{permit_id}", f"/permits/{permit_id}/refuse", {"reason": "Dossier incomplete"})
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "is now refused" in page and "Dossier incomplete" in page


def test_the_regulator_revokes_from_the_permit_page(client, make, db_session):
    org = license_importer(make)
    permit_id = approved(make, org.id, [(product(make)["id"], 10)])
    _signed_in(client, make, "regulator")
    res = _post(client, f"/permits/{permit_id}", f"/permits/{permit_id}/revoke", {"reason": "Licence breach"})
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "is now revoked" in page and "Licence breach" in page
    assert f'action="/permits/{permit_id}/revoke"' not in page


def test_the_utilisation_page_totals_by_importer_and_product(client, make):
    org = license_importer(make, make.org("importer", name="Qafqaz Medika"))
    item = product(make, trade_name="Concor 5")
    approved(make, org.id, [(item["id"], 300)])
    _signed_in(client, make, "regulator")
    page = client.get("/permits/utilisation").get_data(as_text=True)
    assert "Qafqaz Medika" in page and "Concor 5" in page and re.search(r"<td>300</td>", page)
    filtered = client.get(f"/permits/utilisation?importer_id={org.id}&product_id={item['id']}&status=APPROVED")
    assert filtered.status_code == 200 and "Concor 5" in filtered.get_data(as_text=True)


def test_the_pdf_page_link_serves_the_document(client, make):
    org = license_importer(make)
    permit_id = approved(make, org.id, [(product(make)["id"], 10)])
    _signed_in(client, make, "importer", org)
    res = client.get(f"/permits/{permit_id}/pdf")
    assert res.status_code == 200 and res.data.startswith(b"%PDF")


def test_the_permits_link_and_pages_follow_the_policy(client, make):
    _signed_in(client, make, "importer", license_importer(make))
    assert 'href="/permits/"' in client.get("/").get_data(as_text=True)
    assert client.get("/permits/queue").status_code == 403
    client.post("/sign-out")
    _signed_in(client, make, "pharmacist")
    assert 'href="/permits/"' not in client.get("/").get_data(as_text=True)
    assert client.get("/permits/").status_code == 403
    assert client.get("/permits/new").status_code == 403
