"""Request and response payloads of the supply API (/api/v1/supply). Quantities are packs.

Syntax is checked here; existence by the services; the rules (levels in order, states of a
request, what a shipment may carry) by ``pharma.stock.supply``.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.shared.identifiers import Gtin, Serial, Sscc
from pharma.shared.schemas import PageQuery, page_schema
from pharma.stock import supply_services as svc
from pharma.stock.schemas import _gtin, _identifier
from pharma.stock.supply import DEFAULT_DAYS, MAX_LEVEL, RequestStatus
from pharma.trace.movements import PackRef

_LEVEL = validate.Range(min=0, max=MAX_LEVEL)
_QUANTITY = validate.Range(min=1, max=1_000_000)


class SupplyLevelIn(ma.Schema):
    gtin = _gtin(required=True)
    min_quantity = ma.fields.Integer(required=True, validate=_LEVEL, metadata={"description": "Packs"})
    max_quantity = ma.fields.Integer(required=True, validate=_LEVEL,
                                     metadata={"description": "Packs; not below min_quantity"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.LevelLine(Gtin.parse(data["gtin"]).value, data["min_quantity"], data["max_quantity"])


class SupplyLevelsIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    levels = ma.fields.List(ma.fields.Nested(SupplyLevelIn), load_default=list, validate=validate.Length(max=5000))
    remove = ma.fields.List(_gtin(), load_default=list, validate=validate.Length(max=5000),
                            metadata={"description": "GTINs whose levels are removed"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.SetLevels(data["location_id"], tuple(data["levels"]),
                             tuple(Gtin.parse(g).value for g in data["remove"]))


class SupplyLocationQueryIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)


class SupplyLevelOut(ma.Schema):
    location_id = ma.fields.Integer()
    gtin = ma.fields.String()
    trade_name = ma.fields.String(allow_none=True)
    min_quantity = ma.fields.Integer()
    max_quantity = ma.fields.Integer()
    updated_at = ma.fields.DateTime()


class SupplyLevelsOut(ma.Schema):
    location_id = ma.fields.Integer()
    levels = ma.fields.List(ma.fields.Nested(SupplyLevelOut))


class SupplyProposalQueryIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    days = ma.fields.Integer(load_default=DEFAULT_DAYS, validate=validate.Range(min=1, max=svc.MAX_DAYS),
                             metadata={"description": "Consumption window in days (default 30)"})


class SupplyProposalLineOut(ma.Schema):
    gtin = ma.fields.String()
    trade_name = ma.fields.String(allow_none=True)
    min_quantity = ma.fields.Integer()
    max_quantity = ma.fields.Integer()
    level_suggested = ma.fields.Boolean(metadata={"description": "No level set: suggested from consumption"})
    on_hand = ma.fields.Integer(metadata={"description": "Sellable packs: unexpired, not recalled"})
    in_transit = ma.fields.Integer(metadata={"description": "Packs on shipments to the location"})
    requested = ma.fields.Integer(metadata={"description": "Packs open requests still wait for"})
    consumed = ma.fields.Integer(metadata={"description": "Packs sold or dispensed in the window"})
    daily_consumption = ma.fields.Float()
    projected = ma.fields.Float(metadata={"description": "Position less the consumption over the lead time"})
    proposed = ma.fields.Integer(metadata={"description": "Packs to order (0: none needed)"})


class SupplyProposalOut(ma.Schema):
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    days = ma.fields.Integer()
    lines = ma.fields.List(ma.fields.Nested(SupplyProposalLineOut))


class SupplyRequestLineIn(ma.Schema):
    gtin = _gtin(required=True)
    quantity = ma.fields.Integer(required=True, validate=_QUANTITY, metadata={"description": "Packs"})
    note = ma.fields.String(load_default="", validate=validate.Length(max=200))

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.RequestLine(Gtin.parse(data["gtin"]).value, data["quantity"], data["note"])




class SupplyNewRequestIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    lines = ma.fields.List(ma.fields.Nested(SupplyRequestLineIn), load_default=list, validate=validate.Length(max=2000))
    note = ma.fields.String(load_default="", validate=validate.Length(max=500))
    from_proposal = ma.fields.Boolean(load_default=False,
                                      metadata={"description": "No lines: take the proposal's products to order"})
    days = ma.fields.Integer(load_default=DEFAULT_DAYS, validate=validate.Range(min=1, max=svc.MAX_DAYS))

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.NewRequest(data["location_id"], tuple(data["lines"]), data["note"], data["from_proposal"],
                              data["days"])


class SupplyEditRequestIn(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(SupplyRequestLineIn), required=True,
                           validate=validate.Length(min=1, max=2000))
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.EditRequest(tuple(data["lines"]), data["note"])


class SupplySendIn(ma.Schema):
    supplier_id = ma.fields.Integer(required=True,
                                    metadata={"description": "A wholesaler or importer with a licence in force"})


class SupplyReasonIn(ma.Schema):
    reason = ma.fields.String(load_default="", validate=validate.Length(max=500))


class SupplyRejectIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=3, max=500))


class SupplyPackIn(ma.Schema):
    gtin = _gtin(required=True)
    serial = ma.fields.String(required=True, validate=_identifier(Serial.parse))

    @ma.post_load
    def ref(self, data, **kwargs):
        return PackRef(Gtin.parse(data["gtin"]).value, data["serial"])


class SupplyShipAgainstIn(ma.Schema):
    from_location_id = ma.fields.Integer(required=True)
    packs = ma.fields.List(ma.fields.Nested(SupplyPackIn), load_default=list, validate=validate.Length(max=100_000))
    cases = ma.fields.List(ma.fields.String(validate=_identifier(Sscc.parse)), load_default=list,
                           validate=validate.Length(max=10_000), metadata={"description": "SSCCs"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.ShipAgainst(data["from_location_id"], tuple(data["packs"]),
                               tuple(Sscc.parse(c).value for c in data["cases"]))


class SupplyRequestQueryIn(PageQuery):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(list(RequestStatus)))
    location_id = ma.fields.Integer(load_default=None)

    @ma.post_load
    def query(self, data, **kwargs):
        return svc.RequestQuery(data["status"], data["location_id"], data["page"], data["per_page"])


class SupplyRequestLineOut(ma.Schema):
    gtin = ma.fields.String()
    trade_name = ma.fields.String(allow_none=True)
    quantity = ma.fields.Integer(metadata={"description": "Packs requested"})
    note = ma.fields.String()
    shipped = ma.fields.Integer(metadata={"description": "Packs of this GTIN on shipments against the request"})
    remaining = ma.fields.Integer()


class SupplyLinkedShipmentOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    packs_count = ma.fields.Integer()
    shipped_at = ma.fields.DateTime()
    received_at = ma.fields.DateTime(allow_none=True)


class SupplyRequestOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String(metadata={"description": ", ".join(RequestStatus)})
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    location_gln = ma.fields.String()
    organisation_id = ma.fields.Integer()
    organisation_name = ma.fields.String()
    supplier_id = ma.fields.Integer(allow_none=True)
    supplier_name = ma.fields.String(allow_none=True)
    note = ma.fields.String()
    reason = ma.fields.String(allow_none=True, metadata={"description": "Why rejected or cancelled"})
    created_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)
    answered_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    lines = ma.fields.List(ma.fields.Nested(SupplyRequestLineOut))
    shipments = ma.fields.List(ma.fields.Nested(SupplyLinkedShipmentOut))


class SupplyShippedOut(ma.Schema):
    shipment_number = ma.fields.String()
    request = ma.fields.Nested(SupplyRequestOut)


class SupplyRequestSummaryOut(ma.Schema):
    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    organisation_id = ma.fields.Integer()
    organisation_name = ma.fields.String()
    supplier_id = ma.fields.Integer(allow_none=True)
    supplier_name = ma.fields.String(allow_none=True)
    lines = ma.fields.Integer()
    packs = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    sent_at = ma.fields.DateTime(allow_none=True)


RequestPage = page_schema(SupplyRequestSummaryOut, "SupplyRequestPage")


class SupplySupplierOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    type = ma.fields.String()
