"""Stock use cases: receive and issue by quantity (legacy products without serials), write off, and
the reads: stock on hand, the journal of movements, a batch's stock card.

Serialized packs are not received or issued here: they move with custody (``pharma.stock.serialized``).
Issues pick FEFO: the earliest-expiring sellable batch first, never an expired or recalled one, never
a withdrawn product; explicit batches are honoured with the same checks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, bindparam, func, or_, select

from pharma.parties.models import Location
from pharma.parties.policy import allowed, authorize
from pharma.register.models import PriceRecord, Product, ProductGtin
from pharma.shared.errors import NotFound, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import today as utc_today
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import (
    ISSUE_KINDS,
    WRITE_OFF_REASONS,
    BatchNotSellable,
    InsufficientStock,
    Kind,
    Lot,
    Move,
    ProductNotRegistered,
    Reason,
    SerializedStock,
    expiry_raw_of,
    pick_fefo,
)
from pharma.stock.ledger import BALANCES, MOVEMENTS, Held, lock_balances, post
from pharma.trace.models import Batch

DOCUMENT_OF = {Kind.RECEIPT: "supplier_invoice", Kind.SALE: "receipt", Kind.DISPENSE: "prescription",
               Kind.WRITE_OFF: "write_off_act"}
_DAY = timedelta(days=1)
JOURNAL_COUNT_CAP = 10_000  # a journal's total is counted up to here (a busy pharmacy has millions of rows)


@dataclass(frozen=True)
class ReceiptLine:
    gtin: str  # GTIN-14
    batch: str
    expiry: date
    quantity: int
    unit_cost: int  # minor units


@dataclass(frozen=True)
class ReceiveStock:
    location_id: int
    document: str  # the supplier's invoice or delivery note
    lines: tuple[ReceiptLine, ...]
    supplier: str = ""


@dataclass(frozen=True)
class IssueLine:
    gtin: str
    quantity: int
    batch: str | None = None  # None: FEFO


@dataclass(frozen=True)
class IssueStock:
    location_id: int
    kind: str  # SALE or DISPENSE
    document: str  # the fiscal receipt or the prescription
    lines: tuple[IssueLine, ...]


@dataclass(frozen=True)
class WriteOffLine:
    gtin: str
    batch: str
    quantity: int


@dataclass(frozen=True)
class WriteOff:
    location_id: int
    reason: str
    document: str  # the write-off act
    lines: tuple[WriteOffLine, ...]
    note: str = ""


@dataclass
class Posted:
    """What an act posted: its document and the movements."""

    location_id: int
    document_type: str
    document_id: str
    movements: list[dict] = field(default_factory=list)


# statements of the sale's hot path, built once (building a statement costs more than running it)
_LOCATION = (select(Location.id, Location.organisation_id, Location.name, Location.gln)
             .where(Location.id == bindparam("id")))
_PRODUCTS = (select(ProductGtin.gtin, Product.trade_name, Product.withdrawn_at)
             .join(Product, Product.id == ProductGtin.product_id)
             .where(ProductGtin.gtin.in_(bindparam("gtins", expanding=True))))


def _location(uow: UnitOfWork, location_id: int, action: str):
    """The location (id, organisation, name, GLN), once the actor may do ``action`` there."""
    loc = uow.session.execute(_LOCATION, {"id": location_id}).first()
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    authorize(uow.actor, action, loc.organisation_id)
    return loc


def _products(uow: UnitOfWork, gtins) -> dict:
    """The registered products of these GTINs (trade name, withdrawal); refuses an unknown GTIN."""
    rows = {r.gtin: r for r in uow.session.execute(_PRODUCTS, {"gtins": sorted(set(gtins))})}
    missing = sorted(set(gtins) - set(rows))
    if missing:
        raise ProductNotRegistered(f"GTIN {missing[0]} is not in the product register.", gtins=missing)
    return rows


def _document(text: str) -> str:
    doc = (text or "").strip()
    if not 1 <= len(doc) <= 64:
        raise ValidationFailed({"document": ["Name the document (1 to 64 characters)."]})
    return doc


# ---------------------------------------------------------------- receiving


def receive_stock(uow: UnitOfWork, cmd: ReceiveStock) -> Posted:
    """Receive non-serialized stock by quantity from a supplier's document, at its unit cost."""
    authorize(uow.actor, "stock.write")
    doc = _document(cmd.document)
    if not cmd.lines:
        raise ValidationFailed({"lines": ["List at least one line."]})
    with uow:
        loc = _location(uow, cmd.location_id, "stock.write")
        _products(uow, [line.gtin for line in cmd.lines])
        _refuse_serialized(uow, loc.id, {(line.gtin, line.batch) for line in cmd.lines})
        moves = [Move(loc.id, line.gtin, line.batch, line.expiry, expiry_raw_of(line.expiry), Kind.RECEIPT,
                      line.quantity, unit_cost=line.unit_cost) for line in cmd.lines]
        rows = post(uow, moves, (DOCUMENT_OF[Kind.RECEIPT], doc))
        uow.audit("stock.receive", "location", loc.id,
                  {"document": doc, "supplier": cmd.supplier, "lines": len(rows),
                   "units": sum(r["quantity"] for r in rows)}, count=len(rows))
        uow.commit()
    return Posted(loc.id, DOCUMENT_OF[Kind.RECEIPT], doc, rows)


