"""Internal transfers: non-serialized stock moved between two locations of one organisation (a
pharmacy chain's branches, an importer's warehouses), on one transfer note, at once.

Each line leaves the sending location as TRANSFER_OUT, valued by the sender's method (weighted
average or FIFO), and arrives as TRANSFER_IN at exactly that value: the cost per unit is the
value moved divided by the quantity, and when that does not divide evenly the line arrives as
two movements (``q - r`` units at ``v // q`` and ``r`` units at ``v // q + 1``), so no minor unit
is lost or made. All lines or none; both locations' balance rows are locked together in key
order, so a transfer and a sale at either end queue up and never deadlock.

Serialized packs move with custody instead: ship them to the other location and receive them
there (``pharma.trace``). Stock between organisations goes on their documents (a supplier's
invoice, a return to the supplier), never as a transfer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pharma.parties.policy import authorize
from pharma.shared.errors import RuleViolation, ValidationFailed
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import InsufficientStock, Kind, Move, SerializedStock
from pharma.stock.ledger import lock_balances, post
from pharma.stock.services import Posted, _document, _location

DOCUMENT_TYPE = "transfer_note"
MAX_LINES = 1000


class TransferBetweenOrganisations(RuleViolation):
    code = "TRANSFER_BETWEEN_ORGANISATIONS"
    title = "Transfers stay within one organisation"


class TransferToItself(RuleViolation):
    code = "TRANSFER_TO_SAME_LOCATION"
    title = "A transfer needs two different locations"


@dataclass(frozen=True)
class TransferLine:
    gtin: str
    batch: str
    quantity: int


@dataclass(frozen=True)
class TransferStock:
    from_location_id: int
    to_location_id: int
    document: str  # the transfer note
    lines: tuple[TransferLine, ...]
    note: str = ""


@dataclass
class Transferred:
    """What a transfer posted: both ends' movements."""

    document_id: str
    sent: Posted
    received: Posted


def arrivals(quantity: int, value: int) -> list[tuple[int, int]]:
    """(units, unit cost) lines that bring ``quantity`` units in at exactly ``value`` minor units."""
    unit, rest = divmod(value, quantity)
    if rest == 0:
        return [(quantity, unit)]
    return [(quantity - rest, unit), (rest, unit + 1)]


def transfer_stock(uow: UnitOfWork, cmd: TransferStock) -> Transferred:
    """Move non-serialized stock between two locations of one organisation (DESIGN.md "Stock": transfer
    out, transfer in), at the value it has at the sender; all lines or none."""
    authorize(uow.actor, "stock.write")
    doc = _document(cmd.document)
    if not cmd.lines:
        raise ValidationFailed({"lines": ["List at least one line."]})
    if len(cmd.lines) > MAX_LINES:
        raise ValidationFailed({"lines": [f"At most {MAX_LINES} lines per transfer note."]})
    if cmd.from_location_id == cmd.to_location_id:
        raise TransferToItself("Choose another location to send the stock to.")
    with uow:
        source = _location(uow, cmd.from_location_id, "stock.write")
        target = _location(uow, cmd.to_location_id, "stock.write")
        if source.organisation_id != target.organisation_id:
            raise TransferBetweenOrganisations(
                f"{target.name} belongs to another organisation: stock goes there on a supplier's invoice or a "
                "return, not a transfer.")
        wanted: dict[tuple[str, str], int] = {}
        for line in cmd.lines:
            wanted[(line.gtin, line.batch)] = wanted.get((line.gtin, line.batch), 0) + line.quantity
        keys = [(loc, gtin, lot) for gtin, lot in wanted for loc in (source.id, target.id)]
        held = lock_balances(uow.session, keys)  # both ends, in key order
        out = []
        for (gtin, lot), quantity in wanted.items():
            row = held.get((source.id, gtin, lot))
            if row is None or row.quantity < quantity:
                raise InsufficientStock(
                    f"Only {row.quantity if row else 0} of batch {lot} ({gtin}) on hand at {source.name}; "
                    f"{quantity} wanted.",
                    shortages=[{"location_id": source.id, "gtin": gtin, "batch": lot, "wanted": quantity,
                                "on_hand": row.quantity if row else 0}])
            if row.serialized:
                raise SerializedStock(f"Batch {lot} of {gtin} is serialized: ship its packs to {target.name} and "
                                      "receive them there.")
            there = held.get((target.id, gtin, lot))
            if there is not None and there.serialized:
                raise SerializedStock(f"Batch {lot} of {gtin} is kept serialized at {target.name}.")
            out.append(Move(source.id, gtin, lot, row.expiry, row.expiry_raw, Kind.TRANSFER_OUT, -quantity))
        sent = post(uow, out, (DOCUMENT_TYPE, doc), held=held)
        arriving = [Move(target.id, r["gtin"], r["batch"], r["expiry"], r["expiry_raw"], Kind.TRANSFER_IN, units,
                         unit_cost=cost)
                    for r in sent for units, cost in arrivals(-r["quantity"], -r["value"]) if units]
        received = post(uow, arriving, (DOCUMENT_TYPE, doc), held=held)
        uow.audit("stock.transfer", "location", source.id,
                  {"document": doc, "to_location_id": target.id, "note": cmd.note[:500],
                   "lines": [{"gtin": r["gtin"], "batch": r["batch"], "quantity": -r["quantity"]}
                             for r in sent][:100]}, count=len(sent))
        uow.commit()
    return Transferred(doc, Posted(source.id, DOCUMENT_TYPE, doc, sent),
                       Posted(target.id, DOCUMENT_TYPE, doc, received))
