"""The OpenAPI document lists every endpoint; API errors are problem+json everywhere."""

from __future__ import annotations

import re


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_lists_every_api_endpoint_with_a_summary(client, app):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = _openapi_path(rule.rule)
        assert path in paths, f"{path} missing from the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths[path][method.lower()]
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert "default" in operation["responses"], f"{method} {path} documents no error shape"


def test_the_documented_error_shape_is_problem_details(client):
    spec = client.get("/api/openapi.json").json
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code", "detail"} <= set(problem["properties"])


def test_an_unknown_api_path_is_a_problem_not_a_page(client, make):
    caller = make.caller("pharmacist")
    res = client.get("/api/v1/nowhere", headers=caller.headers)
    assert res.status_code == 404
    assert res.content_type == "application/problem+json"
    assert res.json["code"] == "NOT_FOUND"


def test_a_wrong_method_is_a_problem(client, make):
    caller = make.caller("pharmacist")
    res = client.put("/api/v1/parties/me", headers=caller.headers)
    assert res.status_code == 405
    assert res.json["code"] == "METHOD_NOT_ALLOWED"


def test_a_body_that_is_not_json_is_refused_clearly(client, make):
    caller = make.caller("admin")
    res = client.post("/api/v1/parties/users", headers={**caller.headers, "Content-Type": "application/json"},
                      data="{not json")
    assert res.status_code in (400, 422)
    assert res.content_type == "application/problem+json"


def test_a_client_request_id_is_echoed_and_recorded_in_the_audit_log(client, make, db_session):
    from pharma.auditlog.models import AuditEntry

    caller = make.caller("pharmacist")
    res = client.post("/api/v1/parties/tokens", json={"name": "till"},
                      headers={**caller.headers, "X-Request-ID": "till-42-abc"})
    assert res.status_code == 201
    assert res.headers["X-Request-ID"] == "till-42-abc"
    assert db_session.query(AuditEntry).filter_by(action="token.issue").one().request_id == "till-42-abc"
