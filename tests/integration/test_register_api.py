"""The register API over HTTP: registering, searching, GTIN lookups, certificate acts, prices."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from pharma.auditlog.models import AuditEntry
from pharma.register.models import Certificate, CertificateStatusChange, Product, ProductGtin
from tests.factories import gtin13
from tests.integration.register_helpers import API, product_payload, register


@pytest.fixture()
def regulator(make):
    return make.caller("regulator")


def search(client, caller, **params) -> dict:
    res = client.get(f"{API}/products", headers=caller.headers, query_string=params)
    assert res.status_code == 200, res.json
    return res.json


# ---------------------------------------------------------------- registering


def test_the_regulator_registers_a_product_with_its_certificate_and_gtins(client, regulator, db_session):
    body = register(client, regulator, trade_name="Augmentin", gtins=["4030096123457"],
                    max_retail_price=1250, price_from="2025-01-01")
    assert body["trade_name"] == "Augmentin"
    assert body["gtins"] == ["04030096123457"]
    assert [(s["inn"], s["strength"]) for s in body["substances"]] == [
        ("amoxicillin", "875 mg"), ("clavulanic acid", "125 mg")]
    assert body["certificate"]["status"] == "active"
    assert body["certificate"]["history"][0]["to_status"] == "active"
    assert body["max_retail_price"] == 1250
    assert body["prices"] == [{"max_retail_price": 1250, "effective_from": "2025-01-01", "effective_to": None}]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "product.register")).one()
    assert entry.user_id == regulator.user.id
    assert entry.change["after"]["gtins"] == ["04030096123457"]


@pytest.mark.parametrize("role", ["pharmacist", "importer", "inspector", "physician", "admin"])
def test_only_the_regulator_may_register_a_product(client, make, role):
    caller = make.caller(role)
    res = client.post(f"{API}/products", headers=caller.headers, json=product_payload())
    assert res.status_code == 403
    assert res.json["code"] == "FORBIDDEN"


def test_a_gtin_with_a_wrong_check_digit_is_refused(client, regulator, db_session):
    res = client.post(f"{API}/products", headers=regulator.headers,
                      json=product_payload(gtins=["4030096123451"]))
    assert res.status_code == 422
    assert res.json["code"] == "INVALID_IDENTIFIER"
    assert res.json["errors"] == {"gtins.0": ["GTIN check digit is 1, expected 7"]}
    assert db_session.scalar(select(func.count()).select_from(Product)) == 0


def test_a_gtin_already_registered_is_a_conflict_and_nothing_is_written(client, regulator, db_session):
    register(client, regulator, gtins=["4030096123457"])
    res = client.post(f"{API}/products", headers=regulator.headers,
                      json=product_payload(gtins=["04030096123457"]))
    assert res.status_code == 409
    assert res.json["code"] == "CONFLICT"
    assert "04030096123457" in res.json["detail"]
    assert db_session.scalar(select(func.count()).select_from(Product)) == 1
    assert db_session.scalar(select(func.count()).where(AuditEntry.action == "product.register")) == 1


def test_a_certificate_number_already_registered_is_a_conflict(client, regulator, db_session):
    first = register(client, regulator)
    payload = product_payload()
    payload["certificate"]["number"] = first["certificate"]["number"]
    res = client.post(f"{API}/products", headers=regulator.headers, json=payload)
    assert res.status_code == 409
    assert first["certificate"]["number"] in res.json["detail"]
    assert db_session.scalar(select(func.count()).select_from(Product)) == 1
    assert db_session.scalar(select(func.count()).select_from(ProductGtin)) == 1


def test_a_malformed_product_names_each_bad_field(client, regulator):
    res = client.post(f"{API}/products", headers=regulator.headers, json=product_payload(
        atc_code="J01", dosage_form="PILL", pack_unit="box", substances=[{"inn": "x"}]))
    assert res.status_code == 422
    assert {"atc_code", "dosage_form", "pack_unit", "substances"} <= set(res.json["errors"])


def test_a_strength_with_an_unknown_unit_is_refused(client, regulator):
    res = client.post(f"{API}/products", headers=regulator.headers,
                      json=product_payload(substances=[{"inn": "amoxicillin", "strength": "875 grains"}]))
    assert res.status_code == 422
    assert "substances.0.strength" in res.json["errors"]


def test_a_controlled_product_sold_over_the_counter_is_refused(client, regulator):
    res = client.post(f"{API}/products", headers=regulator.headers,
                      json=product_payload(rx=False, controlled_schedule="II"))
    assert res.status_code == 409
    assert res.json["code"] == "CONTROLLED_REQUIRES_RX"


def test_a_certificate_already_past_its_validity_cannot_be_registered(client, regulator):
    payload = product_payload()
    payload["certificate"]["valid_until"] = "2020-01-01"
    payload["certificate"]["issued"] = "2015-01-01"
    res = client.post(f"{API}/products", headers=regulator.headers, json=payload)
    assert res.status_code == 409
    assert res.json["code"] == "CERTIFICATE_ALREADY_EXPIRED"


# ---------------------------------------------------------------- amending


def test_amending_a_product_records_before_and_after(client, regulator, db_session):
    body = register(client, regulator, trade_name="Augmentin")
    extra = gtin13(777, prefix="403")
    res = client.patch(f"{API}/products/{body['id']}", headers=regulator.headers,
                       json={"reason": "Label correction", "trade_name": "Augmentin Duo", "pack_size": 20,
                             "add_gtins": [extra], "manufacturer": "Sandoz Kundl"})
    assert res.status_code == 200, res.json
    assert res.json["trade_name"] == "Augmentin Duo"
    assert res.json["pack_size"] == 20
    assert res.json["certificate"]["manufacturer"] == "Sandoz Kundl"
    assert "0" + extra in res.json["gtins"]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "product.amend")).one()
    assert entry.change["changed"]["trade_name"] == ["Augmentin", "Augmentin Duo"]
    assert entry.change["changed"]["pack_size"] == [14, 20]
    assert entry.change["reason"] == "Label correction"


def test_amending_the_substances_replaces_them_in_order(client, regulator):
    body = register(client, regulator)
    res = client.patch(f"{API}/products/{body['id']}", headers=regulator.headers,
                       json={"reason": "Reformulated", "substances": [{"inn": "Amoxicillin", "strength": "1 g"}]})
    assert res.status_code == 200, res.json
    assert [(s["inn"], s["strength"]) for s in res.json["substances"]] == [("amoxicillin", "1 g")]


def test_amending_with_another_products_gtin_is_a_conflict(client, regulator, db_session):
    first = register(client, regulator)
    second = register(client, regulator, trade_name="Other")
    res = client.patch(f"{API}/products/{second['id']}", headers=regulator.headers,
                       json={"reason": "Add pack", "add_gtins": first["gtins"]})
    assert res.status_code == 409
    assert db_session.scalar(select(func.count()).where(AuditEntry.action == "product.amend")) == 0


# ---------------------------------------------------------------- searching and lookups


@pytest.fixture()
def catalogue(client, regulator):
    made = {
        "augmentin": register(client, regulator, trade_name="Augmentin", gtins=["4030096123457"]),
        "enap": register(client, regulator, trade_name="Enap", atc_code="C09AA02",
                         substances=[{"inn": "enalapril", "strength": "10 mg"}], dosage_form="TABLET",
                         pack_size=20, rx=True),
        "prestarium": register(client, regulator, trade_name="Prestarium", atc_code="C09AA04",
                               substances=[{"inn": "perindopril", "strength": "5 mg"}], dosage_form="TABLET"),
        "ibuprofen": register(client, regulator, trade_name="Ağrıkəsən İbuprofen", atc_code="M01AE01",
                              substances=[{"inn": "ibuprofen", "strength": "200 mg"}], rx=False,
                              dosage_form="TABLET", pack_unit="tablet"),
        "morphine": register(client, regulator, trade_name="Morfin", atc_code="N02AA01",
                             substances=[{"inn": "morphine", "strength": "10 mg/ml"}],
                             dosage_form="SOLUTION_FOR_INJECTION", route="INTRAVENOUS", pack_unit="ampoule",
                             controlled_schedule="II"),
    }
    return made


def names(page: dict) -> list[str]:
    return [item["trade_name"] for item in page["items"]]


def test_search_finds_by_trade_name_ignoring_case_and_accents(client, regulator, catalogue):
    assert names(search(client, regulator, q="augment")) == ["Augmentin"]
    assert names(search(client, regulator, q="AGRIKƏSƏN")) == ["Ağrıkəsən İbuprofen"]
    assert names(search(client, regulator, q="ibuprofen")) == ["Ağrıkəsən İbuprofen"]


def test_search_finds_by_inn(client, regulator, catalogue):
    assert names(search(client, regulator, q="clavulanic")) == ["Augmentin"]
    assert names(search(client, regulator, q="Enalapril")) == ["Enap"]


def test_search_finds_every_product_under_an_atc_prefix(client, regulator, catalogue):
    assert names(search(client, regulator, q="C09")) == ["Enap", "Prestarium"]
    assert names(search(client, regulator, q="c09aa04")) == ["Prestarium"]


@pytest.mark.parametrize("form", ["4030096123457", "04030096123457", "0104030096123457", "]d20104030096123457211234"])
def test_search_finds_by_gtin_in_any_form_a_scanner_sends(client, regulator, catalogue, form):
    assert names(search(client, regulator, q=form)) == ["Augmentin"]


def test_search_finds_by_registration_number(client, regulator, catalogue):
    number = catalogue["enap"]["certificate"]["number"]
    assert names(search(client, regulator, q=number)) == ["Enap"]
    assert names(search(client, regulator, q=number.lower())) == ["Enap"]


def test_search_treats_like_wildcards_literally(client, regulator, catalogue):
    assert search(client, regulator, q="%")["total"] == 0
    assert search(client, regulator, q="_")["total"] == 0


def test_search_filters_by_rx_form_controlled_and_status(client, regulator, catalogue):
    assert names(search(client, regulator, rx="false")) == ["Ağrıkəsən İbuprofen"]
    assert names(search(client, regulator, controlled="true")) == ["Morfin"]
    assert "Morfin" not in names(search(client, regulator, controlled="false"))
    assert names(search(client, regulator, dosage_form="SOLUTION_FOR_INJECTION")) == ["Morfin"]
    cert = catalogue["enap"]["certificate"]["id"]
    client.post(f"{API}/certificates/{cert}/suspend", headers=regulator.headers, json={"reason": "GMP finding"})
    assert names(search(client, regulator, status="suspended")) == ["Enap"]
    assert "Enap" not in names(search(client, regulator, status="active"))


def test_search_pages_through_results(client, regulator, catalogue):
    first = search(client, regulator, per_page=2, page=1)
    third = search(client, regulator, per_page=2, page=3)
    assert first["total"] == 5 and len(first["items"]) == 2
    assert len(third["items"]) == 1
    assert not set(names(first)) & set(names(third))


@pytest.mark.parametrize("role", ["pharmacist", "physician", "patient", "inspector", "importer"])
def test_everyone_signed_in_may_search_and_read_the_register(client, make, regulator, catalogue, role):
    caller = make.caller(role)
    assert search(client, caller, q="enap")["total"] == 1
    assert client.get(f"{API}/products/{catalogue['enap']['id']}", headers=caller.headers).status_code == 200


def test_a_cash_register_may_look_up_a_gtin(client, make, catalogue):
    _, token = make.device()
    res = client.get(f"{API}/gtins/4030096123457", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 200
    assert res.json["trade_name"] == "Augmentin"


def test_the_register_needs_a_signed_in_caller(client):
    res = client.get(f"{API}/products")
    assert res.status_code == 401
    assert res.json["code"] == "UNAUTHENTICATED"


def test_a_gtin_lookup_answers_with_the_product_certificate_and_price(client, regulator, catalogue):
    product = catalogue["augmentin"]
    client.post(f"{API}/products/{product['id']}/prices", headers=regulator.headers,
                json={"max_retail_price": 1250, "effective_from": "2025-01-01"})
    for form in ("4030096123457", "04030096123457"):
        res = client.get(f"{API}/gtins/{form}", headers=regulator.headers)
        assert res.status_code == 200, res.json
        assert res.json["gtin"] == "04030096123457"
        assert res.json["product_id"] == product["id"]
        assert res.json["certificate_status"] == "active"
        assert res.json["in_force"] is True
        assert res.json["max_retail_price"] == 1250


def test_an_unknown_gtin_is_not_found(client, regulator, catalogue):
    res = client.get(f"{API}/gtins/{gtin13(424242)}", headers=regulator.headers)
    assert res.status_code == 404
    assert res.json["code"] == "NOT_FOUND"
    assert res.content_type == "application/problem+json"


def test_a_gtin_with_a_wrong_check_digit_is_an_invalid_identifier(client, regulator):
    res = client.get(f"{API}/gtins/4030096123451", headers=regulator.headers)
    assert res.status_code == 422
    assert res.json["code"] == "INVALID_IDENTIFIER"


def test_an_unknown_product_is_not_found(client, regulator):
    res = client.get(f"{API}/products/99999", headers=regulator.headers)
    assert res.status_code == 404


# ---------------------------------------------------------------- certificate acts


def act(client, caller, cert_id: int, action: str, **body):
    body.setdefault("reason", f"Reason to {action}")
    return client.post(f"{API}/certificates/{cert_id}/{action}", headers=caller.headers, json=body)


def test_suspend_then_reinstate_writes_the_history_and_the_audit_log(client, regulator, db_session):
    cert = register(client, regulator)["certificate"]["id"]
    res = act(client, regulator, cert, "suspend", reason="GMP inspection failed")
    assert res.status_code == 200, res.json
    assert res.json["status"] == "suspended"
    res = act(client, regulator, cert, "reinstate", reason="CAPA accepted")
    assert res.json["status"] == "active"
    history = [(h["action"], h["from_status"], h["to_status"], h["reason"]) for h in res.json["history"]]
    assert history[1:] == [("suspend", "active", "suspended", "GMP inspection failed"),
                           ("reinstate", "suspended", "active", "CAPA accepted")]
    assert res.json["history"][1]["username"] == regulator.user.username
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.object_type == "certificate")
                                 .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["certificate.suspend", "certificate.reinstate"]
    assert entries[0].change["before"]["status"] == "active"
    assert entries[0].change["after"]["status"] == "suspended"


def test_a_suspended_certificate_cannot_be_suspended_again(client, regulator, db_session):
    cert = register(client, regulator)["certificate"]["id"]
    act(client, regulator, cert, "suspend")
    res = act(client, regulator, cert, "suspend")
    assert res.status_code == 409
    assert res.json["code"] == "CERTIFICATE_NOT_ACTIVE"
    assert db_session.scalar(select(func.count()).select_from(CertificateStatusChange)) == 2


def test_an_active_certificate_cannot_be_reinstated(client, regulator):
    cert = register(client, regulator)["certificate"]["id"]
    res = act(client, regulator, cert, "reinstate")
    assert res.status_code == 409
    assert res.json["code"] == "CERTIFICATE_NOT_SUSPENDED"


def test_a_revoked_certificate_cannot_be_renewed(client, regulator, db_session):
    cert = register(client, regulator)["certificate"]["id"]
    assert act(client, regulator, cert, "revoke", reason="Safety signal").json["status"] == "revoked"
    res = act(client, regulator, cert, "renew", valid_until="2035-01-01")
    assert res.status_code == 409
    assert res.json["code"] == "CERTIFICATE_REVOKED"
    for action in ("reinstate", "suspend", "revoke"):
        assert act(client, regulator, cert, action).json["code"] == "CERTIFICATE_REVOKED"
    assert db_session.get(Certificate, cert).status == "revoked"


def test_a_renewal_must_extend_the_validity(client, regulator):
    body = register(client, regulator)
    cert = body["certificate"]
    res = act(client, regulator, cert["id"], "renew", valid_until=cert["valid_until"])
    assert res.status_code == 409
    assert res.json["code"] == "RENEWAL_NOT_LATER"
    later = (date.fromisoformat(cert["valid_until"]) + timedelta(days=365 * 5)).isoformat()
    res = act(client, regulator, cert["id"], "renew", valid_until=later)
    assert res.status_code == 200
    assert res.json["valid_until"] == later
    assert res.json["history"][-1]["action"] == "renew"


def test_an_expired_certificate_renewed_becomes_active(client, regulator, db_session):
    cert = register(client, regulator)["certificate"]["id"]
    db_session.execute(update(Certificate).where(Certificate.id == cert)
                       .values(status="expired", valid_until=date.today() - timedelta(days=1)))
    db_session.commit()
    res = act(client, regulator, cert, "renew", valid_until=(date.today() + timedelta(days=1000)).isoformat())
    assert res.status_code == 200, res.json
    assert res.json["status"] == "active"
    assert res.json["history"][-1]["from_status"] == "expired"


def test_a_certificate_act_needs_a_reason(client, regulator):
    cert = register(client, regulator)["certificate"]["id"]
    res = client.post(f"{API}/certificates/{cert}/suspend", headers=regulator.headers, json={})
    assert res.status_code == 422
    assert "reason" in res.json["errors"]


@pytest.mark.parametrize("role", ["pharmacist", "inspector", "admin", "importer"])
def test_a_non_regulator_may_not_act_on_a_certificate(client, make, regulator, db_session, role):
    cert = register(client, regulator)["certificate"]["id"]
    caller = make.caller(role)
    for action in ("suspend", "revoke", "renew", "reinstate"):
        extra = {"valid_until": "2040-01-01"} if action == "renew" else {}
        res = act(client, caller, cert, action, **extra)
        assert res.status_code == 403
        assert res.json["code"] == "FORBIDDEN"
    assert db_session.get(Certificate, cert).status == "active"


def test_an_unknown_certificate_is_not_found(client, regulator):
    assert act(client, regulator, 4242, "suspend").status_code == 404


# ---------------------------------------------------------------- prices


def test_a_new_price_closes_the_open_period(client, regulator, db_session):
    product = register(client, regulator)["id"]
    url = f"{API}/products/{product}/prices"
    assert client.post(url, headers=regulator.headers,
                       json={"max_retail_price": 1000, "effective_from": "2025-01-01"}).status_code == 201
    res = client.post(url, headers=regulator.headers,
                      json={"max_retail_price": 1100, "effective_from": "2025-07-01", "reason": "Indexation"})
    assert res.status_code == 201, res.json
    prices = client.get(f"{API}/products/{product}", headers=regulator.headers).json["prices"]
    assert prices == [
        {"max_retail_price": 1000, "effective_from": "2025-01-01", "effective_to": "2025-06-30"},
        {"max_retail_price": 1100, "effective_from": "2025-07-01", "effective_to": None},
    ]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "product.price")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.change["closed"] == [{"effective_from": "2025-01-01", "effective_to": "2025-06-30"}]


def test_an_overlapping_price_is_refused_and_nothing_changes(client, regulator, db_session):
    product = register(client, regulator)["id"]
    url = f"{API}/products/{product}/prices"
    client.post(url, headers=regulator.headers, json={"max_retail_price": 1000, "effective_from": "2025-01-01"})
    client.post(url, headers=regulator.headers, json={"max_retail_price": 1100, "effective_from": "2025-07-01"})
    res = client.post(url, headers=regulator.headers, json={"max_retail_price": 900, "effective_from": "2025-03-01"})
    assert res.status_code == 409
    assert res.json["code"] == "PRICE_PERIOD_OVERLAP"
    prices = client.get(f"{API}/products/{product}", headers=regulator.headers).json["prices"]
    assert [p["max_retail_price"] for p in prices] == [1000, 1100]
    assert db_session.scalar(select(func.count()).where(AuditEntry.action == "product.price")) == 2


def test_only_the_regulator_sets_prices(client, make, regulator):
    product = register(client, regulator)["id"]
    pharmacist = make.caller("pharmacist")
    res = client.post(f"{API}/products/{product}/prices", headers=pharmacist.headers,
                      json={"max_retail_price": 1000, "effective_from": "2025-01-01"})
    assert res.status_code == 403


# ---------------------------------------------------------------- OpenAPI


def test_every_register_endpoint_is_documented(client):
    spec = client.get("/api/openapi.json").json
    paths = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/v1/register")}
    assert set(paths) == {
        "/api/v1/register/products", "/api/v1/register/products/{product_id}",
        "/api/v1/register/products/{product_id}/prices", "/api/v1/register/gtins/{gtin}",
        "/api/v1/register/certificates/{certificate_id}/suspend",
        "/api/v1/register/certificates/{certificate_id}/reinstate",
        "/api/v1/register/certificates/{certificate_id}/revoke",
        "/api/v1/register/certificates/{certificate_id}/renew", "/api/v1/register/icd10"}
    for ops in paths.values():
        for method, op in ops.items():
            if method in {"get", "post", "patch"}:
                assert op.get("summary"), op
