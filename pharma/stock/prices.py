"""Prices of stock: purchase costs of serialized packs, retail prices, and the stock value report.

Purchase costs: serialized packs come in by trace events, which carry no money. The sender of a
shipment sets its unit prices per GTIN (or per GTIN and batch) while it is in transit; they are its
selling prices and the receiver's purchase cost: when the shipment is received (or a missing pack
is found at the receiver) the ledger's TRANSFER_IN carries them (``incoming_costs``, read by
``pharma.stock.serialized``). An importer likewise sets the import unit cost of a declaration
before it is commissioned; the COMMISSION receipt carries it. Packs without a price come in at 0.

Retail prices: a pharmacy's own price of a pack, for the whole organisation or one location, from a
date on; never above the register's regulated maximum retail price in force on that date
(PRICE_ABOVE_MAXIMUM). History is kept: a new price supersedes, nothing is overwritten.
``current_prices`` is the lookup for other contexts (the till, sales reconciliation).

Stock value: per location and product, the quantity, the purchase value (the ledger's value, by
the organisation's valuation method), the retail value at the current retail price (own price, else
the regulated maximum) and the margin.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from pharma.parties.models import Location, Organisation
from pharma.parties.policy import allowed, authorize, scoped_org
from pharma.register.models import PriceRecord, Product, ProductGtin
from pharma.shared.errors import Forbidden, NotFound, RuleViolation, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.domain import ProductNotRegistered
from pharma.stock.models import StockBalance
from pharma.stock.valuation import method_of
from pharma.stock.valuation_models import DeclarationCost, RetailPrice, ShipmentPrice

SP = ShipmentPrice.__table__.c
DC = DeclarationCost.__table__.c
RP = RetailPrice.__table__.c


class PriceAboveMaximum(RuleViolation):
    code = "PRICE_ABOVE_MAXIMUM"
    title = "The price is above the regulated maximum retail price"


class NotOnShipment(RuleViolation):
    status = 422
    code = "NOT_ON_SHIPMENT"
    title = "The shipment carries no such product or batch"


class ShipmentNotInTransit(RuleViolation):
    code = "SHIPMENT_ALREADY_RECEIVED"
    title = "The shipment has already been received"


class DeclarationCommissioned(RuleViolation):
    code = "DECLARATION_ALREADY_PROCESSED"
    title = "The declaration has already been processed"


@dataclass(frozen=True)
class PriceLine:
    gtin: str
    batch: str | None  # None: every batch of the GTIN without its own line
    unit_price: int  # minor units


def _check_lines(lines: Sequence[PriceLine]) -> None:
    seen: set[tuple[str, str | None]] = set()
    for i, line in enumerate(lines):
        key = (line.gtin, line.batch)
        if key in seen:
            raise ValidationFailed({f"lines.{i}": ["This GTIN and batch are listed twice."]})
        seen.add(key)


# ---------------------------------------------------------------- purchase costs of serialized packs


def incoming_costs(s: Session, type: str, details: dict, document, declaration_id: int | None
                   ) -> dict[tuple[str, str | None], int]:
    """The unit costs of what a trace event brings in, ``{(gtin, batch or None): unit cost}``: a
    shipment's prices for RECEIVE and RESOLVE_MISSING (FOUND, at the receiver), a declaration's costs
    for COMMISSION (the file's ``unit_cost`` column, carried by the event, else those set through the
    API); else none. One query, never per pack."""
    from pharma.trace.models import Shipment

    if type == "COMMISSION" and declaration_id is not None:
        rows = s.execute(select(DC.gtin, DC.batch, DC.unit_cost).where(DC.declaration_id == declaration_id))
        return {**{(gtin, batch): cost for gtin, batch, cost in rows},
                **{(gtin, batch): cost for gtin, batch, cost in details.get("unit_costs") or ()}}
    elif (type == "RECEIVE" or (type == "RESOLVE_MISSING" and details.get("resolution") == "FOUND")) \
            and document is not None and document[0] == "shipment":
        rows = s.execute(select(SP.gtin, SP.batch, SP.unit_price).join(Shipment, Shipment.id == SP.shipment_id)
                         .where(Shipment.number == str(document[1])))
    else:
        return {}
    return {(gtin, batch): cost for gtin, batch, cost in rows}


def _shipment(uow: UnitOfWork, shipment_id: int, lock: bool = False):
    from pharma.trace.models import Shipment

    shipment = uow.session.get(Shipment, shipment_id, with_for_update=lock or None, populate_existing=lock)
    if shipment is None:
        raise NotFound(f"No shipment with id {shipment_id}.")
    orgs = dict(uow.session.execute(select(Location.id, Location.organisation_id).where(
        Location.id.in_([shipment.from_location_id, shipment.to_location_id]))).all())
    return shipment, orgs[shipment.from_location_id], orgs[shipment.to_location_id]


def _carried(uow: UnitOfWork, shipment_id: int) -> dict[tuple[str, str], int]:
    """The packs a shipment carries, counted per (GTIN, batch)."""
    from pharma.trace.models import Batch, Pack, ShipmentPack

    return {(g, b): n for g, b, n in uow.session.execute(
        select(Batch.gtin, Batch.batch, func.count()).select_from(ShipmentPack)
        .join(Pack, Pack.id == ShipmentPack.pack_id).join(Batch, Batch.id == Pack.batch_id)
        .where(ShipmentPack.shipment_id == shipment_id).group_by(Batch.gtin, Batch.batch))}


def _priced(lines: list[dict], carried: dict[tuple[str, str], int]) -> dict:
    prices = {(r["gtin"], r["batch"]): r["unit_price"] for r in lines}
    groups, total, unpriced = [], 0, 0
    for (gtin, batch), n in sorted(carried.items()):
        price = prices.get((gtin, batch), prices.get((gtin, None)))
        groups.append({"gtin": gtin, "batch": batch, "packs": n, "unit_price": price,
                       "value": n * price if price is not None else None})
        total += n * (price or 0)
        unpriced += n if price is None else 0
    return {"groups": groups, "total_value": total, "unpriced_packs": unpriced}


def shipment_prices(uow: UnitOfWork, shipment_id: int) -> dict:
    """A shipment's unit prices and what its packs are worth at them (sender, receiver, the agency)."""
    shipment, sender, receiver = _shipment(uow, shipment_id)
    if not (allowed(uow.actor, "stock.read", sender) or allowed(uow.actor, "stock.read", receiver)):
        raise Forbidden("Your role may not do 'stock.read' here.")
    lines = [r._asdict() for r in uow.session.execute(
        select(SP.gtin, SP.batch, SP.unit_price, SP.set_at).where(SP.shipment_id == shipment.id)
        .order_by(SP.gtin, SP.batch))]
    return {"shipment_id": shipment.id, "number": shipment.number, "status": shipment.status, "lines": lines,
            **_priced(lines, _carried(uow, shipment.id))}


