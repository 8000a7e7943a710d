"""/api/v1/stock: the valuation method, cost layers, purchase prices of serialized packs (shipments,
declarations), retail prices and the stock value report."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.stock import prices as svc
from pharma.stock import valuation
from pharma.stock import valuation_schemas as s

blp = Blueprint("stock_valuation_api", __name__, url_prefix="/api/v1/stock",
                description="Stock valuation, purchase and retail prices, stock value")


@blp.get("/valuation")
@blp.arguments(s.MethodQueryIn, location="query")
@blp.response(200, s.MethodOut)
def method(args):
    """An organisation's valuation method: WEIGHTED_AVERAGE (the default) or FIFO."""
    return valuation.get_method(uow(), args["organisation_id"])


@blp.put("/valuation")
@blp.arguments(s.MethodIn)
@blp.response(200, s.MethodChangeOut)
def set_method(args):
    """Choose the valuation method of the caller's organisation (head pharmacist, importer).

    With stock on hand nothing is refused: switching to FIFO lays each balance as cost layers worth
    exactly its value; switching to the weighted average drops the layers. Balance values do not
    change at the switch."""
    return valuation.set_method(uow(), args["organisation_id"], args["method"]).__dict__


@blp.get("/valuation/layers")
@blp.arguments(s.LayerQueryIn, location="query")
@blp.response(200, s.LayerOut(many=True))
def layers(args):
    """The FIFO cost layers on hand at a location, oldest first (none under the weighted average)."""
    return valuation.layers_of(uow(), args["location_id"], args["gtin"])


@blp.get("/shipment-prices/<int:shipment_id>")
@blp.response(200, s.ShipmentPricesOut)
def shipment_prices(shipment_id):
    """A shipment's unit prices (the sender's selling prices, the receiver's purchase cost) and what
    its packs are worth at them; for the sender, the receiver and the agency."""
    return svc.shipment_prices(uow(), shipment_id)


@blp.put("/shipment-prices/<int:shipment_id>")
@blp.arguments(s.PriceLinesIn)
@blp.response(200, s.ShipmentPricesOut)
def set_shipment_prices(args, shipment_id):
    """The sender prices a shipment in transit, per GTIN or per batch (a batch line wins over its
    GTIN's); the lines replace those set before. The receiver's TRANSFER_IN carries them when the
    shipment is received. Received already: 409 SHIPMENT_ALREADY_RECEIVED; a GTIN or batch the
    shipment does not carry: 422 NOT_ON_SHIPMENT."""
    return svc.set_shipment_prices(uow(), shipment_id, args["lines"])


@blp.get("/declaration-costs/<int:declaration_id>")
@blp.response(200, s.DeclarationCostsOut)
def declaration_costs(declaration_id):
    """A declaration's import unit costs."""
    return svc.declaration_costs(uow(), declaration_id)


@blp.put("/declaration-costs/<int:declaration_id>")
@blp.arguments(s.CostLinesIn)
@blp.response(200, s.DeclarationCostsOut)
def set_declaration_costs(args, declaration_id):
    """The importer's import unit costs of a declaration not yet processed, per GTIN or per batch;
    the commissioned packs come in at them. Processed already: 409 DECLARATION_ALREADY_PROCESSED."""
    return svc.set_declaration_costs(uow(), declaration_id, args["lines"])


@blp.get("/prices")
@blp.arguments(s.PriceQueryIn, location="query")
@blp.response(200, s.RetailPricePage)
def prices(query):
    """An organisation's retail prices (of one location: its own and the organisation-wide ones):
    those in force today and those set for a later day; ``history=true`` adds the superseded ones."""
    return svc.list_prices(uow(), query).to_dict()


@blp.post("/prices")
@blp.arguments(s.RetailPriceIn)
@blp.response(201, s.RetailPriceOut)
def set_price(cmd):
    """Set a retail price of a pack (head pharmacist), for the organisation or one location, from
    today or a later day. Above the regulated maximum retail price in force then: 409
    PRICE_ABOVE_MAXIMUM (with ``max_retail_price``)."""
    return svc.set_retail_price(uow(), cmd)


@blp.get("/value")
@blp.arguments(s.ValueQueryIn, location="query")
@blp.response(200, s.StockValueOut)
def value(args):
    """A location's stock value by product: quantity, purchase value, retail value at the current
    retail price (own price, else the regulated maximum), margin; with totals."""
    return svc.stock_value(uow(), args["location_id"], args["page"], args["per_page"]).to_dict()


@blp.get("/value/locations")
@blp.arguments(s.LocationValueQueryIn, location="query")
@blp.response(200, s.LocationValuePage)
def value_by_location(args):
    """Stock value totals per location holding stock: the caller's own organisation's; the agency
    sees every location (optionally of one organisation)."""
    return svc.value_by_location(uow(), args["organisation_id"], args["page"], args["per_page"]).to_dict()
