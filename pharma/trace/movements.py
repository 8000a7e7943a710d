"""Custody movements: shipping packs and cases, receiving them, returns, decommissioning and its
undo, batch recalls and product withdrawals, and the reads that go with them.

Every act authorizes first, changes packs with conditional UPDATEs after locking them in id
order (so two acts racing for one pack leave exactly one winner and never deadlock), and
writes its trace event through ``trace.events.record`` in the same transaction.

Missing packs: a receipt that does not scan a pack of the shipment flags it MISSING and leaves
it where it was: still in transit on that shipment, custody not moved (the sender remains its
custodian of record until the discrepancy is cleared up by ``trace.missing.resolve_missing``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ARRAY, BigInteger, any_, bindparam, func, insert, literal, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from pharma.parties.domain import LicenceKind, OrgType
from pharma.parties.models import Licence, Location, Organisation
from pharma.parties.policy import POLICY, authorize, scoped_org
from pharma.parties.services import licence_in_force
from pharma.register.models import Product, ProductGtin
from pharma.shared.errors import Forbidden, NotFound, RuleViolation, ValidationFailed
from pharma.shared.identifiers import Batch as BatchCode
from pharma.shared.identifiers import Gtin, Serial, Sscc
from pharma.shared.schemas import Page
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace.domain import (
    DECOMMISSION_REASONS,
    INSPECTOR_REASONS,
    EventType,
    PackFacts,
    PackState,
    UndoNotAllowed,
    check_undo,
    effective_state,
)
from pharma.trace.events import record
from pharma.trace.models import Batch, Case, Pack, Shipment, ShipmentPack

CHUNK = 1000  # ids per IN list: well under every driver's parameter limit
PG_CHUNK = 50_000  # ids per array parameter on PostgreSQL
MAX_LISTED_PROBLEMS = 1000


class ShipmentKind(StrEnum):
    DELIVERY = "DELIVERY"
    RETURN = "RETURN"


class ShipmentStatus(StrEnum):
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"
    CANCELLED = "CANCELLED"


class Outcome(StrEnum):
    RECEIVED = "RECEIVED"
    MISSING = "MISSING"
    DAMAGED = "DAMAGED"
    EXTRA = "EXTRA"


# which licence lets each kind of organisation take custody of medicines
RECEIVING_LICENCES: dict[str, frozenset[str]] = {
    OrgType.PHARMACY.value: frozenset({LicenceKind.PHARMACY_RETAIL.value}),
    OrgType.IMPORTER.value: frozenset({LicenceKind.IMPORT.value, LicenceKind.WHOLESALE.value}),
    OrgType.WHOLESALER.value: frozenset({LicenceKind.WHOLESALE.value, LicenceKind.IMPORT.value}),
}

# ---------------------------------------------------------------- refusals


class PacksRefused(RuleViolation):
    """One or more packs (or cases) cannot take part; ``errors`` lists each with its own code."""

    code = "PACKS_REFUSED"
    title = "Some packs cannot take part in this act"

    def __init__(self, problems: list[dict]) -> None:
        first = problems[0]["detail"]
        detail = first if len(problems) == 1 else f"{len(problems)} packs or cases are refused; first: {first}"
        super().__init__(detail, errors=problems[:MAX_LISTED_PROBLEMS])
        self.problems = problems


class SameLocation(RuleViolation):
    code = "SAME_LOCATION"
    title = "A shipment goes to another location"


class ReceiverNotLicensed(RuleViolation):
    code = "RECEIVER_NOT_LICENSED"
    title = "The receiver holds no licence in force for medicines"


class ReceiverInactive(RuleViolation):
    code = "RECEIVER_INACTIVE"
    title = "The receiving organisation or location is not active"


class ReturnMismatch(RuleViolation):
    code = "RETURN_MISMATCH"
    title = "A return goes back the way its delivery came"


class ShipmentNotInTransit(RuleViolation):
    code = "SHIPMENT_ALREADY_RECEIVED"
    title = "The shipment has already been received"


class PackBusy(RuleViolation):
    code = "PACK_BUSY"
    title = "Another act changed these packs at the same moment"


class InspectorReasonOnly(Forbidden):
    code = "INSPECTOR_SAMPLE_OR_LOCK_ONLY"
    title = "An inspector may only take samples or lock packs"


class AlreadyRecalled(RuleViolation):
    code = "BATCH_ALREADY_RECALLED"
    title = "The batch is already recalled"


class AlreadyWithdrawn(RuleViolation):
    code = "PRODUCT_ALREADY_WITHDRAWN"
    title = "The product is already withdrawn"


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class PackRef:
    gtin: str
    serial: str


@dataclass(frozen=True)
class ShipPacks:
    from_location_id: int
    to_location_id: int
    packs: tuple[PackRef, ...] = ()
    cases: tuple[str, ...] = ()  # SSCCs: a case ships its packs, a pallet its cases' packs
    kind: str = ShipmentKind.DELIVERY.value
    return_of_id: int | None = None


@dataclass(frozen=True)
class Receipt:
    packs: tuple[PackRef, ...] = ()
    cases: tuple[str, ...] = ()
    damaged: tuple[PackRef, ...] = ()


@dataclass(frozen=True)
class Decommission:
    location_id: int
    packs: tuple[PackRef, ...]
    reason: str  # DESTROYED, STOLEN, EXPORTED, SAMPLE or LOCKED
    note: str = ""
    document: str | None = None
    document_type: str = "act"  # a stock write-off act decommissions with its own ("write_off_act", number)


@dataclass(frozen=True)
class Undo:
    location_id: int
    packs: tuple[PackRef, ...]
    reason: str


@dataclass(frozen=True)
class StateChange:
    """What a decommission or an undo did: the event, the state the packs are now in, the packs."""

    event_id: int
    location_id: int
    state: str
    packs: list[PackRef]


@dataclass(frozen=True)
class ShipmentQuery:
    direction: str | None = None  # incoming | outgoing (for the caller's organisation)
    status: str | None = None
    page: int = 1
    per_page: int = 25


# what a shipment's pack list may be filtered by: MISSING first, it is what a receiver looks for;
# IN_TRANSIT is a pack not received yet (no outcome)
PACK_FILTERS = ("MISSING", "RECEIVED", "DAMAGED", "EXTRA", "IN_TRANSIT")
PACKS_PER_PAGE = 1000  # the API's default page of a shipment's packs: a whole ordinary shipment


@dataclass(frozen=True)
class PackListQuery:
    """Which of a shipment's packs to list: one page of them, optionally of one outcome."""

    page: int = 1
    per_page: int = PACKS_PER_PAGE
    outcome: str | None = None  # one of PACK_FILTERS


