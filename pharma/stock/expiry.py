"""Expiry: the daily scan that marks stock expired or expiring within 30, 60 or 90 days, the
pharmacist's expiry list, and acknowledging a notice.

Bands, by the days left until the expiry date (``expiry - today``): below 0 ``EXPIRED``; 0 to 30
``D30`` (a batch expiring today may still be sold today, as FEFO and ``issue_stock`` allow: it is
expired from tomorrow); 31 to 60 ``D60``; 61 to 90 ``D90``; beyond that, no notice.

Selling or dispensing an expired batch is refused whether or not the scan ran: ``issue_stock``
checks the expiry date itself (BATCH_NOT_SELLABLE) and FEFO never picks an expired batch; a
serialized pack's effective state is EXPIRED from the day after its expiry (``pharma.trace.domain``).

The scan is set-based (one INSERT ... SELECT ... ON CONFLICT DO UPDATE and one DELETE over the
balances), so its cost is one pass over the balances whatever their number, and running it twice
changes nothing: a row is rewritten only when its band, quantity or expiry changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import and_, case, delete, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from pharma.parties.models import User
from pharma.parties.policy import authorize
from pharma.register.models import Product, ProductGtin
from pharma.shared.errors import NotFound
from pharma.shared.orm import UTCDateTime
from pharma.shared.schemas import Page
from pharma.shared.time import today as utc_today
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.stock.expiry_models import StockExpiryNotice
from pharma.stock.ledger import BALANCES
from pharma.stock.services import _location
from pharma.trace.models import Batch

NOTICES = StockExpiryNotice.__table__
HORIZON_DAYS = 90
_SCAN_LOCK = 5_470_301  # pg_advisory_xact_lock key: one scan at a time


class Band(StrEnum):
    EXPIRED = "EXPIRED"
    D30 = "D30"
    D60 = "D60"
    D90 = "D90"


BANDS = tuple(Band)
_UPPER = {Band.D30: 30, Band.D60: 60, Band.D90: 90}  # the last day (days left) of each band


def band_of(expiry: date, today: date) -> Band | None:
    """The band of a batch expiring on ``expiry``, seen on ``today``; None beyond 90 days."""
    left = (expiry - today).days
    if left < 0:
        return Band.EXPIRED
    for band, upper in _UPPER.items():
        if left <= upper:
            return band
    return None


def band_range(band: Band, today: date) -> tuple[date | None, date]:
    """The expiry dates of a band: (first or None, last), inclusive."""
    if band is Band.EXPIRED:
        return None, today - timedelta(days=1)
    upper = _UPPER[band]
    lower = {Band.D30: 0, Band.D60: 31, Band.D90: 61}[band]
    return today + timedelta(days=lower), today + timedelta(days=upper)


def band_expr(expiry: ColumnElement, today: date) -> ColumnElement:
    """``band_of`` in SQL, for expiries within the horizon."""
    return case((expiry < today, Band.EXPIRED.value),
                (expiry <= today + timedelta(days=30), Band.D30.value),
                (expiry <= today + timedelta(days=60), Band.D60.value),
                else_=Band.D90.value)


def _insert(s):
    return (pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert)(NOTICES)


# ---------------------------------------------------------------- the scan


@dataclass
class ScanResult:
    on: date
    changed: int  # notices inserted or updated
    removed: int  # notices deleted (balance empty, or beyond 90 days)
    bands: dict[str, int] = field(default_factory=dict)  # notices per band after the scan

    def to_dict(self) -> dict:
        return {"on": self.on.isoformat(), "changed": self.changed, "removed": self.removed, "bands": self.bands}


def scan_expiry(uow: UnitOfWork, on: date | None = None) -> ScanResult:
    """Mark every batch on hand that is expired or expires within 90 days of ``on`` (default today)
    in ``stock_expiry_notices``, one row per location and batch; drop notices of emptied batches.
    Safe to run twice (and at once: runs queue on a lock)."""
    authorize(uow.actor, "stock.expiry.manage")
    with uow:
        result = mark_expiry(uow.session, on or utc_today())
        uow.audit("stock.expiry_scan", "stock", "expiry", result.to_dict(),
                  count=max(result.changed + result.removed, 1))
        uow.commit()
    return result


def mark_expiry(s, on: date) -> ScanResult:
    """The scan's statements, in the caller's transaction (the demo loader calls it directly)."""
    horizon = on + timedelta(days=HORIZON_DAYS)
    now = utcnow()
    b, n = BALANCES.c, NOTICES.c
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCAN_LOCK})
    band = band_expr(b.expiry, on)
    unchanged = (select(n.id).where(n.location_id == b.location_id, n.gtin == b.gtin, n.batch == b.batch,
                                    n.band == band, n.quantity == b.quantity, n.expiry == b.expiry).exists())
    # rows already right are left out (not even locked): a scan that finds nothing new writes nothing
    found = (select(b.location_id, b.gtin, b.batch, b.expiry, band.label("band"), b.quantity,
                    literal(now, UTCDateTime()).label("marked_at"))
             .where(b.quantity > 0, b.expiry <= horizon, ~unchanged)
             .order_by(b.location_id, b.gtin, b.batch))
    ins = _insert(s).from_select(["location_id", "gtin", "batch", "expiry", "band", "quantity", "marked_at"], found)
    new_band = n.band != ins.excluded.band
    changed = s.execute(ins.on_conflict_do_update(
        index_elements=["location_id", "gtin", "batch"],
        set_={"band": ins.excluded.band, "quantity": ins.excluded.quantity, "expiry": ins.excluded.expiry,
              "marked_at": case((new_band, ins.excluded.marked_at), else_=n.marked_at),
              "acknowledged_at": case((new_band, None), else_=n.acknowledged_at),
              "acknowledged_by": case((new_band, None), else_=n.acknowledged_by)},
        where=or_(new_band, n.quantity != ins.excluded.quantity, n.expiry != ins.excluded.expiry))
        .execution_options(preserve_rowcount=True)).rowcount
    still = (select(b.id).where(b.location_id == n.location_id, b.gtin == n.gtin, b.batch == n.batch,
                                b.quantity > 0, b.expiry <= horizon).exists())
    removed = s.execute(delete(NOTICES).where(~still)).rowcount
    bands = dict(s.execute(select(n.band, func.count()).group_by(n.band)).all())
    return ScanResult(on, changed, removed, {band.value: bands.get(band.value, 0) for band in BANDS})


# ---------------------------------------------------------------- the list and acknowledging


@dataclass(frozen=True)
class ExpiryQuery:
    location_id: int
    band: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass
class ExpiryList:
    location: object
    today: date
    page: Page
    bands: dict[str, dict] = field(default_factory=dict)  # per band: lines, units, value

    def to_dict(self) -> dict:
        return {**self.page.to_dict(), "location_id": self.location.id, "location_name": self.location.name,
                "today": self.today, "bands": [{"band": k, **v} for k, v in self.bands.items()]}


def expiring_where(location_id: int, today: date, band: str | None = None) -> list:
    """The balances of a location with stock that are expired or expire within 90 days (of one band)."""
    b = BALANCES.c
    where = [b.location_id == location_id, b.quantity > 0, b.expiry <= today + timedelta(days=HORIZON_DAYS)]
    if band:
        first, last = band_range(Band(band), today)
        where.append(b.expiry <= last)
        if first is not None:
            where.append(b.expiry >= first)
    return where


def expiring_select(location_id: int, today: date, band: str | None = None):
    """Expired and expiring batches at a location, earliest expiry first, with the band computed from
    today's date (right even when the scan has not run today), the product, the recall and the notice."""
    b, n = BALANCES.c, NOTICES.c
    return (select(b.gtin, b.batch, b.expiry, band_expr(b.expiry, today).label("band"),
                   b.quantity, b.value, b.serialized, Product.trade_name, Product.id.label("product_id"),
                   Batch.recalled_at, n.marked_at, n.acknowledged_at, n.acknowledged_by,
                   User.username.label("acknowledged_by_name"))
            .outerjoin(NOTICES, and_(n.location_id == b.location_id, n.gtin == b.gtin, n.batch == b.batch))
            .outerjoin(ProductGtin, ProductGtin.gtin == b.gtin)
            .outerjoin(Product, Product.id == ProductGtin.product_id)
            .outerjoin(Batch, and_(Batch.gtin == b.gtin, Batch.batch == b.batch))
            .outerjoin(User, User.id == n.acknowledged_by)
            .where(*expiring_where(location_id, today, band))
            .order_by(b.expiry, b.gtin, b.batch))


