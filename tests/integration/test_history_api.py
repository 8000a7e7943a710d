"""A pack's facts, its history and the EPCIS 2.0 exports, through the API and the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from pharma.trace.history import pack_facts
from tests.integration.history_helpers import (
    API,
    TODAY,
    commission,
    decommission,
    deliver,
    epcis_errors,
    product,
    recall,
    ship,
    withdraw,
)


@pytest.fixture()
def regulator(make):
    return make.caller("regulator")


def history_of(client, caller, gtin, serial):
    res = client.get(f"{API}/{gtin}/{serial}/history", headers=caller.headers)
    assert res.status_code == 200, res.json
    return res.json


# ---------------------------------------------------------------- facts


def test_a_packs_facts_show_product_batch_expiry_custodian_and_case(client, make, regulator):
    lot = commission(make, serials=("AB-1",))
    res = client.get(f"{API}/{lot.gtin[1:]}/AB-1", headers=regulator.headers)  # the GTIN-13 form
    assert res.status_code == 200, res.json
    body = res.json
    assert body["gtin"] == lot.gtin and body["serial"] == "AB-1"
    assert body["state"] == body["effective_state"] == "ACTIVE"
    assert body["batch"] == lot.batch
    assert body["expiry"] == (TODAY + timedelta(days=700)).strftime("%y%m%d")
    assert body["expiry_date"] == (TODAY + timedelta(days=700)).isoformat()
    assert body["trade_name"] == "Paracetamol Test" and body["certificate_status"] == "active"
    assert body["custodian"]["location_id"] == lot.location_id
    assert body["custodian"]["organisation_name"] == lot.importer.name
    assert body["case_sscc"] == lot.case_sscc
    assert body["in_transit"] is False and body["shipment_number"] is None


def test_a_pack_in_transit_names_its_shipment(client, make, regulator):
    lot = commission(make, serials=("T1",))
    pharmacy = make.org("pharmacy")
    shipment = ship(make, lot.importer_user, [lot.pack_id("T1")], lot.location_id, pharmacy.locations[0].id)
    body = client.get(f"{API}/{lot.gtin}/T1", headers=regulator.headers).json
    assert body["in_transit"] is True and body["shipment_number"] == shipment.number


def test_a_recall_a_withdrawal_and_expiry_show_in_the_effective_state_not_the_stored_one(client, make, regulator):
    recalled = commission(make, serials=("R1",))
    recall(make, regulator.user, recalled.batch_id)
    withdrawn = commission(make, serials=("W1",))
    withdraw(make, regulator.user, withdrawn.product_id)
    expired = commission(make, serials=("E1",), expiry=TODAY - timedelta(days=1))
    for lot, serial, state in ((recalled, "R1", "RECALLED"), (withdrawn, "W1", "WITHDRAWN"),
                               (expired, "E1", "EXPIRED")):
        body = client.get(f"{API}/{lot.gtin}/{serial}", headers=regulator.headers).json
        assert (body["state"], body["effective_state"]) == ("ACTIVE", state)


def test_a_serial_with_a_slash_or_percent_is_sent_url_encoded(client, make, regulator):
    lot = commission(make, serials=("A/B%1",))
    res = client.get(f"{API}/{lot.gtin}/A%2FB%251", headers=regulator.headers)
    assert res.status_code == 200, res.json
    assert res.json["serial"] == "A/B%1"
    assert client.get(f"{API}/{lot.gtin}/A%2FB%251/history", headers=regulator.headers).status_code == 200


def test_an_unknown_pack_is_not_found(client, make, regulator):
    lot = commission(make, serials=("K1",))
    res = client.get(f"{API}/{lot.gtin}/NOPE", headers=regulator.headers)
    assert res.status_code == 404
    assert res.content_type == "application/problem+json"
    assert res.json["code"] == "PACK_NOT_FOUND"


@pytest.mark.parametrize(("gtin", "serial", "field"), [
    ("4030096123458", "S1", "gtin"), ("12345", "S1", "gtin"), ("04030096123457", "Ä1", "serial"),
    ("04030096123457", "X" * 21, "serial")])
def test_a_malformed_gtin_or_serial_is_refused_clearly(client, make, regulator, gtin, serial, field):
    res = client.get(f"{API}/{gtin}/{serial}", headers=regulator.headers)
    assert res.status_code == 422
    assert res.json["code"] == "INVALID_IDENTIFIER"
    assert field in res.json["errors"]


def test_pack_facts_is_one_statement(app, make, db_session):
    lot = commission(make, serials=("Q1",))
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db_session.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            view = pack_facts(db_session, lot.gtin, "Q1")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert view is not None and view.case_sscc == lot.case_sscc
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
    assert len(statements) == 1, statements


@pytest.mark.postgres_only
def test_facts_and_history_use_only_index_lookups_on_postgresql(app, make, db_session, client, regulator):
    """With sequential scans priced out, the plans must still exist without one: every access is by index."""
    from sqlalchemy.dialects import postgresql

    from pharma.trace import history

    lot = commission(make, serials=("P1",))
    with app.app_context():
        view = pack_facts(db_session, lot.gtin, "P1")
        facts_sql = history.FACTS.where(history.Pack.gtin == lot.gtin, history.Pack.serial == "P1")
        db_session.execute(text("SET enable_seqscan = off"))
        for stmt in (facts_sql, history.history_statement(history.pack_covering(view))):
            compiled = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in db_session.execute(text(f"EXPLAIN {compiled}")))
            scanned = [line for line in plan.splitlines() if "Seq Scan" in line]
            assert scanned == [], plan
        db_session.rollback()


# ---------------------------------------------------------------- history


def test_a_packs_history_lists_every_event_oldest_first_with_who_where_why_and_document(client, make, regulator):
    lot = commission(make, serials=("H1", "H2"))
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    shipment = deliver(make, lot, pharmacy, ["H1"], pharmacist=pharmacist)
    where = pharmacy.locations[0]
    decommission(make, pharmacist, lot.pack_id("H1"), where.id, "DESTROYED", "Broken in the drawer", ("act", "A-7"))
    recall(make, regulator.user, lot.batch_id, "Out of specification")
    withdraw(make, regulator.user, lot.product_id, "Safety signal")

    body = history_of(client, regulator, lot.gtin, "H1")
    events = body["events"]
    assert [e["type"] for e in events] == ["COMMISSION", "SHIP", "RECEIVE", "DECOMMISSION", "RECALL", "WITHDRAW"]
    assert [e["scope"] for e in events] == ["DECLARATION", "PACK", "PACK", "PACK", "BATCH", "PRODUCT"]
    assert events == sorted(events, key=lambda e: e["at"])
    commissioning, shipping, receipt, destroyed, recalled, withdrawn = events
    assert commissioning["document"] == {"type": "declaration", "id": lot.declaration_number}
    assert commissioning["who"] == {"username": lot.importer_user.username, "organisation_id": lot.importer.id,
                                    "organisation_name": lot.importer.name}
    assert commissioning["where"]["gln"] == lot.importer.locations[0].gln
    assert shipping["document"] == receipt["document"] == {"type": "shipment", "id": shipment.number}
    assert receipt["where"] == {"location_id": where.id, "name": where.name, "gln": where.gln}
    assert destroyed["to_state"] == "DESTROYED" and destroyed["reason"] == "Broken in the drawer"
    assert destroyed["who"]["username"] == pharmacist.username
    assert destroyed["document"] == {"type": "act", "id": "A-7"}
    assert recalled["reason"] == "Out of specification" and recalled["where"] is None
    assert withdrawn["to_state"] == "WITHDRAWN"
    assert body["pack"]["effective_state"] == "WITHDRAWN" and body["pack"]["state"] == "DESTROYED"

    # the other pack of the batch shares the scoped events, not the first pack's own
    other = [e["type"] for e in history_of(client, regulator, lot.gtin, "H2")["events"]]
    assert other == ["COMMISSION", "RECALL", "WITHDRAW"]


def test_another_batch_product_or_declaration_does_not_leak_into_a_history(client, make, regulator):
    mine = commission(make, serials=("M1",))
    same_product_other_batch = commission(make, serials=("M2",), product_id=mine.product_id, gtin=mine.gtin,
                                          batch="OTHER")
    recall(make, regulator.user, same_product_other_batch.batch_id)
    unrelated = commission(make, serials=("U1",))
    withdraw(make, regulator.user, unrelated.product_id)
    events = history_of(client, regulator, mine.gtin, "M1")["events"]
    assert [(e["type"], e["document"]) for e in events] == [
        ("COMMISSION", {"type": "declaration", "id": mine.declaration_number})]


def test_an_importer_still_reads_a_pack_it_shipped_away(client, make):
    lot = commission(make, serials=("I1",))
    deliver(make, lot, make.org("pharmacy"))
    importer = make.caller("importer", org=lot.importer)
    assert history_of(client, importer, lot.gtin, "I1")["pack"]["custodian"]["organisation_id"] != lot.importer.id


def test_a_pharmacy_cannot_read_another_pharmacys_pack(client, make):
    lot = commission(make, serials=("P1",))
    holder, stranger = make.org("pharmacy"), make.org("pharmacy")
    deliver(make, lot, holder)
    for path in ("", "/history", "/epcis"):
        assert client.get(f"{API}/{lot.gtin}/P1{path}", headers=make.caller("pharmacist", org=holder).headers
                          ).status_code == 200
        res = client.get(f"{API}/{lot.gtin}/P1{path}", headers=make.caller("head_pharmacist", org=stranger).headers)
        # answered as if it did not exist, so a guessed serial tells nothing
        assert res.status_code == 404 and res.json["code"] == "PACK_NOT_FOUND"


def test_a_pharmacy_that_returned_a_pack_still_reads_its_history(client, make):
    lot = commission(make, serials=("P9",))
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    deliver(make, lot, pharmacy, pharmacist=pharmacist)
    ship(make, pharmacist, [lot.pack_id("P9")], pharmacy.locations[0].id, lot.location_id)
    caller = make.caller("pharmacist", org=pharmacy)
    assert [e["type"] for e in history_of(client, caller, lot.gtin, "P9")["events"]] == [
        "COMMISSION", "SHIP", "RECEIVE", "SHIP"]


def test_another_importer_cannot_read_a_pack(client, make):
    lot = commission(make, serials=("X1",))
    res = client.get(f"{API}/{lot.gtin}/X1/history", headers=make.caller("importer").headers)
    assert res.status_code == 404


@pytest.mark.parametrize("role", ["physician", "admin", "patient"])
def test_roles_without_the_right_are_forbidden_even_for_unknown_packs(client, make, role):
    res = client.get(f"{API}/04030096123457/NOPE", headers=make.caller(role).headers)
    assert res.status_code == 403 and res.json["code"] == "FORBIDDEN"


# ---------------------------------------------------------------- EPCIS


def test_a_packs_epcis_export_is_a_valid_document_with_one_event_per_history_entry(client, make, regulator):
    lot = commission(make, serials=("E/1",))
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    deliver(make, lot, pharmacy, pharmacist=pharmacist)
    decommission(make, pharmacist, lot.pack_id("E/1"), pharmacy.locations[0].id, "LOCKED", "Damaged seal")
    recall(make, regulator.user, lot.batch_id)
    res = client.get(f"{API}/{lot.gtin}/E%2F1/epcis", headers=regulator.headers)
    assert res.status_code == 200
    assert res.content_type == "application/json"
    doc = res.json
    assert epcis_errors(doc) == []
    events = doc["epcisBody"]["eventList"]
    assert [(e["action"], e["bizStep"], e.get("disposition")) for e in events] == [
        ("ADD", "commissioning", "active"), ("OBSERVE", "shipping", "in_transit"),
        ("OBSERVE", "receiving", "in_progress"), ("OBSERVE", "holding", "non_sellable_other"),
        ("OBSERVE", "holding", "recalled")]
    epc = f"https://id.gs1.org/01/{lot.gtin}/21/E%2F1"
    assert all(e["epcList"] == [epc] for e in events[:4])
    assert events[4]["quantityList"] == [{"epcClass": f"https://id.gs1.org/01/{lot.gtin}/10/{lot.batch}"}]
    assert events[2]["bizLocation"] == {"id": f"https://id.gs1.org/414/{pharmacy.locations[0].gln}"}
    assert len({e["eventID"] for e in events}) == 5
    assert events == sorted(events, key=lambda e: e["eventTime"])


def test_a_shipments_epcis_export_has_its_ship_and_receive_events_with_its_packs(client, make, regulator):
    lot = commission(make, serials=("S1", "S2", "S3"))
    pharmacy = make.org("pharmacy")
    shipment = deliver(make, lot, pharmacy, ["S1", "S2"])
    ship(make, lot.importer_user, [lot.pack_id("S3")], lot.location_id, pharmacy.locations[0].id)  # another one
    res = client.get(f"{API}/shipments/{shipment.id}/epcis", headers=regulator.headers)
    assert res.status_code == 200, res.json
    doc = res.json
    assert epcis_errors(doc) == []
    events = doc["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == ["shipping", "receiving"]
    packs = sorted(f"https://id.gs1.org/01/{lot.gtin}/21/{s}" for s in ("S1", "S2"))
    assert all(sorted(e["epcList"]) == packs for e in events)
    assert events[0]["sourceList"] == [{"type": "location", "source": f"https://id.gs1.org/414/{lot.importer.locations[0].gln}"}]
    assert events[0]["destinationList"][0]["destination"].endswith(pharmacy.locations[0].gln)
    assert events[0]["bizTransactionList"][0]["bizTransaction"].endswith(f"/documents/shipment/{shipment.number}")


def test_a_shipment_is_exported_only_to_its_parties_and_the_agency(client, make):
    lot = commission(make, serials=("Z1",))
    pharmacy = make.org("pharmacy")
    shipment = deliver(make, lot, pharmacy)
    url = f"{API}/shipments/{shipment.id}/epcis"
    assert client.get(url, headers=make.caller("pharmacist", org=pharmacy).headers).status_code == 200
    assert client.get(url, headers=make.caller("importer", org=lot.importer).headers).status_code == 200
    assert client.get(url, headers=make.caller("inspector").headers).status_code == 200
    res = client.get(url, headers=make.caller("pharmacist", org=make.org("pharmacy")).headers)
    assert res.status_code == 404 and res.json["code"] == "SHIPMENT_NOT_FOUND"
    assert client.get(f"{API}/shipments/999999/epcis", headers=make.caller("regulator").headers).status_code == 404


def test_a_product_registered_without_packs_has_no_pack_to_show(client, make, regulator):
    _, gtin = product(make)
    assert client.get(f"{API}/{gtin}/S1", headers=regulator.headers).status_code == 404


def test_the_history_and_shipment_services_answer_for_the_pharmacy_that_holds_the_pack(make):
    from pharma.trace import history

    lot = commission(make, serials=("V1",))
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    shipment = deliver(make, lot, pharmacy, pharmacist=pharmacist)
    entries = history.pack_history(make.uow(pharmacist), lot.gtin[1:], "V1")
    assert [(e.type, e.scope) for e in entries] == [("COMMISSION", "DECLARATION"), ("SHIP", "PACK"),
                                                      ("RECEIVE", "PACK")]
    assert entries[2].where == f"{pharmacy.locations[0].name} ({pharmacy.locations[0].gln})"
    moves = history.shipment_history(make.uow(pharmacist), shipment.id)
    assert [(m.entry.type, m.packs) for m in moves] == [("SHIP", [(lot.gtin, "V1")]), ("RECEIVE", [(lot.gtin, "V1")])]
    stranger = make.user("pharmacist", org=make.org("pharmacy"))
    with pytest.raises(history.PackNotFound):
        history.pack_history(make.uow(stranger), lot.gtin, "V1")