@dataclass
class ShipmentView:
    """A shipment with its two locations by name, for lists and pages; ``packs`` is one page of its
    packs (``pack_page`` says which), ``counts`` how many packs it carried by outcome and resolution."""

    shipment: Shipment
    from_location: Location
    to_location: Location
    packs: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    pack_page: Page | None = None
    pack_filter: str | None = None  # the outcome ``packs`` are limited to, if any
    unresolved: list[dict] = field(default_factory=list)  # the first missing packs still to clear up

    def __getattr__(self, name):
        return getattr(self.shipment, name)


# ---------------------------------------------------------------- shipping


def ship(uow: UnitOfWork, cmd: ShipPacks) -> ShipmentView:
    """Ship packs and whole cases to another licensed organisation's location: they are in transit
    until received. Only effectively ACTIVE packs in the sender's custody, not already travelling."""
    authorize(uow.actor, "trace.ship")
    kind = _kind(cmd.kind)
    refs = _parse_refs(cmd.packs, "packs")
    ssccs = _parse_ssccs(cmd.cases, "cases")
    if not refs and not ssccs:
        raise ValidationFailed({"packs": ["List at least one pack or case."]})
    if cmd.return_of_id is not None and kind != ShipmentKind.RETURN:
        raise ValidationFailed({"return_of_id": ["Only a return refers to an earlier delivery."]})
    with uow:
        s = uow.session
        origin = _location(s, cmd.from_location_id, "from_location_id")
        authorize(uow.actor, "trace.ship", origin.organisation_id)
        dest = _location(s, cmd.to_location_id, "to_location_id")
        if dest.id == origin.id:
            raise SameLocation("The packs are already at this location.")
        _check_receiver(s, dest)
        original = _check_return(s, cmd.return_of_id, origin, dest) if cmd.return_of_id else None
        pack_ids, case_ids, problems = _collect(s, refs, ssccs, origin.id)
        facts = _lock_facts(s, pack_ids)
        problems += _unmovable(facts, origin.id, returning=kind == ShipmentKind.RETURN)
        if original is not None:
            problems += _not_on(s, original, facts)
        if problems:
            raise PacksRefused(problems)

        now = utcnow()
        shipment = Shipment(number=f"tmp-{uuid.uuid4().hex[:24]}", kind=kind.value, from_location_id=origin.id,
                            to_location_id=dest.id, status=ShipmentStatus.IN_TRANSIT.value,
                            return_of_id=original.id if original else None, packs_count=len(pack_ids),
                            shipped_at=now, shipped_by=uow.actor.user_id, discrepancies={})
        s.add(shipment)
        s.flush()
        # the id comes from the database's sequence: unique however many ship at once
        shipment.number = f"SH-{now.year}-{shipment.id:06d}"
        _put_on_board(s, shipment.id, pack_ids)
        on_board = select(ShipmentPack.pack_id).where(ShipmentPack.shipment_id == shipment.id)
        moved = 0
        for chunk in _chunks(s, pack_ids):  # by id: index probes, not a join with the shipment's rows
            moved += s.execute(
                update(Pack)
                .where(_in(s, Pack.id, chunk), Pack.shipment_id.is_(None), Pack.location_id == origin.id,
                       Pack.state == PackState.ACTIVE.value)
                .values(shipment_id=shipment.id)
                .execution_options(synchronize_session=False)).rowcount
        if moved != len(pack_ids):
            raise PackBusy("Some of these packs were shipped, received or decommissioned meanwhile; scan again.")
        for chunk in _chunks(s, sorted(case_ids)):
            s.execute(update(Case).where(_in(s, Case.id, chunk)).values(shipment_id=shipment.id)
                      .execution_options(synchronize_session=False))
        record(uow, EventType.SHIP.value, location_id=origin.id, document=("shipment", shipment.number),
               packs_from=on_board, count=len(pack_ids),
               details={"to_location_id": dest.id, "kind": kind.value, "cases": sorted(ssccs)[:100]})
        uow.audit(f"shipment.{kind.value.lower()}", "shipment", shipment.id,
                  {"number": shipment.number, "from_location_id": origin.id, "to_location_id": dest.id,
                   "packs": len(pack_ids), "cases": len(case_ids),
                   "return_of_id": shipment.return_of_id})
        uow.commit()
    return _view(uow.session, shipment, origin, dest)


def _check_receiver(s: Session, dest: Location) -> None:
    org = s.get(Organisation, dest.organisation_id)
    if not org.active or not dest.active:
        raise ReceiverInactive(f"{org.name} ({dest.name}) is not active.")
    kinds = RECEIVING_LICENCES.get(org.type, frozenset())
    today = utc_today()
    licences = s.scalars(select(Licence).where(Licence.organisation_id == org.id))
    if not any(lic.kind in kinds and licence_in_force(lic, today) for lic in licences):
        raise ReceiverNotLicensed(f"{org.name} holds no licence in force to receive medicines.")