def _refuse_serialized(uow: UnitOfWork, location_id: int, keys: set[tuple[str, str]]) -> None:
    """A batch known to trace is serialized: its packs come in by scanning a shipment."""
    s = uow.session
    for gtin, lot in sorted(keys):
        known = s.scalar(select(Batch.id).where(Batch.gtin == gtin, Batch.batch == lot))
        if known is None:
            known = s.scalar(select(BALANCES.c.id).where(
                BALANCES.c.location_id == location_id, BALANCES.c.gtin == gtin, BALANCES.c.batch == lot,
                BALANCES.c.serialized.is_(True)))
        if known is not None:
            raise SerializedStock(f"Batch {lot} of {gtin} is serialized: receive its packs by scanning the shipment.")


# ---------------------------------------------------------------- issuing (sale, dispense) and writing off


def issue_stock(uow: UnitOfWork, cmd: IssueStock) -> Posted:
    """Sell or dispense non-serialized stock: FEFO over the sellable batches (unexpired, not recalled,
    product not withdrawn), or the batch named; all lines or none."""
    authorize(uow.actor, "stock.write")
    if cmd.kind not in ISSUE_KINDS:
        raise ValidationFailed({"kind": ["Use SALE or DISPENSE."]})
    kind = Kind(cmd.kind)
    doc = _document(cmd.document)
    if not cmd.lines:
        raise ValidationFailed({"lines": ["List at least one line."]})
    today = utc_today()
    with uow:
        loc = _location(uow, cmd.location_id, "stock.write")
        products = _products(uow, [line.gtin for line in cmd.lines])
        for gtin, product in products.items():
            if product.withdrawn_at is not None:
                raise BatchNotSellable(f"{product.trade_name} ({gtin}) has been withdrawn from the market.")
        held, lots, recalled = _lock_sellable(uow, loc.id, sorted(products))
        moves: list[Move] = []
        for line in cmd.lines:
            for lot, take in _pick(held, lots, recalled, loc.id, line, today):
                row = held[(loc.id, line.gtin, lot.batch)]
                moves.append(Move(loc.id, line.gtin, lot.batch, row.expiry, row.expiry_raw, kind, -take))
        rows = post(uow, moves, (DOCUMENT_OF[kind], doc), held=held)
        uow.audit(f"stock.{kind.value.lower()}", "location", loc.id,
                  {"document": doc, "lines": [{"gtin": r["gtin"], "batch": r["batch"], "quantity": -r["quantity"]}
                                              for r in rows][:100]}, count=len(rows))
        uow.commit()
    return Posted(loc.id, DOCUMENT_OF[kind], doc, rows)


