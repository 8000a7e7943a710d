"""Returns to the supplier: a pharmacy sends stock back to the licensed importer or wholesaler that
supplied it (DESIGN.md, "Returns go the same way back").

Numbers: ``RT-<year>-<id, 6 digits>``. States: DRAFT -> SENT -> CONFIRMED | REJECTED; CANCELLED
from DRAFT. The supplier of serialized packs is the sender of the delivery that brought them to
this location (the first pack scanned sets it when the draft names none; every pack must come
from it); quantity stock goes to the licensed importer or wholesaler chosen.

- Send (the pharmacy): one transaction. The packs go on a trace RETURN shipment to the supplier's
  location (``pharma.trace.movements.ship``; its SHIP event posts RETURN movements, see
  ``pharma.stock.serialized``); the quantity lines leave the books as RETURN movements on
  ("return", number).
- Confirm (the supplier): the shipment is received in full through the trace receive act (unless
  the supplier has received it already on the shipments page), the quantities come in as
  TRANSFER_IN (RETURNED) at the supplier's location at the cost they left with.
- Reject (the supplier, with a reason): the quantities go back on the pharmacy's books as
  ADJUSTMENT (RETURNED); the packs are received by the supplier and shipped straight back on a
  new delivery to the pharmacy, which receives it like any other shipment (custody and the
  ledger never disagree, and nothing in trace is undone or rewritten).
Confirming or rejecting twice: the return's row lock lets one win.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from pharma.parties.domain import OrgType
from pharma.parties.models import Licence, Location, Organisation
from pharma.parties.policy import allowed, authorize, scoped_org
from pharma.parties.services import licence_in_force
from pharma.shared.errors import Forbidden, NotFound, RuleViolation, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.documents import (
    AddLines,
    EmptyDocument,
    LinesRefused,
    PackLine,
    WrongState,
    add_wanted,
    append_lines,
    audit_lines,
    batch_problems,
    check_new_lines,
    load,
    location,
    pack_facts,
    pack_problems,
    parse_lines,
    remove_line,
    require_draft,
)
from pharma.stock.documents_models import RETURN_REASONS, StockReturn, StockReturnLine
from pharma.stock.domain import Kind, Move, Reason
from pharma.stock.ledger import lock_balances, post
from pharma.trace import movements as trace
from pharma.trace.models import Shipment, ShipmentPack
from pharma.trace.scans import CommissionedPacks

DOCUMENT = "return"
SUPPLIER_TYPES = (OrgType.IMPORTER.value, OrgType.WHOLESALER.value)


class SupplierNotEligible(RuleViolation):
    code = "SUPPLIER_NOT_ELIGIBLE"
    title = "Stock goes back to a licensed importer or wholesaler"


class NoSupplier(RuleViolation):
    code = "SUPPLIER_MISSING"
    title = "Choose the supplier the stock goes back to"


@dataclass(frozen=True)
class NewReturn:
    location_id: int
    reason: str
    note: str = ""
    supplier_location_id: int | None = None


@dataclass(frozen=True)
class ReturnQuery:
    direction: str | None = None  # outgoing (the pharmacy's) | incoming (to the supplier)
    status: str | None = None
    location_id: int | None = None
    page: int = 1
    per_page: int = 25


def _return(uow: UnitOfWork, return_id: int, lock: bool = False) -> StockReturn:
    return load(uow, StockReturn, return_id, "return", lock)


def _draft(ret: StockReturn) -> None:
    require_draft(ret, "Return")


def _sent(ret: StockReturn) -> None:
    if ret.status != "SENT":
        raise WrongState(f"Return {ret.number} is {ret.status.lower()}, not sent.", state=ret.status)


def _supplier(uow: UnitOfWork, location_id: int, own: Location) -> Location:
    """A location of an active, licensed importer or wholesaler, not the pharmacy's own."""
    s = uow.session
    loc = s.get(Location, location_id)
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    org = s.get(Organisation, loc.organisation_id)
    if org.type not in SUPPLIER_TYPES or org.id == own.organisation_id:
        raise SupplierNotEligible(f"{org.name} is not an importer or wholesaler.")
    if not org.active or not loc.active:
        raise SupplierNotEligible(f"{org.name} ({loc.name}) is not active.")
    kinds = trace.RECEIVING_LICENCES.get(org.type, frozenset())
    today = utc_today()
    if not any(lic.kind in kinds and licence_in_force(lic, today)
               for lic in s.scalars(select(Licence).where(Licence.organisation_id == org.id))):
        raise SupplierNotEligible(f"{org.name} holds no licence in force to take medicines back.")
    return loc


