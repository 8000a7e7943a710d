"""/api/v1/supply: stock levels, the reorder proposal, and supply requests from a pharmacy to a
wholesaler or importer (send, cancel, acknowledge, reject, ship against)."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.stock import supply_schemas as s
from pharma.stock import supply_services as svc

blp = Blueprint("supply_api", __name__, url_prefix="/api/v1/supply",
                description="Supply requests: stock levels, reorder proposals, requests to wholesalers")


@blp.get("/levels")
@blp.arguments(s.SupplyLocationQueryIn, location="query")
@blp.response(200, s.SupplyLevelsOut)
def levels(query):
    """A location's minimum and maximum stock levels per product, in packs."""
    return {"location_id": query["location_id"], "levels": svc.levels_of(uow(), query["location_id"])}


@blp.put("/levels")
@blp.arguments(s.SupplyLevelsIn)
@blp.response(200, s.SupplyLevelsOut)
def set_levels(cmd):
    """Set the levels listed (insert or change) and remove those named in ``remove``; all or nothing.

    Each level needs 0 <= min_quantity <= max_quantity (else 422 LEVELS_OUT_OF_ORDER); an unknown GTIN
    is 409 UNREGISTERED_PRODUCT. Returns all the location's levels."""
    return {"location_id": cmd.location_id, "levels": svc.set_levels(uow(), cmd)}


@blp.get("/proposal")
@blp.arguments(s.SupplyProposalQueryIn, location="query")
@blp.response(200, s.SupplyProposalOut)
def proposal(query):
    """The reorder proposal of a location: per product with a level or recent consumption, on hand
    (sellable), in transit, already requested, average daily consumption over ``days`` days, and the
    packs to order: max - (on hand + in transit + requested) when the stock projected over the lead
    time falls to or below the minimum (levels suggested from consumption where none is set)."""
    return svc.proposal(uow(), query["location_id"], query["days"]).to_dict()


@blp.get("/suppliers")
@blp.response(200, s.SupplySupplierOut(many=True))
def suppliers():
    """Wholesalers and importers a request may be sent to (a wholesale or import licence in force)."""
    return svc.suppliers(uow())


@blp.get("/requests")
@blp.arguments(s.SupplyRequestQueryIn, location="query")
@blp.response(200, s.RequestPage)
def list_requests(query):
    """Supply requests, newest first: a pharmacy's own, a supplier's incoming (sent to it), all for the agency."""
    return svc.list_requests(uow(), query).to_dict()


@blp.post("/requests")
@blp.arguments(s.SupplyNewRequestIn)
@blp.response(201, s.SupplyRequestOut)
def create_request(cmd):
    """Open a DRAFT request for one of the pharmacy's locations: the lines given, or (``from_proposal``)
    the proposal's products to order. Nothing to order: 409 SUPPLY_REQUEST_EMPTY."""
    return svc.create_request(uow(), cmd).to_dict()


@blp.get("/requests/<int:request_id>")
@blp.response(200, s.SupplyRequestOut)
def get_request(request_id):
    """A request with, per line, the packs requested, shipped against it and still to ship."""
    return svc.get_request(uow(), request_id).to_dict()


@blp.put("/requests/<int:request_id>/lines")
@blp.arguments(s.SupplyEditRequestIn)
@blp.response(200, s.SupplyRequestOut)
def edit_request(cmd, request_id):
    """Replace a DRAFT request's lines (and note). Not a draft: 409 SUPPLY_REQUEST_STATE."""
    return svc.edit_request(uow(), request_id, cmd).to_dict()


@blp.post("/requests/<int:request_id>/send")
@blp.arguments(s.SupplySendIn)
@blp.response(200, s.SupplyRequestOut)
def send(args, request_id):
    """Send a DRAFT request to a wholesaler or importer; one without a wholesale or import licence in
    force is 409 SUPPLIER_NOT_LICENSED."""
    return svc.send_request(uow(), request_id, args["supplier_id"]).to_dict()


@blp.post("/requests/<int:request_id>/cancel")
@blp.arguments(s.SupplyReasonIn)
@blp.response(200, s.SupplyRequestOut)
def cancel(args, request_id):
    """The pharmacy cancels its request: a draft, or a sent request the supplier has not acknowledged."""
    return svc.cancel_request(uow(), request_id, args["reason"]).to_dict()


@blp.post("/requests/<int:request_id>/close")
@blp.arguments(s.SupplyReasonIn)
@blp.response(200, s.SupplyRequestOut)
def close(args, request_id):
    """Close a PARTIALLY_SHIPPED request short, saying why: the pharmacy no longer waits for the rest,
    or the supplier cannot deliver it (CLOSED_SHORT)."""
    return svc.close_short(uow(), request_id, args["reason"]).to_dict()


@blp.post("/requests/<int:request_id>/acknowledge")
@blp.response(200, s.SupplyRequestOut)
def acknowledge(request_id):
    """The supplier acknowledges a SENT request addressed to it; of two at once, one wins."""
    return svc.acknowledge_request(uow(), request_id).to_dict()


@blp.post("/requests/<int:request_id>/reject")
@blp.arguments(s.SupplyRejectIn)
@blp.response(200, s.SupplyRequestOut)
def reject(args, request_id):
    """The supplier rejects a request it has not shipped against, with a reason."""
    return svc.reject_request(uow(), request_id, args["reason"]).to_dict()


@blp.post("/requests/<int:request_id>/shipments")
@blp.arguments(s.SupplyShipAgainstIn)
@blp.response(201, s.SupplyShippedOut)
def ship(cmd, request_id):
    """Ship packs and cases (SSCCs) from one of the supplier's locations to the requesting location
    against the request. Only requested GTINs (409 PRODUCT_NOT_REQUESTED), up to what each line still
    waits for (409 MORE_THAN_REQUESTED); packs refused by custody rules are 409 PACKS_REFUSED. The
    request becomes PARTIALLY_SHIPPED, or FULFILLED when every line is shipped in full."""
    view, number = svc.ship_against(uow(), request_id, cmd)
    return {"shipment_number": number, "request": view.to_dict()}