def _check_return(s: Session, original_id: int, origin: Location, dest: Location) -> Shipment:
    original = s.get(Shipment, original_id)
    if original is None:
        raise NotFound(f"No shipment with id {original_id}.")
    if (original.kind != ShipmentKind.DELIVERY.value or original.to_location_id != origin.id
            or original.from_location_id != dest.id):
        raise ReturnMismatch(f"Shipment {original.number} was not delivered from {dest.name} to {origin.name}.")
    return original


def _not_on(s: Session, original: Shipment, facts: list) -> list[dict]:
    carried = set()
    ids = [f.id for f in facts]
    for chunk in _chunks(s, ids):
        carried.update(s.scalars(select(ShipmentPack.pack_id).where(
            ShipmentPack.shipment_id == original.id, _in(s, ShipmentPack.pack_id, chunk))))
    return [_problem(f, "NOT_ON_ORIGINAL_SHIPMENT", f"The pack was not delivered on {original.number}.")
            for f in facts if f.id not in carried]


# ---------------------------------------------------------------- receiving


def receive(uow: UnitOfWork, shipment_id: int, cmd: Receipt) -> ShipmentView:
    """Accept a shipment by what was scanned: scanned packs (and the packs of scanned cases) move
    into the receiver's custody, damaged ones flagged; unscanned packs are MISSING and stay in
    transit; scanned packs that were not shipped are EXTRA and do not move."""
    authorize(uow.actor, "trace.receive")
    refs = _parse_refs(cmd.packs, "packs")
    damaged_refs = _parse_refs(cmd.damaged, "damaged")
    ssccs = _parse_ssccs(cmd.cases, "cases")
    if not refs and not ssccs and not damaged_refs:
        raise ValidationFailed({"packs": ["Scan at least one pack or case."]})
    with uow:
        s = uow.session
        shipment = s.get(Shipment, shipment_id, with_for_update=True, populate_existing=True)
        if shipment is None:
            raise NotFound(f"No shipment with id {shipment_id}.")
        dest = s.get(Location, shipment.to_location_id)
        authorize(uow.actor, "trace.receive", dest.organisation_id)
        if shipment.status != ShipmentStatus.IN_TRANSIT.value:
            raise ShipmentNotInTransit(f"Shipment {shipment.number} is {shipment.status.lower()}.")
        origin = s.get(Location, shipment.from_location_id)

        on_board = {pid for pid in s.scalars(
            select(ShipmentPack.pack_id).where(ShipmentPack.shipment_id == shipment.id))}
        received: set[int] = set()
        damaged: set[int] = set()
        extra_ids: set[int] = set()
        extra_items: list[dict] = []
        cases: dict[str, tuple[int, int | None]] = {}
        for i in range(0, len(ssccs), CHUNK):
            cases.update((sscc, (cid, on)) for sscc, cid, on in s.execute(
                select(Case.sscc, Case.id, Case.shipment_id).where(Case.sscc.in_(ssccs[i:i + CHUNK]))))
        scanned_cases: set[int] = set()
        for sscc in ssccs:
            case_id, case_shipment = cases.get(sscc, (None, None))
            if case_id is None or case_shipment != shipment.id:
                extra_items.append({"sscc": sscc, "known": case_id is not None})
            else:
                scanned_cases.add(case_id)
        if scanned_cases:  # every scanned case with the cases inside it, in a few queries for all of them
            received.update(pid for pid in _case_packs(s, _with_children(s, scanned_cases)) if pid in on_board)
        ids = _pack_ids(s, [*refs, *damaged_refs])
        flagged = set(damaged_refs)
        for ref in dict.fromkeys([*refs, *damaged_refs]):
            pid = ids.get((ref.gtin, ref.serial))
            if pid in on_board:
                received.add(pid)
                if ref in flagged:
                    damaged.add(pid)
            elif pid is not None:
                if pid not in extra_ids:
                    extra_ids.add(pid)
                    extra_items.append({"gtin": ref.gtin, "serial": ref.serial, "known": True})
            else:
                extra_items.append({"gtin": ref.gtin, "serial": ref.serial, "known": False})
        missing = on_board - received

        _lock_facts(s, sorted(received))
        moved = 0
        for chunk in _chunks(s, sorted(received)):
            moved += s.execute(
                update(Pack).where(_in(s, Pack.id, chunk), Pack.shipment_id == shipment.id)
                .values(location_id=dest.id, shipment_id=None)
                .execution_options(synchronize_session=False)).rowcount
        if moved != len(received):
            raise PackBusy("Some packs of this shipment changed meanwhile; try again.")
        for outcome, group in ((Outcome.RECEIVED, received - damaged), (Outcome.DAMAGED, damaged),
                               (Outcome.MISSING, missing)):
            for chunk in _chunks(s, sorted(group)):
                s.execute(update(ShipmentPack)
                          .where(ShipmentPack.shipment_id == shipment.id, _in(s, ShipmentPack.pack_id, chunk))
                          .values(outcome=outcome.value).execution_options(synchronize_session=False))
        if extra_ids:
            s.execute(insert(ShipmentPack), [{"shipment_id": shipment.id, "pack_id": pid,
                                              "outcome": Outcome.EXTRA.value} for pid in sorted(extra_ids)])
        # a case arrives with its packs; a case with a missing pack stays on the shipment
        travelling: set[int] = set()
        for chunk in _chunks(s, sorted(missing)):
            travelling.update(c for c in s.scalars(select(Pack.case_id).where(_in(s, Pack.id, chunk)).distinct())
                              if c is not None)
        s.execute(update(Case).where(Case.shipment_id == shipment.id,
                                     *([Case.id.not_in(sorted(travelling))] if travelling else []))
                  .values(location_id=dest.id, shipment_id=None).execution_options(synchronize_session=False))

        counts = {"missing": len(missing), "extra": len(extra_items), "damaged": len(damaged)}
        shipment.status = ShipmentStatus.RECEIVED.value
        shipment.received_at = utcnow()
        shipment.received_by = uow.actor.user_id
        shipment.discrepancies = {**counts, "extra_items": extra_items[:MAX_LISTED_PROBLEMS]}
        record(uow, EventType.RECEIVE.value, location_id=dest.id, document=("shipment", shipment.number),
               packs_from=select(ShipmentPack.pack_id).where(
                   ShipmentPack.shipment_id == shipment.id,
                   ShipmentPack.outcome.in_([Outcome.RECEIVED.value, Outcome.DAMAGED.value])),
               count=len(received), details={"from_location_id": origin.id, **counts})
        uow.audit("shipment.receive", "shipment", shipment.id,
                  {"number": shipment.number, "received": len(received), **counts})
        uow.commit()
    return _view(uow.session, shipment, origin, dest)


