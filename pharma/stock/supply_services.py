"""Supply use cases: stock levels, the reorder proposal, and a supply request from draft to
fulfilment (send, cancel, acknowledge, reject, ship against it). Rules: ``pharma.stock.supply``.

Every act on a request locks its row first (``SELECT ... FOR UPDATE``), then checks its state:
two people acting on the same request at once queue up, and the second sees what the first did
(acknowledged twice, shipped twice: one wins). Shipping against a request runs the trace shipping
act (``pharma.trace.movements.ship``) inside this transaction and links the shipment to the
request in ``supply_request_shipments``; a refused shipment leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pharma.parties.domain import LicenceKind, OrgType
from pharma.parties.models import Licence, Location, Organisation
from pharma.parties.policy import allowed, authorize, scoped_org
from pharma.parties.services import licence_in_force
from pharma.register.models import Product, ProductGtin
from pharma.shared.errors import Forbidden, NotFound, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import Kind, ProductNotRegistered
from pharma.stock.ledger import BALANCES, MOVEMENTS
from pharma.stock.supply import (
    ACKNOWLEDGEABLE,
    CANCELLABLE,
    CLOSABLE,
    DEFAULT_DAYS,
    EDITABLE,
    OPEN,
    REJECTABLE,
    SENDABLE,
    SHIPPABLE,
    Level,
    LevelsChanged,
    RequestEmpty,
    RequestStatus,
    SupplierNotLicensed,
    check_level,
    check_shipment,
    check_state,
    daily_consumption,
    propose,
    status_after_shipping,
)
from pharma.stock.supply_models import StockLevel, SupplyRequest, SupplyRequestLine, SupplyRequestShipment
from pharma.trace import movements as trace
from pharma.trace.models import Batch, Pack, Shipment, ShipmentPack

LEVELS_WRITE = "supply.levels.write"
WRITE = "supply.request.write"
READ = "supply.request.read"
FULFIL = "supply.request.fulfil"
SUPPLIER_LICENCES = frozenset({LicenceKind.WHOLESALE.value, LicenceKind.IMPORT.value})
SUPPLIER_TYPES = (OrgType.IMPORTER.value, OrgType.WHOLESALER.value)
MAX_DAYS = 365


# ---------------------------------------------------------------- commands


@dataclass(frozen=True)
class LevelLine:
    gtin: str  # GTIN-14
    minimum: int
    maximum: int


@dataclass(frozen=True)
class SetLevels:
    location_id: int
    levels: tuple[LevelLine, ...] = ()
    remove: tuple[str, ...] = ()  # GTINs whose levels go


@dataclass(frozen=True)
class RequestLine:
    gtin: str
    quantity: int
    note: str = ""


@dataclass(frozen=True)
class NewRequest:
    location_id: int
    lines: tuple[RequestLine, ...] = ()
    note: str = ""
    from_proposal: bool = False  # no lines given: take the proposal's
    days: int = DEFAULT_DAYS


@dataclass(frozen=True)
class EditRequest:
    lines: tuple[RequestLine, ...]
    note: str | None = None


@dataclass(frozen=True)
class ShipAgainst:
    from_location_id: int
    packs: tuple[trace.PackRef, ...] = ()
    cases: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestQuery:
    status: str | None = None
    location_id: int | None = None
    page: int = 1
    per_page: int = 25


@dataclass
class ProposalResult:
    location: Location
    days: int
    lines: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"location_id": self.location.id, "location_name": self.location.name, "days": self.days,
                "lines": self.lines}


@dataclass
class RequestView:
    request: SupplyRequest
    location: Location
    organisation: Organisation
    supplier: Organisation | None
    lines: list[dict] = field(default_factory=list)
    shipments: list[dict] = field(default_factory=list)

    def __getattr__(self, name):
        return getattr(self.request, name)

    def to_dict(self) -> dict:
        r = self.request
        return {"id": r.id, "number": r.number, "status": r.status, "location_id": r.location_id,
                "location_name": self.location.name, "location_gln": self.location.gln,
                "organisation_id": r.organisation_id, "organisation_name": self.organisation.name,
                "supplier_id": r.supplier_id, "supplier_name": self.supplier.name if self.supplier else None,
                "note": r.note, "reason": r.reason, "created_at": r.created_at, "sent_at": r.sent_at,
                "answered_at": r.answered_at, "closed_at": r.closed_at, "lines": self.lines,
                "shipments": self.shipments}


# ---------------------------------------------------------------- helpers


def _location(uow: UnitOfWork, location_id: int, action: str) -> Location:
    loc = uow.session.get(Location, location_id)
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    authorize(uow.actor, action, loc.organisation_id)
    return loc


def _registered(s: Session, gtins) -> dict[str, str]:
    """GTIN -> trade name of registered products; refuses an unknown GTIN."""
    wanted = sorted(set(gtins))
    names = _names(s, wanted)
    missing = [g for g in wanted if g not in names]
    if missing:
        raise ProductNotRegistered(f"GTIN {missing[0]} is not in the product register.", gtins=missing)
    return names


def _names(s: Session, gtins) -> dict[str, str]:
    gtins = sorted(set(gtins))
    if not gtins:
        return {}
    return dict(s.execute(select(ProductGtin.gtin, Product.trade_name)
                          .join(Product, Product.id == ProductGtin.product_id)
                          .where(ProductGtin.gtin.in_(gtins))).all())


def _text(value: str | None, limit: int, name: str) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValidationFailed({name: [f"At most {limit} characters."]})
    return text


def _clean_lines(lines: tuple[RequestLine, ...]) -> list[RequestLine]:
    seen: set[str] = set()
    errors: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        if line.gtin in seen:
            errors[f"lines.{i}.gtin"] = [f"GTIN {line.gtin} is listed twice."]
        if not 1 <= line.quantity <= 1_000_000:
            errors[f"lines.{i}.quantity"] = ["Order 1 to 1,000,000 packs."]
        if len(line.note or "") > 200:
            errors[f"lines.{i}.note"] = ["At most 200 characters."]
        seen.add(line.gtin)
    if errors:
        raise ValidationFailed(errors)
    return list(lines)


def _lock(s: Session, request_id: int) -> SupplyRequest:
    req = s.get(SupplyRequest, request_id, with_for_update=True, populate_existing=True)
    if req is None:
        raise NotFound(f"No supply request with id {request_id}.")
    return req


def _may_read(uow: UnitOfWork, req: SupplyRequest) -> bool:
    """The agency reads any request; the pharmacy its own; the supplier those sent to it."""
    actor = uow.actor
    if allowed(actor, READ, req.organisation_id):
        return True
    return (req.supplier_id is not None and req.status != RequestStatus.DRAFT
            and allowed(actor, READ, req.supplier_id))


def _as_pharmacy(uow: UnitOfWork, req: SupplyRequest) -> None:
    authorize(uow.actor, WRITE, req.organisation_id)


def _as_supplier(uow: UnitOfWork, req: SupplyRequest) -> None:
    if req.supplier_id is None or req.status == RequestStatus.DRAFT or not allowed(uow.actor, FULFIL, req.supplier_id):
        raise Forbidden(f"Your role may not do '{FULFIL}' here.")


def _shipped(s: Session, request_ids: list[int]) -> dict[tuple[int, str], int]:
    """Packs shipped against each request, per GTIN (packs scanned as extra at receipt not counted)."""
    if not request_ids:
        return {}
    rows = s.execute(
        select(SupplyRequestShipment.request_id, Pack.gtin, func.count())
        .join(ShipmentPack, ShipmentPack.shipment_id == SupplyRequestShipment.shipment_id)
        .join(Pack, Pack.id == ShipmentPack.pack_id)
        .where(SupplyRequestShipment.request_id.in_(request_ids),
               or_(ShipmentPack.outcome.is_(None), ShipmentPack.outcome != trace.Outcome.EXTRA.value))
        .group_by(SupplyRequestShipment.request_id, Pack.gtin))
    return {(rid, gtin): n for rid, gtin, n in rows}


def _touch(req: SupplyRequest) -> datetime:
    now = utcnow()
    req.updated_at = now
    return now


# ---------------------------------------------------------------- levels


def set_levels(uow: UnitOfWork, cmd: SetLevels) -> list[dict]:
    """Set (insert or change) the minimum and maximum of products at a location, and remove others;
    all or nothing. Rule: 0 <= minimum <= maximum."""
    authorize(uow.actor, LEVELS_WRITE)
    if not cmd.levels and not cmd.remove:
        raise ValidationFailed({"levels": ["List at least one level or one GTIN to remove."]})
    gtins = [line.gtin for line in cmd.levels]
    doubled = sorted({g for g in gtins if gtins.count(g) > 1} | (set(gtins) & set(cmd.remove)))
    if doubled:
        raise ValidationFailed({"levels": [f"GTIN {doubled[0]} is listed twice."]})
    for line in cmd.levels:
        check_level(line.minimum, line.maximum, line.gtin)
    with uow:
        s = uow.session
        loc = _location(uow, cmd.location_id, LEVELS_WRITE)
        _registered(s, gtins)
        now = utcnow()
        existing = {lv.gtin: lv for lv in s.scalars(
            select(StockLevel).where(StockLevel.location_id == loc.id,
                                     StockLevel.gtin.in_(sorted({*gtins, *cmd.remove})))
            .order_by(StockLevel.gtin).with_for_update())}
        for line in cmd.levels:
            level = existing.get(line.gtin)
            if level is None:
                level = StockLevel(location_id=loc.id, gtin=line.gtin)
                s.add(level)
            level.min_quantity, level.max_quantity = line.minimum, line.maximum
            level.updated_at, level.updated_by = now, uow.actor.user_id
        removed = [g for g in cmd.remove if g in existing]
        if removed:
            s.execute(delete(StockLevel).where(StockLevel.location_id == loc.id, StockLevel.gtin.in_(removed)))
        try:
            s.flush()
        except IntegrityError:  # a colleague added the same product's level at the same moment
            raise LevelsChanged("The levels changed meanwhile; reload the table and try again.") from None
        uow.audit("supply.levels.set", "location", loc.id,
                  {"levels": [{"gtin": x.gtin, "min": x.minimum, "max": x.maximum} for x in cmd.levels][:200],
                   "removed": removed[:200]}, count=len(cmd.levels) + len(removed))
        uow.commit()
    return levels_of(uow, loc.id)


def levels_of(uow: UnitOfWork, location_id: int) -> list[dict]:
    """A location's stock levels by product name."""
    authorize(uow.actor, READ)
    s = uow.session
    loc = _location(uow, location_id, READ)
    rows = s.scalars(select(StockLevel).where(StockLevel.location_id == loc.id)).all()
    names = _names(s, [r.gtin for r in rows])
    items = [{"location_id": r.location_id, "gtin": r.gtin, "trade_name": names.get(r.gtin),
              "min_quantity": r.min_quantity, "max_quantity": r.max_quantity, "updated_at": r.updated_at}
             for r in rows]
    return sorted(items, key=lambda i: ((i["trade_name"] or "").lower(), i["gtin"]))


