"""Alert cases: one open case per pack and place with its sightings, the regulator's queue and
filters, the case workflow and its refusals, and the daily alert rate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from pharma.auditlog.models import AuditEntry
from pharma.shared.time import today
from pharma.verify.models import Alert, Verification
from tests.integration.verify_helpers import ALERTS, VERIFY, counter, verify


@pytest.fixture()
def regulator(make):
    return make.caller("regulator")


def test_the_same_pack_seen_again_at_the_same_place_adds_a_sighting(client, make, db_session):
    c = counter(make)
    first = verify(client, c.pharmacist, c.scan("FAKE1"))
    again = verify(client, c.pharmacist, c.scan("FAKE1"))
    assert first["alert_id"] == again["alert_id"]
    alert = db_session.get(Alert, first["alert_id"])
    assert (alert.sightings, alert.status, alert.verdict) == (2, "NEW", "UNKNOWN_PACK")
    assert alert.last_seen_at >= alert.opened_at
    linked = db_session.scalar(select(func.count()).select_from(Verification)
                               .where(Verification.alert_id == alert.id))
    assert linked == 2


def test_the_same_pack_at_another_place_is_another_case(client, make):
    c = counter(make)
    elsewhere = make.caller("pharmacist", org=make.org("pharmacy"))
    here = verify(client, c.pharmacist, c.scan("FAKE1"))
    there = verify(client, elsewhere, c.scan("FAKE1"))
    assert here["alert_id"] != there["alert_id"]


def test_a_bulk_with_one_pack_three_times_opens_one_case_with_three_sightings(client, make, db_session):
    c = counter(make)
    res = client.post(f"{VERIFY}/bulk", json={"scans": [{"scan": c.scan("FAKE1")}] * 3 + [{"scan": c.scan("P1")}]},
                      headers=c.pharmacist.headers)
    ids = {r["alert_id"] for r in res.json["results"][:3]}
    assert len(ids) == 1 and res.json["results"][3]["alert_id"] is None
    assert db_session.get(Alert, ids.pop()).sightings == 3
    assert db_session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "alert.open")) == 1


def test_a_closed_case_stays_closed_and_a_new_sighting_opens_a_new_case(client, make, regulator):
    c = counter(make)
    first = verify(client, c.pharmacist, c.scan("FAKE1"))["alert_id"]
    res = client.post(f"{ALERTS}/{first}/close", json={"reason": "TECHNICAL_ERROR", "note": "misprint"},
                      headers=regulator.headers)
    assert res.status_code == 200 and res.json["status"] == "CLOSED"
    second = verify(client, c.pharmacist, c.scan("FAKE1"))["alert_id"]
    assert second != first
    body = client.get(f"{ALERTS}/{first}", headers=regulator.headers).json
    assert body["alert"]["sightings"] == 1


def test_the_regulator_works_a_case_from_new_to_closed(client, make, regulator, db_session):
    c = counter(make)
    alert_id = verify(client, c.pharmacist, c.scan("FAKE1"))["alert_id"]
    res = client.post(f"{ALERTS}/{alert_id}/investigate", headers=regulator.headers)
    assert res.status_code == 200 and res.json["status"] == "INVESTIGATING" and res.json["investigated_at"]
    res = client.post(f"{ALERTS}/{alert_id}/close", json={"reason": "CONFIRMED_COUNTERFEIT",
                                                          "note": "seized at the pharmacy"},
                      headers=regulator.headers)
    assert res.status_code == 200
    assert (res.json["status"], res.json["closing_reason"], res.json["note"]) == (
        "CLOSED", "CONFIRMED_COUNTERFEIT", "seized at the pharmacy")
    actions = list(db_session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "alert")
                                      .order_by(AuditEntry.id)))
    assert actions == ["alert.open", "alert.investigate", "alert.close"]
    row = db_session.get(Alert, alert_id)
    assert (row.investigated_by, row.closed_by) == (regulator.user.id, regulator.user.id)


def test_wrong_transitions_are_refused_with_stable_codes(client, make, regulator):
    c = counter(make)
    alert_id = verify(client, c.pharmacist, c.scan("FAKE1"))["alert_id"]
    client.post(f"{ALERTS}/{alert_id}/investigate", headers=regulator.headers)
    res = client.post(f"{ALERTS}/{alert_id}/investigate", headers=regulator.headers)
    assert (res.status_code, res.json["code"], res.json["detail"]) == (
        409, "ALERT_ALREADY_INVESTIGATING", f"Alert {alert_id} is already being investigated.")
    res = client.post(f"{ALERTS}/{alert_id}/close", json={"reason": "OTHER"}, headers=regulator.headers)
    assert (res.status_code, res.json["code"]) == (422, "NOTE_REQUIRED")
    assert res.json["errors"] == {"note": ["Closing for another reason needs a note of at least 3 characters."]}
    res = client.post(f"{ALERTS}/{alert_id}/close", json={"reason": "LOST"}, headers=regulator.headers)
    assert (res.status_code, res.json["code"]) == (422, "VALIDATION_FAILED")
    client.post(f"{ALERTS}/{alert_id}/close", json={"reason": "PROCESS_ERROR"}, headers=regulator.headers)
    for action, body in (("close", {"reason": "OTHER", "note": "again"}), ("investigate", None)):
        res = client.post(f"{ALERTS}/{alert_id}/{action}", json=body, headers=regulator.headers)
        assert (res.status_code, res.json["code"], res.json["detail"]) == (
            409, "ALERT_CLOSED", f"Alert {alert_id} is closed.")
    res = client.get(f"{ALERTS}/999999", headers=regulator.headers)
    assert (res.status_code, res.json["code"], res.json["detail"]) == (404, "ALERT_NOT_FOUND", "No alert 999999.")


def test_an_alert_shows_its_pack_place_and_sightings(client, make, regulator):
    c = counter(make)
    alert_id = verify(client, c.pharmacist, c.scan("FAKE1", batch="B9"))["alert_id"]
    verify(client, c.pharmacist, c.scan("FAKE1", batch="B9"))
    body = client.get(f"{ALERTS}/{alert_id}", headers=regulator.headers).json
    alert = body["alert"]
    assert (alert["gtin"], alert["serial"], alert["batch"], alert["trade_name"]) == (
        c.lot.gtin, "FAKE1", "B9", "Paracetamol Test")
    assert alert["location"] == {"id": c.location_id, "name": c.pharmacy.locations[0].name,
                                 "gln": c.pharmacy.locations[0].gln}
    assert alert["organisation"] == {"id": c.pharmacy.id, "name": c.pharmacy.name}
    assert alert["region"] == "Baku" and alert["sightings"] == 2
    assert [(s["verdict"], s["username"], s["raw"]) for s in body["sightings"]] == [
        ("UNKNOWN_PACK", c.pharmacist.user.username, c.scan("FAKE1", batch="B9"))] * 2


def test_the_queue_filters_by_verdict_region_pharmacy_status_and_date(client, make, regulator, db_session):
    north = counter(make)
    south_org = make.org("pharmacy", region="Gəncə")
    south = make.caller("pharmacist", org=south_org)
    unknown = verify(client, north.pharmacist, north.scan("FAKE1"))["alert_id"]
    diverted = verify(client, south, north.scan("P1"))["alert_id"]
    old = verify(client, north.pharmacist, north.scan("FAKE2"))["alert_id"]
    db_session.execute(update(Alert).where(Alert.id == old).values(status="CLOSED", closing_reason="OTHER"))
    db_session.commit()

    def ids(query: str) -> list[int]:
        res = client.get(f"{ALERTS}?{query}", headers=regulator.headers)
        assert res.status_code == 200, res.json
        return [a["id"] for a in res.json["items"]]

    assert ids("") == [old, diverted, unknown]
    assert ids("verdict=NOT_IN_CUSTODY") == [diverted]
    assert ids("region=Gəncə") == [diverted]
    assert ids(f"organisation_id={north.pharmacy.id}") == [old, unknown]
    assert ids("status=OPEN") == [diverted, unknown]
    assert ids("status=CLOSED") == [old]
    day = today().isoformat()
    assert ids(f"from={day}&to={day}") == [old, diverted, unknown]
    assert ids(f"to={(today() - timedelta(days=1)).isoformat()}") == []
    page = client.get(f"{ALERTS}?per_page=2&page=2", headers=regulator.headers).json
    assert (page["total"], [a["id"] for a in page["items"]]) == (3, [unknown])
    res = client.get(f"{ALERTS}?verdict=OK", headers=regulator.headers)
    assert res.status_code == 422


def test_the_daily_alert_rate_counts_verifications_alerting_ones_and_cases(client, make, regulator):
    c = counter(make)
    for scan in (c.scan("P1"), c.scan("P2"), c.scan("FAKE1"), c.scan("FAKE1"), "junk"):
        verify(client, c.pharmacist, scan)
    day, before = today(), today() - timedelta(days=1)
    res = client.get(f"{ALERTS}/rate?from={before}&to={day}", headers=regulator.headers)
    assert res.status_code == 200, res.json
    assert res.json["days"] == [
        {"day": before.isoformat(), "verifications": 0, "alerting": 0, "alerts_opened": 0, "rate": 0.0},
        {"day": day.isoformat(), "verifications": 5, "alerting": 2, "alerts_opened": 1, "rate": 0.4}]


def test_the_rate_is_asked_for_an_ordered_range_of_at_most_a_year(client, make, regulator):
    res = client.get(f"{ALERTS}/rate?from=2026-02-01&to=2026-01-01", headers=regulator.headers)
    assert (res.status_code, res.json["errors"]) == (422, {"to": ["Must not be before from."]})
    res = client.get(f"{ALERTS}/rate?from=2024-01-01&to=2026-01-01", headers=regulator.headers)
    assert (res.status_code, res.json["errors"]) == (422, {"to": ["At most 366 days at once."]})
    res = client.get(f"{ALERTS}/rate?from=2026-01-01", headers=regulator.headers)
    assert res.status_code == 422 and "to" in res.json["errors"]


def test_an_alerting_verification_that_fails_while_writing_leaves_no_case_and_no_audit(
        client, make, db_session, monkeypatch):
    """The verify API reads in autocommit mode; its alert, audit entry and verification rows are
    written in one transaction of their own, so a failure in the middle leaves none of them."""
    from pharma.verify import services

    c = counter(make)

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(services, "_record", broken)
    res = client.post(VERIFY, json={"scan": c.scan("FAKE1")}, headers=c.pharmacist.headers)
    assert res.status_code == 500 and res.get_json()["code"] == "INTERNAL_ERROR"
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "alert.open")) == 0
    assert db_session.scalar(select(func.count()).select_from(Verification)) == 0
    monkeypatch.undo()
    assert verify(client, c.pharmacist, c.scan("FAKE1"))["verdict"] == "UNKNOWN_PACK"
    assert db_session.scalar(select(func.count()).select_from(Alert)) == 1