# ---------------------------------------------------------------- decommissioning and undo


def decommission(uow: UnitOfWork, cmd: Decommission) -> StateChange:
    """Take packs out of circulation (destroyed, stolen, exported, sample, locked) by their custodian;
    an inspector may take samples or lock packs at any location. All or nothing."""
    authorize(uow.actor, "trace.decommission")
    reason = _reason(cmd.reason)
    refs = _parse_refs(cmd.packs, "packs")
    if not refs:
        raise ValidationFailed({"packs": ["List at least one pack."]})
    with uow:
        s = uow.session
        loc = _location(s, cmd.location_id, "location_id")
        authorize(uow.actor, "trace.decommission", loc.organisation_id)
        if _as_inspector(uow, loc) and reason not in INSPECTOR_REASONS:
            raise InspectorReasonOnly("An inspector may only set SAMPLE or LOCKED.")
        pack_ids, _, problems = _collect(s, refs, [], loc.id)
        facts = _lock_facts(s, pack_ids)
        for f in facts:
            if f.location_id != loc.id:
                problems.append(_problem(f, "NOT_IN_CUSTODY", "The pack is held by another location."))
            elif f.shipment_id is not None:
                problems.append(_problem(f, "PACK_IN_TRANSIT", "The pack is in transit on a shipment."))
            elif f.state != PackState.ACTIVE.value:
                problems.append(_problem(f, "PACK_NOT_ACTIVE", f"The pack is already {f.state.lower()}.",
                                         state=f.state))
        if problems:
            raise PacksRefused(problems)
        now = utcnow()
        changed = 0
        for chunk in _chunks(s, pack_ids):
            changed += s.execute(
                update(Pack).where(_in(s, Pack.id, chunk), Pack.state == PackState.ACTIVE.value,
                                   Pack.location_id == loc.id, Pack.shipment_id.is_(None))
                .values(state=reason.value, state_changed_at=now, state_location_id=loc.id,
                        state_org_id=uow.actor.org_id)
                .execution_options(synchronize_session=False)).rowcount
        if changed != len(pack_ids):
            raise PackBusy("Some of these packs changed meanwhile; scan again.")
        event_id = record(uow, EventType.DECOMMISSION.value, location_id=loc.id, to_state=reason.value,
                          reason=cmd.note.strip() or None,
                          document=(cmd.document_type, cmd.document.strip()) if cmd.document and cmd.document.strip()
                          else None,
                          pack_ids=pack_ids, at=now)
        uow.audit("pack.decommission", "location", loc.id,
                  {"state": reason.value, "note": cmd.note, "document": cmd.document,
                   "packs": [f"{f.gtin}/{f.serial}" for f in facts][:100]}, count=len(pack_ids))
        uow.commit()
    return StateChange(event_id, loc.id, reason.value, [PackRef(f.gtin, f.serial) for f in facts])


def undo(uow: UnitOfWork, cmd: Undo) -> StateChange:
    """Make decommissioned packs active again: by the location that changed them, within 10 days
    (LOCKED: any time); never an expired, recalled or withdrawn pack. All or nothing."""
    authorize(uow.actor, "trace.decommission")
    refs = _parse_refs(cmd.packs, "packs")
    reason = (cmd.reason or "").strip()
    if not refs:
        raise ValidationFailed({"packs": ["List at least one pack."]})
    if not 3 <= len(reason) <= 500:
        raise ValidationFailed({"reason": ["Say why, in 3 to 500 characters."]})
    with uow:
        s = uow.session
        loc = _location(s, cmd.location_id, "location_id")
        authorize(uow.actor, "trace.decommission", loc.organisation_id)
        pack_ids, _, problems = _collect(s, refs, [], loc.id)
        facts = _lock_facts(s, pack_ids)
        now, today = utcnow(), utc_today()
        for f in facts:
            if f.state == PackState.DISPENSED.value:
                problems.append(_problem(f, UndoNotAllowed.code,
                                         "A dispensed pack is made active again by cancelling its sale."))
                continue
            try:
                check_undo(f.pack_facts, loc.id, uow.actor.org_id, now, today)
            except UndoNotAllowed as exc:
                problems.append(_problem(f, exc.code, exc.detail, state=f.state))
        if problems:
            raise PacksRefused(problems)
        changed = 0
        for chunk in _chunks(s, pack_ids):
            changed += s.execute(
                update(Pack).where(_in(s, Pack.id, chunk), Pack.state.in_([r.value for r in DECOMMISSION_REASONS]),
                                   Pack.state_location_id == loc.id)
                .values(state=PackState.ACTIVE.value, state_changed_at=now, state_location_id=loc.id,
                        state_org_id=uow.actor.org_id)
                .execution_options(synchronize_session=False)).rowcount
        if changed != len(pack_ids):
            raise PackBusy("Some of these packs changed meanwhile; scan again.")
        event_id = record(uow, EventType.UNDO.value, location_id=loc.id, to_state=PackState.ACTIVE.value,
                          reason=reason, pack_ids=pack_ids, at=now,
                          details={"from_states": sorted({f.state for f in facts})})
        uow.audit("pack.undo", "location", loc.id,
                  {"reason": reason, "packs": [f"{f.gtin}/{f.serial} {f.state}" for f in facts][:100]},
                  count=len(pack_ids))
        uow.commit()
    return StateChange(event_id, loc.id, PackState.ACTIVE.value, [PackRef(f.gtin, f.serial) for f in facts])