# ---------------------------------------------------------------- the proposal


def _on_hand(s: Session, location_id: int) -> dict[str, int]:
    """Sellable units per GTIN: unexpired batches not recalled (as the sale's FEFO picks them)."""
    b = BALANCES.c
    rows = s.execute(
        select(b.gtin, func.sum(b.quantity)).select_from(BALANCES)
        .outerjoin(Batch, and_(Batch.gtin == b.gtin, Batch.batch == b.batch))
        .where(b.location_id == location_id, b.quantity > 0, b.expiry >= utc_today(), Batch.recalled_at.is_(None))
        .group_by(b.gtin))
    return {gtin: int(n) for gtin, n in rows}


def _in_transit(s: Session, location_id: int) -> dict[str, int]:
    """Packs per GTIN travelling to the location on shipments not received yet."""
    rows = s.execute(
        select(Pack.gtin, func.count()).select_from(Shipment)
        .join(Pack, Pack.shipment_id == Shipment.id)
        .where(Shipment.to_location_id == location_id, Shipment.status == trace.ShipmentStatus.IN_TRANSIT.value)
        .group_by(Pack.gtin))
    return {gtin: int(n) for gtin, n in rows}


def _requested(s: Session, location_id: int, but: int | None = None) -> dict[str, int]:
    """Packs per GTIN that open requests for the location still wait for (line less shipped)."""
    rows = s.execute(
        select(SupplyRequestLine.request_id, SupplyRequestLine.gtin, SupplyRequestLine.quantity)
        .join(SupplyRequest, SupplyRequest.id == SupplyRequestLine.request_id)
        .where(SupplyRequest.location_id == location_id, SupplyRequest.status.in_([x.value for x in OPEN]),
               *([SupplyRequest.id != but] if but else []))).all()
    shipped = _shipped(s, sorted({r.request_id for r in rows}))
    out: dict[str, int] = defaultdict(int)
    for rid, gtin, quantity in rows:
        out[gtin] += max(0, quantity - shipped.get((rid, gtin), 0))
    return dict(out)