def expiring_item(row, today: date) -> dict:
    d = row._asdict()
    d["days_left"] = (row.expiry - today).days
    d["recalled"] = d.pop("recalled_at") is not None
    d["acknowledged"] = row.acknowledged_at is not None
    return d


def expiry_list(uow: UnitOfWork, q: ExpiryQuery) -> ExpiryList:
    """A location's expired and expiring stock (within 90 days), earliest expiry first, by band,
    with the quantity and value on hand now and each band's totals."""
    authorize(uow.actor, "stock.read")
    s = uow.session
    loc = _location(uow, q.location_id, "stock.read")
    today = utc_today()
    b = BALANCES.c
    band = band_expr(b.expiry, today).label("band")
    totals = {r.band: {"lines": r.lines, "units": int(r.units), "value": int(r.value)} for r in s.execute(
        select(band, func.count().label("lines"), func.sum(b.quantity).label("units"),
               func.sum(b.value).label("value"))
        .where(*expiring_where(loc.id, today)).group_by(band))}
    bands = {k.value: totals.get(k.value, {"lines": 0, "units": 0, "value": 0}) for k in BANDS}
    total = sum(v["lines"] for k, v in bands.items() if not q.band or k == q.band)
    rows = s.execute(expiring_select(loc.id, today, q.band).limit(q.per_page).offset((q.page - 1) * q.per_page))
    return ExpiryList(loc, today, Page([expiring_item(r, today) for r in rows], total, q.page, q.per_page), bands)