def _as_inspector(uow: UnitOfWork, loc: Location) -> bool:
    """True when only the inspector's any-organisation right lets the actor act at this location."""
    actor = uow.actor
    if actor.is_system:
        return False
    custodian_roles = POLICY["trace.decommission"].own_org
    return not (actor.org_id == loc.organisation_id and actor.roles & custodian_roles)


# ---------------------------------------------------------------- recalls and withdrawals


def recall_batch(uow: UnitOfWork, gtin: str, batch: str, reason: str) -> Batch:
    """Recall a batch: every pack of it is RECALLED at once, by one scoped event (never undone)."""
    authorize(uow.actor, "trace.recall")
    code = Gtin.parse(gtin).value
    lot = BatchCode.parse(batch).value
    why = _why(reason)
    with uow:
        s = uow.session
        row = s.scalar(select(Batch).where(Batch.gtin == code, Batch.batch == lot)
                       .with_for_update().execution_options(populate_existing=True))
        if row is None:
            raise NotFound(f"No batch {lot} of GTIN {code}.")
        if row.recalled_at is not None:
            raise AlreadyRecalled(f"Batch {lot} of GTIN {code} was recalled on {row.recalled_at:%Y-%m-%d}.")
        row.recalled_at = utcnow()
        row.recall_reason = why
        packs = s.scalar(select(func.count()).select_from(Pack).where(Pack.batch_id == row.id)) or 0
        record(uow, EventType.RECALL.value, location_id=None, to_state=PackState.RECALLED.value, reason=why,
               batch_id=row.id, count=packs, at=row.recalled_at)
        uow.audit("batch.recall", "batch", row.id, {"gtin": code, "batch": lot, "reason": why, "packs": packs},
                  count=packs)
        uow.commit()
    return row


def withdraw_product(uow: UnitOfWork, product_id: int, reason: str) -> Product:
    """Withdraw a product from the market: every pack of it is WITHDRAWN at once (never undone)."""
    authorize(uow.actor, "trace.recall")
    why = _why(reason)
    with uow:
        s = uow.session
        product = s.get(Product, product_id, with_for_update=True, populate_existing=True)
        if product is None:
            raise NotFound(f"No product with id {product_id}.")
        if product.withdrawn_at is not None:
            raise AlreadyWithdrawn(f"{product.trade_name} was withdrawn on {product.withdrawn_at:%Y-%m-%d}.")
        product.withdrawn_at = utcnow()
        product.withdrawal_reason = why
        packs = s.scalar(select(func.count()).select_from(Pack).join(Batch, Batch.id == Pack.batch_id)
                         .where(Batch.product_id == product.id)) or 0
        record(uow, EventType.WITHDRAW.value, location_id=None, to_state=PackState.WITHDRAWN.value, reason=why,
               product_id=product.id, count=packs, at=product.withdrawn_at)
        uow.audit("product.withdraw", "product", product.id, {"reason": why, "packs": packs}, count=packs)
        uow.commit()
    return product


def product_id_for(uow: UnitOfWork, raw: str) -> int:
    """The product a GTIN (any of its forms) or a plain product id names; for the withdrawal form."""
    authorize(uow.actor, "trace.recall")
    text = (raw or "").strip()
    if text.isdigit() and len(text) in (8, 12, 13, 14):
        pid = uow.session.scalar(select(ProductGtin.product_id).where(ProductGtin.gtin == Gtin.parse(text).value))
        if pid is None:
            raise NotFound(f"GTIN {text} is not in the register.")
        return pid
    if text.isdigit():
        return int(text)
    raise ValidationFailed({"product": ["Give the product's GTIN or its id."]})


# ---------------------------------------------------------------- reading


def list_shipments(uow: UnitOfWork, query: ShipmentQuery) -> Page:
    """Shipments to and from the caller's organisation (the agency sees all), newest first."""
    org_id = scoped_org(uow.actor, "trace.shipment.read")
    src, dst = aliased(Location), aliased(Location)
    stmt = (select(Shipment, src, dst).join(src, src.id == Shipment.from_location_id)
            .join(dst, dst.id == Shipment.to_location_id).order_by(Shipment.id.desc()))
    if org_id is not None:
        if query.direction == "incoming":
            stmt = stmt.where(dst.organisation_id == org_id)
        elif query.direction == "outgoing":
            stmt = stmt.where(src.organisation_id == org_id)
        else:
            stmt = stmt.where(or_(src.organisation_id == org_id, dst.organisation_id == org_id))
    if query.status:
        stmt = stmt.where(Shipment.status == query.status)
    s = uow.session
    total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = s.execute(stmt.limit(query.per_page).offset((query.page - 1) * query.per_page)).all()
    return Page([ShipmentView(sh, a, b) for sh, a, b in rows], total, query.page, query.per_page)