def set_shipment_prices(uow: UnitOfWork, shipment_id: int, lines: Sequence[PriceLine]) -> dict:
    """The sender prices a shipment in transit (its selling prices, the receiver's purchase cost);
    the lines replace any set before. Only GTINs and batches the shipment carries."""
    authorize(uow.actor, "stock.price.manage")
    _check_lines(lines)
    with uow:
        shipment, sender, _receiver = _shipment(uow, shipment_id, lock=True)
        authorize(uow.actor, "stock.price.manage", sender)
        if shipment.status != "IN_TRANSIT":
            raise ShipmentNotInTransit(f"Shipment {shipment.number} is {shipment.status.lower()}: its prices are"
                                       " fixed.")
        carried = _carried(uow, shipment.id)
        gtins = {g for g, _b in carried}
        for i, line in enumerate(lines):
            if line.gtin not in gtins or (line.batch is not None and (line.gtin, line.batch) not in carried):
                what = line.gtin + (f" batch {line.batch}" if line.batch else "")
                raise NotOnShipment(f"Shipment {shipment.number} carries no {what}.", line=i)
        s = uow.session
        s.execute(delete(ShipmentPrice.__table__).where(SP.shipment_id == shipment.id))
        now = utcnow()
        if lines:
            s.execute(insert(ShipmentPrice.__table__), [
                {"shipment_id": shipment.id, "gtin": line.gtin, "batch": line.batch, "unit_price": line.unit_price,
                 "set_at": now, "set_by": uow.actor.user_id} for line in lines])
        uow.audit("stock.shipment_prices", "shipment", shipment.id,
                  {"number": shipment.number, "lines": [line.__dict__ for line in lines][:100]}, count=len(lines))
        uow.commit()
    return shipment_prices(uow, shipment_id)


