"""/api/v1/stock: receipts, issues (sale, dispense) and write-offs by quantity; stock on hand, the
journal of movements and the stock card."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.stock import schemas as s
from pharma.stock import services as svc

blp = Blueprint("stock_api", __name__, url_prefix="/api/v1/stock",
                description="Each location's stock ledger and balances")


@blp.post("/receipts")
@blp.arguments(s.ReceiptIn)
@blp.response(201, s.PostedOut)
def receive(cmd):
    """Receive non-serialized stock (plain EAN-13 products) by batch and quantity, at its unit cost.

    Serialized batches are refused (409 SERIALIZED_STOCK): they come in by receiving a shipment."""
    return svc.receive_stock(uow(), cmd)


@blp.post("/issues")
@blp.arguments(s.IssueIn)
@blp.response(201, s.PostedOut)
def issue(cmd):
    """Sell or dispense non-serialized stock by GTIN and quantity: FEFO over the sellable batches
    (never expired or recalled), split across batches; or the batch named. Not enough: 409
    INSUFFICIENT_STOCK, nothing moves."""
    return svc.issue_stock(uow(), cmd)


@blp.post("/write-offs")
@blp.arguments(s.WriteOffIn)
@blp.response(201, s.PostedOut)
def write_off(cmd):
    """Write off non-serialized stock by batch (expired, damaged, destroyed, stolen, sample, other)."""
    return svc.write_off(uow(), cmd)


@blp.post("/transfers")
@blp.arguments(s.TransferIn)
@blp.response(201, s.TransferredOut)
def transfer(cmd):
    """Move non-serialized stock between two locations of one organisation on a transfer note: TRANSFER_OUT
    at the sender, TRANSFER_IN at the receiver at the same value; all lines or none. Serialized batches are
    refused (409 SERIALIZED_STOCK: ship their packs), another organisation's location too (409
    TRANSFER_BETWEEN_ORGANISATIONS)."""
    from pharma.stock.transfers import transfer_stock

    return transfer_stock(uow(), cmd)


@blp.get("/balances")
@blp.arguments(s.BalanceQueryIn, location="query")
@blp.response(200, s.StockOnHandOut)
def balances(query):
    """A location's stock on hand by product, batch and expiry (earliest expiry first), with totals."""
    return svc.stock_on_hand(uow(), query).to_dict()


@blp.get("/movements")
@blp.arguments(s.MovementQueryIn, location="query")
@blp.response(200, s.MovementPage)
def movements(query):
    """A location's journal of movements, newest first; ``total`` is counted up to 10,000."""
    return svc.journal(uow(), query).to_dict()


@blp.get("/card")
@blp.arguments(s.CardQueryIn, location="query")
@blp.response(200, s.StockCardOut)
def card(args):
    """The stock card of a product (or one batch) at a location: opening balance, movements, closing."""
    return svc.stock_card(uow(), args["location_id"], args["gtin"], args["batch"], args["date_from"],
                          args["date_to"]).to_dict()