def get_shipment(uow: UnitOfWork, shipment_id: int, packs: PackListQuery | None = None,
                 unresolved: int = 0) -> ShipmentView:
    """A shipment, its pack counts by outcome, and one page of its packs with how each arrived
    (and, with ``unresolved``, the first that many missing packs still to clear up)."""
    authorize(uow.actor, "trace.shipment.read")
    query = _pack_query(packs)
    s = uow.session
    shipment = s.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"No shipment with id {shipment_id}.")
    origin, dest = s.get(Location, shipment.from_location_id), s.get(Location, shipment.to_location_id)
    org_id = scoped_org(uow.actor, "trace.shipment.read")
    if org_id is not None and org_id not in (origin.organisation_id, dest.organisation_id):
        raise NotFound(f"No shipment with id {shipment_id}.")
    view = _view(s, shipment, origin, dest, query)
    if unresolved and view.counts["missing_unresolved"]:
        view.unresolved = _pack_rows(s, _pack_list(shipment.id).where(
            ShipmentPack.outcome == Outcome.MISSING.value, ShipmentPack.resolution.is_(None)).limit(unresolved))
    return view


def _pack_query(query: PackListQuery | None) -> PackListQuery:
    query = query or PackListQuery()
    if query.outcome is not None and query.outcome not in PACK_FILTERS:
        raise ValidationFailed({"outcome": [f"Use one of {', '.join(PACK_FILTERS)}."]})
    if query.page < 1 or query.per_page < 1:
        raise ValidationFailed({"page": ["Pages and their sizes count from 1."]})
    return query


def _pack_list(shipment_id: int):
    return (select(Pack.gtin, Pack.serial, Batch.batch, Batch.expiry, Case.sscc, ShipmentPack.outcome,
                   ShipmentPack.resolution, ShipmentPack.resolved_at)
            .select_from(ShipmentPack)
            .join(Pack, Pack.id == ShipmentPack.pack_id).join(Batch, Batch.id == Pack.batch_id)
            .outerjoin(Case, Case.id == Pack.case_id)
            .where(ShipmentPack.shipment_id == shipment_id).order_by(Pack.gtin, Pack.serial))


def _pack_rows(s: Session, stmt) -> list[dict]:
    return [{"gtin": r[0], "serial": r[1], "batch": r[2], "expiry": r[3], "sscc": r[4], "outcome": r[5],
             "resolution": r[6], "resolved_at": r[7]} for r in s.execute(stmt)]


def pack_counts(s: Session, shipment_id: int) -> dict[str, int]:
    """How many packs a shipment carried, by outcome (``in_transit``: not received yet) and, of the
    missing ones, by resolution (``missing_unresolved``: not cleared up yet)."""
    counts = dict.fromkeys(("in_transit", "received", "damaged", "missing", "extra", "missing_unresolved",
                            "found", "returned", "lost"), 0)
    for outcome, resolution, n in s.execute(
            select(ShipmentPack.outcome, ShipmentPack.resolution, func.count())
            .where(ShipmentPack.shipment_id == shipment_id)
            .group_by(ShipmentPack.outcome, ShipmentPack.resolution)):
        counts[(outcome or "in_transit").lower()] += n
        if outcome == Outcome.MISSING.value:
            counts[(resolution or "missing_unresolved").lower()] += n
    return counts


def _view(s: Session, shipment: Shipment, origin: Location, dest: Location,
          query: PackListQuery | None = None) -> ShipmentView:
    query = query or PackListQuery()
    counts = pack_counts(s, shipment.id)
    stmt = _pack_list(shipment.id)
    if query.outcome == "IN_TRANSIT":
        stmt, total = stmt.where(ShipmentPack.outcome.is_(None)), counts["in_transit"]
    elif query.outcome:
        stmt, total = stmt.where(ShipmentPack.outcome == query.outcome), counts[query.outcome.lower()]
    else:
        total = sum(counts[k] for k in ("in_transit", "received", "damaged", "missing", "extra"))
    packs = _pack_rows(s, stmt.limit(query.per_page).offset((query.page - 1) * query.per_page))
    return ShipmentView(shipment, origin, dest, packs, counts, Page(packs, total, query.page, query.per_page),
                        query.outcome)


@dataclass(frozen=True)
class RecallNotice:
    kind: str  # RECALL | WITHDRAWAL
    at: datetime
    reason: str
    product_id: int
    trade_name: str
    gtin: str | None = None
    batch: str | None = None
    expiry: object = None


def list_recalls(uow: UnitOfWork, page: int = 1, per_page: int = 50) -> Page:
    """Recalled batches and withdrawn products, newest first: every custodian needs to see them."""
    authorize(uow.actor, "trace.history.read")
    s = uow.session
    batches = s.execute(select(Batch, Product.trade_name).join(Product, Product.id == Batch.product_id)
                        .where(Batch.recalled_at.is_not(None))).all()
    products = s.scalars(select(Product).where(Product.withdrawn_at.is_not(None))).all()
    notices = [RecallNotice("RECALL", b.recalled_at, b.recall_reason or "", b.product_id, name, b.gtin, b.batch,
                            b.expiry) for b, name in batches]
    notices += [RecallNotice("WITHDRAWAL", p.withdrawn_at, p.withdrawal_reason or "", p.id, p.trade_name)
                for p in products]
    notices.sort(key=lambda n: n.at, reverse=True)
    start = (page - 1) * per_page
    return Page(notices[start:start + per_page], len(notices), page, per_page)