_B = BALANCES.c
_SELLABLE = (
    select(_B.id, _B.batch, _B.quantity, _B.value, _B.expiry, _B.expiry_raw, _B.serialized, Batch.recalled_at)
    .outerjoin(Batch, and_(Batch.gtin == _B.gtin, Batch.batch == _B.batch))
    .where(_B.location_id == bindparam("location_id"), _B.gtin == bindparam("gtin"), _B.quantity > 0)
    .order_by(_B.location_id, _B.gtin, _B.batch).with_for_update(of=BALANCES))


def _lock_sellable(uow: UnitOfWork, location_id: int, gtins: list[str]
                   ) -> tuple[dict, dict[str, list[Lot]], set[tuple[str, str]]]:
    """Lock every batch on hand of these GTINs here (in key order); the FEFO candidates per GTIN:
    non-serialized, not recalled (by trace, when it knows the batch)."""
    held: dict = {}
    lots: dict[str, list[Lot]] = defaultdict(list)
    recalled_keys: set[tuple[str, str]] = set()
    for gtin in gtins:
        rows = uow.session.execute(_SELLABLE, {"location_id": location_id, "gtin": gtin}).all()
        for r in rows:
            held[(location_id, gtin, r.batch)] = Held(r.id, r.quantity, r.value, r.expiry, r.expiry_raw, r.serialized)
            if r.recalled_at is not None:
                recalled_keys.add((gtin, r.batch))
            elif not r.serialized:
                lots[gtin].append(Lot(r.batch, r.expiry, r.quantity))
    return held, lots, recalled_keys


def _pick(held: dict, lots: dict[str, list[Lot]], recalled: set[tuple[str, str]], location_id: int,
          line: IssueLine, today: date) -> list[tuple[Lot, int]]:
    """Take ``line`` from the lots, lowering them for the next lines."""
    candidates = lots.get(line.gtin, [])
    if line.batch is not None:
        row = held.get((location_id, line.gtin, line.batch))
        if row is not None and row.serialized:
            raise SerializedStock(f"Batch {line.batch} of {line.gtin} is serialized: scan the packs to sell them.")
        if (line.gtin, line.batch) in recalled:
            raise BatchNotSellable(f"Batch {line.batch} of {line.gtin} has been recalled.")
        if row is not None and row.expiry < today:
            raise BatchNotSellable(f"Batch {line.batch} of {line.gtin} expired on {row.expiry.isoformat()}.")
        candidates = [lot for lot in candidates if lot.batch == line.batch]
    picks, short = pick_fefo(candidates, line.quantity, today)
    if short:
        available = line.quantity - short
        if not candidates and any(r.serialized for k, r in held.items() if k[1] == line.gtin):
            raise SerializedStock(f"{line.gtin} is kept as serialized packs here: scan the packs to sell them.")
        raise InsufficientStock(
            f"Only {available} sellable units of {line.gtin}{' batch ' + line.batch if line.batch else ''} "
            f"on hand; {line.quantity} wanted.",
            shortages=[{"location_id": location_id, "gtin": line.gtin, "batch": line.batch,
                        "wanted": line.quantity, "on_hand": available}])
    taken = {lot.batch: n for lot, n in picks}
    lots[line.gtin] = [Lot(lot.batch, lot.expiry, lot.quantity - taken.get(lot.batch, 0)) for lot in
                       lots.get(line.gtin, [])]
    return picks