def declaration_costs(uow: UnitOfWork, declaration_id: int) -> dict:
    """A declaration's import unit costs."""
    from pharma.trace.models import Declaration

    declaration = uow.session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound(f"No declaration with id {declaration_id}.")
    authorize(uow.actor, "stock.read", declaration.importer_id)
    lines = [r._asdict() for r in uow.session.execute(
        select(DC.gtin, DC.batch, DC.unit_cost, DC.set_at).where(DC.declaration_id == declaration.id)
        .order_by(DC.gtin, DC.batch))]
    return {"declaration_id": declaration.id, "number": declaration.number, "status": declaration.status,
            "lines": lines}


def set_declaration_costs(uow: UnitOfWork, declaration_id: int, lines: Sequence[PriceLine]) -> dict:
    """The importer's import unit costs of a declaration not yet processed (the lines replace any
    set before); the commissioned packs come in at them."""
    from pharma.trace.models import Declaration

    authorize(uow.actor, "stock.price.manage")
    _check_lines(lines)
    with uow:
        s = uow.session
        declaration = s.get(Declaration, declaration_id, with_for_update=True, populate_existing=True)
        if declaration is None:
            raise NotFound(f"No declaration with id {declaration_id}.")
        authorize(uow.actor, "stock.price.manage", declaration.importer_id)
        if declaration.status not in ("RECEIVED", "PROCESSING"):
            raise DeclarationCommissioned(f"Declaration {declaration.number} is {declaration.status.lower()}: its"
                                          " costs are fixed.")
        _registered(s, [line.gtin for line in lines])
        s.execute(delete(DeclarationCost.__table__).where(DC.declaration_id == declaration.id))
        now = utcnow()
        if lines:
            s.execute(insert(DeclarationCost.__table__), [
                {"declaration_id": declaration.id, "gtin": line.gtin, "batch": line.batch,
                 "unit_cost": line.unit_price, "set_at": now, "set_by": uow.actor.user_id} for line in lines])
        uow.audit("stock.declaration_costs", "declaration", declaration.id,
                  {"number": declaration.number, "lines": [line.__dict__ for line in lines][:100]}, count=len(lines))
        uow.commit()
    return declaration_costs(uow, declaration_id)


def _registered(s: Session, gtins: Iterable[str]) -> dict[str, int]:
    """The product ids of these GTINs; an unknown GTIN is refused."""
    wanted = sorted(set(gtins))
    found = dict(s.execute(select(ProductGtin.gtin, ProductGtin.product_id).where(ProductGtin.gtin.in_(wanted))).all())
    missing = [g for g in wanted if g not in found]
    if missing:
        raise ProductNotRegistered(f"GTIN {missing[0]} is not in the product register.", gtins=missing)
    return found


# ---------------------------------------------------------------- retail prices


@dataclass(frozen=True)
class SetRetailPrice:
    gtin: str
    price: int  # minor units, > 0
    organisation_id: int | None = None  # None: the caller's own
    location_id: int | None = None  # None: every location of the organisation
    valid_from: date | None = None  # None: today


