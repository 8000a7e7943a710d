"""Packs missing at receipt, cleared up: FOUND by the receiver (custody moves to it), RETURNED to the
sender (they stay with it), LOST in transit (STOLEN at the sender's). All or nothing, each refused
pack named with its code; the shipment keeps MISSING for the record. And the shipment's pack list,
paged and filtered by outcome, over the API and on the page."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from pharma.auditlog.models import AuditEntry
from pharma.parties.models import Organisation
from pharma.trace import history
from pharma.trace.models import Case, Pack, Shipment, ShipmentPack, TraceEvent, TraceEventPack
from pharma.trace.movements import pack_state
from tests.factories import Made
from tests.integration.history_helpers import epcis_errors
from tests.integration.test_signin import csrf_from, sign_in
from tests.integration.trace_helpers import API, Stock, licensed, received_with_missing, stock


@dataclass
class Parties:
    importer: Organisation
    sender: Made  # an importer's user
    pharmacy: Organisation
    receiver: Made  # the pharmacy's pharmacist


@pytest.fixture()
def parties(make) -> Parties:
    importer = licensed(make, make.org("importer"))
    pharmacy = make.org("pharmacy")
    return Parties(importer, make.caller("importer", org=importer), pharmacy, make.caller("pharmacist", org=pharmacy))


def missing_case(make, parties, packs=3, received=1, **kw) -> tuple[Stock, int]:
    """A lot shipped whole to the pharmacy, of which only the first ``received`` packs were scanned."""
    lot = stock(make, parties.importer, packs=packs, **kw)
    shipment_id = received_with_missing(make, lot, parties.pharmacy, lot.serials[:received],
                                        sender_user=parties.sender.user, receiver_user=parties.receiver.user)
    return lot, shipment_id


def resolve(client, caller, shipment_id, packs, resolution, note=None):
    body = {"packs": packs, "resolution": resolution}
    if note is not None:
        body["note"] = note
    return client.post(f"{API}/shipments/{shipment_id}/missing", headers=caller.headers, json=body)


def row(db_session, lot, serial) -> Pack:
    db_session.expire_all()
    return db_session.get(Pack, lot.pack_ids[serial])


def line(db_session, shipment_id, lot, serial) -> ShipmentPack:
    db_session.expire_all()
    return db_session.get(ShipmentPack, (shipment_id, lot.pack_ids[serial]))


def resolutions(db_session) -> list[TraceEvent]:
    db_session.expire_all()
    return list(db_session.scalars(select(TraceEvent).where(TraceEvent.type == "RESOLVE_MISSING")))


# ---------------------------------------------------------------- the three answers


def test_the_receiver_finds_a_missing_pack_and_custody_moves_to_it(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties)
    s1, s2 = lot.serials[1], lot.serials[2]
    res = resolve(client, parties.receiver, shipment_id, lot.packs(s1), "FOUND", note="behind the fridge")
    assert res.status_code == 200, res.json
    here = parties.pharmacy.locations[0].id
    assert (row(db_session, lot, s1).location_id, row(db_session, lot, s1).shipment_id) == (here, None)
    assert (row(db_session, lot, s2).location_id, row(db_session, lot, s2).shipment_id) == (lot.location_id,
                                                                                            shipment_id)
    found = line(db_session, shipment_id, lot, s1)
    assert (found.outcome, found.resolution) == ("MISSING", "FOUND") and found.resolved_at is not None
    assert line(db_session, shipment_id, lot, s2).resolution is None
    (event,) = resolutions(db_session)
    assert (event.location_id, event.organisation_id, event.user_id) == (here, parties.pharmacy.id,
                                                                         parties.receiver.user.id)
    assert (event.to_state, event.reason, event.document_type, event.count) == (None, "behind the fridge",
                                                                                 "shipment", 1)
    assert event.details == {"resolution": "FOUND", "from_location_id": lot.location_id, "to_location_id": here}
    assert db_session.get(Shipment, shipment_id).number == event.document_id
    linked = set(db_session.scalars(select(TraceEventPack.pack_id).where(TraceEventPack.event_id == event.id)))
    assert linked == {lot.pack_ids[s1]}
    audit = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "shipment.resolve_missing"))
    assert audit.object_id == str(shipment_id) and audit.count == 1
    assert audit.change["resolution"] == "FOUND" and audit.change["packs"] == [f"{lot.gtin}/{s1}"]
    body = res.json
    assert body["pack_counts"] == {"in_transit": 0, "received": 1, "damaged": 0, "missing": 2, "extra": 0,
                                   "missing_unresolved": 1, "found": 1, "returned": 0, "lost": 0}
    by_serial = {p["serial"]: p for p in body["packs"]}
    assert (by_serial[s1]["outcome"], by_serial[s1]["resolution"]) == ("MISSING", "FOUND")
    assert by_serial[s1]["resolved_at"] is not None
    assert (by_serial[s2]["outcome"], by_serial[s2]["resolution"]) == ("MISSING", None)
    # the found pack is the pharmacy's now: it may ship it on
    onward = client.post(f"{API}/shipments", headers=parties.receiver.headers, json={
        "from_location_id": here, "to_location_id": make.org("pharmacy").locations[0].id, "packs": lot.packs(s1)})
    assert onward.status_code == 201, onward.json


def test_the_sender_takes_missing_packs_back_and_keeps_them(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties)
    res = resolve(client, parties.sender, shipment_id, lot.packs(*lot.serials[1:]), "RETURNED",
                  note="never loaded on the van")
    assert res.status_code == 200, res.json
    for serial in lot.serials[1:]:
        pack = row(db_session, lot, serial)
        assert (pack.location_id, pack.shipment_id, pack.state) == (lot.location_id, None, "ACTIVE")
        assert line(db_session, shipment_id, lot, serial).resolution == "RETURNED"
    (event,) = resolutions(db_session)
    assert (event.location_id, event.organisation_id, event.count) == (lot.location_id, parties.importer.id, 2)
    assert event.details["resolution"] == "RETURNED"
    assert res.json["pack_counts"]["returned"] == 2 and res.json["pack_counts"]["missing_unresolved"] == 0
    # back in the importer's hands: it ships them again
    again = client.post(f"{API}/shipments", headers=parties.sender.headers, json={
        "from_location_id": lot.location_id, "to_location_id": parties.pharmacy.locations[0].id,
        "packs": lot.packs(*lot.serials[1:])})
    assert again.status_code == 201, again.json


def test_the_sender_declares_a_missing_pack_lost_and_it_is_stolen_at_its_location(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties)
    s1 = lot.serials[1]
    res = resolve(client, parties.sender, shipment_id, lot.packs(s1), "LOST", note="van broken into, police report 7")
    assert res.status_code == 200, res.json
    pack = row(db_session, lot, s1)
    assert (pack.state, pack.location_id, pack.shipment_id) == ("STOLEN", lot.location_id, None)
    assert (pack.state_location_id, pack.state_org_id) == (lot.location_id, parties.importer.id)
    assert pack_state(db_session, lot.gtin, s1).value == "STOLEN"
    (event,) = resolutions(db_session)
    assert (event.to_state, event.reason, event.location_id) == ("STOLEN", "van broken into, police report 7",
                                                                 lot.location_id)
    assert line(db_session, shipment_id, lot, s1).resolution == "LOST"
    # should it turn up, the sender undoes it like any decommissioning, within 10 days
    undo = client.post(f"{API}/undos", headers=parties.sender.headers,
                       json={"location_id": lot.location_id, "packs": lot.packs(s1), "reason": "found in the depot"})
    assert undo.status_code == 200, undo.json
    assert row(db_session, lot, s1).state == "ACTIVE"


def test_losing_packs_needs_a_reason_and_changes_nothing_without_one(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties)
    res = resolve(client, parties.sender, shipment_id, lot.packs(lot.serials[1]), "LOST", note=" ")
    assert res.status_code == 422, res.json
    assert res.json["errors"] == {"note": ["Say how the packs were lost, in 3 to 500 characters."]}
    assert row(db_session, lot, lot.serials[1]).shipment_id == shipment_id
    assert resolutions(db_session) == []


@pytest.mark.parametrize("body, field", [
    ({"packs": [], "resolution": "FOUND"}, "packs"),
    ({"packs": [{"gtin": "4030096123457", "serial": "A"}], "resolution": "GONE"}, "resolution"),
    ({"packs": [{"gtin": "4030096123457", "serial": "A"}]}, "resolution"),
    ({"packs": [{"gtin": "4030096123458", "serial": "A"}], "resolution": "FOUND"}, "packs"),
    ({"packs": [{"gtin": "4030096123457", "serial": "A"}], "resolution": "FOUND", "note": "x" * 501}, "note"),
])
def test_malformed_resolutions_are_refused_with_field_errors(client, parties, make, body, field):
    _, shipment_id = missing_case(make, parties)
    res = client.post(f"{API}/shipments/{shipment_id}/missing", headers=parties.receiver.headers, json=body)
    assert res.status_code == 422, res.json
    assert field in res.json["errors"]


# ---------------------------------------------------------------- who may say what


@pytest.mark.parametrize("who, resolution, action", [
    ("receiver", "RETURNED", "trace.ship"), ("receiver", "LOST", "trace.ship"), ("sender", "FOUND", "trace.receive"),
    ("stranger", "FOUND", "trace.receive"), ("stranger", "RETURNED", "trace.ship"),
    ("regulator", "FOUND", "trace.receive")])
def test_each_side_gives_only_its_own_answer(client, parties, make, db_session, who, resolution, action):
    lot, shipment_id = missing_case(make, parties)
    caller = {"receiver": parties.receiver, "sender": parties.sender,
              "stranger": make.caller("pharmacist", org=make.org("pharmacy")),
              "regulator": make.caller("regulator")}[who]
    res = resolve(client, caller, shipment_id, lot.packs(lot.serials[1]), resolution, note="we know better")
    assert res.status_code == 403, res.json
    assert res.json["code"] == "FORBIDDEN"
    assert res.json["detail"] == f"Your role may not do '{action}' here."
    assert line(db_session, shipment_id, lot, lot.serials[1]).resolution is None
    assert resolutions(db_session) == []


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("problem", ["received", "damaged", "extra", "not_on_shipment", "unknown", "twice",
                                     "already_resolved"])
def test_a_pack_that_is_not_missing_here_is_refused_with_its_code_and_nothing_changes(
        client, parties, make, db_session, problem):
    from pharma.trace import movements as svc

    lot = stock(make, parties.importer, packs=3)
    stray = stock(make, parties.importer, packs=1)
    s0, s1, s2 = lot.serials
    shipment_id = received_with_missing(make, lot, parties.pharmacy, [s0], sender_user=parties.sender.user,
                                        receiver_user=parties.receiver.user)
    number = db_session.get(Shipment, shipment_id).number
    good = lot.pack(s1)
    bad, code, detail = {
        "received": (lot.pack(s0), "PACK_NOT_MISSING", f"The pack was received on shipment {number}, not missing."),
        "not_on_shipment": (stray.pack(stray.serials[0]), "NOT_ON_SHIPMENT", f"The pack is not on shipment {number}."),
        "unknown": ({"gtin": lot.gtin, "serial": "NEVER-MADE"}, "UNKNOWN_PACK", "No such pack was ever commissioned."),
        "twice": (good, "PACK_LISTED_TWICE", "The pack is listed twice."),
    }.get(problem, (lot.pack(s2), "", ""))
    if problem in ("damaged", "extra"):
        # another shipment, received with one pack damaged, the stray pack scanned extra, one pack missing
        other = stock(make, parties.importer, packs=2)
        refs = tuple(svc.PackRef(other.gtin, s) for s in other.serials)
        shipped = svc.ship(make.uow(parties.sender.user), svc.ShipPacks(
            other.location_id, parties.pharmacy.locations[0].id, packs=refs))
        svc.receive(make.uow(parties.receiver.user), shipped.id, svc.Receipt(
            packs=(svc.PackRef(stray.gtin, stray.serials[0]),), damaged=refs[:1]))
        shipment_id, number, good = shipped.id, shipped.number, other.pack(other.serials[1])
        bad, code, detail = ((other.pack(other.serials[0]), "PACK_NOT_MISSING",
                              f"The pack was damaged on shipment {number}, not missing.") if problem == "damaged"
                             else (stray.pack(stray.serials[0]), "PACK_NOT_MISSING",
                                   f"The pack was extra on shipment {number}, not missing."))
    elif problem == "already_resolved":
        assert resolve(client, parties.receiver, shipment_id, [bad], "FOUND").status_code == 200
        at = line(db_session, shipment_id, lot, s2).resolved_at
        code, detail = "MISSING_ALREADY_RESOLVED", f"The pack was already resolved as found on {at:%Y-%m-%d %H:%M} UTC."
    events_before = len(resolutions(db_session))
    res = resolve(client, parties.receiver, shipment_id, [good, bad], "FOUND")
    assert res.status_code == 409, res.json
    assert res.json["code"] == "PACKS_REFUSED"
    assert res.content_type == "application/problem+json"
    assert [(e["code"], e["gtin"], e["serial"], e["detail"]) for e in res.json["errors"]] == [
        (code, bad["gtin"], bad["serial"], f"{bad['gtin']} / {bad['serial']}: {detail}")]
    db_session.expire_all()
    good_pack = db_session.scalar(select(Pack).where(Pack.gtin == good["gtin"], Pack.serial == good["serial"]))
    assert good_pack.shipment_id == shipment_id  # all or nothing: the good one did not move either
    assert db_session.get(ShipmentPack, (shipment_id, good_pack.id)).resolution is None
    assert len(resolutions(db_session)) == events_before


def test_a_shipment_not_received_yet_has_no_missing_packs(client, parties, make, db_session):
    lot = stock(make, parties.importer, packs=1)
    shipped = client.post(f"{API}/shipments", headers=parties.sender.headers, json={
        "from_location_id": lot.location_id, "to_location_id": parties.pharmacy.locations[0].id,
        "packs": lot.packs()}).json
    res = resolve(client, parties.sender, shipped["id"], lot.packs(), "RETURNED")
    assert res.status_code == 409, res.json
    assert res.json["code"] == "SHIPMENT_NOT_RECEIVED"
    assert res.json["detail"] == (f"Shipment {shipped['number']} is in transit: packs are missing only once it "
                                  "has been received.")
    assert row(db_session, lot, lot.serials[0]).shipment_id == shipped["id"]


def test_an_unknown_shipment_is_not_found(client, parties):
    res = resolve(client, parties.receiver, 424242, [{"gtin": "4030096123457", "serial": "A"}], "FOUND")
    assert res.status_code == 404 and res.json["code"] == "NOT_FOUND"
    assert res.json["detail"] == "No shipment with id 424242."


def test_a_missing_pack_sold_meanwhile_cannot_be_lost(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties)
    sold = db_session.get(Pack, lot.pack_ids[lot.serials[1]])
    sold.state = "DISPENSED"
    db_session.commit()
    res = resolve(client, parties.sender, shipment_id, lot.packs(*lot.serials[1:]), "LOST", note="gone")
    assert res.status_code == 409, res.json
    assert [(e["code"], e["serial"], e["detail"], e["state"]) for e in res.json["errors"]] == [
        ("PACK_NOT_ACTIVE", lot.serials[1], f"{lot.gtin} / {lot.serials[1]}: The pack is dispensed: it cannot be lost.",
         "DISPENSED")]
    assert row(db_session, lot, lot.serials[2]).state == "ACTIVE"
    # found, though, it may be: custody follows the facts
    assert resolve(client, parties.receiver, shipment_id, lot.packs(lot.serials[1]), "FOUND").status_code == 200


# ---------------------------------------------------------------- cases


def test_when_the_last_missing_packs_of_a_case_are_found_the_case_arrives(client, parties, make, db_session):
    lot = stock(make, parties.importer, packs=6, per_case=3)
    first, second = lot.case_serials
    shipment_id = received_with_missing(make, lot, parties.pharmacy, [first[0], second[0]], in_cases=True,
                                        sender_user=parties.sender.user, receiver_user=parties.receiver.user)
    here = parties.pharmacy.locations[0].id

    def case(sscc):
        db_session.expire_all()
        c = db_session.scalar(select(Case).where(Case.sscc == sscc))
        return c.location_id, c.shipment_id

    assert case(lot.cases[0]) == (lot.location_id, shipment_id)  # a case with a missing pack stays on board
    assert resolve(client, parties.receiver, shipment_id, lot.packs(first[1]), "FOUND").status_code == 200
    assert case(lot.cases[0]) == (lot.location_id, shipment_id)  # one of its packs still missing
    assert resolve(client, parties.receiver, shipment_id, lot.packs(first[2]), "FOUND").status_code == 200
    assert case(lot.cases[0]) == (here, None)
    # the other case: its missing packs went back to the sender; it was opened at the pharmacy, though
    assert resolve(client, parties.sender, shipment_id, lot.packs(*second[1:]), "RETURNED").status_code == 200
    assert case(lot.cases[1]) == (here, None)


def test_a_case_none_of_whose_packs_arrived_stays_with_the_sender_when_they_are_taken_back(
        client, parties, make, db_session):
    lot = stock(make, parties.importer, packs=4, per_case=2)
    second = lot.case_serials[1]
    shipment_id = received_with_missing(make, lot, parties.pharmacy, [], cases=[lot.cases[0]], in_cases=True,
                                        sender_user=parties.sender.user, receiver_user=parties.receiver.user)
    res = resolve(client, parties.sender, shipment_id, lot.packs(*second), "LOST", note="the whole case fell off")
    assert res.status_code == 200, res.json
    db_session.expire_all()
    lost_case = db_session.scalar(select(Case).where(Case.sscc == lot.cases[1]))
    assert (lost_case.location_id, lost_case.shipment_id) == (lot.location_id, None)
    assert db_session.scalar(select(func.count()).select_from(Case).where(Case.shipment_id == shipment_id)) == 0


# ---------------------------------------------------------------- histories


@pytest.mark.parametrize("resolution, who, step", [
    ("FOUND", "receiver", ("OBSERVE", "receiving", "in_progress")),
    ("RETURNED", "sender", ("OBSERVE", "void_shipping", "active")),
    ("LOST", "sender", ("DELETE", "decommissioning", "stolen"))])
def test_the_resolution_is_in_the_pack_and_shipment_histories_and_their_epcis_exports(
        client, parties, make, db_session, resolution, who, step):
    lot, shipment_id = missing_case(make, parties, packs=2)
    s1 = lot.serials[1]
    caller = parties.receiver if who == "receiver" else parties.sender
    assert resolve(client, caller, shipment_id, lot.packs(s1), resolution, note="checked twice").status_code == 200
    res = client.get(f"/api/v1/packs/{lot.gtin}/{s1}/history", headers=caller.headers)
    assert res.status_code == 200, res.json
    last = res.json["events"][-1]
    assert (last["type"], last["resolution"], last["reason"]) == ("RESOLVE_MISSING", resolution, "checked twice")
    assert last["to_state"] == ("STOLEN" if resolution == "LOST" else None)
    assert [e["resolution"] for e in res.json["events"][:-1]] == [None, None]  # COMMISSION, SHIP

    moves = history.shipment_history(make.uow(caller.user), shipment_id)
    assert [(m.entry.type, m.packs) for m in moves] == [
        ("SHIP", [(lot.gtin, s) for s in lot.serials]), ("RECEIVE", [(lot.gtin, lot.serials[0])]),
        ("RESOLVE_MISSING", [(lot.gtin, s1)])]

    doc = client.get(f"/api/v1/packs/{lot.gtin}/{s1}/epcis", headers=caller.headers).json
    assert epcis_errors(doc) == []
    event = doc["epcisBody"]["eventList"][-1]
    assert (event["action"], event["bizStep"], event["disposition"]) == step
    assert event["pharma:resolution"] == resolution
    doc = client.get(f"/api/v1/packs/shipments/{shipment_id}/epcis", headers=caller.headers).json
    assert epcis_errors(doc) == []
    assert [e["bizStep"] for e in doc["epcisBody"]["eventList"]] == ["shipping", "receiving", step[1]]


# ---------------------------------------------------------------- a big shipment's packs, paged


def test_the_shipment_detail_pages_its_packs_and_filters_them_by_outcome(client, parties, make):
    lot, shipment_id = missing_case(make, parties, packs=7, received=4)
    url = f"{API}/shipments/{shipment_id}"
    whole = client.get(url, headers=parties.receiver.headers).json
    ordered = sorted(lot.serials)
    assert [p["serial"] for p in whole["packs"]] == ordered  # an ordinary shipment: every pack on one page
    assert whole["packs_page"] == {"page": 1, "per_page": 1000, "total": 7, "pages": 1, "outcome": None}
    assert whole["pack_counts"]["received"] == 4 and whole["pack_counts"]["missing"] == 3

    second = client.get(url, headers=parties.receiver.headers, query_string={"page": 2, "per_page": 3}).json
    assert [p["serial"] for p in second["packs"]] == ordered[3:6]
    assert second["packs_page"] == {"page": 2, "per_page": 3, "total": 7, "pages": 3, "outcome": None}
    assert second["pack_counts"] == whole["pack_counts"]  # counts are of the whole shipment

    missing = client.get(url, headers=parties.receiver.headers, query_string={"outcome": "MISSING"}).json
    assert [p["serial"] for p in missing["packs"]] == sorted(lot.serials[4:])
    assert missing["packs_page"]["total"] == 3 and missing["packs_page"]["outcome"] == "MISSING"
    beyond = client.get(url, headers=parties.receiver.headers, query_string={"page": 9}).json
    assert beyond["packs"] == [] and beyond["packs_page"]["total"] == 7

    res = client.get(url, headers=parties.receiver.headers, query_string={"outcome": "LOST"})
    assert res.status_code == 422 and "outcome" in res.json["errors"]
    res = client.get(url, headers=parties.receiver.headers, query_string={"per_page": 0})
    assert res.status_code == 422 and "per_page" in res.json["errors"]


def test_a_shipment_in_transit_lists_its_packs_as_in_transit(client, parties, make):
    lot = stock(make, parties.importer, packs=2)
    shipped = client.post(f"{API}/shipments", headers=parties.sender.headers, json={
        "from_location_id": lot.location_id, "to_location_id": parties.pharmacy.locations[0].id,
        "packs": lot.packs()}).json
    assert shipped["pack_counts"]["in_transit"] == 2
    res = client.get(f"{API}/shipments/{shipped['id']}", headers=parties.sender.headers,
                     query_string={"outcome": "IN_TRANSIT"}).json
    assert len(res["packs"]) == 2 and {p["outcome"] for p in res["packs"]} == {None}


# ---------------------------------------------------------------- the page


def page(client, url) -> tuple[str, str]:
    res = client.get(url)
    assert res.status_code == 200, res.status_code
    text = res.get_data(as_text=True)
    return html.unescape(text), csrf_from(text)


def test_the_receiver_ticks_a_missing_pack_as_found_on_the_shipment_page(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties)
    s1, s2 = lot.serials[1], lot.serials[2]
    sign_in(client, parties.receiver.user.username)
    text, token = page(client, f"/trace/shipments/{shipment_id}")
    assert "Missing packs" in text and "Not resolved yet" in text
    for i in ("missing-1", "missing-2", "missing-all", "missing-scans", "resolution-found", "missing-note"):
        assert f'id="{i}"' in text and f'for="{i}"' in text, i
    assert 'id="resolution-returned"' not in text and 'id="resolution-lost"' not in text  # the sender's answers
    res = client.post(f"/trace/shipments/{shipment_id}/missing", data={
        "csrf_token": token, "pack": f"{lot.gtin} {s1}", "listed": [f"{lot.gtin} {s1}", f"{lot.gtin} {s2}"],
        "resolution": "FOUND", "note": ""})
    assert res.status_code == 302, res.get_data(as_text=True)
    text, _ = page(client, res.headers["Location"])
    assert "1 missing pack resolved: Found by the receiver." in text
    assert "Missing pack resolved: Found by the receiver" in text  # in the shipment's history
    assert line(db_session, shipment_id, lot, s1).resolution == "FOUND"
    assert line(db_session, shipment_id, lot, s2).resolution is None


def test_the_sender_declares_every_listed_or_scanned_pack_lost_on_the_page(client, parties, make, db_session):
    lot, shipment_id = missing_case(make, parties, packs=4)
    sign_in(client, parties.sender.user.username)
    text, token = page(client, f"/trace/shipments/{shipment_id}")
    assert 'id="resolution-returned"' in text and 'id="resolution-lost"' in text
    assert 'id="resolution-found"' not in text
    listed = [f"{lot.gtin} {s}" for s in lot.serials[1:3]]
    form = {"csrf_token": token, "all_listed": "1", "listed": listed,
            "missing_scans": f"(01){lot.gtin}(21){lot.serials[3]}", "resolution": "LOST"}
    res = client.post(f"/trace/shipments/{shipment_id}/missing", data=form)
    assert res.status_code == 422
    text = html.unescape(res.get_data(as_text=True))
    assert "Say how the packs were lost, in 3 to 500 characters." in text
    assert f"(01){lot.gtin}(21){lot.serials[3]}" in text  # what was scanned is kept
    assert resolutions(db_session) == []
    res = client.post(f"/trace/shipments/{shipment_id}/missing", data={**form, "note": "lorry stolen"})
    assert res.status_code == 302
    text, _ = page(client, res.headers["Location"])
    assert "3 missing packs resolved: Lost in transit." in text
    assert {row(db_session, lot, s).state for s in lot.serials[1:]} == {"STOLEN"}
    assert "Missing pack resolved: Lost in transit (Stolen)" in text and "lorry stolen" in text


def test_a_refused_pack_is_named_on_the_page(client, parties, make):
    lot, shipment_id = missing_case(make, parties)
    sign_in(client, parties.receiver.user.username)
    _, token = page(client, f"/trace/shipments/{shipment_id}")
    res = client.post(f"/trace/shipments/{shipment_id}/missing", data={
        "csrf_token": token, "missing_scans": f"{lot.gtin} {lot.serials[0]}", "resolution": "FOUND"})
    assert res.status_code == 409
    text = html.unescape(res.get_data(as_text=True))
    assert "PACK_NOT_MISSING" in text and "not missing" in text


def test_nothing_ticked_or_scanned_is_refused_on_the_page(client, parties, make):
    _, shipment_id = missing_case(make, parties)
    sign_in(client, parties.receiver.user.username)
    _, token = page(client, f"/trace/shipments/{shipment_id}")
    res = client.post(f"/trace/shipments/{shipment_id}/missing", data={"csrf_token": token, "resolution": "FOUND"})
    assert res.status_code == 422
    assert "Tick or scan at least one missing pack." in html.unescape(res.get_data(as_text=True))


def test_a_reader_sees_the_missing_packs_but_no_form(client, parties, make):
    _, shipment_id = missing_case(make, parties)
    sign_in(client, make.user("regulator").username)
    text, _ = page(client, f"/trace/shipments/{shipment_id}")
    assert "Missing packs" in text and "Resolve missing packs" not in text


def test_a_big_shipment_page_shows_counts_then_pages_its_packs_and_filters_them(client, parties, make):
    lot, shipment_id = missing_case(make, parties, packs=230, received=200)
    sign_in(client, parties.receiver.user.username)
    url = f"/trace/shipments/{shipment_id}"
    text, _ = page(client, url)
    assert "230 packs" in text and "Page 1 of 3" in text
    assert f'href="{url}?page=2#packs-title"' in text
    ordered = sorted(lot.serials)
    rows = re.findall(r"<tr><td><code>\d{14}</code></td><td><code>([^<]+)</code>", text)
    assert rows == ordered[:100]
    text, _ = page(client, f"{url}?page=3")
    assert re.findall(r"<tr><td><code>\d{14}</code></td><td><code>([^<]+)</code>", text) == ordered[200:]
    assert "Page 3 of 3" in text and 'rel="next"' not in text
    # MISSING is the first filter offered: what a receiver looks for
    options = re.findall(r'<option value="([A-Z_]*)"', text.split('id="outcome"')[1].split("</select>")[0])
    assert options == ["", "MISSING", "RECEIVED", "DAMAGED", "EXTRA", "IN_TRANSIT"]
    text, _ = page(client, f"{url}?outcome=MISSING")
    assert "30 packs" in text and "Page 1 of" not in text
    assert re.findall(r"<tr><td><code>\d{14}</code></td><td><code>([^<]+)</code>", text) == sorted(lot.serials[200:])
    # the tick list shows the first 100 missing packs at most (here all 30)
    assert text.count('name="pack"') == 30