def _consumed(s: Session, location_id: int, days: int) -> dict[str, int]:
    """Units sold or dispensed per GTIN in the last ``days`` days."""
    m = MOVEMENTS.c
    since = utcnow() - timedelta(days=days)
    rows = s.execute(
        select(m.gtin, func.sum(m.quantity))
        .where(m.location_id == location_id, m.created_at >= since, m.kind.in_([Kind.SALE.value, Kind.DISPENSE.value]))
        .group_by(m.gtin))
    return {gtin: -int(n) for gtin, n in rows if n}


def _days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed({"days": [f"Look back 1 to {MAX_DAYS} days."]})
    return days


def _proposal_lines(s: Session, location_id: int, days: int) -> list[dict]:
    levels = {lv.gtin: lv for lv in s.scalars(select(StockLevel).where(StockLevel.location_id == location_id))}
    consumed = _consumed(s, location_id, days)
    on_hand, transit, requested = _on_hand(s, location_id), _in_transit(s, location_id), _requested(s, location_id)
    gtins = sorted(set(levels) | {g for g, n in consumed.items() if n > 0})
    names = _names(s, gtins)
    lines = []
    for gtin in gtins:
        lv = levels.get(gtin)
        daily = daily_consumption(consumed.get(gtin, 0), days)
        p = propose(Level(lv.min_quantity, lv.max_quantity) if lv else None, on_hand.get(gtin, 0),
                    transit.get(gtin, 0), requested.get(gtin, 0), daily)
        lines.append({"gtin": gtin, "trade_name": names.get(gtin), "min_quantity": p.level.minimum,
                      "max_quantity": p.level.maximum, "level_suggested": p.suggested,
                      "on_hand": on_hand.get(gtin, 0), "in_transit": transit.get(gtin, 0),
                      "requested": requested.get(gtin, 0), "consumed": consumed.get(gtin, 0),
                      "daily_consumption": round(float(daily), 2), "projected": _round(p.projected),
                      "proposed": p.quantity})
    lines.sort(key=lambda x: (x["proposed"] == 0, (x["trade_name"] or "").lower(), x["gtin"]))
    return lines