def regulated_maximum(s: Session, gtins: Iterable[str], on: date) -> dict[str, int]:
    """The regulated maximum retail price in force on ``on`` of each GTIN that has one."""
    in_force = and_(PriceRecord.product_id == ProductGtin.product_id, PriceRecord.effective_from <= on,
                    or_(PriceRecord.effective_to.is_(None), PriceRecord.effective_to >= on))
    return dict(s.execute(select(ProductGtin.gtin, PriceRecord.max_retail_price).join(PriceRecord, in_force)
                          .where(ProductGtin.gtin.in_(sorted(set(gtins))))).all())


def _scope(uow: UnitOfWork, organisation_id: int | None, location_id: int | None, action: str
           ) -> tuple[int, int | None]:
    s = uow.session
    if location_id is not None:
        org = s.scalar(select(Location.organisation_id).where(Location.id == location_id))
        if org is None:
            raise NotFound(f"No location with id {location_id}.")
        if organisation_id is not None and organisation_id != org:
            raise ValidationFailed({"location_id": ["The location belongs to another organisation."]})
        organisation_id = org
    organisation_id = organisation_id if organisation_id is not None else uow.actor.org_id
    if organisation_id is None or s.get(Organisation, organisation_id) is None:
        raise NotFound("Name the organisation.")
    authorize(uow.actor, action, organisation_id)
    return organisation_id, location_id


def set_retail_price(uow: UnitOfWork, cmd: SetRetailPrice) -> dict:
    """Set a retail price of a pack from a date on (today or later), never above the regulated
    maximum retail price in force then (PRICE_ABOVE_MAXIMUM)."""
    authorize(uow.actor, "stock.price.manage")
    on = cmd.valid_from or utc_today()
    if on < utc_today():
        raise ValidationFailed({"valid_from": ["A price starts today or later; past prices are history."]})
    if cmd.price <= 0:
        raise ValidationFailed({"price": ["The price must be above zero."]})
    with uow:
        s = uow.session
        org, location_id = _scope(uow, cmd.organisation_id, cmd.location_id, "stock.price.manage")
        _registered(s, [cmd.gtin])
        maximum = regulated_maximum(s, [cmd.gtin], on).get(cmd.gtin)
        if maximum is not None and cmd.price > maximum:
            raise PriceAboveMaximum(f"{cmd.price / 100:.2f} is above the regulated maximum retail price "
                                    f"{maximum / 100:.2f} in force on {on.isoformat()}.",
                                    max_retail_price=maximum)
        row = RetailPrice(organisation_id=org, location_id=location_id, gtin=cmd.gtin, price=cmd.price,
                          valid_from=on, set_at=utcnow(), set_by=uow.actor.user_id)
        s.add(row)
        s.flush()
        uow.audit("stock.retail_price", "organisation", org,
                  {"gtin": cmd.gtin, "location_id": location_id, "price": cmd.price, "valid_from": on})
        result = _price_dict(row, maximum)
        uow.commit()
    return result


def _price_dict(row, maximum: int | None = None) -> dict:
    return {"id": row.id, "organisation_id": row.organisation_id, "location_id": row.location_id, "gtin": row.gtin,
            "price": row.price, "valid_from": row.valid_from, "set_at": row.set_at, "set_by": row.set_by,
            "max_retail_price": maximum}


def current_prices(s: Session, location_id: int, gtins: Iterable[str], on: date | None = None) -> dict[str, dict]:
    """The retail price of each GTIN at a location on a day (default today): the location's own
    price, else its organisation's; ``{gtin: {"price", "valid_from", "scope"}}``, GTINs without a
    price left out. For other contexts (the till, reconciliation). One query."""
    org = s.scalar(select(Location.organisation_id).where(Location.id == location_id))
    if org is None:
        return {}
    return _resolve(s, [(location_id, org)], gtins, on or utc_today()).get(location_id, {})


