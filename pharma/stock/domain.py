"""Stock rules: movement kinds and reasons, the weighted-average valuation, FEFO picking.

Plain classes and functions, no session: the ledger service (``pharma.stock.ledger``) applies them
to the balance rows it has locked.

Valuation: **weighted average cost**, per (location, GTIN, batch). A balance keeps its quantity and
its value (minor units). A receipt adds ``quantity * unit_cost`` to the value; every outgoing
movement takes out ``value * n // quantity`` (the last unit takes all that is left, so the value of
an empty balance is always 0 and rounding never accumulates). Serialized packs come in at the
sender's prices on the shipment or the importer's declared costs, else at no cost
(``pharma.stock.prices``). An organisation may choose FIFO instead (``pharma.stock.valuation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pharma.shared.errors import RuleViolation


class Kind(StrEnum):
    RECEIPT = "RECEIPT"
    TRANSFER_IN = "TRANSFER_IN"
    TRANSFER_OUT = "TRANSFER_OUT"
    SALE = "SALE"
    DISPENSE = "DISPENSE"
    WRITE_OFF = "WRITE_OFF"
    RETURN = "RETURN"  # to the supplier
    ADJUSTMENT = "ADJUSTMENT"  # a count, an undone write-off, the opening balance


INCOMING = frozenset({Kind.RECEIPT, Kind.TRANSFER_IN})
OUTGOING = frozenset({Kind.TRANSFER_OUT, Kind.SALE, Kind.DISPENSE, Kind.WRITE_OFF, Kind.RETURN})


class Reason(StrEnum):
    EXPIRED = "EXPIRED"
    DAMAGED = "DAMAGED"
    DESTROYED = "DESTROYED"
    STOLEN = "STOLEN"
    SAMPLE = "SAMPLE"
    EXPORTED = "EXPORTED"
    LOCKED = "LOCKED"
    UNDO = "UNDO"  # a decommissioning undone: the packs are back in stock
    FOUND = "FOUND"  # a pack missing at receipt, found by the receiver
    RETURNED = "RETURNED"  # a pack missing at receipt, back with the sender
    LOST = "LOST"  # a pack lost in transit: back on the sender's books, then written off as stolen
    OPENING = "OPENING"  # the balance the ledger started from
    SURPLUS = "SURPLUS"  # a count found more than the books
    SHORTAGE = "SHORTAGE"  # a count found less than the books
    OTHER = "OTHER"


# what a pharmacist may write off by quantity (serialized packs are decommissioned in trace)
WRITE_OFF_REASONS = (Reason.EXPIRED, Reason.DAMAGED, Reason.DESTROYED, Reason.STOLEN, Reason.SAMPLE, Reason.OTHER)
ISSUE_KINDS = (Kind.SALE, Kind.DISPENSE)


class InsufficientStock(RuleViolation):
    code = "INSUFFICIENT_STOCK"
    title = "Not enough stock"

    def __init__(self, detail: str | None = None, shortages: list[dict] | None = None) -> None:
        super().__init__(detail, shortages=shortages or [])
        self.shortages = shortages or []


class SerializedStock(RuleViolation):
    code = "SERIALIZED_STOCK"
    title = "Serialized packs move by scanning them"


class BatchNotSellable(RuleViolation):
    code = "BATCH_NOT_SELLABLE"
    title = "The batch may not be sold"


class ProductNotRegistered(RuleViolation):
    code = "UNREGISTERED_PRODUCT"
    title = "The product is not in the register"


class ExpiryMismatch(RuleViolation):
    code = "EXPIRY_MISMATCH"
    title = "The batch is already kept with another expiry"


@dataclass(frozen=True)
class Move:
    """One ledger line to post: ``quantity`` signed (+ in, - out)."""

    location_id: int
    gtin: str
    batch: str
    expiry: date
    expiry_raw: str
    kind: str
    quantity: int
    reason: str | None = None
    unit_cost: int | None = None
    serialized: bool = False

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.location_id, self.gtin, self.batch)


def value_out(quantity: int, value: int, n: int) -> int:
    """The value ``n`` units take out of a balance at its weighted-average cost."""
    if n >= quantity:
        return value
    return value * n // quantity


def expiry_raw_of(when: date) -> str:
    return when.strftime("%y%m%d")


@dataclass(frozen=True)
class Lot:
    """A sellable candidate for FEFO: a batch on hand at a location."""

    batch: str
    expiry: date
    quantity: int


def pick_fefo(lots: list[Lot], wanted: int, today: date) -> tuple[list[tuple[Lot, int]], int]:
    """First expiry, first out: take ``wanted`` units from the earliest-expiring unexpired lots
    (ties by batch code). Returns the picks and the shortfall (0 when fully served)."""
    picks: list[tuple[Lot, int]] = []
    left = wanted
    for lot in sorted((lot for lot in lots if lot.expiry >= today and lot.quantity > 0),
                      key=lambda lot: (lot.expiry, lot.batch)):
        if left <= 0:
            break
        take = min(left, lot.quantity)
        picks.append((lot, take))
        left -= take
    return picks, max(left, 0)