def pack_state(session: Session, gtin: str, serial: str) -> PackState:
    """A pack's effective state now: recalls, withdrawals and expiry read from their one row each."""
    ref = PackRef(Gtin.parse(gtin).value, Serial.parse(serial).value)
    ids = _pack_ids(session, [ref])
    if not ids:
        raise NotFound(f"No pack {ref.gtin} / {ref.serial}.")
    (facts,) = _read_facts(session, list(ids.values()), lock=False)
    return effective_state(facts.pack_facts, utc_today())


def locations_of(uow: UnitOfWork, action: str) -> list[Location]:
    """The active locations the caller may act from (the agency's roles: none of their own)."""
    authorize(uow.actor, action)
    if uow.actor.org_id is None:
        return []
    return list(uow.session.scalars(select(Location).where(Location.organisation_id == uow.actor.org_id,
                                                           Location.active.is_(True)).order_by(Location.name)))


def receiving_locations(uow: UnitOfWork) -> list[Location]:
    """Active locations of other active organisations that may receive medicines, for the ship form."""
    authorize(uow.actor, "trace.ship")
    return list(uow.session.scalars(
        select(Location).join(Organisation, Organisation.id == Location.organisation_id)
        .where(Location.active.is_(True), Organisation.active.is_(True),
               Organisation.type.in_(list(RECEIVING_LICENCES)))
        .order_by(Location.name).limit(2000)))


def shipment_id_for(uow: UnitOfWork, number: str) -> int:
    """The id of a shipment by its number (SH-2026-000001), as typed on a page."""
    authorize(uow.actor, "trace.shipment.read")
    text = (number or "").strip().upper()
    found = uow.session.scalar(select(Shipment.id).where(Shipment.number == text))
    if found is None:
        raise NotFound(f"No shipment numbered {text}.")
    return found


def location_by_gln(uow: UnitOfWork, raw: str, field_name: str = "gln") -> int:
    """The id of the location with this GLN (as typed or scanned on a page)."""
    from pharma.shared.identifiers import Gln

    gln = Gln.parse((raw or "").strip(), field_name).value
    loc_id = uow.session.scalar(select(Location.id).where(Location.gln == gln))
    if loc_id is None:
        raise NotFound(f"No location with GLN {gln}.")
    return loc_id


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Facts:
    id: int
    gtin: str
    serial: str
    state: str
    location_id: int | None
    shipment_id: int | None
    state_changed_at: datetime
    state_location_id: int | None
    expiry: object
    recalled: bool
    withdrawn: bool
    state_org_id: int | None

    @property
    def pack_facts(self) -> PackFacts:
        return PackFacts(self.state, self.location_id, self.state_changed_at, self.state_location_id,
                         self.expiry, self.recalled, self.withdrawn, self.state_org_id)


def _chunks(s: Session, ids: Sequence[int]) -> Iterator[list[int]]:
    ids = list(ids)
    size = PG_CHUNK if _postgres(s) else CHUNK
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _in(s: Session, column, ids: Sequence[int]):
    """``column IN (ids)``. On PostgreSQL one array parameter instead: the statement's text is the
    same for any number of ids, so it is neither rendered with a parameter per id nor planned
    afresh for every chunk."""
    if _postgres(s):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
    return column.in_(ids)


def _put_on_board(s: Session, shipment_id: int, pack_ids: Sequence[int]) -> None:
    """The shipment's pack rows: INSERT ... SELECT from an array on PostgreSQL, else executemany."""
    if not _postgres(s):
        s.execute(insert(ShipmentPack), [{"shipment_id": shipment_id, "pack_id": pid} for pid in pack_ids])
        return
    for chunk in _chunks(s, pack_ids):
        s.execute(insert(ShipmentPack).from_select(["shipment_id", "pack_id"], select(
            literal(shipment_id), func.unnest(bindparam(None, chunk, type_=ARRAY(BigInteger))))))


def _postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def _kind(value: str) -> ShipmentKind:
    try:
        return ShipmentKind(value)
    except ValueError:
        raise ValidationFailed({"kind": ["Use DELIVERY or RETURN."]}) from None


def _reason(value: str) -> PackState:
    if value not in {r.value for r in DECOMMISSION_REASONS}:
        allowed = ", ".join(r.value for r in DECOMMISSION_REASONS)
        raise ValidationFailed({"reason": [f"Use one of {allowed}."]})
    return PackState(value)


def _why(reason: str) -> str:
    why = (reason or "").strip()
    if not 3 <= len(why) <= 500:
        raise ValidationFailed({"reason": ["Say why, in 3 to 500 characters."]})
    return why


def _parse_refs(refs: Iterable, field_name: str) -> list[PackRef]:
    out = []
    for i, ref in enumerate(refs or ()):
        gtin, serial = (ref.gtin, ref.serial) if isinstance(ref, PackRef) else (ref["gtin"], ref["serial"])
        out.append(PackRef(Gtin.parse(gtin, f"{field_name}.{i}.gtin").value,
                           Serial.parse(serial, f"{field_name}.{i}.serial").value))
    return out


def _parse_ssccs(values: Iterable[str], field_name: str) -> list[str]:
    return [Sscc.parse(v, f"{field_name}.{i}").value for i, v in enumerate(values or ())]


def _location(s: Session, location_id: int, field_name: str) -> Location:
    loc = s.get(Location, location_id)
    if loc is None:
        raise NotFound(f"No location with id {location_id} ({field_name}).")
    return loc


def _pack_ids(s: Session, refs: Sequence[PackRef]) -> dict[tuple[str, str], int]:
    keys = list(dict.fromkeys((r.gtin, r.serial) for r in refs))
    found: dict[tuple[str, str], int] = {}
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        for pid, gtin, serial in s.execute(
                select(Pack.id, Pack.gtin, Pack.serial).where(tuple_(Pack.gtin, Pack.serial).in_(part))):
            found[(gtin, serial)] = pid
    return found


