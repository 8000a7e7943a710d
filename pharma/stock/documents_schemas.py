"""Payloads of the write-off acts and returns API. Lines are added as raw scans (re-parsed by the
server with the verification parser), as packs by GTIN and serial, or as batches by quantity."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.shared.schemas import PageQuery, page_schema
from pharma.stock import acts, returns
from pharma.stock.documents import AddLines, BatchLine, PackLine
from pharma.stock.documents_models import ACT_REASONS, ACT_STATES, RETURN_REASONS, RETURN_STATES
from pharma.stock.schemas import _batch, _gtin

_NOTE = validate.Length(max=500)
_MANY = validate.Length(max=2000)


class PackLineIn(ma.Schema):
    gtin = _gtin(required=True)
    serial = ma.fields.String(required=True, validate=validate.Length(min=1, max=20),
                              metadata={"description": "AI 21"})

    @ma.post_load
    def command(self, data, **kwargs):
        return PackLine(data["gtin"], data["serial"])


class BatchLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(required=True)
    quantity = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=1_000_000))

    @ma.post_load
    def command(self, data, **kwargs):
        return BatchLine(data["gtin"], data["batch"], data["quantity"])


class LinesIn(ma.Schema):
    scans = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=500)), load_default=list,
                           validate=_MANY, metadata={"description": "Raw scans of packs, as the scanner sent them"})
    packs = ma.fields.List(ma.fields.Nested(PackLineIn), load_default=list, validate=_MANY)
    batches = ma.fields.List(ma.fields.Nested(BatchLineIn), load_default=list, validate=_MANY,
                             metadata={"description": "Products without serials, by batch and quantity"})

    @ma.validates_schema
    def something(self, data, **kwargs):
        if not (data.get("scans") or data.get("packs") or data.get("batches")):
            raise ma.ValidationError("Give at least one scan, pack or batch.", "lines")

    @ma.post_load
    def command(self, data, **kwargs):
        return AddLines(tuple(data["scans"]), tuple(data["packs"]), tuple(data["batches"]))


class LineOut(ma.Schema):
    id = ma.fields.Integer()
    gtin = ma.fields.String()
    serial = ma.fields.String(allow_none=True, metadata={"description": "Set for a serialized pack"})
    batch = ma.fields.String(allow_none=True)
    expiry = ma.fields.Date(allow_none=True)
    quantity = ma.fields.Integer()
    serialized = ma.fields.Boolean()


class ActIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True, validate=validate.OneOf(ACT_REASONS))
    note = ma.fields.String(load_default="", validate=_NOTE)

    @ma.post_load
    def command(self, data, **kwargs):
        return acts.NewAct(data["location_id"], data["reason"], data["note"])


class ActSummaryOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "WO-<year>-<sequence>"})
    organisation_id = ma.fields.Integer()
    location_id = ma.fields.Integer()
    reason = ma.fields.String(metadata={"description": ", ".join(ACT_REASONS)})
    note = ma.fields.String()
    status = ma.fields.String(metadata={"description": "DRAFT, CONFIRMED or CANCELLED"})
    created_at = ma.fields.DateTime()
    created_by = ma.fields.Integer(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True, metadata={"description": "Confirmed or cancelled at"})
    decided_by = ma.fields.Integer(allow_none=True)
    packs = ma.fields.Integer(metadata={"description": "Serialized packs on the act"})
    units = ma.fields.Integer(metadata={"description": "Units of the quantity lines"})
    lines_count = ma.fields.Integer()


class ActOut(ActSummaryOut):
    lines = ma.fields.List(ma.fields.Nested(LineOut))


ActPage = page_schema(ActSummaryOut, "WriteOffActPage")


class ActQueryIn(PageQuery):
    location_id = ma.fields.Integer(load_default=None)
    status = ma.fields.String(load_default=None, validate=validate.OneOf(ACT_STATES))

    @ma.post_load
    def query(self, data, **kwargs):
        return acts.ActQuery(data["location_id"], data["status"], data["page"], data["per_page"])


class ReturnIn(ma.Schema):
    location_id = ma.fields.Integer(required=True, metadata={"description": "The pharmacy's location"})
    reason = ma.fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))
    note = ma.fields.String(load_default="", validate=_NOTE)
    supplier_location_id = ma.fields.Integer(
        load_default=None, allow_none=True,
        metadata={"description": "The importer's or wholesaler's location; leave out to take it from the first "
                                 "scanned pack's delivery"})

    @ma.post_load
    def command(self, data, **kwargs):
        return returns.NewReturn(data["location_id"], data["reason"], data["note"], data["supplier_location_id"])


class RejectIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=3, max=500))


class ReturnSummaryOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String(metadata={"description": "RT-<year>-<sequence>"})
    organisation_id = ma.fields.Integer(metadata={"description": "The returning pharmacy"})
    location_id = ma.fields.Integer()
    supplier_org_id = ma.fields.Integer(allow_none=True)
    supplier_location_id = ma.fields.Integer(allow_none=True)
    reason = ma.fields.String(metadata={"description": ", ".join(RETURN_REASONS)})
    note = ma.fields.String()
    status = ma.fields.String(metadata={"description": ", ".join(RETURN_STATES)})
    shipment_id = ma.fields.Integer(allow_none=True, metadata={"description": "The RETURN shipment of its packs"})
    back_shipment_id = ma.fields.Integer(allow_none=True,
                                         metadata={"description": "Rejected: the delivery taking the packs back"})
    rejection_reason = ma.fields.String()
    created_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    decided_at = ma.fields.DateTime(allow_none=True)
    packs = ma.fields.Integer()
    units = ma.fields.Integer()
    lines_count = ma.fields.Integer()


class ReturnLineOut(LineOut):
    value = ma.fields.Integer(metadata={"description": "At cost when sent, minor units"})
    source_shipment_id = ma.fields.Integer(allow_none=True)


class ReturnOut(ReturnSummaryOut):
    lines = ma.fields.List(ma.fields.Nested(ReturnLineOut))


ReturnPage = page_schema(ReturnSummaryOut, "ReturnPage")


class ReturnQueryIn(PageQuery):
    direction = ma.fields.String(load_default=None, validate=validate.OneOf(["incoming", "outgoing"]),
                                 metadata={"description": "incoming: sent to the caller as supplier"})
    status = ma.fields.String(load_default=None, validate=validate.OneOf(RETURN_STATES))
    location_id = ma.fields.Integer(load_default=None)

    @ma.post_load
    def query(self, data, **kwargs):
        return returns.ReturnQuery(data["direction"], data["status"], data["location_id"], data["page"],
                                   data["per_page"])