def create_return(uow: UnitOfWork, cmd: NewReturn) -> StockReturn:
    """Draft a return of a location's stock to its supplier, with the reason."""
    authorize(uow.actor, "stock.return.write")
    if cmd.reason not in RETURN_REASONS:
        raise ValidationFailed({"reason": [f"Use one of {', '.join(RETURN_REASONS)}."]})
    with uow:
        loc = location(uow, cmd.location_id, "stock.return.write")
        supplier = _supplier(uow, cmd.supplier_location_id, loc) if cmd.supplier_location_id else None
        now = utcnow()
        ret = StockReturn(number=f"tmp-{uuid.uuid4().hex[:20]}", organisation_id=loc.organisation_id,
                          location_id=loc.id, reason=cmd.reason, note=(cmd.note or "").strip()[:500],
                          supplier_location_id=supplier.id if supplier else None,
                          supplier_org_id=supplier.organisation_id if supplier else None,
                          status="DRAFT", created_at=now, created_by=uow.actor.user_id)
        uow.session.add(ret)
        uow.session.flush()
        ret.number = f"RT-{now.year}-{ret.id:06d}"
        uow.audit("stock.return.create", "return", ret.id,
                  {"number": ret.number, "location_id": loc.id, "supplier_location_id": ret.supplier_location_id,
                   "reason": ret.reason})
        uow.commit()
    return ret


def _deliveries(uow: UnitOfWork, pack_ids: list[int], location_id: int) -> dict[int, Shipment]:
    """The last delivery that brought each pack into this location (received, damaged, or found)."""
    s = uow.session
    out: dict[int, Shipment] = {}
    for i in range(0, len(pack_ids), 500):
        rows = s.execute(
            select(ShipmentPack.pack_id, Shipment).join(Shipment, Shipment.id == ShipmentPack.shipment_id)
            .where(ShipmentPack.pack_id.in_(pack_ids[i:i + 500]), Shipment.to_location_id == location_id,
                   or_(ShipmentPack.outcome.in_(["RECEIVED", "DAMAGED"]), ShipmentPack.resolution == "FOUND"))
            .order_by(Shipment.id))
        for pack_id, shipment in rows:
            out[pack_id] = shipment  # the latest wins
    return out