def _round(value: Fraction) -> float:
    return round(float(value), 2)


def proposal(uow: UnitOfWork, location_id: int, days: int = DEFAULT_DAYS) -> ProposalResult:
    """The reorder proposal of a location (rule: ``pharma.stock.supply``): every product with a level
    or sold in the last ``days`` days, with its figures and the packs to order."""
    authorize(uow.actor, READ)
    days = _days(days)
    loc = _location(uow, location_id, READ)
    return ProposalResult(loc, days, _proposal_lines(uow.session, loc.id, days))


# ---------------------------------------------------------------- the pharmacy's acts


def create_request(uow: UnitOfWork, cmd: NewRequest) -> RequestView:
    """Open a DRAFT request for a location: the lines given, or the proposal's (products to order)."""
    authorize(uow.actor, WRITE)
    lines = _clean_lines(cmd.lines)
    note = _text(cmd.note, 500, "note")
    days = _days(cmd.days)
    with uow:
        s = uow.session
        loc = _location(uow, cmd.location_id, WRITE)
        if not lines and cmd.from_proposal:
            lines = [RequestLine(x["gtin"], x["proposed"]) for x in _proposal_lines(s, loc.id, days) if x["proposed"]]
            if not lines:
                raise RequestEmpty("Nothing to order: every product is above its minimum.")
        if not lines:
            raise RequestEmpty("List at least one line, or take the proposal's.")
        _registered(s, [line.gtin for line in lines])
        now = utcnow()
        req = SupplyRequest(number=f"tmp-{uuid.uuid4().hex[:24]}", organisation_id=loc.organisation_id,
                            location_id=loc.id, status=RequestStatus.DRAFT.value, note=note, created_at=now,
                            updated_at=now, created_by=uow.actor.user_id,
                            lines=[SupplyRequestLine(gtin=x.gtin, quantity=x.quantity, note=(x.note or "").strip())
                                   for x in lines])
        s.add(req)
        s.flush()
        req.number = f"SR-{now.year}-{req.id:06d}"
        uow.audit("supply.request.create", "supply_request", req.id,
                  {"number": req.number, "location_id": loc.id, "from_proposal": cmd.from_proposal and not cmd.lines,
                   "lines": [{"gtin": x.gtin, "quantity": x.quantity} for x in lines][:200]}, count=len(lines))
        uow.commit()
    return get_request(uow, req.id)


