"""Import permits over HTTP: applying, deciding, reading, utilisation, the PDF."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from pharma.auditlog.models import AuditEntry
from pharma.permits import services as svc
from pharma.permits.models import ImportPermit
from pharma.register import services as register_svc
from pharma.shared.time import utcnow
from tests.integration.test_permits_support import (
    API,
    applied,
    approved,
    license_importer,
    product,
    system,
)

LATER = (date.today() + timedelta(days=180)).isoformat()


@pytest.fixture()
def world(make):
    org = license_importer(make)
    return {"org": org, "importer": make.caller("importer", org=org), "regulator": make.caller("regulator"),
            "p1": product(make, manufacturer="Lek d.d.", country="SI"), "p2": product(make)}


def _apply(client, caller, lines, until=LATER):
    return client.post(API, headers=caller.headers, json={"requested_valid_until": until, "lines": lines})


def _count(db_session, model=ImportPermit) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------- applying


def test_an_importer_applies_and_gets_a_numbered_application(client, world, db_session):
    res = _apply(client, world["importer"], [
        {"product_id": world["p1"]["id"], "packs_requested": 500},
        {"gtin": world["p2"]["gtin"], "packs_requested": 120, "manufacturer": "Sandoz GmbH",
         "country_of_origin": "AT"}])
    assert res.status_code == 201, res.json
    body = res.json
    assert re.fullmatch(rf"IP-{date.today().year}-000001", body["number"])
    assert body["status"] == body["effective_status"] == "APPLIED"
    assert body["importer"]["id"] == world["org"].id
    first, second = body["lines"]
    assert (first["product_id"], first["packs_requested"], first["packs_approved"]) == (world["p1"]["id"], 500, 0)
    assert (first["manufacturer"], first["country_of_origin"]) == ("Lek d.d.", "SI")  # from the certificate
    assert (second["product_id"], second["manufacturer"], second["country_of_origin"]) == \
        (world["p2"]["id"], "Sandoz GmbH", "AT")
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "permit.apply")).one()
    assert entry.change["after"]["status"] == "APPLIED"
    assert entry.object_id == str(body["id"])


def test_permit_numbers_follow_each_other_within_the_year(client, world):
    numbers = [_apply(client, world["importer"], [{"product_id": world["p1"]["id"], "packs_requested": 1}])
               .json["number"] for _ in range(3)]
    year = date.today().year
    assert numbers == [f"IP-{year}-000001", f"IP-{year}-000002", f"IP-{year}-000003"]


def test_an_importer_without_an_import_licence_in_force_cannot_apply(client, make, world, db_session):
    lapsed = license_importer(make, valid_until=date.today() - timedelta(days=1))
    wholesale_only = license_importer(make, kind="wholesale")
    suspended = license_importer(make, status="suspended")
    for org in (lapsed, wholesale_only, suspended):
        caller = make.caller("importer", org=org)
        res = _apply(client, caller, [{"product_id": world["p1"]["id"], "packs_requested": 5}])
        assert res.status_code == 409
        assert res.json["code"] == "NO_IMPORT_LICENCE"
    assert _count(db_session) == 0


def test_a_product_whose_registration_is_not_in_force_cannot_be_applied_for(client, world, db_session, make):
    register_svc.suspend_certificate(system(make.session), world["p2"]["cert"], "GMP inspection findings")
    res = _apply(client, world["importer"], [{"product_id": world["p1"]["id"], "packs_requested": 5},
                                             {"product_id": world["p2"]["id"], "packs_requested": 5}])
    assert res.status_code == 409
    assert res.json["code"] == "PRODUCT_NOT_IN_FORCE"
    assert res.json["product_id"] == world["p2"]["id"]
    assert world["p2"]["name"] in res.json["detail"]
    assert _count(db_session) == 0


def test_a_withdrawn_product_cannot_be_applied_for(client, world, db_session):
    from pharma.register.models import Product

    db_session.get(Product, world["p1"]["id"]).withdrawn_at = utcnow()
    db_session.commit()
    res = _apply(client, world["importer"], [{"product_id": world["p1"]["id"], "packs_requested": 5}])
    assert res.status_code == 409
    assert res.json["code"] == "PRODUCT_WITHDRAWN"


@pytest.mark.parametrize(("lines", "until", "field"), [
    ([], LATER, "lines"),
    ([{"packs_requested": 5}], LATER, "lines.0.product_id"),
    ([{"product_id": 1, "gtin": "4006381333931", "packs_requested": 5}], LATER, "lines.0.product_id"),
    ([{"gtin": "4006381333932", "packs_requested": 5}], LATER, "lines.0.gtin"),  # wrong check digit
    ([{"gtin": "4006381333931", "packs_requested": 5}], LATER, "lines.0.gtin"),  # not registered
    ([{"product_id": 999999, "packs_requested": 5}], LATER, "lines.0.product_id"),
    ([{"product_id": 1, "packs_requested": 0}], LATER, "lines.0.packs_requested"),
    ([{"product_id": 1, "packs_requested": 5, "country_of_origin": "Slovenia"}], LATER,
     "lines.0.country_of_origin"),
    ([{"product_id": 1, "packs_requested": 5}], date.today().isoformat(), "requested_valid_until"),
])
def test_a_malformed_application_is_refused_field_by_field(client, world, db_session, lines, until, field):
    res = _apply(client, world["importer"], lines, until)
    assert res.status_code == 422, res.json
    assert res.content_type == "application/problem+json"
    assert res.json["code"] in ("VALIDATION_FAILED", "INVALID_IDENTIFIER")
    assert field in _dotted(res.json["errors"]), res.json
    assert _count(db_session) == 0


def _dotted(errors: dict, prefix: str = "") -> set[str]:
    """Field names of nested schema errors ({"lines": {"0": {...}}}) as "lines.0.product_id"."""
    out = set()
    for key, value in errors.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out |= _dotted(value, name) if isinstance(value, dict) else {name}
    return out


# ---------------------------------------------------------------- deciding


def _applied(make, world, packs=(500, 200)) -> int:
    return applied(make, world["org"].id, [(world["p1"]["id"], packs[0]), (world["p2"]["id"], packs[1])])


def test_the_regulator_approves_fewer_packs_for_a_shorter_time(client, make, world, db_session):
    permit_id = _applied(make, world)
    lines = client.get(f"{API}/{permit_id}", headers=world["regulator"].headers).json["lines"]
    until = (date.today() + timedelta(days=90)).isoformat()
    res = client.post(f"{API}/{permit_id}/approve", headers=world["regulator"].headers,
                      json={"lines": [{"line_id": lines[0]["id"], "packs_approved": 300}], "valid_until": until,
                            "reason": "Quantity matched to last year's sales"})
    assert res.status_code == 200, res.json
    body = res.json
    assert body["status"] == "APPROVED"
    assert (body["valid_from"], body["valid_until"]) == (date.today().isoformat(), until)
    assert [(x["packs_approved"], x["packs_left"]) for x in body["lines"]] == [(300, 300), (200, 200)]
    assert body["decision_reason"] == "Quantity matched to last year's sales"
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "permit.approve")).one()
    assert entry.change["before"]["status"] == "APPLIED"
    assert [x["approved"] for x in entry.change["after"]["lines"]] == [300, 200]


@pytest.mark.parametrize(("payload", "code"), [
    (lambda lines: {"lines": [{"line_id": lines[0]["id"], "packs_approved": 501}]}, "APPROVAL_EXCEEDS_REQUEST"),
    (lambda lines: {"valid_until": (date.today() + timedelta(days=181)).isoformat()}, "APPROVAL_EXCEEDS_REQUEST"),
    (lambda lines: {"lines": [{"line_id": x["id"], "packs_approved": 0} for x in lines]}, "NOTHING_APPROVED"),
    (lambda lines: {"lines": [{"line_id": 987654, "packs_approved": 1}]}, "VALIDATION_FAILED"),
    (lambda lines: {"valid_from": (date.today() + timedelta(days=10)).isoformat(),
                    "valid_until": (date.today() + timedelta(days=5)).isoformat()}, "VALIDATION_FAILED"),
])
def test_an_approval_beyond_the_application_is_refused_and_changes_nothing(client, make, world, payload, code):
    permit_id = _applied(make, world)
    lines = client.get(f"{API}/{permit_id}", headers=world["regulator"].headers).json["lines"]
    res = client.post(f"{API}/{permit_id}/approve", headers=world["regulator"].headers, json=payload(lines))
    assert res.json["code"] == code, res.json
    assert res.status_code in (409, 422)
    after = client.get(f"{API}/{permit_id}", headers=world["regulator"].headers).json
    assert after["status"] == "APPLIED"
    assert [x["packs_approved"] for x in after["lines"]] == [0, 0]


def test_a_product_suspended_since_the_application_blocks_the_approval(client, make, world):
    permit_id = _applied(make, world)
    register_svc.suspend_certificate(system(make.session), world["p1"]["cert"], "Quality defect")
    res = client.post(f"{API}/{permit_id}/approve", headers=world["regulator"].headers, json={})
    assert res.status_code == 409
    assert res.json["code"] == "PRODUCT_NOT_IN_FORCE"
    assert client.get(f"{API}/{permit_id}", headers=world["regulator"].headers).json["status"] == "APPLIED"


def test_an_application_is_decided_once(client, make, world):
    permit_id = _applied(make, world)
    assert client.post(f"{API}/{permit_id}/approve", headers=world["regulator"].headers, json={}).status_code == 200
    for action, body in (("approve", {}), ("refuse", {"reason": "second thoughts"})):
        res = client.post(f"{API}/{permit_id}/{action}", headers=world["regulator"].headers, json=body)
        assert res.status_code == 409
        assert res.json["code"] == "PERMIT_NOT_APPLIED"


def test_the_regulator_refuses_with_a_reason_and_a_refused_permit_stays_refused(client, make, world, db_session):
    permit_id = _applied(make, world)
    res = client.post(f"{API}/{permit_id}/refuse", headers=world["regulator"].headers, json={"reason": "no"})
    assert res.status_code == 422
    res = client.post(f"{API}/{permit_id}/refuse", headers=world["regulator"].headers,
                      json={"reason": "The manufacturer's GMP certificate has lapsed."})
    assert res.status_code == 200
    assert (res.json["status"], res.json["decision_reason"]) == \
        ("REFUSED", "The manufacturer's GMP certificate has lapsed.")
    assert client.post(f"{API}/{permit_id}/approve", headers=world["regulator"].headers,
                       json={}).json["code"] == "PERMIT_NOT_APPLIED"
    assert client.post(f"{API}/{permit_id}/revoke", headers=world["regulator"].headers,
                       json={"reason": "never mind"}).json["code"] == "PERMIT_NOT_APPROVED"
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "permit.refuse")).one()
    assert (entry.change["before"]["status"], entry.change["after"]["status"]) == ("APPLIED", "REFUSED")


def test_the_regulator_revokes_an_approved_permit_for_good(client, make, world, db_session):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    res = client.post(f"{API}/{permit_id}/revoke", headers=world["regulator"].headers,
                      json={"reason": "Licence conditions breached"})
    assert res.status_code == 200
    assert (res.json["status"], res.json["revoke_reason"]) == ("REVOKED", "Licence conditions breached")
    assert res.json["revoked_at"]
    again = client.post(f"{API}/{permit_id}/revoke", headers=world["regulator"].headers, json={"reason": "twice"})
    assert (again.status_code, again.json["code"]) == (409, "PERMIT_REVOKED")
    assert db_session.scalar(select(func.count()).where(AuditEntry.action == "permit.revoke")) == 1


def test_an_application_cannot_be_revoked(client, make, world):
    permit_id = _applied(make, world)
    res = client.post(f"{API}/{permit_id}/revoke", headers=world["regulator"].headers, json={"reason": "too early"})
    assert (res.status_code, res.json["code"]) == (409, "PERMIT_NOT_APPROVED")


def test_deciding_a_permit_that_does_not_exist_is_not_found(client, world):
    res = client.post(f"{API}/424242/approve", headers=world["regulator"].headers, json={})
    assert (res.status_code, res.json["code"]) == (404, "NOT_FOUND")


# ---------------------------------------------------------------- reading


def test_an_importer_sees_only_its_own_permits(client, make, world):
    mine = _applied(make, world)
    other = license_importer(make)
    theirs = applied(make, other.id, [(world["p1"]["id"], 10)])
    listed = client.get(API, headers=world["importer"].headers).json
    assert [p["id"] for p in listed["items"]] == [mine]
    asked = client.get(f"{API}?importer_id={other.id}", headers=world["importer"].headers).json
    assert asked["items"] == []
    res = client.get(f"{API}/{theirs}", headers=world["importer"].headers)
    assert (res.status_code, res.json["code"]) == (403, "FORBIDDEN")
    assert client.get(f"{API}/{theirs}/pdf", headers=world["importer"].headers).status_code == 403
    everyone = client.get(API, headers=world["regulator"].headers).json
    assert {p["id"] for p in everyone["items"]} == {mine, theirs}


def test_permits_are_listed_by_status_product_number_and_date(client, make, world):
    first = _applied(make, world)
    second = approved(make, world["org"].id, [(world["p2"]["id"], 10)])
    headers = world["regulator"].headers
    ids = lambda url: [p["id"] for p in client.get(url, headers=headers).json["items"]]  # noqa: E731
    assert ids(f"{API}?status=APPLIED") == [first]
    assert ids(f"{API}?status=APPROVED") == [second]
    assert ids(f"{API}?product_id={world['p1']['id']}") == [first]
    assert ids(f"{API}?oldest_first=true") == [first, second]
    assert ids(f"{API}") == [second, first]
    number = client.get(f"{API}/{second}", headers=headers).json["number"]
    assert ids(f"{API}?number={number.lower()}") == [second]
    assert ids(f"{API}?applied_from={date.today().isoformat()}&applied_to={date.today().isoformat()}") == \
        [second, first]
    assert ids(f"{API}?applied_to={(date.today() - timedelta(days=1)).isoformat()}") == []
    assert ids(f"{API}?valid_on={date.today().isoformat()}") == [second]
    assert client.get(f"{API}?status=SOMETHING", headers=headers).status_code == 422


def test_utilisation_shows_approved_used_and_left_per_permit_line_importer_and_product(client, make, world):
    a = approved(make, world["org"].id, [(world["p1"]["id"], 100), (world["p2"]["id"], 50)])
    other = license_importer(make, make.org("importer", name="Xəzər Farm"))
    b = approved(make, other.id, [(world["p1"]["id"], 200)])
    _applied(make, world)  # an application is not counted
    work = system(make.session)
    with work:
        svc.draw_down(work, a, world["org"].id, {world["p1"]["id"]: 40}, date.today())
        svc.draw_down(work, b, other.id, {world["p1"]["id"]: 200}, date.today())
        work.commit()
    body = client.get(f"{API}/utilisation", headers=world["regulator"].headers).json
    assert body["total"] == {"approved": 350, "used": 240, "left": 110, "percent": 68}
    by_importer = {g["name"]: (g["approved"], g["used"], g["percent"]) for g in body["by_importer"]}
    assert by_importer == {world["org"].name: (150, 40, 26), "Xəzər Farm": (200, 200, 100)}
    by_product = {g["id"]: (g["approved"], g["used"], g["left"]) for g in body["by_product"]}
    assert by_product == {world["p1"]["id"]: (300, 240, 60), world["p2"]["id"]: (50, 0, 50)}
    permit = next(p for p in body["items"] if p["permit_id"] == a)
    assert (permit["approved"], permit["used"], permit["left"], permit["percent"]) == (150, 40, 110, 26)
    assert [(x["product_id"], x["used"], x["percent"]) for x in permit["lines"]] == \
        [(world["p1"]["id"], 40, 40), (world["p2"]["id"], 0, 0)]
    only_p2 = client.get(f"{API}/utilisation?product_id={world['p2']['id']}", headers=world["regulator"].headers).json
    assert only_p2["total"] == {"approved": 50, "used": 0, "left": 50, "percent": 0}
    assert [p["permit_id"] for p in only_p2["items"]] == [a]
    mine = client.get(f"{API}/utilisation", headers=world["importer"].headers).json
    assert [g["id"] for g in mine["by_importer"]] == [world["org"].id]
    assert mine["total"]["approved"] == 150


# ---------------------------------------------------------------- the document


def test_the_permit_document_is_a_pdf_with_the_number_importer_and_products(client, make, world):
    from pypdf import PdfReader

    org = license_importer(make, make.org("importer", name="Xəzər Farm ŞİRKƏTİ"))
    special = product(make, trade_name="Ağrıkəsən Форте")
    permit_id = approved(make, org.id, [(special["id"], 250)])
    number = client.get(f"{API}/{permit_id}", headers=world["regulator"].headers).json["number"]
    res = client.get(f"{API}/{permit_id}/pdf", headers=world["regulator"].headers)
    assert res.status_code == 200
    assert res.content_type == "application/pdf"
    assert res.data.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(res.data)).pages)
    flat = " ".join(text.split())
    for expected in (number, "Xəzər Farm ŞİRKƏTİ", "Ağrıkəsən Форте", special["gtin"], "250", org.tax_id):
        assert expected in flat, expected


def test_the_printed_verification_code_checks_out_publicly_and_shows_a_revocation(client, make, world, app):
    permit_id = approved(make, world["org"].id, [(world["p1"]["id"], 100)])
    with app.test_request_context():
        permit = make.session.get(ImportPermit, permit_id)
        code, number = svc.verification_code(permit), permit.number
    page = client.get(f"/permits/verify?number={number}&code={code}").get_data(as_text=True)
    assert "is on record" in page and "Approved" in page
    forged = client.get(f"/permits/verify?number={number}&code=0000000000000000").get_data(as_text=True)
    assert "No permit with this number and code is on record" in forged
    svc.revoke_permit(system(make.session), permit_id, "Licence conditions breached")
    page = client.get(f"/permits/verify?number={number}&code={code}").get_data(as_text=True)
    assert "Revoked" in page
