"""/api/v1/stock/write-off-acts and /api/v1/stock/returns: the stock documents, drafted line by
line and then confirmed (an act), or sent and confirmed or rejected by the supplier (a return)."""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.stock import acts, returns
from pharma.stock import documents_schemas as s
from pharma.stock.documents import line_dict

blp = Blueprint("stock_documents_api", __name__, url_prefix="/api/v1/stock",
                description="Write-off acts and returns to the supplier")

ACTS = "/write-off-acts"
RETURNS = "/returns"


def act_out(act) -> dict:
    return {**acts.act_summary(act), "lines": [line_dict(line) for line in act.lines]}


def return_out(ret) -> dict:
    return {**returns.return_summary(ret),
            "lines": [{**line_dict(line), "value": line.value, "source_shipment_id": line.source_shipment_id}
                      for line in ret.lines]}


# ---------------------------------------------------------------- write-off acts


@blp.post(ACTS)
@blp.arguments(s.ActIn)
@blp.response(201, s.ActOut)
def create_act(cmd):
    """Draft a write-off act for a location (reason EXPIRED, DAMAGED, DESTROYED, STOLEN, SAMPLE or OTHER).

    Its number is WO-<year>-<sequence>. Add lines, then the head pharmacist confirms it."""
    return act_out(acts.create_act(uow(), cmd))


@blp.get(ACTS)
@blp.arguments(s.ActQueryIn, location="query")
@blp.response(200, s.ActPage)
def list_acts(query):
    """Write-off acts newest first: the caller's organisation's (the agency: any), by location and status."""
    return acts.list_acts(uow(), query).to_dict()


@blp.get(f"{ACTS}/<int:act_id>")
@blp.response(200, s.ActOut)
def get_act(act_id):
    """A write-off act with its lines."""
    return act_out(acts.get_act(uow(), act_id))


@blp.post(f"{ACTS}/<int:act_id>/lines")
@blp.arguments(s.LinesIn)
@blp.response(200, s.ActOut)
def add_act_lines(cmd, act_id):
    """Add lines to a draft act: raw scans of serialized packs (parsed by the server), packs by GTIN and
    serial, batches without serials by quantity. Each must be in the location's stock now: else 409
    LINES_REFUSED listing every refused line with its code (UNKNOWN_PACK, NOT_IN_CUSTODY,
    PACK_IN_TRANSIT, PACK_NOT_ACTIVE, SERIALIZED_STOCK, INSUFFICIENT_STOCK); nothing is added."""
    return act_out(acts.add_act_lines(uow(), act_id, cmd))


@blp.delete(f"{ACTS}/<int:act_id>/lines/<int:line_id>")
@blp.response(200, s.ActOut)
def remove_act_line(act_id, line_id):
    """Take a line off a draft act."""
    return act_out(acts.remove_act_line(uow(), act_id, line_id))


@blp.post(f"{ACTS}/<int:act_id>/confirm")
@blp.response(200, s.ActOut)
def confirm_act(act_id):
    """Confirm a draft act (the head pharmacist): in one transaction the quantity lines are written off
    (WRITE_OFF movements on document ("write_off_act", number)) and the packs decommissioned
    (EXPIRED/DAMAGED/DESTROYED/OTHER: DESTROYED; STOLEN; SAMPLE) with the same document. A line not
    possible any more refuses it all: 409 LINES_REFUSED with the failing lines. Not a draft any more:
    409 DOCUMENT_NOT_DRAFT."""
    return act_out(acts.confirm_act(uow(), act_id))


@blp.post(f"{ACTS}/<int:act_id>/cancel")
@blp.response(200, s.ActOut)
def cancel_act(act_id):
    """Cancel a draft act; nothing is posted."""
    return act_out(acts.cancel_act(uow(), act_id))


# ---------------------------------------------------------------- returns to the supplier


@blp.post(RETURNS)
@blp.arguments(s.ReturnIn)
@blp.response(201, s.ReturnOut)
def create_return(cmd):
    """Draft a return of a pharmacy's stock to its supplier (a licensed importer or wholesaler).

    Its number is RT-<year>-<sequence>. Without ``supplier_location_id`` the first scanned pack sets
    the supplier: the sender of the delivery that brought it."""
    return return_out(returns.create_return(uow(), cmd))


@blp.get(RETURNS)
@blp.arguments(s.ReturnQueryIn, location="query")
@blp.response(200, s.ReturnPage)
def list_returns(query):
    """Returns newest first: ``outgoing`` (the caller's pharmacy's), ``incoming`` (sent to the caller as
    supplier), or both; the agency sees all."""
    return returns.list_returns(uow(), query).to_dict()


@blp.get(f"{RETURNS}/<int:return_id>")
@blp.response(200, s.ReturnOut)
def get_return(return_id):
    """A return with its lines, for the pharmacy, its supplier and the agency."""
    return return_out(returns.get_return(uow(), return_id))


@blp.post(f"{RETURNS}/<int:return_id>/lines")
@blp.arguments(s.LinesIn)
@blp.response(200, s.ReturnOut)
def add_return_lines(cmd, return_id):
    """Add lines to a draft return. A pack must be in the pharmacy's stock, unexpired, and have come on
    a delivery from the return's supplier (NOT_DELIVERED_HERE, OTHER_SUPPLIER); refusals: 409
    LINES_REFUSED with every refused line; nothing is added."""
    return return_out(returns.add_return_lines(uow(), return_id, cmd))


@blp.delete(f"{RETURNS}/<int:return_id>/lines/<int:line_id>")
@blp.response(200, s.ReturnOut)
def remove_return_line(return_id, line_id):
    """Take a line off a draft return."""
    return return_out(returns.remove_return_line(uow(), return_id, line_id))


@blp.post(f"{RETURNS}/<int:return_id>/send")
@blp.response(200, s.ReturnOut)
def send_return(return_id):
    """Send a draft return, every line or none: the packs go on a RETURN shipment to the supplier's
    location (RETURN movements), the quantities leave the books as RETURN movements on ("return",
    number)."""
    return return_out(returns.send_return(uow(), return_id))


@blp.post(f"{RETURNS}/<int:return_id>/confirm")
@blp.response(200, s.ReturnOut)
def confirm_return(return_id):
    """The supplier takes a sent return in: its shipment received in full, its quantities posted as
    TRANSFER_IN (RETURNED) at the supplier's location. Decided already: 409 DOCUMENT_STATE."""
    return return_out(returns.confirm_return(uow(), return_id))


@blp.post(f"{RETURNS}/<int:return_id>/reject")
@blp.arguments(s.RejectIn)
@blp.response(200, s.ReturnOut)
def reject_return(body, return_id):
    """The supplier refuses a sent return, saying why: the quantities go back on the pharmacy's books
    (ADJUSTMENT, RETURNED), the packs are shipped straight back to the pharmacy on a new delivery
    (``back_shipment_id``), which it receives like any other."""
    return return_out(returns.reject_return(uow(), return_id, body["reason"]))


@blp.post(f"{RETURNS}/<int:return_id>/cancel")
@blp.response(200, s.ReturnOut)
def cancel_return(return_id):
    """Cancel a draft return; nothing is posted."""
    return return_out(returns.cancel_return(uow(), return_id))