def edit_request(uow: UnitOfWork, request_id: int, cmd: EditRequest) -> RequestView:
    """Replace a DRAFT request's lines (and its note)."""
    authorize(uow.actor, WRITE)
    lines = _clean_lines(cmd.lines)
    if not lines:
        raise RequestEmpty("A request keeps at least one line; cancel it instead.")
    note = _text(cmd.note, 500, "note") if cmd.note is not None else None
    with uow:
        s = uow.session
        req = _lock(s, request_id)
        _as_pharmacy(uow, req)
        check_state(req.status, EDITABLE, "edited", req.number)
        _registered(s, [line.gtin for line in lines])
        by_gtin = {x.gtin: x for x in req.lines}
        for old in list(req.lines):
            if old.gtin not in {x.gtin for x in lines}:
                req.lines.remove(old)
        for x in lines:
            row = by_gtin.get(x.gtin)
            if row is None:
                req.lines.append(SupplyRequestLine(gtin=x.gtin, quantity=x.quantity, note=(x.note or "").strip()))
            else:
                row.quantity, row.note = x.quantity, (x.note or "").strip()
        if note is not None:
            req.note = note
        _touch(req)
        s.flush()
        uow.audit("supply.request.edit", "supply_request", req.id,
                  {"number": req.number, "lines": [{"gtin": x.gtin, "quantity": x.quantity} for x in lines][:200]},
                  count=len(lines))
        uow.commit()
    return get_request(uow, request_id)


def send_request(uow: UnitOfWork, request_id: int, supplier_id: int) -> RequestView:
    """Send a DRAFT request to a wholesaler or importer holding a wholesale or import licence in force."""
    authorize(uow.actor, WRITE)
    with uow:
        s = uow.session
        req = _lock(s, request_id)
        _as_pharmacy(uow, req)
        check_state(req.status, SENDABLE, "sent", req.number)
        if not req.lines:
            raise RequestEmpty(f"Request {req.number} has no lines.")
        supplier = s.get(Organisation, supplier_id)
        if supplier is None:
            raise NotFound(f"No organisation with id {supplier_id}.")
        _check_supplier(s, supplier)
        now = _touch(req)
        req.status, req.supplier_id, req.sent_at, req.sent_by = RequestStatus.SENT.value, supplier.id, now, \
            uow.actor.user_id
        uow.audit("supply.request.send", "supply_request", req.id, {"number": req.number, "supplier_id": supplier.id})
        uow.commit()
    return get_request(uow, request_id)


