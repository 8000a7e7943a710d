"""Clearing up packs that were MISSING at receipt: one act, three answers.

- FOUND, by the receiving organisation (``trace.receive``): the receiver found them after all;
  a late receipt, so custody moves to the receiver as it would have on receipt.
- RETURNED, by the sending organisation (``trace.ship``): they never left, or came back; they
  leave the shipment and stay in the sender's custody.
- LOST, by the sending organisation (``trace.ship``): lost in transit; they become STOLEN at the
  sender's location, with the reason (an inactive state that alerts when the pack is scanned
  again; the sender may undo it within 10 days like any decommissioning, should it turn up).

The shipment's row keeps MISSING as each pack's outcome, for the record, and gets the
resolution and its time. All or nothing: a pack that is not MISSING on this shipment, or was
resolved already, is named in the refusal with its own code and nothing changes.

Two people resolving the same pack at once leave one winner: the shipment row is locked first
(acts on one shipment queue up), then the packs in id order, and every change is a conditional
UPDATE whose row count is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select, update

from pharma.parties.models import Location
from pharma.parties.policy import allowed, authorize
from pharma.shared.errors import NotFound, RuleViolation, ValidationFailed
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace.domain import EventType, PackNotActive, PackState, Resolution
from pharma.trace.events import record
from pharma.trace.models import Case, Pack, Shipment, ShipmentPack
from pharma.trace.movements import (
    Outcome,
    PackBusy,
    PackRef,
    PacksRefused,
    ShipmentStatus,
    ShipmentView,
    _chunks,
    _in,
    _lock_facts,
    _pack_ids,
    _parse_refs,
    _problem,
    _view,
)

NOTE_MAX = 500


class ShipmentNotReceived(RuleViolation):
    code = "SHIPMENT_NOT_RECEIVED"
    title = "Only a received shipment has missing packs"


class NotOnShipment(RuleViolation):
    code = "NOT_ON_SHIPMENT"
    title = "The pack is not on this shipment"


class PackNotMissing(RuleViolation):
    code = "PACK_NOT_MISSING"
    title = "The pack was not missing on this shipment"


class MissingAlreadyResolved(RuleViolation):
    code = "MISSING_ALREADY_RESOLVED"
    title = "The missing pack has already been resolved"


@dataclass(frozen=True)
class ResolveMissing:
    packs: tuple[PackRef, ...]
    resolution: str  # FOUND, RETURNED or LOST
    note: str = ""  # why; required for LOST


def resolution_of(value: str) -> Resolution:
    try:
        return Resolution(value)
    except ValueError:
        raise ValidationFailed({"resolution": ["Use FOUND, RETURNED or LOST."]}) from None


def resolutions_for(uow: UnitOfWork, shipment: ShipmentView) -> list[Resolution]:
    """The resolutions the caller's side of this shipment may give (the receiver finds; the sender
    takes back or loses); none unless packs are still missing."""
    if shipment.status != ShipmentStatus.RECEIVED.value or not shipment.counts.get("missing_unresolved"):
        return []
    orgs = {"trace.receive": shipment.to_location.organisation_id,
            "trace.ship": shipment.from_location.organisation_id}
    actor = uow.actor
    return [r for r in Resolution
            if actor.org_id == orgs[r.action] and allowed(actor, r.action, orgs[r.action])]


def resolve_missing(uow: UnitOfWork, shipment_id: int, cmd: ResolveMissing) -> ShipmentView:
    """Clear up packs MISSING at receipt: FOUND by the receiver (custody moves to it), RETURNED to
    the sender (they stay with it) or LOST in transit (STOLEN at the sender's). All or nothing."""
    resolution = resolution_of(cmd.resolution)
    authorize(uow.actor, resolution.action)
    refs = _parse_refs(cmd.packs, "packs")
    note = (cmd.note or "").strip()
    if not refs:
        raise ValidationFailed({"packs": ["List at least one missing pack."]})
    if len(note) > NOTE_MAX:
        raise ValidationFailed({"note": [f"Keep the note to {NOTE_MAX} characters."]})
    if resolution is Resolution.LOST and len(note) < 3:
        raise ValidationFailed({"note": ["Say how the packs were lost, in 3 to 500 characters."]})
    with uow:
        s = uow.session
        shipment = s.get(Shipment, shipment_id, with_for_update=True, populate_existing=True)
        if shipment is None:
            raise NotFound(f"No shipment with id {shipment_id}.")
        origin = s.get(Location, shipment.from_location_id)
        dest = s.get(Location, shipment.to_location_id)
        side = dest if resolution is Resolution.FOUND else origin
        authorize(uow.actor, resolution.action, side.organisation_id)
        if shipment.status != ShipmentStatus.RECEIVED.value:
            raise ShipmentNotReceived(
                f"Shipment {shipment.number} is {shipment.status.lower().replace('_', ' ')}: "
                "packs are missing only once it has been received.")

        pack_ids, problems = _missing_packs(s, shipment, refs)
        facts = _lock_facts(s, pack_ids)
        if resolution is Resolution.LOST:
            problems += [_problem(f, PackNotActive.code, f"The pack is {f.state.lower()}: it cannot be lost.",
                                  state=f.state)
                         for f in facts if f.state != PackState.ACTIVE.value]
        if problems:
            raise PacksRefused(problems)

        now = utcnow()
        marked = 0
        for chunk in _chunks(s, pack_ids):
            marked += s.execute(
                update(ShipmentPack)
                .where(ShipmentPack.shipment_id == shipment.id, _in(s, ShipmentPack.pack_id, chunk),
                       ShipmentPack.outcome == Outcome.MISSING.value, ShipmentPack.resolution.is_(None))
                .values(resolution=resolution.value, resolved_at=now)
                .execution_options(synchronize_session=False)).rowcount
        moved = 0
        for chunk in _chunks(s, pack_ids):
            moved += s.execute(
                update(Pack)
                .where(_in(s, Pack.id, chunk), Pack.shipment_id == shipment.id, Pack.location_id == origin.id,
                       *([Pack.state == PackState.ACTIVE.value] if resolution is Resolution.LOST else []))
                .values(**_pack_change(resolution, uow, origin, dest, now))
                .execution_options(synchronize_session=False)).rowcount
        if marked != len(pack_ids) or moved != len(pack_ids):
            raise PackBusy("Some of these packs were resolved or changed meanwhile; look at the shipment again.")
        _settle_cases(s, shipment, dest)

        record(uow, EventType.RESOLVE_MISSING.value, location_id=side.id,
               to_state=PackState.STOLEN.value if resolution is Resolution.LOST else None,
               reason=note or None, document=("shipment", shipment.number), pack_ids=pack_ids, at=now,
               details={"resolution": resolution.value, "from_location_id": origin.id,
                        "to_location_id": dest.id})
        uow.audit("shipment.resolve_missing", "shipment", shipment.id,
                  {"number": shipment.number, "resolution": resolution.value, "note": note,
                   "packs": [f"{f.gtin}/{f.serial}" for f in facts][:100]}, count=len(pack_ids))
        uow.commit()
    return _view(uow.session, shipment, origin, dest)


def _missing_packs(s, shipment: Shipment, refs: list[PackRef]) -> tuple[list[int], list[dict]]:
    """The listed packs' ids (sorted) if each is MISSING on the shipment and not yet resolved, and a
    problem for every one that is not."""
    ids = _pack_ids(s, refs)
    rows: dict[int, tuple] = {}
    for chunk in _chunks(s, sorted(set(ids.values()))):
        for pid, outcome, resolution, resolved_at in s.execute(
                select(ShipmentPack.pack_id, ShipmentPack.outcome, ShipmentPack.resolution, ShipmentPack.resolved_at)
                .where(ShipmentPack.shipment_id == shipment.id, _in(s, ShipmentPack.pack_id, chunk))):
            rows[pid] = (outcome, resolution, resolved_at)
    problems: list[dict] = []
    chosen: set[int] = set()
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        key = (ref.gtin, ref.serial)
        refusal = _refusal(shipment.number, ids.get(key), rows, key in seen)
        if refusal:
            code, detail = refusal
            problems.append({"gtin": ref.gtin, "serial": ref.serial, "code": code,
                             "detail": f"{ref.gtin} / {ref.serial}: {detail}"})
        else:
            chosen.add(ids[key])
        seen.add(key)
    return sorted(chosen), problems


def _refusal(number: str, pid: int | None, rows: dict[int, tuple], twice: bool) -> tuple[str, str] | None:
    """Why one listed pack cannot be resolved on shipment ``number`` (code, detail), or None."""
    if pid is None:
        return "UNKNOWN_PACK", "No such pack was ever commissioned."
    if twice:
        return "PACK_LISTED_TWICE", "The pack is listed twice."
    if pid not in rows:
        return NotOnShipment.code, f"The pack is not on shipment {number}."
    outcome, resolution, resolved_at = rows[pid]
    if outcome is None:
        return PackNotMissing.code, f"Shipment {number} has not been received yet."
    if outcome != Outcome.MISSING.value:
        return PackNotMissing.code, f"The pack was {outcome.lower()} on shipment {number}, not missing."
    if resolution is not None:
        return (MissingAlreadyResolved.code,
                f"The pack was already resolved as {resolution.lower()} on {resolved_at:%Y-%m-%d %H:%M} UTC.")
    return None


def _pack_change(resolution: Resolution, uow: UnitOfWork, origin: Location, dest: Location, now) -> dict:
    if resolution is Resolution.FOUND:  # a late receipt
        return {"location_id": dest.id, "shipment_id": None}
    if resolution is Resolution.RETURNED:
        return {"shipment_id": None}
    return {"shipment_id": None, "state": PackState.STOLEN.value, "state_changed_at": now,
            "state_location_id": origin.id, "state_org_id": uow.actor.org_id}


def _settle_cases(s, shipment: Shipment, dest: Location) -> None:
    """A case still on the shipment leaves it once none of its packs travels any more: it arrives
    when any of its packs reached the receiver (at receipt, or found later), else it stays with
    the sender."""
    travelling = exists().where(Pack.case_id == Case.id, Pack.shipment_id == shipment.id)
    arrived = (exists().where(Pack.case_id == Case.id, ShipmentPack.pack_id == Pack.id,
                              ShipmentPack.shipment_id == shipment.id,
                              or_(ShipmentPack.outcome.in_([Outcome.RECEIVED.value, Outcome.DAMAGED.value]),
                                  ShipmentPack.resolution == Resolution.FOUND.value)))
    s.execute(update(Case).where(Case.shipment_id == shipment.id, ~travelling, arrived)
              .values(location_id=dest.id, shipment_id=None).execution_options(synchronize_session=False))
    s.execute(update(Case).where(Case.shipment_id == shipment.id, ~travelling)
              .values(shipment_id=None).execution_options(synchronize_session=False))
