"""Valuation of stock: the method an organisation chose, and FIFO cost layers.

Method: **weighted average** (the default, see ``pharma.stock.domain``) or **FIFO**, per organisation
(``stock_valuation_settings``). Under FIFO every incoming movement of a (location, GTIN, batch) adds
a cost layer (its quantity at its unit cost; none known: 0, as the weighted average adds no value);
an outgoing movement takes its value from the oldest layers left, in order (received_at, id). The
ledger (``pharma.stock.ledger.post``) asks ``fifo_book`` for the layers of the keys it posts after
locking their balance rows; only keys at FIFO organisations' locations have layers, so the
weighted-average path pays one indexed lookup and nothing else.

Changing the method with stock on hand **rebuilds** rather than refuses: to FIFO, each balance
becomes layers worth exactly its value (``layers_for``: at most two layers, ``value // quantity``
and one more minor unit for ``value % quantity`` units), dated when the balance last changed; to
weighted average, the layers are dropped (the balances carry their value already). Either way the
balance values do not change at the switch. A FIFO key whose layers do not add up to its balance
(a receipt raced with the switch) is reconciled the same way before it is used (``reconcile``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.orm import Session

from pharma.parties.models import Location
from pharma.parties.policy import authorize
from pharma.shared.errors import NotFound, RuleViolation
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.models import StockBalance
from pharma.stock.valuation_models import CostLayer, ValuationSetting

Key = tuple[int, str, str]
LOCK_CHUNK = 300


class Method(StrEnum):
    WEIGHTED_AVERAGE = "WEIGHTED_AVERAGE"
    FIFO = "FIFO"


class UnknownMethod(RuleViolation):
    status = 422
    code = "UNKNOWN_VALUATION_METHOD"
    title = "Unknown valuation method"


# ---------------------------------------------------------------- domain (pure)


@dataclass
class Layer:
    """Units of one receipt still on hand at their unit cost (``id`` None: not written yet)."""

    received_at: datetime
    quantity: int
    unit_cost: int
    id: int | None = None

    @property
    def value(self) -> int:
        return self.quantity * self.unit_cost


def layers_for(quantity: int, value: int, at: datetime) -> list[Layer]:
    """Layers worth exactly ``value`` for ``quantity`` units (at most two: integer unit costs)."""
    if quantity <= 0:
        return []
    base, extra = divmod(value, quantity)
    layers = [Layer(at, extra, base + 1)] if extra else []
    if quantity - extra:
        layers.append(Layer(at, quantity - extra, base))
    return layers


def take_fifo(layers: list[Layer], n: int) -> int:
    """Take ``n`` units from the oldest layers (in place: emptied layers stay, at 0); returns their
    value. Taking more than the layers hold takes what is there."""
    value, left = 0, n
    for layer in layers:
        if left <= 0:
            break
        take = min(left, layer.quantity)
        layer.quantity -= take
        value += take * layer.unit_cost
        left -= take
    return value


def reconcile(layers: list[Layer], quantity: int, value: int, at: datetime) -> list[Layer]:
    """Layers that add up to the balance: unchanged when they do; missing units (and their value)
    as the oldest layers when the layers hold less; else rebuilt from the balance."""
    q = sum(layer.quantity for layer in layers)
    v = sum(layer.value for layer in layers)
    if (q, v) == (quantity, value):
        return layers
    if q < quantity and v <= value:
        first = min((layer.received_at for layer in layers if layer.quantity), default=at)
        return layers_for(quantity - q, value - v, first - timedelta(microseconds=1)) + layers
    return [*(Layer(layer.received_at, 0, layer.unit_cost, layer.id) for layer in layers if layer.id is not None),
            *layers_for(quantity, value, at)]


# ---------------------------------------------------------------- the ledger's FIFO book

_C = CostLayer.__table__.c
_FIFO_LOCATIONS = (
    select(Location.id).join(ValuationSetting, ValuationSetting.organisation_id == Location.organisation_id)
    .where(Location.id.in_(bindparam("ids", expanding=True)), ValuationSetting.method == Method.FIFO.value))


@dataclass
class FifoBook:
    """The locked cost layers of the FIFO keys of one post, changed in memory, written once."""

    layers: dict[Key, list[Layer]]
    original: dict[int, int] = field(default_factory=dict)  # layer id -> quantity as read

    def __contains__(self, key: Key) -> bool:
        return key in self.layers

    def add(self, key: Key, quantity: int, unit_cost: int, at: datetime) -> None:
        self.layers[key].append(Layer(at, quantity, unit_cost))

    def take(self, key: Key, n: int) -> int:
        return take_fifo(self.layers[key], n)

    def write(self, s: Session) -> None:
        gone, changed, new = [], [], []
        for (location_id, gtin, batch), layers in self.layers.items():
            for layer in layers:
                if layer.id is None:
                    if layer.quantity:
                        new.append({"location_id": location_id, "gtin": gtin, "batch": batch,
                                    "received_at": layer.received_at, "quantity_left": layer.quantity,
                                    "unit_cost": layer.unit_cost})
                elif layer.quantity == 0:
                    gone.append(layer.id)
                elif layer.quantity != self.original[layer.id]:
                    changed.append({"l_id": layer.id, "q": layer.quantity})
        for start in range(0, len(gone), 1000):
            s.execute(delete(CostLayer.__table__).where(_C.id.in_(gone[start:start + 1000])))
        if changed:
            s.execute(update(CostLayer.__table__).where(_C.id == bindparam("l_id"))
                      .values(quantity_left=bindparam("q")), changed)
        if new:
            s.execute(insert(CostLayer.__table__), new)


def fifo_locations(s: Session, location_ids: Sequence[int]) -> set[int]:
    """The locations among these whose organisation values its stock by FIFO."""
    return set(s.scalars(_FIFO_LOCATIONS, {"ids": sorted(set(location_ids))}))


def fifo_book(s: Session, keys: Sequence[Key], state: dict[Key, list[int]], at: datetime) -> FifoBook | None:
    """None unless some of these keys are at a FIFO organisation's location; else their layers,
    locked (in key order, after the caller locked the balances) and reconciled with ``state``
    (the balances' quantity and value as locked)."""
    fifo = fifo_locations(s, [k[0] for k in keys])
    if not fifo:
        return None
    wanted = sorted(k for k in keys if k[0] in fifo)
    book = FifoBook({k: [] for k in wanted})
    for start in range(0, len(wanted), LOCK_CHUNK):
        chunk = wanted[start:start + LOCK_CHUNK]
        rows = s.execute(
            select(_C.id, _C.location_id, _C.gtin, _C.batch, _C.received_at, _C.quantity_left, _C.unit_cost)
            .where(tuple_(_C.location_id, _C.gtin, _C.batch).in_(chunk) if len(chunk) > 1 else
                   (_C.location_id == chunk[0][0]) & (_C.gtin == chunk[0][1]) & (_C.batch == chunk[0][2]))
            .order_by(_C.location_id, _C.gtin, _C.batch, _C.received_at, _C.id).with_for_update())
        for r in rows:
            book.layers[(r.location_id, r.gtin, r.batch)].append(Layer(r.received_at, r.quantity_left, r.unit_cost,
                                                                       r.id))
            book.original[r.id] = r.quantity_left
    for key in wanted:
        quantity, value = state[key]
        book.layers[key] = reconcile(book.layers[key], quantity, value, at)
    return book


# ---------------------------------------------------------------- the method of an organisation


@dataclass(frozen=True)
class MethodChange:
    organisation_id: int
    method: str
    previous: str
    balances: int  # balances on hand revalued into layers (to FIFO) or whose layers were dropped
    layers: int  # layers written


def method_of(s: Session, organisation_id: int) -> str:
    return s.scalar(select(ValuationSetting.method).where(ValuationSetting.organisation_id == organisation_id)
                    ) or Method.WEIGHTED_AVERAGE.value


def get_method(uow: UnitOfWork, organisation_id: int | None = None) -> dict:
    """An organisation's valuation method (default: the caller's own)."""
    authorize(uow.actor, "stock.read")
    organisation_id = organisation_id if organisation_id is not None else uow.actor.org_id
    if organisation_id is None:
        raise NotFound("Name the organisation.")
    authorize(uow.actor, "stock.read", organisation_id)
    row = uow.session.get(ValuationSetting, organisation_id)
    return {"organisation_id": organisation_id, "method": row.method if row else Method.WEIGHTED_AVERAGE.value,
            "changed_at": row.changed_at if row else None}


def set_method(uow: UnitOfWork, organisation_id: int | None, method: str) -> MethodChange:
    """Choose how an organisation (default: the caller's own) values its stock; with stock on hand
    the layers are rebuilt (to FIFO) or dropped (to weighted average), the balances' values unchanged."""
    authorize(uow.actor, "stock.valuation.manage")
    organisation_id = organisation_id if organisation_id is not None else uow.actor.org_id
    authorize(uow.actor, "stock.valuation.manage", organisation_id)
    if method not in Method.__members__:
        raise UnknownMethod(f"Use one of {', '.join(Method)}.")
    s = uow.session
    with uow:
        from pharma.parties.models import Organisation

        if organisation_id is None or s.get(Organisation, organisation_id) is None:
            raise NotFound(f"No organisation with id {organisation_id}.")
        row = s.scalars(select(ValuationSetting).where(ValuationSetting.organisation_id == organisation_id)
                        .with_for_update()).one_or_none()
        previous = row.method if row else Method.WEIGHTED_AVERAGE.value
        now = utcnow()
        if row is None:
            row = ValuationSetting(organisation_id=organisation_id, method=method, changed_at=now,
                                   changed_by=uow.actor.user_id)
            s.add(row)
        else:
            row.method, row.changed_at, row.changed_by = method, now, uow.actor.user_id
        s.flush()
        balances, written = 0, 0
        if method != previous:
            balances, written = _rebuild(s, organisation_id, method == Method.FIFO.value, now)
        uow.audit("stock.valuation_method", "organisation", organisation_id,
                  {"method": method, "previous": previous, "balances": balances, "layers": written})
        uow.commit()
    return MethodChange(organisation_id, method, previous, balances, written)


def _rebuild(s: Session, organisation_id: int, to_fifo: bool, now: datetime) -> tuple[int, int]:
    """Lock the organisation's balances (key order), drop their layers and, to FIFO, lay them again."""
    b = StockBalance.__table__.c
    locations = select(Location.id).where(Location.organisation_id == organisation_id).scalar_subquery()
    rows = s.execute(select(b.location_id, b.gtin, b.batch, b.quantity, b.value, b.updated_at)
                     .where(b.location_id.in_(locations)).order_by(b.location_id, b.gtin, b.batch)
                     .with_for_update()).all()
    s.execute(delete(CostLayer.__table__).where(_C.location_id.in_(locations)))
    if not to_fifo:
        return sum(1 for r in rows if r.quantity), 0
    new = [{"location_id": r.location_id, "gtin": r.gtin, "batch": r.batch, "received_at": layer.received_at,
            "quantity_left": layer.quantity, "unit_cost": layer.unit_cost}
           for r in rows if r.quantity for layer in layers_for(r.quantity, r.value, r.updated_at or now)]
    for start in range(0, len(new), 5000):
        s.execute(insert(CostLayer.__table__), new[start:start + 5000])
    return sum(1 for r in rows if r.quantity), len(new)


def layers_of(uow: UnitOfWork, location_id: int, gtin: str | None = None, limit: int = 500) -> list[dict]:
    """The cost layers on hand at a location (FIFO organisations only have any), oldest first."""
    loc = uow.session.get(Location, location_id)
    if loc is None:
        raise NotFound(f"No location with id {location_id}.")
    authorize(uow.actor, "stock.read", loc.organisation_id)
    where = [_C.location_id == location_id, *([_C.gtin == gtin] if gtin else [])]
    return [r._asdict() for r in uow.session.execute(
        select(_C.gtin, _C.batch, _C.received_at, _C.quantity_left, _C.unit_cost).where(*where)
        .order_by(_C.gtin, _C.batch, _C.received_at, _C.id).limit(limit))]
