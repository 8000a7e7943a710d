"""GS1 EPCIS 2.0 (JSON-LD) export of a pack's history and of a shipment's events.

Every event of ours becomes an ``ObjectEvent`` with CBV 2.0 business steps and dispositions
(the values the EPCIS 2.0 JSON schema enumerates; see ``MAPPINGS``). Identifiers are GS1
Digital Link URIs, which EPCIS 2.0 accepts wherever an EPC URI goes: SGTIN pure-identity URNs
would need each GTIN's company-prefix length, which the register does not hold.

- a pack: ``https://id.gs1.org/01/<gtin14>/21/<serial>`` (serial percent-encoded: every
  character but the URI unreserved ones, so any GS1 set-82 serial makes a valid URI);
- a batch (events scoped to a batch, such as a recall): the class ``.../01/<gtin14>/10/<batch>``
  in a ``quantityList``; a product (a withdrawal): the class ``.../01/<gtin14>``;
- a location: ``https://id.gs1.org/414/<gln>``; a case: ``https://id.gs1.org/00/<sscc>``.

``eventID`` is ``ni:///sha-256;<hex>?ver=CBV2.0`` of our event's identity (system, id, type,
time), so one event keeps one id in every export, also where a pack's export shows only that
pack of an event that covered many. Facts with no CBV word (our event type, the target state,
the reason) travel as extension members in the ``pharma:`` namespace declared in ``@context``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace import history
from pharma.trace.domain import EventType, PackState, Resolution

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
PHARMA_NS = "https://pharma.example/epcis/"
MEDIA_TYPE = "application/json"  # EPCIS 2.0 JSON-LD; clients may also treat it as application/ld+json
DIGITAL_LINK = "https://id.gs1.org"
RETAIL_DOCUMENTS = frozenset({"receipt", "fiscal_receipt", "sale"})


@dataclass(frozen=True)
class Mapping:
    action: str
    biz_step: str
    disposition: str | None


MAPPINGS: dict[str, Mapping] = {
    EventType.COMMISSION: Mapping("ADD", "commissioning", "active"),
    EventType.SHIP: Mapping("OBSERVE", "shipping", "in_transit"),
    EventType.RECEIVE: Mapping("OBSERVE", "receiving", "in_progress"),
    EventType.RECALL: Mapping("OBSERVE", "holding", "recalled"),
    EventType.WITHDRAW: Mapping("OBSERVE", "holding", "recalled"),
    EventType.DISPENSE: Mapping("DELETE", "dispensing", "dispensed"),
    # back to active after a decommissioning: CBV has no step for it
    EventType.UNDO: Mapping("OBSERVE", PHARMA_NS + "bizstep/undo_decommissioning", "active"),
}
# a decommissioning by its target state; LOCKED can be lifted at any time, so the pack is held, not deleted
DECOMMISSIONS: dict[str, Mapping] = {
    PackState.DESTROYED: Mapping("DELETE", "destroying", "destroyed"),
    PackState.STOLEN: Mapping("DELETE", "decommissioning", "stolen"),
    PackState.EXPORTED: Mapping("DELETE", "decommissioning", "inactive"),
    PackState.SAMPLE: Mapping("DELETE", "sampling", "non_sellable_other"),
    PackState.LOCKED: Mapping("OBSERVE", "holding", "non_sellable_other"),
    PackState.DISPENSED: Mapping("DELETE", "dispensing", "dispensed"),
}
# a pack missing at receipt, by how it was cleared up: found by the receiver is a late receipt;
# back with the sender voids its shipping; lost in transit is stolen (it alerts when scanned again)
RESOLUTIONS: dict[str, Mapping] = {
    Resolution.FOUND: Mapping("OBSERVE", "receiving", "in_progress"),
    Resolution.RETURNED: Mapping("OBSERVE", "void_shipping", "active"),
    Resolution.LOST: Mapping("DELETE", "decommissioning", "stolen"),
}
RETAIL_SALE = Mapping("DELETE", "retail_selling", "retail_sold")
UNKNOWN = Mapping("OBSERVE", "other", None)
# business transaction types: CBV's own where one fits, else ours
TRANSACTION_TYPES = {"shipment": "desadv", "permit": "cert"}


def mapping(type: str, to_state: str | None = None, document_type: str | None = None,
            resolution: str | None = None) -> Mapping:
    """The CBV action, business step and disposition for one of our events."""
    if type == EventType.RESOLVE_MISSING:
        return RESOLUTIONS.get(resolution or "", UNKNOWN)
    if type == EventType.DECOMMISSION:
        return DECOMMISSIONS.get(to_state or "", Mapping("DELETE", "decommissioning", "inactive"))
    if type == EventType.DISPENSE and (document_type or "").lower() in RETAIL_DOCUMENTS:
        return RETAIL_SALE
    return MAPPINGS.get(type, UNKNOWN)


# ---------------------------------------------------------------- identifiers


def sgtin_uri(gtin: str, serial: str) -> str:
    return f"{DIGITAL_LINK}/01/{gtin}/21/{quote(serial, safe='')}"


def lgtin_uri(gtin: str, batch: str) -> str:
    return f"{DIGITAL_LINK}/01/{gtin}/10/{quote(batch, safe='')}"


def gtin_uri(gtin: str) -> str:
    return f"{DIGITAL_LINK}/01/{gtin}"


def sscc_uri(sscc: str) -> str:
    return f"{DIGITAL_LINK}/00/{sscc}"


def gln_uri(gln: str) -> str:
    return f"{DIGITAL_LINK}/414/{gln}"


def transaction_uri(document_type: str, document_id: str) -> str:
    return f"{PHARMA_NS}documents/{quote(document_type, safe='')}/{quote(document_id, safe='')}"


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_id(entry: history.HistoryEntry) -> str:
    canonical = f"{PHARMA_NS}events/{entry.id}|{entry.type}|{timestamp(entry.at)}"
    return f"ni:///sha-256;{hashlib.sha256(canonical.encode()).hexdigest()}?ver=CBV2.0"


# ---------------------------------------------------------------- events and documents


def object_event(entry: history.HistoryEntry, *, epcs: list[str] | tuple = (), classes: list[str] | tuple = (),
                 ilmd: dict | None = None, source_gln: str | None = None,
                 destination_gln: str | None = None) -> dict:
    """One of our events as an EPCIS 2.0 ObjectEvent about ``epcs`` (instances) or ``classes``."""
    m = mapping(entry.type, entry.to_state, entry.document_type, (entry.details or {}).get("resolution"))
    event: dict = {
        "type": "ObjectEvent",
        "eventTime": timestamp(entry.at),
        "eventTimeZoneOffset": "+00:00",
        "eventID": event_id(entry),
        "action": m.action,
        "bizStep": m.biz_step,
    }
    if epcs or not classes:
        event["epcList"] = list(dict.fromkeys(epcs))
    if classes:
        event["quantityList"] = [{"epcClass": c} for c in dict.fromkeys(classes)]
    if m.disposition:
        event["disposition"] = m.disposition
    if entry.location_gln:
        event["readPoint"] = {"id": gln_uri(entry.location_gln)}
        if m.action != "DELETE" and entry.type != EventType.SHIP:
            event["bizLocation"] = {"id": gln_uri(entry.location_gln)}
    if entry.document_type and entry.document_id:
        tx = {"bizTransaction": transaction_uri(entry.document_type, entry.document_id)}
        tx["type"] = TRANSACTION_TYPES.get(entry.document_type.lower(),
                                           f"{PHARMA_NS}btt/{quote(entry.document_type.lower(), safe='')}")
        event["bizTransactionList"] = [tx]
    if source_gln:
        event["sourceList"] = [{"type": "location", "source": gln_uri(source_gln)}]
    if destination_gln:
        event["destinationList"] = [{"type": "location", "destination": gln_uri(destination_gln)}]
    if ilmd and m.action == "ADD":
        event["ilmd"] = ilmd
    event["pharma:eventType"] = entry.type
    if entry.to_state:
        event["pharma:toState"] = entry.to_state
    if entry.reason:
        event["pharma:reason"] = entry.reason
    if entry.type == EventType.RESOLVE_MISSING and entry.details.get("resolution"):
        event["pharma:resolution"] = entry.details["resolution"]
    return event


def document(events: list[dict], created: datetime | None = None) -> dict:
    """An EPCISDocument carrying ``events``."""
    return {
        "@context": [CONTEXT, {"pharma": PHARMA_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": timestamp(created or utcnow()),
        "epcisBody": {"eventList": events},
    }


def pack_document(pack: history.PackView, entries: list[history.HistoryEntry],
                  created: datetime | None = None) -> dict:
    """A pack's history: each event about this pack; batch and product events about their class."""
    epc = sgtin_uri(pack.gtin, pack.serial)
    events = []
    for entry in entries:
        if entry.scope == "BATCH":
            events.append(object_event(entry, classes=[lgtin_uri(pack.gtin, pack.batch)]))
        elif entry.scope == "PRODUCT":
            events.append(object_event(entry, classes=[gtin_uri(pack.gtin)]))
        else:
            ilmd = {"cbvmda:lotNumber": pack.batch, "cbvmda:itemExpirationDate": pack.expiry.isoformat()}
            events.append(object_event(entry, epcs=[epc], ilmd=ilmd))
    return document(events, created)


def shipment_document(shipment: history.ShipmentView, events: list[history.ShipmentEvent],
                      created: datetime | None = None) -> dict:
    """A shipment's SHIP and RECEIVE events (and the resolutions of packs missing at receipt), each
    about the shipment's packs it covered."""
    out = [object_event(se.entry, epcs=[sgtin_uri(g, s) for g, s in se.packs],
                        source_gln=shipment.from_gln, destination_gln=shipment.to_gln)
           for se in events]
    return document(out, created)


def export_pack(uow: UnitOfWork, gtin: str, serial: str) -> dict:
    """A pack's history as an EPCIS 2.0 document (trace.history.read, custody-scoped)."""
    pack, entries = history.pack_with_history(uow, gtin, serial)
    return pack_document(pack, entries)


def export_shipment(uow: UnitOfWork, shipment_id: int) -> dict:
    """A shipment's events as an EPCIS 2.0 document (trace.history.read: its sender, receiver, the agency)."""
    shipment, events = history.shipment_with_history(uow, shipment_id)
    return shipment_document(shipment, events)
