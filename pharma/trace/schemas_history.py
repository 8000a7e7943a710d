"""Payloads of the pack facts, history and EPCIS export API."""

from __future__ import annotations

import marshmallow as ma


class PackCustodianOut(ma.Schema):
    location_id = ma.fields.Integer(allow_none=True)
    location_name = ma.fields.String(allow_none=True)
    gln = ma.fields.String(attribute="location_gln", allow_none=True)
    organisation_id = ma.fields.Integer(attribute="custodian_org_id", allow_none=True)
    organisation_name = ma.fields.String(attribute="custodian_org_name", allow_none=True)


class PackFactsOut(ma.Schema):
    gtin = ma.fields.String(metadata={"description": "GTIN-14"})
    serial = ma.fields.String()
    state = ma.fields.String(metadata={"description": "Stored state: what custodians and sales did to the pack"})
    effective_state = ma.fields.String(
        metadata={"description": "Stored state with recall, withdrawal and expiry applied today: "
                                 "ACTIVE, DISPENSED, DESTROYED, STOLEN, EXPORTED, SAMPLE, LOCKED, RECALLED, "
                                 "WITHDRAWN or EXPIRED"})
    state_changed_at = ma.fields.DateTime()
    batch = ma.fields.String()
    expiry = ma.fields.String(attribute="expiry_raw", metadata={"description": "AI 17 as printed, YYMMDD"})
    expiry_date = ma.fields.Date(attribute="expiry", metadata={"description": "The expiry resolved to a date"})
    manufactured_on = ma.fields.Date(allow_none=True)
    recalled_at = ma.fields.DateTime(allow_none=True)
    recall_reason = ma.fields.String(allow_none=True)
    product_id = ma.fields.Integer()
    trade_name = ma.fields.String()
    withdrawn_at = ma.fields.DateTime(allow_none=True)
    withdrawal_reason = ma.fields.String(allow_none=True)
    certificate_number = ma.fields.String(allow_none=True)
    certificate_status = ma.fields.String(allow_none=True)
    custodian = ma.fields.Function(lambda p: PackCustodianOut().dump(p), metadata={"description": "Current custodian"})
    case_sscc = ma.fields.String(allow_none=True)
    in_transit = ma.fields.Boolean()
    shipment_number = ma.fields.String(allow_none=True, metadata={"description": "While in transit"})


class WhoOut(ma.Schema):
    username = ma.fields.String()
    organisation_id = ma.fields.Integer(allow_none=True)
    organisation_name = ma.fields.String(allow_none=True)


class WhereOut(ma.Schema):
    location_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String(attribute="location_name", allow_none=True)
    gln = ma.fields.String(attribute="location_gln", allow_none=True)


class PackEventOut(ma.Schema):
    id = ma.fields.Integer()
    type = ma.fields.String(metadata={"description": "COMMISSION, SHIP, RECEIVE, DECOMMISSION, UNDO, RECALL, "
                                                     "WITHDRAW, DISPENSE or RESOLVE_MISSING"})
    at = ma.fields.DateTime()
    scope = ma.fields.String(metadata={"description": "How the event covers the pack: PACK, BATCH, PRODUCT or "
                                                      "DECLARATION"})
    who = ma.fields.Function(lambda e: WhoOut().dump(e))
    where = ma.fields.Function(lambda e: WhereOut().dump(e) if e.location_id else None)
    to_state = ma.fields.String(allow_none=True)
    reason = ma.fields.String(allow_none=True)
    document = ma.fields.Function(
        lambda e: {"type": e.document_type, "id": e.document_id} if e.document_type else None,
        metadata={"description": "The document behind the event: {type, id}"})
    count = ma.fields.Integer(metadata={"description": "How many packs the event covered"})
    resolution = ma.fields.Function(
        lambda e: (e.details or {}).get("resolution") if e.type == "RESOLVE_MISSING" else None, allow_none=True,
        metadata={"description": "For RESOLVE_MISSING: FOUND, RETURNED or LOST"})


class PackHistoryOut(ma.Schema):
    pack = ma.fields.Nested(PackFactsOut)
    events = ma.fields.List(ma.fields.Nested(PackEventOut))


class EpcisDocumentOut(ma.Schema):
    """A GS1 EPCIS 2.0 document (JSON-LD), served as application/json."""

    context = ma.fields.Raw(attribute="@context", data_key="@context")
    type = ma.fields.String(metadata={"description": "EPCISDocument"})
    schemaVersion = ma.fields.String()
    creationDate = ma.fields.String()
    epcisBody = ma.fields.Dict(metadata={"description": "{eventList: [ObjectEvent, ...]}"})
