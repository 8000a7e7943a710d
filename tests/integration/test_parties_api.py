"""The parties API over HTTP: who am I, organisations, users, tokens, devices."""

from __future__ import annotations

from pharma.auditlog.models import AuditEntry


def test_a_bearer_token_identifies_its_user(client, make):
    caller = make.caller("pharmacist")
    res = client.get("/api/v1/parties/me", headers=caller.headers)
    assert res.status_code == 200
    assert res.json["username"] == caller.user.username
    assert res.json["roles"] == ["pharmacist"]
    assert res.json["organisation_id"] == caller.user.organisation_id


def test_an_api_call_without_a_token_is_refused_as_problem_json(client):
    res = client.get("/api/v1/parties/me")
    assert res.status_code == 401
    assert res.content_type == "application/problem+json"
    assert res.json["code"] == "UNAUTHENTICATED"
    assert res.json["request_id"] == res.headers["X-Request-ID"]


def test_an_unknown_or_revoked_token_is_refused(client, make):
    caller = make.caller("regulator")
    assert client.get("/api/v1/parties/me", headers={"Authorization": "Bearer ph_nope"}).status_code == 401
    tokens = client.get("/api/v1/parties/tokens", headers=caller.headers).json
    res = client.delete(f"/api/v1/parties/tokens/{tokens[0]['id']}", headers=caller.headers)
    assert res.status_code == 200
    assert client.get("/api/v1/parties/me", headers=caller.headers).status_code == 401


def test_admin_creates_a_user_whose_roles_fit_the_organisation(client, make, db_session):
    admin = make.caller("admin")
    pharmacy = make.org("pharmacy")
    res = client.post("/api/v1/parties/users", headers=admin.headers, json={
        "organisation_id": pharmacy.id, "username": "Aysel.K", "full_name": "Aysel K",
        "password": "a long enough pass 42", "roles": ["pharmacist"]})
    assert res.status_code == 201, res.json
    assert res.json["username"] == "aysel.k"
    entry = db_session.query(AuditEntry).filter_by(action="user.create").one()
    assert entry.user_id == admin.user.id
    assert entry.change["roles"] == ["pharmacist"]

    bad = client.post("/api/v1/parties/users", headers=admin.headers, json={
        "organisation_id": pharmacy.id, "username": "wrongrole", "full_name": "X Y",
        "password": "a long enough pass 42", "roles": ["regulator"]})
    assert bad.status_code == 409
    assert bad.json["code"] == "ROLE_NOT_ALLOWED_FOR_ORGANISATION"


def test_a_malformed_payload_names_each_bad_field(client, make):
    admin = make.caller("admin")
    res = client.post("/api/v1/parties/users", headers=admin.headers, json={"username": "x"})
    assert res.status_code == 422
    assert res.json["code"] == "VALIDATION_FAILED"
    assert set(res.json["errors"]) >= {"organisation_id", "full_name", "password", "roles", "username"}


def test_a_location_with_a_wrong_gln_check_digit_is_refused(client, make):
    regulator = make.caller("regulator")
    org = make.org("pharmacy")
    res = client.post(f"/api/v1/parties/organisations/{org.id}/locations", headers=regulator.headers,
                      json={"gln": "4760000000011", "name": "Branch", "region": "Baku",
                            "city": "Bakı", "address": "Nizami 1"})
    assert res.status_code == 422
    assert res.json["code"] == "INVALID_IDENTIFIER"
    assert res.json["errors"] == {"gln": ["GLN check digit is 1, expected 6"]}
