"""Pack states and the rules for changing them (DESIGN.md, "Pack states").

A pack's *stored* state is what its custodian and sales did to it. Its *effective* state
also reads facts that change for many packs at once, so they take effect at once however
many packs they cover: a recalled batch (``batches.recalled_at``), a withdrawn product
(``products.withdrawn_at``), and the expiry date. Precedence: WITHDRAWN, RECALLED, then an
inactive stored state, then EXPIRED, then ACTIVE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from pharma.shared.errors import RuleViolation


class PackState(StrEnum):
    ACTIVE = "ACTIVE"
    DISPENSED = "DISPENSED"
    DESTROYED = "DESTROYED"
    STOLEN = "STOLEN"
    EXPORTED = "EXPORTED"
    SAMPLE = "SAMPLE"
    LOCKED = "LOCKED"
    RECALLED = "RECALLED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


STORED_STATES = (PackState.ACTIVE, PackState.DISPENSED, PackState.DESTROYED, PackState.STOLEN,
                 PackState.EXPORTED, PackState.SAMPLE, PackState.LOCKED)
DECOMMISSION_REASONS = (PackState.DESTROYED, PackState.STOLEN, PackState.EXPORTED, PackState.SAMPLE,
                        PackState.LOCKED)
INSPECTOR_REASONS = (PackState.SAMPLE, PackState.LOCKED)
UNDO_WINDOW = timedelta(days=10)


class EventType(StrEnum):
    COMMISSION = "COMMISSION"
    SHIP = "SHIP"
    RECEIVE = "RECEIVE"
    DECOMMISSION = "DECOMMISSION"
    UNDO = "UNDO"
    RECALL = "RECALL"
    WITHDRAW = "WITHDRAW"
    DISPENSE = "DISPENSE"
    RESOLVE_MISSING = "RESOLVE_MISSING"  # a pack missing at receipt: found, back with the sender, or lost


class Resolution(StrEnum):
    """How a pack that was MISSING at receipt was cleared up, and by which side."""

    FOUND = "FOUND"  # the receiver found it after all: custody moves to the receiver
    RETURNED = "RETURNED"  # it never left, or came back: it stays with the sender
    LOST = "LOST"  # lost in transit: STOLEN at the sender's location

    @property
    def action(self) -> str:
        """The policy action of the side that may say so: the receiver finds, the sender takes back or loses."""
        return "trace.receive" if self is Resolution.FOUND else "trace.ship"


class PackNotActive(RuleViolation):
    code = "PACK_NOT_ACTIVE"
    title = "The pack is not active"


class NotInCustody(RuleViolation):
    code = "NOT_IN_CUSTODY"
    title = "The pack is held by another location"


class UndoNotAllowed(RuleViolation):
    code = "UNDO_NOT_ALLOWED"
    title = "This change cannot be undone"


@dataclass(frozen=True)
class PackFacts:
    state: str
    location_id: int | None
    state_changed_at: datetime
    state_location_id: int | None
    expiry: date
    recalled: bool
    withdrawn: bool
    state_org_id: int | None = None  # the organisation that set the stored state (an inspector: the agency)


def effective_state(p: PackFacts, today: date) -> PackState:
    if p.withdrawn:
        return PackState.WITHDRAWN
    if p.recalled:
        return PackState.RECALLED
    if p.state != PackState.ACTIVE:
        return PackState(p.state)
    if p.expiry < today:
        return PackState.EXPIRED
    return PackState.ACTIVE


def check_undo(p: PackFacts, location_id: int, org_id: int | None, now: datetime, today: date) -> None:
    """An inactive state is undone only where and by whom it was set (an inspector's SAMPLE or
    LOCKED: by the agency), within 10 days (LOCKED: any time); never for a pack that is expired,
    recalled or withdrawn, whatever its stored state."""
    if p.withdrawn or p.recalled or p.expiry < today:
        state = PackState.WITHDRAWN if p.withdrawn else PackState.RECALLED if p.recalled else PackState.EXPIRED
        raise UndoNotAllowed(f"The pack is {state.value.lower()}: it can never be made active again.")
    if p.state == PackState.ACTIVE:
        raise UndoNotAllowed("The pack is already active.")
    if p.state_location_id != location_id or (p.state_org_id is not None and p.state_org_id != org_id):
        raise UndoNotAllowed("Only the location and organisation that changed the pack's state may undo it.")
    if p.state != PackState.LOCKED and now - p.state_changed_at > UNDO_WINDOW:
        raise UndoNotAllowed("The 10 days for undoing this change have passed.")
