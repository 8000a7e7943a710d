"""EPCIS 2.0 export: the schema harness, then each of our event types as a schema-valid ObjectEvent."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime

import pytest

from pharma.trace import epcis
from pharma.trace.domain import DECOMMISSION_REASONS, EventType, Resolution
from pharma.trace.history import HistoryEntry, PackView
from tests.integration.history_helpers import EXAMPLE_EVENT, SCHEMA_FILE, epcis_errors

AT = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
GLN = "4760000000017"


def entry(type: str, *, to_state: str | None = None, scope: str = "PACK", document: tuple | None = None,
          reason: str | None = None, location: bool = True, id: int = 7, details: dict | None = None) -> HistoryEntry:
    return HistoryEntry(
        id=id, type=type, at=AT, scope=scope, username="aysel", organisation_id=3, organisation_name="Aptek 1",
        location_id=5 if location else None, location_name="Aptek 1 #1" if location else None,
        location_gln=GLN if location else None, location_org_id=3 if location else None, to_state=to_state,
        reason=reason, document_type=document[0] if document else None,
        document_id=document[1] if document else None, count=1, details=details or {})


def pack(serial: str = "AB12/%CD") -> PackView:
    return PackView(
        id=1, gtin="04030096123457", serial=serial, state="ACTIVE", effective_state="ACTIVE", state_changed_at=AT,
        state_location_id=None, batch_id=2, batch="L 01/A", expiry_raw="270600", expiry=date(2027, 6, 30),
        manufactured_on=None, recalled_at=None, recall_reason=None, product_id=3, trade_name="Augmentin",
        withdrawn_at=None, withdrawal_reason=None, certificate_number=None, certificate_status=None,
        declaration_id=4, location_id=5, location_name="Aptek 1 #1", location_gln=GLN, custodian_org_id=3,
        custodian_org_name="Aptek 1", case_sscc=None, shipment_id=None, shipment_number=None)


def schema_enum(name: str) -> set[str]:
    definitions = json.loads(SCHEMA_FILE.read_text())["definitions"]
    return next(set(alt["enum"]) for alt in definitions[name]["anyOf"] if "enum" in alt)


# ---------------------------------------------------------------- the harness


def test_gs1s_example_event_is_valid_on_its_own():
    assert epcis_errors(json.loads(EXAMPLE_EVENT.read_text())) == []


def test_gs1s_example_event_is_valid_inside_a_document():
    event = json.loads(EXAMPLE_EVENT.read_text())
    context = event.pop("@context")
    doc = {"@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2005-07-11T11:30:47.0Z", "epcisBody": {"eventList": [event]}}
    assert epcis_errors(doc) == []


@pytest.mark.parametrize("breakage", [
    "no schemaVersion", "unknown business step", "epc that is not a URI", "no event time", "unknown action",
    "time that is not a time", "unknown member"])
def test_a_broken_document_fails_validation(breakage):
    doc = epcis.pack_document(pack(), [entry(EventType.SHIP)], created=AT)
    assert epcis_errors(doc) == []
    broken = copy.deepcopy(doc)
    event = broken["epcisBody"]["eventList"][0]
    if breakage == "no schemaVersion":
        del broken["schemaVersion"]
    elif breakage == "unknown business step":
        event["bizStep"] = "teleporting"
    elif breakage == "epc that is not a URI":
        event["epcList"] = ["04030096123457 AB12"]
    elif breakage == "no event time":
        del event["eventTime"]
    elif breakage == "unknown action":
        event["action"] = "MOVE"
    elif breakage == "time that is not a time":
        event["eventTime"] = "yesterday"
    elif breakage == "unknown member":
        event["colour"] = "blue"
    assert epcis_errors(broken) != []


# ---------------------------------------------------------------- the mapping


EVERY_EVENT = [
    (EventType.COMMISSION, "ACTIVE", None), (EventType.SHIP, None, ("shipment", "SH-2026-000001")),
    (EventType.RECEIVE, None, ("shipment", "SH-2026-000001")), (EventType.UNDO, "ACTIVE", None),
    (EventType.RECALL, "RECALLED", None), (EventType.WITHDRAW, "WITHDRAWN", None),
    (EventType.DISPENSE, "DISPENSED", ("prescription", "RX-1")), (EventType.DISPENSE, "DISPENSED", ("receipt", "7")),
    *[(EventType.DECOMMISSION, state.value, ("act", "A-1")) for state in DECOMMISSION_REASONS],
    (EventType.DECOMMISSION, "DISPENSED", None),
]


@pytest.mark.parametrize(("type", "to_state", "document"), EVERY_EVENT, ids=lambda v: str(v))
def test_each_event_type_makes_a_schema_valid_object_event(type, to_state, document):
    doc = epcis.pack_document(pack(), [entry(type, to_state=to_state, document=document, reason="why")], created=AT)
    assert epcis_errors(doc) == []
    event = doc["epcisBody"]["eventList"][0]
    assert event["type"] == "ObjectEvent"
    assert event["pharma:eventType"] == type


def test_the_mapping_uses_only_cbv_words_the_schema_knows():
    steps, dispositions = schema_enum("bizStep"), schema_enum("disposition")
    for m in [*epcis.MAPPINGS.values(), *epcis.DECOMMISSIONS.values(), *epcis.RESOLUTIONS.values(),
              epcis.RETAIL_SALE, epcis.UNKNOWN]:
        assert m.biz_step in steps or m.biz_step.startswith(epcis.PHARMA_NS), m
        assert m.disposition is None or m.disposition in dispositions, m
    for btt in epcis.TRANSACTION_TYPES.values():
        assert btt in schema_enum("bizTransaction-type")


@pytest.mark.parametrize(("type", "to_state", "action", "step", "disposition"), [
    (EventType.COMMISSION, "ACTIVE", "ADD", "commissioning", "active"),
    (EventType.SHIP, None, "OBSERVE", "shipping", "in_transit"),
    (EventType.RECEIVE, None, "OBSERVE", "receiving", "in_progress"),
    (EventType.DECOMMISSION, "DESTROYED", "DELETE", "destroying", "destroyed"),
    (EventType.DECOMMISSION, "STOLEN", "DELETE", "decommissioning", "stolen"),
    (EventType.DECOMMISSION, "EXPORTED", "DELETE", "decommissioning", "inactive"),
    (EventType.DECOMMISSION, "SAMPLE", "DELETE", "sampling", "non_sellable_other"),
    (EventType.DECOMMISSION, "LOCKED", "OBSERVE", "holding", "non_sellable_other"),
    (EventType.RECALL, "RECALLED", "OBSERVE", "holding", "recalled"),
    (EventType.DISPENSE, "DISPENSED", "DELETE", "dispensing", "dispensed"),
])
def test_our_events_map_to_these_cbv_steps_and_dispositions(type, to_state, action, step, disposition):
    event = epcis.object_event(entry(type, to_state=to_state), epcs=["https://id.gs1.org/01/04030096123457/21/1"])
    assert (event["action"], event["bizStep"], event["disposition"]) == (action, step, disposition)


def test_every_event_type_of_ours_has_its_own_mapping():
    special = {EventType.DECOMMISSION: epcis.DECOMMISSIONS, EventType.RESOLVE_MISSING: epcis.RESOLUTIONS}
    for type in EventType:
        assert type in epcis.MAPPINGS or type in special, type
    assert {t for t, _, _ in EVERY_EVENT} | set(special) == set(EventType)
    assert set(epcis.RESOLUTIONS) == set(Resolution)


@pytest.mark.parametrize(("resolution", "to_state", "action", "step", "disposition"), [
    ("FOUND", None, "OBSERVE", "receiving", "in_progress"),
    ("RETURNED", None, "OBSERVE", "void_shipping", "active"),
    ("LOST", "STOLEN", "DELETE", "decommissioning", "stolen"),
])
def test_a_missing_pack_s_resolution_maps_by_how_it_was_resolved(resolution, to_state, action, step, disposition):
    resolved = entry(EventType.RESOLVE_MISSING, to_state=to_state, document=("shipment", "SH-2026-000001"),
                     reason="checked the van", details={"resolution": resolution, "from_location_id": 1})
    doc = epcis.pack_document(pack(), [resolved], created=AT)
    assert epcis_errors(doc) == []
    event = doc["epcisBody"]["eventList"][0]
    assert (event["action"], event["bizStep"], event["disposition"]) == (action, step, disposition)
    assert (event["pharma:eventType"], event["pharma:resolution"]) == ("RESOLVE_MISSING", resolution)
    assert ("bizLocation" in event) == (action != "DELETE")


def test_a_resolution_we_do_not_know_is_an_other_step_not_a_guess():
    event = epcis.object_event(entry(EventType.RESOLVE_MISSING, details={"resolution": "TELEPORTED"}),
                               epcs=["https://a.example/1"])
    assert (event["bizStep"], "disposition" in event) == ("other", False)


def test_a_sale_on_a_fiscal_receipt_is_a_retail_sale():
    event = epcis.object_event(entry(EventType.DISPENSE, document=("receipt", "42")), epcs=["https://x.example/1"])
    assert (event["bizStep"], event["disposition"]) == ("retail_selling", "retail_sold")


def test_a_pack_is_a_digital_link_with_its_serial_percent_encoded():
    assert epcis.sgtin_uri("04030096123457", "AB12/%CD") == "https://id.gs1.org/01/04030096123457/21/AB12%2F%25CD"
    assert epcis.sgtin_uri("04030096123457", "a-b.c_d") == "https://id.gs1.org/01/04030096123457/21/a-b.c_d"
    assert epcis.sscc_uri("047600000000000018") == "https://id.gs1.org/00/047600000000000018"
    assert epcis.gln_uri(GLN) == f"https://id.gs1.org/414/{GLN}"


def test_every_gs1_set_82_character_in_a_serial_still_makes_a_valid_document():
    from pharma.shared.identifiers import CSET82

    chars = "".join(sorted(CSET82))
    serials = [chars[i:i + 20] for i in range(0, len(chars), 20)]
    for serial in serials:
        doc = epcis.pack_document(pack(serial), [entry(EventType.COMMISSION, to_state="ACTIVE")], created=AT)
        assert epcis_errors(doc) == [], serial


def test_the_event_id_is_a_stable_sha256_named_information_uri():
    first = epcis.object_event(entry(EventType.SHIP), epcs=["https://a.example/1"])
    again = epcis.object_event(entry(EventType.SHIP), epcs=["https://a.example/1", "https://a.example/2"])
    other = epcis.object_event(entry(EventType.SHIP, id=8), epcs=["https://a.example/1"])
    assert first["eventID"] == again["eventID"] != other["eventID"]
    assert first["eventID"].startswith("ni:///sha-256;") and first["eventID"].endswith("?ver=CBV2.0")
    assert len(first["eventID"].split(";")[1].split("?")[0]) == 64


def test_an_event_time_is_utc_with_its_offset():
    event = epcis.object_event(entry(EventType.SHIP), epcs=["https://a.example/1"])
    assert event["eventTime"] == "2026-03-01T09:30:15.123Z"
    assert event["eventTimeZoneOffset"] == "+00:00"


def test_a_batch_recall_is_about_the_batch_class_and_a_withdrawal_about_the_product_class():
    doc = epcis.pack_document(pack(), [entry(EventType.RECALL, to_state="RECALLED", scope="BATCH", location=False),
                                       entry(EventType.WITHDRAW, to_state="WITHDRAWN", scope="PRODUCT",
                                             location=False, id=8)], created=AT)
    recall, withdrawal = doc["epcisBody"]["eventList"]
    assert recall["quantityList"] == [{"epcClass": "https://id.gs1.org/01/04030096123457/10/L%2001%2FA"}]
    assert withdrawal["quantityList"] == [{"epcClass": "https://id.gs1.org/01/04030096123457"}]
    assert "epcList" not in recall and "readPoint" not in recall


def test_commissioning_carries_the_lot_and_expiry_as_master_data():
    doc = epcis.pack_document(pack(), [entry(EventType.COMMISSION, to_state="ACTIVE",
                                             document=("declaration", "DC-1"))], created=AT)
    event = doc["epcisBody"]["eventList"][0]
    assert event["ilmd"] == {"cbvmda:lotNumber": "L 01/A", "cbvmda:itemExpirationDate": "2027-06-30"}
    assert event["bizLocation"] == {"id": f"https://id.gs1.org/414/{GLN}"}
    assert event["bizTransactionList"][0]["bizTransaction"].endswith("/documents/declaration/DC-1")


def test_a_shipping_event_names_the_despatch_advice_and_has_no_business_location():
    event = epcis.object_event(entry(EventType.SHIP, document=("shipment", "SH-2026-000001")),
                               epcs=["https://a.example/1"], source_gln=GLN, destination_gln="4760000000024")
    assert event["bizTransactionList"][0]["type"] == "desadv"
    assert "bizLocation" not in event
    assert event["sourceList"] == [{"type": "location", "source": f"https://id.gs1.org/414/{GLN}"}]
    assert event["destinationList"] == [{"type": "location", "destination": "https://id.gs1.org/414/4760000000024"}]


def test_the_document_declares_the_epcis_context_and_our_namespace():
    doc = epcis.document([], created=AT)
    assert doc["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert epcis_errors(doc) == []