@dataclass(frozen=True)
class Acknowledge:
    location_id: int
    gtin: str
    batch: str


def acknowledge(uow: UnitOfWork, cmd: Acknowledge) -> dict:
    """Acknowledge that an expired or expiring batch has been seen (in its current band); a later
    band needs a new acknowledgement. Acknowledging twice keeps the first."""
    authorize(uow.actor, "stock.expiry.manage")
    today, now = utc_today(), utcnow()
    b, n = BALANCES.c, NOTICES.c
    with uow:
        s = uow.session
        loc = _location(uow, cmd.location_id, "stock.expiry.manage")
        bal = s.execute(select(b.expiry, b.quantity).where(
            *expiring_where(loc.id, today), b.gtin == cmd.gtin, b.batch == cmd.batch)).first()
        if bal is None:
            raise NotFound(f"No batch {cmd.batch} of {cmd.gtin} expired or expiring within {HORIZON_DAYS} days "
                           "is on hand here.")
        band = band_of(bal.expiry, today).value
        ins = _insert(s).values(location_id=loc.id, gtin=cmd.gtin, batch=cmd.batch, expiry=bal.expiry, band=band,
                                quantity=bal.quantity, marked_at=now, acknowledged_at=now,
                                acknowledged_by=uow.actor.user_id)
        new_band = n.band != ins.excluded.band
        fresh = or_(new_band, n.acknowledged_at.is_(None))
        s.execute(ins.on_conflict_do_update(
            index_elements=["location_id", "gtin", "batch"],
            set_={"band": ins.excluded.band, "quantity": ins.excluded.quantity, "expiry": ins.excluded.expiry,
                  "marked_at": case((new_band, ins.excluded.marked_at), else_=n.marked_at),
                  "acknowledged_at": case((fresh, ins.excluded.acknowledged_at), else_=n.acknowledged_at),
                  "acknowledged_by": case((fresh, ins.excluded.acknowledged_by), else_=n.acknowledged_by)}))
        row = s.execute(select(NOTICES).where(n.location_id == loc.id, n.gtin == cmd.gtin,
                                              n.batch == cmd.batch)).one()
        uow.audit("stock.expiry_acknowledge", "location", loc.id,
                  {"gtin": cmd.gtin, "batch": cmd.batch, "band": row.band})
        uow.commit()
    out = row._asdict()
    out["days_left"] = (row.expiry - today).days
    return out

