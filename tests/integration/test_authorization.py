"""Every role against every API endpoint that exists.

``CASES`` lists each endpoint with the roles the policy table lets through and a valid
request. An allowed role must get the endpoint's success status (so it really can act); any
other role must get 403 FORBIDDEN. A new endpoint that is not listed here fails
``test_every_api_endpoint_is_in_the_matrix``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from pharma.parties.domain import Role
from pharma.register import services as register_svc
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from tests.factories import PASSWORD, Factory, gln, gtin13

ALL = frozenset(r.value for r in Role)
PEOPLE = ALL - {"cash_register"}
STAFF = PEOPLE - {"patient"}


@dataclass
class World:
    """Objects to act on, built fresh for each test. Pharmacy roles belong to ``pharmacy``."""

    make: Factory
    role: str
    pharmacy: object = None
    importer: object = None
    caller_headers: dict = field(default_factory=dict)
    caller_user: object = None
    other_user: object = None
    licence_id: int = 0
    device_id: int = 0
    own_token_id: int = 0
    extra: dict = field(default_factory=dict)


def build_world(make: Factory, role: str) -> World:
    w = World(make=make, role=role)
    w.pharmacy = make.org("pharmacy")
    w.importer = make.org("importer")
    w.licence_id = w.pharmacy.licences[0].id
    device, device_token = make.device(w.pharmacy)
    w.device_id = device.id
    w.other_user = make.user("pharmacist", org=w.pharmacy)
    if role == "cash_register":
        w.caller_headers = {"Authorization": f"Bearer {device_token}"}
    else:
        org = w.pharmacy if role in ("pharmacist", "head_pharmacist") else None
        caller = make.caller(role, org=org)
        w.caller_user = caller.user
        w.caller_headers = caller.headers
        from pharma.parties.models import ApiToken

        w.own_token_id = make.session.query(ApiToken).filter_by(user_id=caller.user.id).one().id
    return w


@dataclass(frozen=True)
class Case:
    method: str
    rule: str
    allowed: frozenset[str]
    url: Callable[[World], str]
    body: Callable[[World], dict] | None = None
    ok: int = 200
    form: Callable[[World], dict] | None = None  # multipart form data instead of a JSON body

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule}"


P = "/api/v1/parties"
CASES: list[Case] = [
    Case("GET", f"{P}/me", ALL, lambda w: f"{P}/me"),
    Case("GET", f"{P}/organisations", STAFF, lambda w: f"{P}/organisations?type=pharmacy"),
    Case("POST", f"{P}/organisations", frozenset({"admin", "regulator"}), lambda w: f"{P}/organisations",
         lambda w: {"key": "new-importer", "type": "importer", "name": "New Importer MMC",
                    "tax_id": "1234567890"}, 201),
    Case("GET", f"{P}/organisations/<int:org_id>", STAFF, lambda w: f"{P}/organisations/{w.importer.id}"),
    Case("POST", f"{P}/organisations/<int:org_id>/active", frozenset({"admin", "regulator"}),
         lambda w: f"{P}/organisations/{w.importer.id}/active",
         lambda w: {"active": False, "reason": "licence withdrawn"}),
    Case("POST", f"{P}/organisations/<int:org_id>/licences", frozenset({"regulator"}),
         lambda w: f"{P}/organisations/{w.importer.id}/licences",
         lambda w: {"number": "IMP-2026-001", "kind": "import", "valid_from": "2026-01-01",
                    "valid_until": "2030-12-31"}, 201),
    Case("POST", f"{P}/licences/<int:licence_id>/status", frozenset({"regulator"}),
         lambda w: f"{P}/licences/{w.licence_id}/status",
         lambda w: {"status": "suspended", "reason": "inspection findings"}),
    Case("POST", f"{P}/organisations/<int:org_id>/locations", frozenset({"admin", "regulator"}),
         lambda w: f"{P}/organisations/{w.importer.id}/locations",
         lambda w: {"gln": gln(990001), "name": "Warehouse 2", "region": "Absheron", "city": "Xırdalan",
                    "address": "Sənaye 5"}, 201),
    Case("GET", f"{P}/users", frozenset({"admin", "head_pharmacist"}), lambda w: f"{P}/users"),
    Case("POST", f"{P}/users", frozenset({"admin"}), lambda w: f"{P}/users",
         lambda w: {"organisation_id": w.pharmacy.id, "username": "new.pharmacist", "full_name": "New One",
                    "password": "a long enough pass 42", "roles": ["pharmacist"]}, 201),
    Case("PUT", f"{P}/users/<int:user_id>/roles", frozenset({"admin"}),
         lambda w: f"{P}/users/{w.other_user.id}/roles", lambda w: {"roles": ["head_pharmacist"]}),
    Case("POST", f"{P}/users/<int:user_id>/active", frozenset({"admin"}),
         lambda w: f"{P}/users/{w.other_user.id}/active", lambda w: {"active": False}),
    Case("POST", f"{P}/me/password", PEOPLE, lambda w: f"{P}/me/password",
         lambda w: {"current_password": PASSWORD, "new_password": "another long pass 2026"}, 204),
    Case("GET", f"{P}/tokens", STAFF, lambda w: f"{P}/tokens"),
    Case("POST", f"{P}/tokens", STAFF, lambda w: f"{P}/tokens", lambda w: {"name": "laptop"}, 201),
    Case("DELETE", f"{P}/tokens/<int:token_id>", STAFF, lambda w: f"{P}/tokens/{w.own_token_id or 1}"),
    Case("GET", f"{P}/devices", frozenset({"admin", "regulator", "inspector", "head_pharmacist", "pharmacist"}),
         lambda w: f"{P}/devices"),
    Case("POST", f"{P}/devices", frozenset({"admin", "head_pharmacist"}), lambda w: f"{P}/devices",
         lambda w: {"location_id": w.pharmacy.locations[0].id, "registration_number": "KKM-NEW-1",
                    "serial_number": "SN-NEW", "model": "Till 2"}, 201),
    Case("POST", f"{P}/devices/<int:device_id>/deactivate", frozenset({"admin", "head_pharmacist"}),
         lambda w: f"{P}/devices/{w.device_id}/deactivate"),
    Case("GET", "/api/v1/audit/entries", frozenset({"admin", "regulator"}), lambda w: "/api/v1/audit/entries"),
]


R = "/api/v1/register"
REGULATOR = frozenset({"regulator"})
_LATER = (date.today() + timedelta(days=4000)).isoformat()


def _product(w: World) -> dict:
    """A registered product in the world: its id, certificate id and GTIN."""
    if "product" not in w.extra:
        cmd = register_svc.NewProduct(
            trade_name="Augmentin", substances=(register_svc.SubstanceLine("amoxicillin", "875 mg"),),
            atc_code="J01CR02",
            dosage_form="FILM_COATED_TABLET", route="ORAL", pack_size=14, pack_unit="tablet",
            gtins=("4030096123457",), rx=True,
            certificate=register_svc.NewCertificate("AZ-R-2025-000001", "Holder", "Maker", "GB", date(2025, 1, 1),
                                           date.today() + timedelta(days=365)))
        product = register_svc.register_product(UnitOfWork(w.make.session, Actor.system("test")), cmd)
        w.extra["product"] = {"id": product.id, "cert": product.certificate.id, "gtin": "4030096123457"}
    return w.extra["product"]


REGISTER_CASES: list[Case] = [
    Case("GET", f"{R}/products", ALL, lambda w: f"{R}/products?q=amox"),
    Case("POST", f"{R}/products", REGULATOR, lambda w: f"{R}/products",
         lambda w: {"trade_name": "Enap", "substances": [{"inn": "enalapril", "strength": "10 mg"}],
                    "atc_code": "C09AA02", "dosage_form": "TABLET", "route": "ORAL", "pack_size": 20,
                    "pack_unit": "tablet", "gtins": [gtin13(424242)], "rx": True,
                    "certificate": {"number": "AZ-R-2026-000777", "holder": "KRKA", "manufacturer": "KRKA",
                                    "country": "SI", "issued": "2026-01-01", "valid_until": _LATER}}, 201),
    Case("GET", f"{R}/products/<int:product_id>", ALL, lambda w: f"{R}/products/{_product(w)['id']}"),
    Case("PATCH", f"{R}/products/<int:product_id>", REGULATOR, lambda w: f"{R}/products/{_product(w)['id']}",
         lambda w: {"reason": "label correction", "pack_size": 28}),
    Case("POST", f"{R}/products/<int:product_id>/prices", REGULATOR,
         lambda w: f"{R}/products/{_product(w)['id']}/prices",
         lambda w: {"max_retail_price": 1250, "effective_from": "2026-01-01"}, 201),
    Case("GET", f"{R}/gtins/<gtin>", ALL, lambda w: f"{R}/gtins/{_product(w)['gtin']}"),
    Case("POST", f"{R}/certificates/<int:certificate_id>/suspend", REGULATOR,
         lambda w: f"{R}/certificates/{_product(w)['cert']}/suspend", lambda w: {"reason": "GMP finding"}),
    Case("POST", f"{R}/certificates/<int:certificate_id>/reinstate", REGULATOR,
         lambda w: _suspended(w), lambda w: {"reason": "CAPA accepted"}),
    Case("POST", f"{R}/certificates/<int:certificate_id>/revoke", REGULATOR,
         lambda w: f"{R}/certificates/{_product(w)['cert']}/revoke", lambda w: {"reason": "safety signal"}),
    Case("POST", f"{R}/certificates/<int:certificate_id>/renew", REGULATOR,
         lambda w: f"{R}/certificates/{_product(w)['cert']}/renew",
         lambda w: {"reason": "dossier renewed", "valid_until": _LATER}),
    Case("GET", f"{R}/icd10", ALL, lambda w: f"{R}/icd10?q=I10"),
]


def _suspended(w: World) -> str:
    cert = _product(w)["cert"]
    register_svc.suspend_certificate(UnitOfWork(w.make.session, Actor.system("test")), cert, "held for the test")
    return f"{R}/certificates/{cert}/reinstate"

CASES += REGISTER_CASES


def _area_cases() -> list[Case]:
    """Each area of the API keeps its cases in tests/integration/authz_<area>.py (``CASES``)."""
    from tests.integration import (
        authz_counts,
        authz_declarations,
        authz_documents,
        authz_history,
        authz_labels,
        authz_movements,
        authz_permits,
        authz_reports,
        authz_stock,
        authz_supply,
        authz_valuation,
        authz_verify,
    )

    return [*authz_permits.CASES, *authz_declarations.CASES, *authz_movements.CASES, *authz_history.CASES,
            *authz_labels.CASES, *authz_verify.CASES, *authz_stock.CASES, *authz_reports.CASES,
            *authz_counts.CASES, *authz_supply.CASES, *authz_valuation.CASES,
            *authz_documents.CASES]


CASES += _area_cases()


def _rule_key(rule) -> set[tuple[str, str]]:
    return {(m, rule.rule) for m in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_api_endpoint_is_in_the_matrix(app):
    exposed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            exposed |= _rule_key(rule)
    listed = {(c.method, c.rule) for c in CASES}
    assert exposed - listed == set(), "endpoints without an authorization case"
    assert listed - exposed == set(), "cases for endpoints that do not exist"


def test_every_policy_action_is_used_by_some_service():
    from pathlib import Path

    from pharma.parties.policy import POLICY

    source = "\n".join(p.read_text() for p in Path("pharma").rglob("*.py"))
    unused = [a for a in POLICY if f'"{a}"' not in source.replace(f'"{a}": Rule', "")]
    assert unused == []


@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_role_against_endpoint(client, make, case: Case, role: str):
    world = build_world(make, role)
    if case.form:
        res = client.open(case.url(world), method=case.method, data=case.form(world),
                          headers=world.caller_headers, content_type="multipart/form-data")
    else:
        body = case.body(world) if case.body else None
        res = client.open(case.url(world), method=case.method, json=body, headers=world.caller_headers)
    if role in case.allowed:
        assert res.status_code == case.ok, (res.status_code, res.get_json())
    else:
        assert res.status_code == 403, (res.status_code, res.get_json())
        assert res.json["code"] == "FORBIDDEN"


def test_a_head_pharmacist_manages_only_their_own_pharmacys_devices(client, make):
    mine = make.org("pharmacy")
    theirs = make.org("pharmacy")
    head = make.caller("head_pharmacist", org=mine)
    their_device, _ = make.device(theirs)
    res = client.post(f"{P}/devices/{their_device.id}/deactivate", headers=head.headers)
    assert res.status_code == 403
    res = client.post(f"{P}/devices", headers=head.headers, json={
        "location_id": theirs.locations[0].id, "registration_number": "KKM-X-1", "serial_number": "1",
        "model": "m"})
    assert res.status_code == 403
    listed = client.get(f"{P}/devices", headers=head.headers).json
    assert listed == []


def test_a_pharmacist_lists_only_their_own_pharmacys_devices_and_users(client, make):
    mine, theirs = make.org("pharmacy"), make.org("pharmacy")
    mine_device, _ = make.device(mine)
    make.device(theirs)
    head = make.caller("head_pharmacist", org=mine)
    make.user("pharmacist", org=theirs)
    devices = client.get(f"{P}/devices", headers=head.headers).json
    assert [d["id"] for d in devices] == [mine_device.id]
    users = client.get(f"{P}/users", headers=head.headers).json
    assert {u["organisation_id"] for u in users["items"]} == {mine.id}
    # asking for another organisation's users yields nothing of theirs
    other = client.get(f"{P}/users?organisation_id={theirs.id}", headers=head.headers).json
    assert other["items"] == []


def test_a_deactivated_organisation_s_tokens_stop_working(client, make):
    regulator = make.caller("regulator")
    pharmacy = make.org("pharmacy")
    pharmacist = make.caller("pharmacist", org=pharmacy)
    assert client.get(f"{P}/me", headers=pharmacist.headers).status_code == 200
    res = client.post(f"{P}/organisations/{pharmacy.id}/active", headers=regulator.headers,
                      json={"active": False, "reason": "licence revoked"})
    assert res.status_code == 200
    assert client.get(f"{P}/me", headers=pharmacist.headers).status_code == 401


def test_licence_validity_must_be_ordered(client, make):
    regulator = make.caller("regulator")
    importer = make.org("importer")
    res = client.post(f"{P}/organisations/{importer.id}/licences", headers=regulator.headers,
                      json={"number": "IMP-1", "kind": "import", "valid_from": str(date(2026, 1, 1)),
                            "valid_until": "2025-01-01"})
    assert res.status_code == 422
    assert res.json["errors"] == {"valid_until": ["Must not be before valid_from."]}