def add_return_lines(uow: UnitOfWork, return_id: int, cmd: AddLines) -> StockReturn:
    """Add scanned packs and batches by quantity to a draft return. Each pack must be in this
    location's stock and have come on a delivery from the return's supplier (the first pack sets
    the supplier of a return that names none)."""
    authorize(uow.actor, "stock.return.write")
    packs, batches = parse_lines(cmd, CommissionedPacks(uow.session))
    with uow:
        ret = _return(uow, return_id, lock=True)
        authorize(uow.actor, "stock.return.write", ret.organisation_id)
        _draft(ret)
        new = check_new_lines(uow, ret, packs, batches, "A return")
        packs, facts, problems = new.packs, new.facts, new.pack_problems
        found = [facts[(p.gtin, p.serial)] for p in packs if (p.gtin, p.serial) in facts]
        came_on = _deliveries(uow, [f.id for f in found], ret.location_id)
        supplier_loc = ret.supplier_location_id
        for f in found:
            delivery = came_on.get(f.id)
            where = {"gtin": f.gtin, "serial": f.serial}
            if delivery is None:
                problems.append({**where, "code": "NOT_DELIVERED_HERE",
                                 "detail": f"{f.gtin} / {f.serial}: the pack did not come on a delivery here."})
                continue
            supplier_loc = supplier_loc or delivery.from_location_id
            if delivery.from_location_id != supplier_loc:
                problems.append({**where, "code": "OTHER_SUPPLIER",
                                 "detail": f"{f.gtin} / {f.serial}: the pack came from another supplier "
                                           f"({delivery.number})."})
        problems += new.batch_problems
        held = new.held
        if problems:
            raise LinesRefused(problems)
        if supplier_loc is not None and ret.supplier_location_id is None:
            supplier = _supplier(uow, supplier_loc, uow.session.get(Location, ret.location_id))
            ret.supplier_location_id, ret.supplier_org_id = supplier.id, supplier.organisation_id
        append_lines(ret, StockReturnLine, packs, facts, batches, held,
                     pack_extra=lambda f: {"source_shipment_id": came_on[f.id].id},
                     batch_extra=lambda row: {"expiry_raw": row.expiry_raw})
        audit_lines(uow, "stock.return.lines", "return", ret, packs, batches)
        uow.commit()
    return ret


def remove_return_line(uow: UnitOfWork, return_id: int, line_id: int) -> StockReturn:
    """Take a line off a draft return."""
    authorize(uow.actor, "stock.return.write")
    with uow:
        ret = _return(uow, return_id, lock=True)
        authorize(uow.actor, "stock.return.write", ret.organisation_id)
        _draft(ret)
        remove_line(uow, ret, line_id, "Return", "stock.return.line_removed", "return")
        uow.commit()
    return ret


def send_return(uow: UnitOfWork, return_id: int) -> StockReturn:
    """Send a draft return: packs on a RETURN shipment to the supplier, quantities off the books as
    RETURN movements; every line or none."""
    authorize(uow.actor, "stock.return.write")
    with uow:
        ret = _return(uow, return_id, lock=True)
        authorize(uow.actor, "stock.return.write", ret.organisation_id)
        _draft(ret)
        if not ret.lines:
            raise EmptyDocument(f"Return {ret.number} has no lines.")
        if ret.supplier_location_id is None:
            raise NoSupplier(f"Return {ret.number} names no supplier.")
        s = uow.session
        own = s.get(Location, ret.location_id)
        supplier = _supplier(uow, ret.supplier_location_id, own)
        packs = [PackLine(line.gtin, line.serial) for line in ret.lines if line.serial is not None]
        quantities = [line for line in ret.lines if line.serial is None]
        held = lock_balances(s, [(ret.location_id, line.gtin, line.batch) for line in quantities])
        wanted = add_wanted({}, quantities)
        problems = pack_problems(pack_facts(uow, packs), packs, ret.location_id)
        problems += batch_problems(held, ret.location_id, wanted)
        if problems:
            raise LinesRefused(problems)
        now = utcnow()
        moves = [Move(ret.location_id, line.gtin, line.batch, held[(ret.location_id, line.gtin, line.batch)].expiry,
                      held[(ret.location_id, line.gtin, line.batch)].expiry_raw, Kind.RETURN, -line.quantity)
                 for line in quantities]
        rows = post(uow, moves, (DOCUMENT, ret.number), held=held, at=now)
        for line, row in zip(quantities, rows, strict=True):
            line.value = -row["value"]
        if packs:
            sources = {line.source_shipment_id for line in ret.lines if line.serial is not None}
            source = s.get(Shipment, next(iter(sources))) if len(sources) == 1 and None not in sources else None
            common = source.id if source is not None and source.from_location_id == supplier.id else None
            shipment = trace.ship(uow.enlisted(), trace.ShipPacks(
                ret.location_id, supplier.id, packs=tuple(trace.PackRef(p.gtin, p.serial) for p in packs),
                kind=trace.ShipmentKind.RETURN.value, return_of_id=common))
            ret.shipment_id = shipment.id
        ret.status = "SENT"
        ret.sent_at, ret.sent_by = now, uow.actor.user_id
        uow.audit("stock.return.send", "return", ret.id,
                  {"number": ret.number, "supplier_location_id": supplier.id, "packs": len(packs),
                   "units": sum(wanted.values()), "shipment_id": ret.shipment_id}, count=len(ret.lines))
        uow.commit()
    return ret


