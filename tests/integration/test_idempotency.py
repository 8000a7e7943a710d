"""An Idempotency-Key makes a POST safe to retry: one act, the same answer."""

from __future__ import annotations

from pharma.auditlog.models import AuditEntry


def test_a_retried_post_acts_once_and_replays_the_first_answer(client, make, db_session):
    caller = make.caller("pharmacist")
    headers = {**caller.headers, "Idempotency-Key": "laptop-token-1"}
    first = client.post("/api/v1/parties/tokens", json={"name": "laptop"}, headers=headers)
    again = client.post("/api/v1/parties/tokens", json={"name": "laptop"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db_session.query(AuditEntry).filter_by(action="token.issue").count() == 1


def test_the_same_key_for_a_different_request_is_refused(client, make):
    caller = make.caller("pharmacist")
    headers = {**caller.headers, "Idempotency-Key": "k-1"}
    assert client.post("/api/v1/parties/tokens", json={"name": "a"}, headers=headers).status_code == 201
    res = client.post("/api/v1/parties/tokens", json={"name": "b"}, headers=headers)
    assert res.status_code == 422
    assert res.json["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_keys_belong_to_their_caller(client, make):
    one, two = make.caller("pharmacist"), make.caller("pharmacist")
    for caller in (one, two):
        res = client.post("/api/v1/parties/tokens", json={"name": "a"},
                          headers={**caller.headers, "Idempotency-Key": "same"})
        assert res.status_code == 201
        assert "Idempotent-Replayed" not in res.headers


def test_a_refused_request_is_replayed_as_refused(client, make):
    caller = make.caller("pharmacist")
    headers = {**caller.headers, "Idempotency-Key": "k-2"}
    first = client.post("/api/v1/parties/users", json={"username": "x"}, headers=headers)
    again = client.post("/api/v1/parties/users", json={"username": "x"}, headers=headers)
    assert first.status_code == again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
