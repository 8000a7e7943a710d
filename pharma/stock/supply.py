"""Supply requests: the rules of stock levels, the reorder proposal and a request's life.

Plain classes and functions, no session: ``pharma.stock.supply_services`` reads the figures and
applies these rules to the rows it has locked.

**Stock levels.** A pharmacist keeps a minimum and a maximum per (location, GTIN), in packs:
``0 <= minimum <= maximum``. A product without a level but with recent sales or dispensing gets
levels *suggested* from its consumption (``suggest_levels``): the minimum covers the lead time
(``LEAD_DAYS`` days of average consumption), the maximum that plus ``COVER_DAYS`` more; both
rounded up to whole packs.

**The reorder rule** (``propose``), per product at a location, all in packs:

- position = on hand (sellable: not expired, not recalled) + in transit to the location (packs on
  shipments addressed to it, not received yet) + already requested (what open requests, drafts
  included, still wait for: each line's quantity less the packs already shipped against it; so a
  draft just made from the proposal is not proposed again);
- projected = position - average daily consumption * ``LEAD_DAYS`` (what is left when a delivery
  ordered today arrives); average daily consumption = SALE + DISPENSE units of the last N days / N;
- when projected <= minimum, propose maximum - position (rounded up; never below 0); otherwise 0.

**A request's life.** ``DRAFT`` (the pharmacy edits its lines) -> ``SENT`` to a licensed wholesaler
or importer -> ``ACKNOWLEDGED`` or ``REJECTED`` (with a reason) by the supplier; shipments made
against it make it ``PARTIALLY_SHIPPED``, then ``FULFILLED`` once every line is shipped in full. The
pharmacy may ``CANCEL`` it until the supplier acknowledges it. A shipment against a request may only
carry the requested products, up to what each line still waits for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from pharma.shared.errors import RuleViolation

LEAD_DAYS = 7  # days from ordering to delivery, covered by the minimum
COVER_DAYS = 14  # days of consumption a delivery should cover beyond the lead time
DEFAULT_DAYS = 30  # consumption window of the proposal
MAX_LEVEL = 1_000_000


class RequestStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    REJECTED = "REJECTED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    FULFILLED = "FULFILLED"
    CLOSED_SHORT = "CLOSED_SHORT"  # partly shipped, the rest no longer expected
    CANCELLED = "CANCELLED"


# statuses whose unshipped quantities count as "already requested" in a proposal
OPEN = frozenset({RequestStatus.DRAFT, RequestStatus.SENT, RequestStatus.ACKNOWLEDGED,
                  RequestStatus.PARTIALLY_SHIPPED})
# what each act may start from
SENDABLE = frozenset({RequestStatus.DRAFT})
EDITABLE = frozenset({RequestStatus.DRAFT})
CANCELLABLE = frozenset({RequestStatus.DRAFT, RequestStatus.SENT})
ACKNOWLEDGEABLE = frozenset({RequestStatus.SENT})
REJECTABLE = frozenset({RequestStatus.SENT, RequestStatus.ACKNOWLEDGED})
SHIPPABLE = frozenset({RequestStatus.SENT, RequestStatus.ACKNOWLEDGED, RequestStatus.PARTIALLY_SHIPPED})
CLOSABLE = frozenset({RequestStatus.PARTIALLY_SHIPPED})  # either side closes it short
# what the supplier sees (a draft is the pharmacy's own until sent)
VISIBLE_TO_SUPPLIER = frozenset(RequestStatus) - {RequestStatus.DRAFT}


class LevelsOutOfOrder(RuleViolation):
    code = "LEVELS_OUT_OF_ORDER"
    title = "The minimum is above the maximum"
    status = 422


class LevelsChanged(RuleViolation):
    code = "LEVELS_CHANGED"
    title = "The levels changed meanwhile"


class RequestNotInState(RuleViolation):
    code = "SUPPLY_REQUEST_STATE"
    title = "The request is not in a state that allows this"


class RequestEmpty(RuleViolation):
    code = "SUPPLY_REQUEST_EMPTY"
    title = "The request has no lines"


class SupplierNotLicensed(RuleViolation):
    code = "SUPPLIER_NOT_LICENSED"
    title = "The supplier holds no wholesale or import licence in force"


class ProductNotRequested(RuleViolation):
    code = "PRODUCT_NOT_REQUESTED"
    title = "The shipment carries products the request does not ask for"


class MoreThanRequested(RuleViolation):
    code = "MORE_THAN_REQUESTED"
    title = "The shipment carries more packs than the request still waits for"


@dataclass(frozen=True)
class Level:
    minimum: int
    maximum: int

    def __post_init__(self) -> None:
        check_level(self.minimum, self.maximum)


def check_level(minimum: int, maximum: int, gtin: str = "") -> None:
    """``0 <= minimum <= maximum <= MAX_LEVEL``."""
    what = f" of {gtin}" if gtin else ""
    if minimum < 0 or maximum < 0:
        raise LevelsOutOfOrder(f"The levels{what} cannot be negative.")
    if maximum > MAX_LEVEL:
        raise LevelsOutOfOrder(f"The maximum{what} is above {MAX_LEVEL}.")
    if minimum > maximum:
        raise LevelsOutOfOrder(f"The minimum{what} ({minimum}) is above the maximum ({maximum}).")


def daily_consumption(units: int, days: int) -> Fraction:
    """Average units a day over ``days`` days (exact: no rounding until a quantity is proposed)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    return Fraction(max(units, 0), days)