def _resolve(s: Session, locations: Sequence[tuple[int, int]], gtins: Iterable[str], on: date
             ) -> dict[int, dict[str, dict]]:
    """Current retail prices per location and GTIN, for (location id, organisation id) pairs."""
    wanted = sorted(set(gtins))
    if not locations or not wanted:
        return {}
    orgs = sorted({org for _loc, org in locations})
    rows = s.execute(select(RP.organisation_id, RP.location_id, RP.gtin, RP.price, RP.valid_from)
                     .where(RP.organisation_id.in_(orgs), RP.gtin.in_(wanted), RP.valid_from <= on)
                     .order_by(RP.valid_from, RP.id)).all()
    org_wide: dict[tuple[int, str], dict] = {}
    own: dict[tuple[int, str], dict] = {}
    for r in rows:  # oldest first: the last one seen is the current one
        entry = {"price": r.price, "valid_from": r.valid_from,
                 "scope": "LOCATION" if r.location_id is not None else "ORGANISATION"}
        if r.location_id is None:
            org_wide[(r.organisation_id, r.gtin)] = entry
        else:
            own[(r.location_id, r.gtin)] = entry
    result: dict[int, dict[str, dict]] = defaultdict(dict)
    for loc, org in locations:
        for gtin in wanted:
            entry = own.get((loc, gtin)) or org_wide.get((org, gtin))
            if entry is not None:
                result[loc][gtin] = entry
    return result


@dataclass(frozen=True)
class PriceQuery:
    organisation_id: int | None = None
    location_id: int | None = None
    gtin: str | None = None
    history: bool = False  # every row, newest first; else the prices in force today and later ones
    page: int = 1
    per_page: int = 50


def list_prices(uow: UnitOfWork, q: PriceQuery) -> Page:
    """An organisation's retail prices (or one location's): in force today or set for a later day,
    or the whole history; with the product's name and regulated maximum."""
    authorize(uow.actor, "stock.read")
    s = uow.session
    org, location_id = _scope(uow, q.organisation_id, q.location_id, "stock.read")
    where = [RP.organisation_id == org]
    if location_id is not None:
        where.append(or_(RP.location_id == location_id, RP.location_id.is_(None)))
    if q.gtin:
        where.append(RP.gtin == q.gtin)
    rows = s.execute(select(RetailPrice.__table__, Product.trade_name)
                     .outerjoin(ProductGtin, ProductGtin.gtin == RP.gtin)
                     .outerjoin(Product, Product.id == ProductGtin.product_id)
                     .where(*where).order_by(RP.gtin, RP.location_id, RP.valid_from.desc(), RP.id.desc())).all()
    today = utc_today()
    items, seen_current = [], set()
    for r in rows:
        scope = (r.gtin, r.location_id)
        current = r.valid_from <= today and scope not in seen_current
        if current:
            seen_current.add(scope)
        elif not q.history and r.valid_from <= today:
            continue  # superseded
        items.append({**r._asdict(), "current": current, "scheduled": r.valid_from > today})
    maxima = regulated_maximum(s, {i["gtin"] for i in items}, today)
    for item in items:
        item["max_retail_price"] = maxima.get(item["gtin"])
        item["above_maximum"] = item["max_retail_price"] is not None and item["price"] > item["max_retail_price"]
    start = (q.page - 1) * q.per_page
    return Page(items[start:start + q.per_page], len(items), q.page, q.per_page)


# ---------------------------------------------------------------- stock value


@dataclass
class StockValue:
    location: dict
    method: str
    page: Page
    totals: dict

    def to_dict(self) -> dict:
        return {**self.page.to_dict(), "location_id": self.location["id"], "location_name": self.location["name"],
                "organisation_id": self.location["organisation_id"], "method": self.method, "totals": self.totals}