def write_off(uow: UnitOfWork, cmd: WriteOff) -> Posted:
    """Write off non-serialized stock by batch (expired, damaged, destroyed, stolen, sample, other),
    on a write-off act; serialized packs are decommissioned in trace instead."""
    authorize(uow.actor, "stock.write")
    if cmd.reason not in [r.value for r in WRITE_OFF_REASONS]:
        raise ValidationFailed({"reason": [f"Use one of {', '.join(r.value for r in WRITE_OFF_REASONS)}."]})
    doc = _document(cmd.document)
    if not cmd.lines:
        raise ValidationFailed({"lines": ["List at least one line."]})
    with uow:
        loc = _location(uow, cmd.location_id, "stock.write")
        held = lock_balances(uow.session, [(loc.id, line.gtin, line.batch) for line in cmd.lines])
        moves = []
        for line in cmd.lines:
            row = held.get((loc.id, line.gtin, line.batch))
            if row is None:
                raise InsufficientStock(f"No batch {line.batch} of {line.gtin} on hand here.",
                                        shortages=[{"location_id": loc.id, "gtin": line.gtin, "batch": line.batch,
                                                    "wanted": line.quantity, "on_hand": 0}])
            if row.serialized:
                raise SerializedStock(f"Batch {line.batch} of {line.gtin} is serialized: decommission its packs.")
            moves.append(Move(loc.id, line.gtin, line.batch, row.expiry, row.expiry_raw, Kind.WRITE_OFF,
                              -line.quantity, Reason(cmd.reason)))
        rows = post(uow, moves, (DOCUMENT_OF[Kind.WRITE_OFF], doc), held=held)
        uow.audit("stock.write_off", "location", loc.id,
                  {"document": doc, "reason": cmd.reason, "note": cmd.note,
                   "lines": [{"gtin": r["gtin"], "batch": r["batch"], "quantity": -r["quantity"]} for r in rows][:100]},
                  count=len(rows))
        uow.commit()
    return Posted(loc.id, DOCUMENT_OF[Kind.WRITE_OFF], doc, rows)


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class BalanceQuery:
    location_id: int
    gtin: str | None = None
    expiring_before: date | None = None
    page: int = 1
    per_page: int = 50


@dataclass
class StockOnHand:
    location: Location
    page: Page
    lines: int = 0
    units: int = 0
    value: int = 0  # minor units, at weighted-average cost
    retail_value: int = 0  # minor units, at today's regulated maximum retail prices (products without one: 0)

    def to_dict(self) -> dict:
        return {**self.page.to_dict(), "location_id": self.location.id, "location_name": self.location.name,
                "lines": self.lines, "units": self.units, "value": self.value, "retail_value": self.retail_value}


def stock_on_hand(uow: UnitOfWork, q: BalanceQuery) -> StockOnHand:
    """A location's stock on hand by product, batch and expiry (earliest expiry first), with its
    totals: lines, units, value at cost and at today's regulated maximum retail prices."""
    authorize(uow.actor, "stock.read")
    s = uow.session
    loc = _location(uow, q.location_id, "stock.read")
    b = BALANCES.c
    where = [b.location_id == loc.id, b.quantity > 0]
    if q.gtin:
        where.append(b.gtin == q.gtin)
    if q.expiring_before:
        where.append(b.expiry < q.expiring_before)
    today = utc_today()
    # a product's price periods never overlap (register closes the previous one): one row at most
    in_force = and_(PriceRecord.product_id == ProductGtin.product_id, PriceRecord.effective_from <= today,
                    or_(PriceRecord.effective_to.is_(None), PriceRecord.effective_to >= today))
    lines, units, value, retail = s.execute(
        select(func.count(), func.coalesce(func.sum(b.quantity), 0), func.coalesce(func.sum(b.value), 0),
               func.coalesce(func.sum(b.quantity * PriceRecord.max_retail_price), 0))
        .select_from(BALANCES).outerjoin(ProductGtin, ProductGtin.gtin == b.gtin).outerjoin(PriceRecord, in_force)
        .where(*where)).one()
    # the page's balance rows first (the location's expiry index), then their product, price and recall
    shown = (select(b.gtin, b.batch, b.expiry, b.expiry_raw, b.serialized, b.quantity, b.value, b.updated_at)
             .where(*where).order_by(b.expiry, b.gtin, b.batch)
             .limit(q.per_page).offset((q.page - 1) * q.per_page).subquery("shown"))
    rows = s.execute(
        select(shown, Product.trade_name, Product.id.label("product_id"), Batch.recalled_at,
               PriceRecord.max_retail_price)
        .outerjoin(ProductGtin, ProductGtin.gtin == shown.c.gtin)
        .outerjoin(Product, Product.id == ProductGtin.product_id)
        .outerjoin(PriceRecord, in_force)
        .outerjoin(Batch, and_(Batch.gtin == shown.c.gtin, Batch.batch == shown.c.batch))
        .order_by(shown.c.expiry, shown.c.gtin, shown.c.batch)).all()
    items = [{**r._asdict(), "recalled": r.recalled_at is not None, "expired": r.expiry < today,
              "sellable": r.recalled_at is None and r.expiry >= today and not r.serialized,
              "retail_value": r.quantity * r.max_retail_price if r.max_retail_price is not None else None}
             for r in rows]
    return StockOnHand(loc, Page(items, lines, q.page, q.per_page), lines, int(units), int(value), int(retail))