def suggest_levels(daily: Fraction, lead_days: int = LEAD_DAYS, cover_days: int = COVER_DAYS) -> Level:
    """Levels from consumption: the minimum covers the lead time, the maximum ``cover_days`` more;
    whole packs, rounded up."""
    minimum = math.ceil(daily * lead_days)
    return Level(minimum, max(minimum, math.ceil(daily * (lead_days + cover_days))))


@dataclass(frozen=True)
class Proposal:
    level: Level
    suggested: bool  # the level comes from consumption, the pharmacist set none
    position: int  # on hand + in transit + requested
    projected: Fraction  # the position when a delivery ordered now arrives
    quantity: int  # packs to order (0: nothing needed)


def propose(level: Level | None, on_hand: int, in_transit: int, requested: int, daily: Fraction,
            lead_days: int = LEAD_DAYS) -> Proposal:
    """The reorder rule (module docstring): order up to the maximum when the projected stock falls
    to or below the minimum."""
    suggested = level is None
    if level is None:
        level = suggest_levels(daily, lead_days)
    position = on_hand + in_transit + requested
    projected = position - daily * lead_days
    quantity = max(0, math.ceil(level.maximum - position)) if projected <= level.minimum else 0
    return Proposal(level, suggested, position, projected, quantity)


def check_state(status: str, allowed: frozenset[RequestStatus], act: str, number: str = "") -> None:
    if status not in allowed:
        raise RequestNotInState(f"Request {number} is {status}: it cannot be {act}.".replace("  ", " "),
                                request_status=status)


def status_after_shipping(lines: list[tuple[int, int]]) -> RequestStatus:
    """(requested, shipped) per line: FULFILLED when every line is shipped in full."""
    if lines and all(shipped >= requested for requested, shipped in lines):
        return RequestStatus.FULFILLED
    return RequestStatus.PARTIALLY_SHIPPED


def check_shipment(remaining: dict[str, int], shipped: dict[str, int]) -> None:
    """A shipment against a request carries only requested GTINs, each up to what its line still
    waits for. ``remaining``: GTIN -> packs still to ship; ``shipped``: GTIN -> packs on the shipment."""
    strangers = sorted(set(shipped) - set(remaining))
    if strangers:
        raise ProductNotRequested(f"The request does not ask for {', '.join(strangers)}.", gtins=strangers)
    over = [{"gtin": g, "remaining": remaining[g], "shipped": n} for g, n in sorted(shipped.items())
            if n > remaining[g]]
    if over:
        first = over[0]
        raise MoreThanRequested(f"{first['shipped']} packs of {first['gtin']} shipped; the request waits for "
                                f"{first['remaining']}.", lines=over)