def _check_supplier(s: Session, org: Organisation) -> None:
    if not org.active or org.type not in SUPPLIER_TYPES:
        raise SupplierNotLicensed(f"{org.name} is not an active wholesaler or importer.")
    today = utc_today()
    licences = s.scalars(select(Licence).where(Licence.organisation_id == org.id))
    if not any(lic.kind in SUPPLIER_LICENCES and licence_in_force(lic, today) for lic in licences):
        raise SupplierNotLicensed(f"{org.name} holds no wholesale or import licence in force.")


def cancel_request(uow: UnitOfWork, request_id: int, reason: str = "") -> RequestView:
    """The pharmacy withdraws its request: a draft, or a sent request not yet acknowledged."""
    authorize(uow.actor, WRITE)
    why = _text(reason, 500, "reason")
    with uow:
        req = _lock(uow.session, request_id)
        _as_pharmacy(uow, req)
        check_state(req.status, CANCELLABLE, "cancelled", req.number)
        now = _touch(req)
        req.status, req.reason, req.closed_at = RequestStatus.CANCELLED.value, why or None, now
        uow.audit("supply.request.cancel", "supply_request", req.id, {"number": req.number, "reason": why})
        uow.commit()
    return get_request(uow, request_id)


def close_short(uow: UnitOfWork, request_id: int, reason: str) -> RequestView:
    """Close a partly shipped request: the pharmacy no longer waits for the rest, or the supplier
    cannot deliver it. What is left stops counting as requested in the reorder proposal."""
    why = _text(reason, 500, "reason")
    if len(why) < 3:
        raise ValidationFailed({"reason": ["Say why, in 3 to 500 characters."]})
    with uow:
        req = _lock(uow.session, request_id)
        if not allowed(uow.actor, WRITE, req.organisation_id):
            _as_supplier(uow, req)
        check_state(req.status, CLOSABLE, "closed short", req.number)
        now = _touch(req)
        req.status, req.reason, req.closed_at = RequestStatus.CLOSED_SHORT.value, why, now
        uow.audit("supply.request.close_short", "supply_request", req.id, {"number": req.number, "reason": why})
        uow.commit()
    return get_request(uow, request_id)


# ---------------------------------------------------------------- the supplier's acts


def acknowledge_request(uow: UnitOfWork, request_id: int) -> RequestView:
    """The supplier takes on a SENT request (the pharmacy can no longer cancel it)."""
    authorize(uow.actor, FULFIL)
    with uow:
        req = _lock(uow.session, request_id)
        _as_supplier(uow, req)
        check_state(req.status, ACKNOWLEDGEABLE, "acknowledged", req.number)
        now = _touch(req)
        req.status, req.answered_at, req.answered_by = RequestStatus.ACKNOWLEDGED.value, now, uow.actor.user_id
        uow.audit("supply.request.acknowledge", "supply_request", req.id, {"number": req.number})
        uow.commit()
    return get_request(uow, request_id)


def reject_request(uow: UnitOfWork, request_id: int, reason: str) -> RequestView:
    """The supplier declines a request it has not shipped against, saying why."""
    authorize(uow.actor, FULFIL)
    why = _text(reason, 500, "reason")
    if len(why) < 3:
        raise ValidationFailed({"reason": ["Say why, in 3 to 500 characters."]})
    with uow:
        req = _lock(uow.session, request_id)
        _as_supplier(uow, req)
        check_state(req.status, REJECTABLE, "rejected", req.number)
        now = _touch(req)
        req.status, req.reason = RequestStatus.REJECTED.value, why
        req.answered_at, req.answered_by, req.closed_at = now, uow.actor.user_id, now
        uow.audit("supply.request.reject", "supply_request", req.id, {"number": req.number, "reason": why})
        uow.commit()
    return get_request(uow, request_id)