def _values(s: Session, locations: Sequence[tuple[int, int]], on: date) -> dict[int, list[dict]]:
    """Per location and GTIN on hand: quantity, purchase value, retail price (own, else the regulated
    maximum), retail value and margin."""
    b = StockBalance.__table__.c
    ids = [loc for loc, _org in locations]
    rows = s.execute(select(b.location_id, b.gtin, func.sum(b.quantity), func.sum(b.value))
                     .where(b.location_id.in_(ids), b.quantity > 0).group_by(b.location_id, b.gtin)
                     .order_by(b.location_id, b.gtin)).all()
    gtins = {r[1] for r in rows}
    own = _resolve(s, locations, gtins, on)
    maxima = regulated_maximum(s, gtins, on)
    names = dict(s.execute(select(ProductGtin.gtin, Product.trade_name)
                           .join(Product, Product.id == ProductGtin.product_id)
                           .where(ProductGtin.gtin.in_(sorted(gtins)))).all()) if gtins else {}
    result: dict[int, list[dict]] = defaultdict(list)
    for loc, gtin, quantity, value in rows:
        entry = own.get(loc, {}).get(gtin)
        price, source = (entry["price"], entry["scope"]) if entry else (maxima.get(gtin), "MAXIMUM")
        retail = quantity * price if price is not None else None
        result[loc].append({"gtin": gtin, "trade_name": names.get(gtin), "quantity": int(quantity),
                            "purchase_value": int(value), "retail_price": price,
                            "price_source": source if price is not None else None, "retail_value": retail,
                            "margin": retail - int(value) if retail is not None else None})
    return result


def _totals(lines: list[dict]) -> dict:
    priced = [line for line in lines if line["retail_value"] is not None]
    return {"products": len(lines), "quantity": sum(line["quantity"] for line in lines),
            "purchase_value": sum(line["purchase_value"] for line in lines),
            "retail_value": sum(line["retail_value"] for line in priced),
            "margin": sum(line["margin"] for line in priced),
            "unpriced_products": len(lines) - len(priced)}


def stock_value(uow: UnitOfWork, location_id: int, page: int = 1, per_page: int = 50) -> StockValue:
    """A location's stock value by product: quantity, purchase value (the ledger's), retail value at
    the current retail price and the margin, with totals."""
    authorize(uow.actor, "stock.read")
    s = uow.session
    loc = s.execute(select(Location.id, Location.name, Location.organisation_id).where(Location.id == location_id)
                    ).first()
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    authorize(uow.actor, "stock.read", loc.organisation_id)
    lines = _values(s, [(loc.id, loc.organisation_id)], utc_today()).get(loc.id, [])
    start = (page - 1) * per_page
    return StockValue(loc._asdict(), method_of(s, loc.organisation_id),
                      Page(lines[start:start + per_page], len(lines), page, per_page), _totals(lines))


def value_by_location(uow: UnitOfWork, organisation_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Stock value totals per location: the caller's own organisation's, or (the agency) every
    location holding stock, optionally of one organisation."""
    own = scoped_org(uow.actor, "stock.read")
    if own is not None:
        if organisation_id not in (None, own):
            raise Forbidden("Your role may not do 'stock.read' here.")
        organisation_id = own
    s = uow.session
    b = StockBalance.__table__.c
    stocked = select(b.location_id).where(b.quantity > 0).distinct().scalar_subquery()
    stmt = (select(Location.id, Location.name, Location.gln, Location.organisation_id,
                   Organisation.name.label("organisation_name"))
            .join(Organisation, Organisation.id == Location.organisation_id)
            .where(Location.id.in_(stocked), *([Location.organisation_id == organisation_id]
                                              if organisation_id is not None else []))
            .order_by(Organisation.name, Location.name, Location.id))
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    locs = s.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    values = _values(s, [(r.id, r.organisation_id) for r in locs], utc_today())
    items = [{"location_id": r.id, "location_name": r.name, "gln": r.gln, "organisation_id": r.organisation_id,
              "organisation_name": r.organisation_name, **_totals(values.get(r.id, []))} for r in locs]
    return Page(items, total, page, per_page)