def _with_children(s: Session, case_ids: set[int]) -> set[int]:
    """These cases and every case inside them (a pallet's cases, at any depth)."""
    out, frontier = set(case_ids), set(case_ids)
    while frontier:
        found: set[int] = set()
        for chunk in _chunks(s, sorted(frontier)):
            found.update(s.scalars(select(Case.id).where(_in(s, Case.parent_id, chunk))))
        frontier = found - out
        out |= frontier
    return out


def _case_packs(s: Session, case_ids: set[int]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(s, sorted(case_ids)):
        ids.extend(s.scalars(select(Pack.id).where(_in(s, Pack.case_id, chunk))))
    return ids


def _collect(s: Session, refs: list[PackRef], ssccs: list[str],
             location_id: int) -> tuple[list[int], set[int], list[dict]]:
    """Resolve listed packs and cases to pack ids (sorted), the cases that travel whole, and the
    problems found so far: unknown packs and cases, cases elsewhere, anything listed twice."""
    problems: list[dict] = []
    case_ids: set[int] = set()
    pack_ids: dict[int, str] = {}  # id -> how it was listed, to name duplicates
    for sscc in ssccs:
        case = s.scalar(select(Case).where(Case.sscc == sscc))
        if case is None:
            problems.append({"sscc": sscc, "code": "UNKNOWN_CASE", "detail": f"No case with SSCC {sscc}."})
            continue
        if case.location_id is not None and case.location_id != location_id:
            problems.append({"sscc": sscc, "code": "NOT_IN_CUSTODY",
                             "detail": f"Case {sscc} is held by another location."})
            continue
        if case.shipment_id is not None:
            problems.append({"sscc": sscc, "code": "PACK_IN_TRANSIT",
                             "detail": f"Case {sscc} is in transit on a shipment."})
            continue
        inner = _with_children(s, {case.id})
        if inner & case_ids:
            problems.append({"sscc": sscc, "code": "CASE_LISTED_TWICE",
                             "detail": f"Case {sscc} is listed twice (or inside another listed case)."})
            continue
        case_ids |= inner
        packs = _case_packs(s, inner)
        if not packs:
            problems.append({"sscc": sscc, "code": "CASE_EMPTY", "detail": f"Case {sscc} holds no packs."})
        for pid in packs:
            pack_ids[pid] = sscc
    ids = _pack_ids(s, refs)
    seen: set[tuple[str, str]] = set()
    for ref in refs:
        key = (ref.gtin, ref.serial)
        pid = ids.get(key)
        if pid is None:
            problems.append({"gtin": ref.gtin, "serial": ref.serial, "code": "UNKNOWN_PACK",
                             "detail": f"No pack {ref.gtin} / {ref.serial} was ever commissioned."})
        elif key in seen or pid in pack_ids:
            where = f" (in case {pack_ids[pid]})" if pid in pack_ids and key not in seen else ""
            problems.append({"gtin": ref.gtin, "serial": ref.serial, "code": "PACK_LISTED_TWICE",
                             "detail": f"Pack {ref.gtin} / {ref.serial} is listed twice{where}."})
        else:
            pack_ids[pid] = ""
        seen.add(key)
    return sorted(pack_ids), case_ids, problems


def _read_facts(s: Session, pack_ids: Sequence[int], lock: bool) -> list[_Facts]:
    out: list[_Facts] = []
    for chunk in _chunks(s, sorted(pack_ids)):
        stmt = (select(Pack.id, Pack.gtin, Pack.serial, Pack.state, Pack.location_id, Pack.shipment_id,
                       Pack.state_changed_at, Pack.state_location_id, Batch.expiry,
                       Batch.recalled_at.is_not(None), Product.withdrawn_at.is_not(None), Pack.state_org_id)
                .join(Batch, Batch.id == Pack.batch_id).join(Product, Product.id == Batch.product_id)
                .where(_in(s, Pack.id, chunk)).order_by(Pack.id))
        if lock:
            stmt = stmt.with_for_update(of=Pack)
        out.extend(_Facts(*row) for row in s.execute(stmt))
    return out


def _lock_facts(s: Session, pack_ids: Sequence[int]) -> list[_Facts]:
    """Lock the packs in id order (so concurrent acts never deadlock) and read them as they are now."""
    return _read_facts(s, pack_ids, lock=True)


# a return may carry what may no longer be sold back up the chain (for destruction or credit);
# a delivery only what may be
RETURNABLE = frozenset({PackState.ACTIVE, PackState.RECALLED, PackState.EXPIRED, PackState.WITHDRAWN})


def _unmovable(facts: list[_Facts], location_id: int, returning: bool = False) -> list[dict]:
    today = utc_today()
    problems = []
    for f in facts:
        state = effective_state(f.pack_facts, today)
        if f.location_id != location_id:
            problems.append(_problem(f, "NOT_IN_CUSTODY", "The pack is held by another location."))
        elif f.shipment_id is not None:
            problems.append(_problem(f, "PACK_IN_TRANSIT", "The pack is already in transit on a shipment."))
        elif state != PackState.ACTIVE and not (returning and state in RETURNABLE):
            problems.append(_problem(f, "PACK_NOT_ACTIVE", f"The pack is {state.value.lower()}.",
                                     state=state.value))
    return problems


def _problem(f: _Facts, code: str, detail: str, **extra) -> dict:
    return {"gtin": f.gtin, "serial": f.serial, "code": code, "detail": f"{f.gtin} / {f.serial}: {detail}",
            **extra}