def ship_against(uow: UnitOfWork, request_id: int, cmd: ShipAgainst) -> tuple[RequestView, str]:
    """Ship packs and cases to the requesting location against the request (trace's shipping act, in
    this transaction): only requested products, up to what each line still waits for. The request
    becomes PARTIALLY_SHIPPED, or FULFILLED when every line is shipped in full. Returns the request
    and the shipment's number."""
    authorize(uow.actor, FULFIL)
    with uow:
        s = uow.session
        req = _lock(s, request_id)
        _as_supplier(uow, req)
        check_state(req.status, SHIPPABLE, "shipped against", req.number)
        origin = s.get(Location, cmd.from_location_id)
        if origin is None or origin.organisation_id != req.supplier_id:
            raise ValidationFailed({"from_location_id": ["Ship from one of your own locations."]})
        before = _shipped(s, [req.id])
        remaining = {x.gtin: max(0, x.quantity - before.get((req.id, x.gtin), 0)) for x in req.lines}
        shipment = trace.ship(uow.enlisted(), trace.ShipPacks(origin.id, req.location_id, cmd.packs, cmd.cases))
        on_board = dict(s.execute(
            select(Pack.gtin, func.count()).join(ShipmentPack, ShipmentPack.pack_id == Pack.id)
            .where(ShipmentPack.shipment_id == shipment.id).group_by(Pack.gtin)).all())
        check_shipment(remaining, on_board)
        s.add(SupplyRequestShipment(request_id=req.id, shipment_id=shipment.id, created_by=uow.actor.user_id))
        status = status_after_shipping([(x.quantity, before.get((req.id, x.gtin), 0) + on_board.get(x.gtin, 0))
                                        for x in req.lines])
        now = _touch(req)
        if req.answered_at is None:  # shipping answers a request as well as acknowledging it
            req.answered_at, req.answered_by = now, uow.actor.user_id
        req.status = status.value
        if status == RequestStatus.FULFILLED:
            req.closed_at = now
        number = shipment.number
        uow.audit("supply.request.ship", "supply_request", req.id,
                  {"number": req.number, "shipment": number, "status": req.status, "packs": on_board},
                  count=sum(on_board.values()))
        uow.commit()
    return get_request(uow, request_id), number


# ---------------------------------------------------------------- reads


def get_request(uow: UnitOfWork, request_id: int) -> RequestView:
    """A request with its lines (requested, shipped, still to ship) and the shipments against it."""
    authorize(uow.actor, READ)
    s = uow.session
    req = s.get(SupplyRequest, request_id)
    if req is None:
        raise NotFound(f"No supply request with id {request_id}.")
    if not _may_read(uow, req):
        raise Forbidden(f"Your role may not do '{READ}' here.")
    shipped = _shipped(s, [req.id])
    names = _names(s, [x.gtin for x in req.lines])
    lines = [{"gtin": x.gtin, "trade_name": names.get(x.gtin), "quantity": x.quantity, "note": x.note,
              "shipped": shipped.get((req.id, x.gtin), 0),
              "remaining": max(0, x.quantity - shipped.get((req.id, x.gtin), 0))} for x in req.lines]
    shipments = [{"id": sh.id, "number": sh.number, "status": sh.status, "packs_count": sh.packs_count,
                  "shipped_at": sh.shipped_at, "received_at": sh.received_at}
                 for sh in s.scalars(select(Shipment).join(SupplyRequestShipment,
                                                           SupplyRequestShipment.shipment_id == Shipment.id)
                                     .where(SupplyRequestShipment.request_id == req.id).order_by(Shipment.id))]
    return RequestView(req, s.get(Location, req.location_id), s.get(Organisation, req.organisation_id),
                       s.get(Organisation, req.supplier_id) if req.supplier_id else None, lines, shipments)