def _incoming_moves(ret: StockReturn, location_id: int, kind: Kind, reason: Reason) -> list[Move]:
    return [Move(location_id, line.gtin, line.batch, line.expiry, line.expiry_raw, kind, line.quantity, reason,
                 unit_cost=line.value // line.quantity)
            for line in ret.lines if line.serial is None]


def _pack_refs(ret: StockReturn) -> tuple:
    return tuple(trace.PackRef(line.gtin, line.serial) for line in ret.lines if line.serial is not None)


def confirm_return(uow: UnitOfWork, return_id: int) -> StockReturn:
    """The supplier takes the return in: its packs received (in full) and its quantities on its books."""
    authorize(uow.actor, "stock.return.confirm")
    with uow:
        ret = _return(uow, return_id, lock=True)
        authorize(uow.actor, "stock.return.confirm", ret.supplier_org_id)
        _sent(ret)
        s = uow.session
        now = utcnow()
        post(uow, _incoming_moves(ret, ret.supplier_location_id, Kind.TRANSFER_IN, Reason.RETURNED),
             (DOCUMENT, ret.number), at=now)
        refs = _pack_refs(ret)
        if refs:
            shipment = s.get(Shipment, ret.shipment_id, with_for_update=True, populate_existing=True)
            if shipment.status == trace.ShipmentStatus.IN_TRANSIT.value:
                trace.receive(uow.enlisted(), shipment.id, trace.Receipt(packs=refs))
        ret.status = "CONFIRMED"
        ret.decided_at, ret.decided_by = now, uow.actor.user_id
        uow.audit("stock.return.confirm", "return", ret.id, {"number": ret.number}, count=len(ret.lines))
        uow.commit()
    return ret


def reject_return(uow: UnitOfWork, return_id: int, reason: str) -> StockReturn:
    """The supplier refuses the return, saying why: the quantities go back on the pharmacy's books, the
    packs are shipped straight back to it."""
    authorize(uow.actor, "stock.return.confirm")
    why = (reason or "").strip()
    if not 3 <= len(why) <= 500:
        raise ValidationFailed({"reason": ["Say why, in 3 to 500 characters."]})
    with uow:
        ret = _return(uow, return_id, lock=True)
        authorize(uow.actor, "stock.return.confirm", ret.supplier_org_id)
        _sent(ret)
        s = uow.session
        now = utcnow()
        post(uow, _incoming_moves(ret, ret.location_id, Kind.ADJUSTMENT, Reason.RETURNED),
             (DOCUMENT, ret.number), at=now)
        refs = _pack_refs(ret)
        if refs:
            shipment = s.get(Shipment, ret.shipment_id, with_for_update=True, populate_existing=True)
            if shipment.status == trace.ShipmentStatus.IN_TRANSIT.value:
                trace.receive(uow.enlisted(), shipment.id, trace.Receipt(packs=refs))
            # back as a return of the return: recalled or expired packs may travel back too
            back = trace.ship(uow.enlisted(), trace.ShipPacks(ret.supplier_location_id, ret.location_id, packs=refs,
                                                              kind=trace.ShipmentKind.RETURN.value))
            ret.back_shipment_id = back.id
        ret.status = "REJECTED"
        ret.rejection_reason = why
        ret.decided_at, ret.decided_by = now, uow.actor.user_id
        uow.audit("stock.return.reject", "return", ret.id,
                  {"number": ret.number, "reason": why, "back_shipment_id": ret.back_shipment_id},
                  count=len(ret.lines))
        uow.commit()
    return ret


def cancel_return(uow: UnitOfWork, return_id: int) -> StockReturn:
    """Cancel a draft return: nothing was posted, nothing is."""
    authorize(uow.actor, "stock.return.write")
    with uow:
        ret = _return(uow, return_id, lock=True)
        authorize(uow.actor, "stock.return.write", ret.organisation_id)
        _draft(ret)
        ret.status = "CANCELLED"
        ret.decided_at, ret.decided_by = utcnow(), uow.actor.user_id
        uow.audit("stock.return.cancel", "return", ret.id, {"number": ret.number})
        uow.commit()
    return ret


def may_read(uow: UnitOfWork, ret: StockReturn) -> bool:
    return allowed(uow.actor, "stock.read", ret.organisation_id) or (
        ret.supplier_org_id is not None and allowed(uow.actor, "stock.read", ret.supplier_org_id))


def get_return(uow: UnitOfWork, return_id: int) -> StockReturn:
    """One return with its lines: for the pharmacy, its supplier and the agency."""
    authorize(uow.actor, "stock.read")
    ret = _return(uow, return_id)
    if not may_read(uow, ret):
        raise Forbidden("This return belongs to other organisations.")
    return ret


def list_returns(uow: UnitOfWork, q: ReturnQuery) -> Page:
    """Returns newest first: outgoing (the caller's pharmacy's), incoming (to the caller as supplier),
    or both; the agency sees all."""
    org = scoped_org(uow.actor, "stock.read")
    where = []
    if q.direction == "incoming":
        where.append(StockReturn.status != "DRAFT")  # a draft is the pharmacy's own business
        if org is not None:
            where.append(StockReturn.supplier_org_id == org)
    elif q.direction == "outgoing":
        if org is not None:
            where.append(StockReturn.organisation_id == org)
    elif org is not None:
        where.append(or_(StockReturn.organisation_id == org,
                         (StockReturn.supplier_org_id == org) & (StockReturn.status != "DRAFT")))
    if q.location_id is not None:
        where.append(or_(StockReturn.location_id == q.location_id, StockReturn.supplier_location_id == q.location_id))
    if q.status:
        where.append(StockReturn.status == q.status)
    s = uow.session
    total = s.scalar(select(func.count()).select_from(StockReturn).where(*where))
    rows = list(s.scalars(select(StockReturn).options(selectinload(StockReturn.lines)).where(*where)
                          .order_by(StockReturn.id.desc()).limit(q.per_page).offset((q.page - 1) * q.per_page)))
    return Page([return_summary(r) for r in rows], total or 0, q.page, q.per_page)


def return_summary(ret: StockReturn) -> dict:
    return {"id": ret.id, "number": ret.number, "organisation_id": ret.organisation_id,
            "location_id": ret.location_id, "supplier_org_id": ret.supplier_org_id,
            "supplier_location_id": ret.supplier_location_id, "reason": ret.reason, "note": ret.note,
            "status": ret.status, "shipment_id": ret.shipment_id, "back_shipment_id": ret.back_shipment_id,
            "rejection_reason": ret.rejection_reason, "created_at": ret.created_at, "sent_at": ret.sent_at,
            "decided_at": ret.decided_at,
            "packs": sum(1 for line in ret.lines if line.serial is not None),
            "units": sum(line.quantity for line in ret.lines if line.serial is None), "lines_count": len(ret.lines)}


def supplier_locations(uow: UnitOfWork) -> list[tuple[Location, Organisation]]:
    """Locations stock may go back to: active importers' and wholesalers' (licence checked on use)."""
    authorize(uow.actor, "stock.return.write")
    return list(uow.session.execute(
        select(Location, Organisation).join(Organisation, Organisation.id == Location.organisation_id)
        .where(Organisation.type.in_(SUPPLIER_TYPES), Organisation.active.is_(True), Location.active.is_(True))
        .order_by(Organisation.name, Location.name).limit(500)).all())
