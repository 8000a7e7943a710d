"""/api/v1/trace: shipments, receipts, returns, decommissioning and undo, recalls and withdrawals."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.trace import missing
from pharma.trace import movements as svc
from pharma.trace import schemas_movements as s

blp = Blueprint("movements_api", __name__,
                url_prefix="/api/v1/trace",
                description="Shipments, receipts, decommissioning, recalls and withdrawals")


@blp.post("/shipments")
@blp.arguments(s.ShipIn)
@blp.response(201, s.ShipmentDetail)
def ship(args):
    """Ship packs and cases to another licensed organisation's location (a delivery, or a return)."""
    return svc.ship(uow(), s.ship_command(args))


@blp.get("/shipments")
@blp.arguments(s.ShipmentQuery, location="query")
@blp.response(200, s.ShipmentPage)
def list_shipments(args):
    """Shipments to and from your organisation (the agency sees all), newest first."""
    return svc.list_shipments(uow(), svc.ShipmentQuery(**args)).to_dict()


@blp.get("/shipments/<int:shipment_id>")
@blp.arguments(s.ShipmentPacksQuery, location="query")
@blp.response(200, s.ShipmentDetail)
def get_shipment(args, shipment_id):
    """One shipment, its pack counts by outcome, and a page of its packs with how each arrived.

    An ordinary shipment's packs fit on the first page (1,000 by default); page through a large one
    with ``page`` and ``per_page``, or list only the packs of one outcome (``outcome=MISSING``)."""
    return svc.get_shipment(uow(), shipment_id, s.pack_list_query(args))


@blp.post("/shipments/<int:shipment_id>/receive")
@blp.arguments(s.ReceiveIn)
@blp.response(200, s.ShipmentDetail)
def receive(args, shipment_id):
    """Receive a shipment by the cases and packs scanned: accepted at once, discrepancies flagged."""
    return svc.receive(uow(), shipment_id, s.receipt(args))


@blp.post("/shipments/<int:shipment_id>/missing")
@blp.arguments(s.ResolveMissingIn)
@blp.response(200, s.ShipmentDetail)
def resolve_missing(args, shipment_id):
    """Resolve packs missing at receipt: FOUND by the receiver, RETURNED to or LOST by the sender.

    FOUND moves custody to the receiver, as a late receipt; RETURNED takes the packs off the shipment,
    still in the sender's custody; LOST makes them STOLEN at the sender's location (give the reason in
    ``note``). All or nothing: each pack that is not missing on this shipment, or already resolved, is
    listed in the 409 PACKS_REFUSED problem with its own code."""
    return missing.resolve_missing(uow(), shipment_id, s.resolve_command(args))


@blp.post("/decommissions")
@blp.arguments(s.DecommissionIn)
@blp.response(200, s.StateChangeOut)
def decommission(args):
    """Decommission packs in your custody: destroyed, stolen, exported, sample or locked."""
    return svc.decommission(uow(), svc.Decommission(**{**args, "packs": tuple(args["packs"])}))


@blp.post("/undos")
@blp.arguments(s.UndoIn)
@blp.response(200, s.StateChangeOut)
def undo(args):
    """Make decommissioned packs active again (same location, within 10 days; LOCKED any time)."""
    return svc.undo(uow(), svc.Undo(**{**args, "packs": tuple(args["packs"])}))


@blp.post("/recalls")
@blp.arguments(s.RecallIn)
@blp.response(201, s.BatchRecallOut)
def recall_batch(args):
    """Recall a batch: every pack of it is recalled at once (regulator; final)."""
    return svc.recall_batch(uow(), args["gtin"], args["batch"], args["reason"])


@blp.get("/recalls")
@blp.arguments(s.RecallQuery, location="query")
@blp.response(200, s.RecallPage)
def list_recalls(args):
    """Recalled batches and withdrawn products, newest first."""
    return svc.list_recalls(uow(), args["page"], args["per_page"]).to_dict()


@blp.post("/withdrawals")
@blp.arguments(s.WithdrawIn)
@blp.response(201, s.WithdrawalOut)
def withdraw_product(args):
    """Withdraw a product from the market: every pack of it at once (regulator; final)."""
    return svc.withdraw_product(uow(), args["product_id"], args["reason"])