def list_requests(uow: UnitOfWork, q: RequestQuery) -> Page:
    """Requests newest first: a pharmacy's own, those sent to a supplier, all for the agency."""
    org_id = scoped_org(uow.actor, READ)
    s = uow.session
    if q.status is not None and q.status not in list(RequestStatus):
        raise ValidationFailed({"status": [f"Use one of {', '.join(RequestStatus)}."]})
    where = []
    if org_id is not None:
        where.append(or_(SupplyRequest.organisation_id == org_id,
                         and_(SupplyRequest.supplier_id == org_id, SupplyRequest.status != RequestStatus.DRAFT.value)))
    if q.status:
        where.append(SupplyRequest.status == q.status)
    if q.location_id:
        where.append(SupplyRequest.location_id == q.location_id)
    total = s.scalar(select(func.count()).select_from(SupplyRequest).where(*where)) or 0
    reqs = s.scalars(select(SupplyRequest).where(*where).order_by(SupplyRequest.id.desc())
                     .limit(q.per_page).offset((q.page - 1) * q.per_page)).all()
    locs = {x.id: x for x in s.scalars(select(Location).where(Location.id.in_({r.location_id for r in reqs})))}
    orgs = {x.id: x for x in s.scalars(select(Organisation).where(
        Organisation.id.in_({r.organisation_id for r in reqs} | {r.supplier_id for r in reqs if r.supplier_id})))}
    counts = {rid: (n, int(u)) for rid, n, u in s.execute(
        select(SupplyRequestLine.request_id, func.count(), func.sum(SupplyRequestLine.quantity))
        .where(SupplyRequestLine.request_id.in_([r.id for r in reqs])).group_by(SupplyRequestLine.request_id))}
    items = [{"id": r.id, "number": r.number, "status": r.status, "location_id": r.location_id,
              "location_name": locs[r.location_id].name, "organisation_id": r.organisation_id,
              "organisation_name": orgs[r.organisation_id].name, "supplier_id": r.supplier_id,
              "supplier_name": orgs[r.supplier_id].name if r.supplier_id else None,
              "lines": counts.get(r.id, (0, 0))[0], "packs": counts.get(r.id, (0, 0))[1],
              "created_at": r.created_at, "sent_at": r.sent_at} for r in reqs]
    return Page(items, total, q.page, q.per_page)


def held_for(uow: UnitOfWork, view: RequestView) -> dict[str, int]:
    """For the supplier shipping against a request: the ACTIVE packs of each requested GTIN it holds
    (not travelling), all its locations together."""
    authorize(uow.actor, FULFIL)
    gtins = [x["gtin"] for x in view.lines]
    if view.supplier_id is None or not gtins or not allowed(uow.actor, FULFIL, view.supplier_id):
        return {}
    rows = uow.session.execute(
        select(Pack.gtin, func.count()).join(Location, Location.id == Pack.location_id)
        .where(Location.organisation_id == view.supplier_id, Pack.gtin.in_(gtins), Pack.shipment_id.is_(None),
               Pack.state == "ACTIVE")
        .group_by(Pack.gtin))
    return {gtin: int(n) for gtin, n in rows}


def suppliers(uow: UnitOfWork) -> list[Organisation]:
    """Active wholesalers and importers holding a wholesale or import licence in force: whom a
    request may be sent to."""
    authorize(uow.actor, WRITE)
    today = utc_today()
    orgs = uow.session.scalars(select(Organisation).where(Organisation.active.is_(True),
                                                          Organisation.type.in_(SUPPLIER_TYPES))
                               .order_by(Organisation.name)).all()
    return [o for o in orgs if any(lic.kind in SUPPLIER_LICENCES and licence_in_force(lic, today)
                                   for lic in o.licences)]


def request_locations(uow: UnitOfWork, action: str = WRITE) -> list[Location]:
    """The caller's own active locations (for the pharmacy's pages)."""
    authorize(uow.actor, action)
    if uow.actor.org_id is None or not allowed(uow.actor, WRITE, uow.actor.org_id):
        return []
    return list(uow.session.scalars(select(Location).where(Location.organisation_id == uow.actor.org_id,
                                                           Location.active.is_(True)).order_by(Location.name)))