@dataclass(frozen=True)
class MovementQuery:
    location_id: int
    gtin: str | None = None
    batch: str | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    page: int = 1
    per_page: int = 50


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def journal(uow: UnitOfWork, q: MovementQuery) -> Page:
    """A location's movements, newest first, filtered; the total is counted up to 10,000."""
    authorize(uow.actor, "stock.read")
    s = uow.session
    loc = _location(uow, q.location_id, "stock.read")
    m = MOVEMENTS.c
    where = [m.location_id == loc.id]
    if q.gtin:
        where.append(m.gtin == q.gtin)
    if q.batch:
        where.append(m.batch == q.batch)
    if q.kind:
        where.append(m.kind == q.kind)
    if q.date_from:
        where.append(m.created_at >= _start(q.date_from))
    if q.date_to:
        where.append(m.created_at < _start(q.date_to) + _DAY)
    total = s.scalar(select(func.count()).select_from(
        select(m.id).where(*where).limit(JOURNAL_COUNT_CAP).subquery()))
    rows = s.execute(select(MOVEMENTS).where(*where).order_by(m.created_at.desc(), m.id.desc())
                     .limit(q.per_page).offset((q.page - 1) * q.per_page)).all()
    return Page([r._asdict() for r in rows], total or 0, q.page, q.per_page)


@dataclass
class StockCard:
    location: Location
    gtin: str
    batch: str | None
    date_from: date
    date_to: date
    opening: int
    opening_value: int
    movements: list[dict]
    closing: int
    closing_value: int
    trade_name: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "location"} | {
            "location_id": self.location.id, "location_name": self.location.name}


CARD_MAX_ROWS = 5000


def stock_card(uow: UnitOfWork, location_id: int, gtin: str, batch: str | None, date_from: date, date_to: date
               ) -> StockCard:
    """The stock card of a product (or one batch of it) at a location for a period: the opening
    balance, every movement in order, the closing balance."""
    authorize(uow.actor, "stock.read")
    if date_to < date_from:
        raise ValidationFailed({"date_to": ["The period ends before it starts."]})
    s = uow.session
    loc = _location(uow, location_id, "stock.read")
    m = MOVEMENTS.c
    key = [m.location_id == loc.id, m.gtin == gtin, *([m.batch == batch] if batch else [])]
    start, end = _start(date_from), _start(date_to) + _DAY
    opening, opening_value = s.execute(
        select(func.coalesce(func.sum(m.quantity), 0), func.coalesce(func.sum(m.value), 0))
        .where(*key, m.created_at < start)).one()
    rows = [r._asdict() for r in s.execute(
        select(MOVEMENTS).where(*key, m.created_at >= start, m.created_at < end)
        .order_by(m.created_at, m.id).limit(CARD_MAX_ROWS))]
    balance, value = int(opening), int(opening_value)
    for r in rows:
        balance += r["quantity"]
        value += r["value"]
        r["balance"] = balance
    name = s.scalar(select(Product.trade_name).join(ProductGtin, ProductGtin.product_id == Product.id)
                    .where(ProductGtin.gtin == gtin))
    return StockCard(loc, gtin, batch, date_from, date_to, int(opening), int(opening_value), rows, balance, value, name)


def locations_for(uow: UnitOfWork, action: str = "stock.read") -> list[Location]:
    """The caller's own active locations where it keeps stock (the agency's readers: none; they pick
    a location by id)."""
    authorize(uow.actor, action)
    if uow.actor.org_id is None or not allowed(uow.actor, "stock.write", uow.actor.org_id):
        return []
    return list(uow.session.scalars(select(Location).where(Location.organisation_id == uow.actor.org_id,
                                                           Location.active.is_(True)).order_by(Location.name)))

