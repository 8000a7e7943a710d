"""Payloads of the valuation and price API. Money in minor units, as integers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from pharma.shared.identifiers import Gtin
from pharma.shared.schemas import PageQuery, page_schema
from pharma.stock import prices as svc
from pharma.stock.schemas import _batch, _gtin
from pharma.stock.valuation import Method

_MONEY = validate.Range(min=0, max=10**12)


class MethodIn(ma.Schema):
    organisation_id = ma.fields.Integer(load_default=None, metadata={"description": "Default: the caller's own"})
    method = ma.fields.String(required=True, validate=validate.OneOf([m.value for m in Method]),
                              metadata={"description": "WEIGHTED_AVERAGE (default) or FIFO"})


class MethodQueryIn(ma.Schema):
    organisation_id = ma.fields.Integer(load_default=None, metadata={"description": "Default: the caller's own"})


class MethodOut(ma.Schema):
    organisation_id = ma.fields.Integer()
    method = ma.fields.String()
    changed_at = ma.fields.DateTime(allow_none=True)


class MethodChangeOut(ma.Schema):
    organisation_id = ma.fields.Integer()
    method = ma.fields.String()
    previous = ma.fields.String()
    balances = ma.fields.Integer(metadata={"description": "Balances on hand whose layers were rebuilt or dropped"})
    layers = ma.fields.Integer(metadata={"description": "Cost layers written"})


class LayerQueryIn(ma.Schema):
    location_id = ma.fields.Integer(required=True)
    gtin = _gtin(load_default=None)

    @ma.post_load
    def normalise(self, data, **kwargs):
        data["gtin"] = Gtin.parse(data["gtin"]).value if data.get("gtin") else None
        return data


class LayerOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String()
    received_at = ma.fields.DateTime()
    quantity_left = ma.fields.Integer()
    unit_cost = ma.fields.Integer()


class PriceLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(load_default=None, allow_none=True,
                   metadata={"description": "Only this batch; leave out for every batch of the GTIN"})
    unit_price = ma.fields.Integer(required=True, validate=_MONEY, metadata={"description": "Minor units"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.PriceLine(Gtin.parse(data["gtin"]).value, data["batch"], data["unit_price"])


class PriceLinesIn(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(PriceLineIn), required=True, validate=validate.Length(max=1000),
                           metadata={"description": "Replace every line set before (empty: clear)"})


class PriceLineOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String(allow_none=True)
    unit_price = ma.fields.Integer()
    set_at = ma.fields.DateTime()


class PricedGroupOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String()
    packs = ma.fields.Integer()
    unit_price = ma.fields.Integer(allow_none=True)
    value = ma.fields.Integer(allow_none=True)


class ShipmentPricesOut(ma.Schema):
    shipment_id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(PriceLineOut))
    groups = ma.fields.List(ma.fields.Nested(PricedGroupOut),
                            metadata={"description": "The packs carried per GTIN and batch, at their price"})
    total_value = ma.fields.Integer()
    unpriced_packs = ma.fields.Integer()


class CostLineIn(ma.Schema):
    gtin = _gtin(required=True)
    batch = _batch(load_default=None, allow_none=True,
                   metadata={"description": "Only this batch; leave out for every batch of the GTIN"})
    unit_cost = ma.fields.Integer(required=True, validate=_MONEY, metadata={"description": "Minor units"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.PriceLine(Gtin.parse(data["gtin"]).value, data["batch"], data["unit_cost"])


class CostLinesIn(ma.Schema):
    lines = ma.fields.List(ma.fields.Nested(CostLineIn), required=True, validate=validate.Length(max=1000),
                           metadata={"description": "Replace every line set before (empty: clear)"})


class CostLineOut(ma.Schema):
    gtin = ma.fields.String()
    batch = ma.fields.String(allow_none=True)
    unit_cost = ma.fields.Integer()
    set_at = ma.fields.DateTime()


class DeclarationCostsOut(ma.Schema):
    declaration_id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(CostLineOut))


class RetailPriceIn(ma.Schema):
    gtin = _gtin(required=True)
    price = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=10**12),
                              metadata={"description": "Retail price of a pack, minor units"})
    organisation_id = ma.fields.Integer(load_default=None, metadata={"description": "Default: the caller's own"})
    location_id = ma.fields.Integer(load_default=None, allow_none=True,
                                    metadata={"description": "Only this location; leave out for all of them"})
    valid_from = ma.fields.Date(load_default=None, metadata={"description": "Today (default) or later"})

    @ma.post_load
    def command(self, data, **kwargs):
        return svc.SetRetailPrice(Gtin.parse(data["gtin"]).value, data["price"], data["organisation_id"],
                                  data["location_id"], data["valid_from"])


class RetailPriceOut(ma.Schema):
    id = ma.fields.Integer()
    organisation_id = ma.fields.Integer()
    location_id = ma.fields.Integer(allow_none=True)
    gtin = ma.fields.String()
    trade_name = ma.fields.String(allow_none=True)
    price = ma.fields.Integer()
    valid_from = ma.fields.Date()
    set_at = ma.fields.DateTime()
    set_by = ma.fields.Integer(allow_none=True)
    current = ma.fields.Boolean(metadata={"description": "In force today"})
    scheduled = ma.fields.Boolean(metadata={"description": "Starts on a later day"})
    max_retail_price = ma.fields.Integer(allow_none=True,
                                         metadata={"description": "Today's regulated maximum retail price"})
    above_maximum = ma.fields.Boolean(
        metadata={"description": "The regulated maximum has since been lowered below this price"})


class PriceQueryIn(PageQuery):
    organisation_id = ma.fields.Integer(load_default=None)
    location_id = ma.fields.Integer(load_default=None)
    gtin = _gtin(load_default=None)
    history = ma.fields.Boolean(load_default=False, metadata={"description": "Superseded prices too"})

    @ma.post_load
    def query(self, data, **kwargs):
        gtin = Gtin.parse(data["gtin"]).value if data.get("gtin") else None
        return svc.PriceQuery(data["organisation_id"], data["location_id"], gtin, data["history"], data["page"],
                              data["per_page"])


RetailPricePage = page_schema(RetailPriceOut, "RetailPricePage")


class ValueQueryIn(PageQuery):
    location_id = ma.fields.Integer(required=True)


class ValueLineOut(ma.Schema):
    gtin = ma.fields.String()
    trade_name = ma.fields.String(allow_none=True)
    quantity = ma.fields.Integer()
    purchase_value = ma.fields.Integer(metadata={"description": "The ledger's value, by the valuation method"})
    retail_price = ma.fields.Integer(allow_none=True)
    price_source = ma.fields.String(allow_none=True,
                                    metadata={"description": "LOCATION, ORGANISATION (own prices) or MAXIMUM "
                                                             "(the regulated maximum, no own price)"})
    retail_value = ma.fields.Integer(allow_none=True)
    margin = ma.fields.Integer(allow_none=True, metadata={"description": "retail_value - purchase_value"})


class ValueTotalsOut(ma.Schema):
    products = ma.fields.Integer()
    quantity = ma.fields.Integer()
    purchase_value = ma.fields.Integer()
    retail_value = ma.fields.Integer(metadata={"description": "Of the products with a price"})
    margin = ma.fields.Integer(metadata={"description": "Of the products with a price"})
    unpriced_products = ma.fields.Integer()


class StockValueOut(page_schema(ValueLineOut, "StockValuePage")):
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    organisation_id = ma.fields.Integer()
    method = ma.fields.String(metadata={"description": "The organisation's valuation method"})
    totals = ma.fields.Nested(ValueTotalsOut)


class LocationValueQueryIn(PageQuery):
    organisation_id = ma.fields.Integer(load_default=None)


class LocationValueOut(ValueTotalsOut):
    location_id = ma.fields.Integer()
    location_name = ma.fields.String()
    gln = ma.fields.String()
    organisation_id = ma.fields.Integer()
    organisation_name = ma.fields.String()


LocationValuePage = page_schema(LocationValueOut, "LocationValuePage")
