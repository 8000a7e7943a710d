"""Stock reports of one location: stock on hand, a stock card, the journal of movements, expiry,
and consumption; each as a page of JSON or a whole CSV/XLSX file (``pharma.shared.tabular``).

A report is built in two steps. ``build`` (the functions below) checks the caller and the
arguments and reads the totals, in the request, so that a refusal is an ordinary error. Its
``rows`` then read the lines on their own connection in one snapshot (REPEATABLE READ on
PostgreSQL), through a server-side cursor in batches of ``STREAM_BATCH``: a file of a million
lines never holds more than a batch in memory, and a page of JSON reads only its page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, or_, select

from pharma.parties.models import User
from pharma.parties.policy import authorize
from pharma.register.models import PriceRecord, Product, ProductGtin
from pharma.shared.errors import ValidationFailed
from pharma.shared.tabular import Column
from pharma.shared.time import today as utc_today
from pharma.shared.uow import UnitOfWork
from pharma.stock import expiry as exp
from pharma.stock import services as svc
from pharma.stock.domain import ISSUE_KINDS, Kind
from pharma.stock.ledger import BALANCES, MOVEMENTS
from pharma.trace.models import Batch

STREAM_BATCH = 2000
MAX_DAYS = 366 * 5  # the longest period a journal, card or consumption report covers
NAMES = ("on-hand", "card", "movements", "expiry", "consumption")


@dataclass
class Report:
    """A report ready to run: its columns, totals, and ``rows(limit, offset)``."""

    name: str
    title: str
    location: object
    columns: list[Column]
    source: Callable[..., Iterator[dict]]  # (connection, limit, offset, whole) -> rows
    engine: object
    summary: dict = field(default_factory=dict)
    parts: tuple[str, ...] = ()

    def rows(self, limit: int | None = None, offset: int = 0, whole: bool = False) -> Iterator[dict]:
        """The lines on a connection of their own, in one snapshot. ``whole``: the file's extra lines
        (a stock card's opening and closing balances)."""
        engine = self.engine
        level = "REPEATABLE READ" if engine.dialect.name == "postgresql" else "SERIALIZABLE"
        with engine.connect() as conn:
            # the request's engine may read in autocommit mode; a server-side cursor needs a transaction
            conn = conn.execution_options(isolation_level=level, stream_results=True, yield_per=STREAM_BATCH)
            with conn.begin():
                yield from self.source(conn, limit, offset, whole)

    def page(self, page: int, per_page: int) -> dict:
        items = list(self.rows(per_page + 1, (page - 1) * per_page))
        return {"report": self.name, "title": str(self.title), "location_id": self.location.id,
                "location_name": self.location.name, "summary": self.summary,
                "columns": [{"key": c.key, "title": str(c.title), "kind": c.kind} for c in self.columns],
                "items": items[:per_page], "page": page, "per_page": per_page, "has_more": len(items) > per_page}


def _engine(uow: UnitOfWork):
    return uow.session.get_bind()


def _paged(stmt, limit: int | None, offset: int):
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt.offset(offset) if offset else stmt


def _period(date_from: date | None, date_to: date | None, default_days: int = 30) -> tuple[date, date]:
    date_to = date_to or utc_today()
    date_from = date_from or date_to - timedelta(days=default_days)
    if date_to < date_from:
        raise ValidationFailed({"date_to": ["The period ends before it starts."]})
    if (date_to - date_from).days > MAX_DAYS:
        raise ValidationFailed({"date_from": [f"Ask for at most {MAX_DAYS} days at a time."]})
    return date_from, date_to


def _price_in_force(today: date):
    return and_(PriceRecord.product_id == ProductGtin.product_id, PriceRecord.effective_from <= today,
                or_(PriceRecord.effective_to.is_(None), PriceRecord.effective_to >= today))


# ---------------------------------------------------------------- stock on hand

ON_HAND_COLUMNS = [
    Column("trade_name", _l("Product"), width=32), Column("gtin", _l("GTIN"), width=16),
    Column("batch", _l("Batch"), width=14), Column("expiry", _l("Expiry"), "date", 12),
    Column("quantity", _l("Quantity"), "int"), Column("value", _l("Value at cost"), "money", 14),
    Column("max_retail_price", _l("Maximum retail price"), "money", 14),
    Column("retail_value", _l("Value at retail price"), "money", 14),
    Column("kept_as", _l("Kept as")), Column("status", _l("Status")),
]


def on_hand(uow: UnitOfWork, location_id: int, gtin: str | None = None, expiring_before: date | None = None
            ) -> Report:
    """Stock on hand by product, batch and expiry (earliest first), with the register's names and
    today's regulated prices; the totals are those of ``stock_on_hand``."""
    totals = svc.stock_on_hand(uow, svc.BalanceQuery(location_id, gtin, expiring_before, 1, 1))
    today = utc_today()
    b = BALANCES.c
    where = [b.location_id == totals.location.id, b.quantity > 0]
    if gtin:
        where.append(b.gtin == gtin)
    if expiring_before:
        where.append(b.expiry < expiring_before)
    stmt = (select(b.gtin, b.batch, b.expiry, b.serialized, b.quantity, b.value, Product.trade_name,
                   PriceRecord.max_retail_price, Batch.recalled_at)
            .outerjoin(ProductGtin, ProductGtin.gtin == b.gtin)
            .outerjoin(Product, Product.id == ProductGtin.product_id)
            .outerjoin(PriceRecord, _price_in_force(today))
            .outerjoin(Batch, and_(Batch.gtin == b.gtin, Batch.batch == b.batch))
            .where(*where).order_by(b.expiry, b.gtin, b.batch))

    def source(conn, limit, offset, whole):
        for r in conn.execute(_paged(stmt, limit, offset)):
            yield {"trade_name": r.trade_name, "gtin": r.gtin, "batch": r.batch, "expiry": r.expiry,
                   "quantity": r.quantity, "value": r.value, "max_retail_price": r.max_retail_price,
                   "retail_value": r.quantity * r.max_retail_price if r.max_retail_price is not None else None,
                   "kept_as": "SERIALIZED" if r.serialized else "QUANTITY",
                   "status": "RECALLED" if r.recalled_at is not None else "EXPIRED" if r.expiry < today
                   else "IN_DATE"}

    return Report("on-hand", _l("Stock on hand"), totals.location, ON_HAND_COLUMNS, source, _engine(uow),
                  {"lines": totals.lines, "units": totals.units, "value": totals.value,
                   "retail_value": totals.retail_value, "as_of": today.isoformat()},
                  (totals.location.gln,))


# ---------------------------------------------------------------- movements: the journal and the stock card

MOVEMENT_COLUMNS = [
    Column("created_at", _l("Time (UTC)"), "datetime", 17), Column("kind", _l("Movement")),
    Column("reason", _l("Reason")), Column("trade_name", _l("Product"), width=32),
    Column("gtin", _l("GTIN"), width=16), Column("batch", _l("Batch"), width=14),
    Column("expiry", _l("Expiry"), "date", 12), Column("quantity", _l("Quantity"), "int"),
    Column("unit_cost", _l("Unit cost"), "money"), Column("value", _l("Value at cost"), "money", 14),
    Column("document_type", _l("Document type"), width=16), Column("document_id", _l("Document"), width=18),
    Column("username", _l("User")),
]
CARD_COLUMNS = [c for c in MOVEMENT_COLUMNS if c.key not in ("trade_name", "gtin")] + [
    Column("balance", _l("Balance"), "int"), Column("balance_value", _l("Balance value"), "money", 14)]


def _start(day: date):
    return svc._start(day)


def movements(uow: UnitOfWork, location_id: int, date_from: date | None = None, date_to: date | None = None,
              gtin: str | None = None, kind: str | None = None) -> Report:
    """The journal of a location's movements over a period (default: the last 30 days), oldest first."""
    authorize(uow.actor, "stock.read")
    loc = svc._location(uow, location_id, "stock.read")
    date_from, date_to = _period(date_from, date_to)
    m = MOVEMENTS.c
    where = [m.location_id == loc.id, m.created_at >= _start(date_from), m.created_at < _start(date_to + timedelta(1))]
    if gtin:
        where.append(m.gtin == gtin)
    if kind:
        where.append(m.kind == kind)
    stmt = (select(m.created_at, m.kind, m.reason, Product.trade_name, m.gtin, m.batch, m.expiry, m.quantity,
                   m.unit_cost, m.value, m.document_type, m.document_id, User.username)
            .outerjoin(ProductGtin, ProductGtin.gtin == m.gtin)
            .outerjoin(Product, Product.id == ProductGtin.product_id)
            .outerjoin(User, User.id == m.user_id)
            .where(*where).order_by(m.created_at, m.id))

    def source(conn, limit, offset, whole):
        for r in conn.execute(_paged(stmt, limit, offset)):
            yield r._asdict()

    return Report("movements", _l("Journal of movements"), loc, MOVEMENT_COLUMNS, source, _engine(uow),
                  {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()},
                  (loc.gln, date_from.isoformat(), date_to.isoformat()))


def card(uow: UnitOfWork, location_id: int, gtin: str, batch: str | None = None, date_from: date | None = None,
         date_to: date | None = None) -> Report:
    """A product's (or one batch's) stock card over a period: the opening balance, every movement with
    the balance after it, the closing balance. Unlike the page's card, every movement is listed."""
    authorize(uow.actor, "stock.read")
    loc = svc._location(uow, location_id, "stock.read")
    date_from, date_to = _period(date_from, date_to)
    m = MOVEMENTS.c
    key = [m.location_id == loc.id, m.gtin == gtin, *([m.batch == batch] if batch else [])]
    start, end = _start(date_from), _start(date_to + timedelta(1))
    before = select(func.coalesce(func.sum(m.quantity), 0), func.coalesce(func.sum(m.value), 0)).where(
        *key, m.created_at < start)
    during = select(func.coalesce(func.sum(m.quantity), 0), func.coalesce(func.sum(m.value), 0)).where(
        *key, m.created_at >= start, m.created_at < end)
    opening, opening_value = (int(v) for v in uow.session.execute(before).one())
    moved, moved_value = (int(v) for v in uow.session.execute(during).one())
    name = uow.session.scalar(select(Product.trade_name).join(ProductGtin, ProductGtin.product_id == Product.id)
                              .where(ProductGtin.gtin == gtin))
    order = (m.created_at, m.id)

    def source(conn, limit, offset, whole):
        first, first_value = (int(v) for v in conn.execute(before).one())  # in the stream's own snapshot
        stmt = (select(m.created_at, m.kind, m.reason, m.batch, m.expiry, m.quantity, m.unit_cost, m.value,
                       m.document_type, m.document_id, User.username,
                       (literal(first) + func.sum(m.quantity).over(order_by=order)).label("balance"),
                       (literal(first_value) + func.sum(m.value).over(order_by=order)).label("balance_value"))
                .outerjoin(User, User.id == m.user_id)
                .where(*key, m.created_at >= start, m.created_at < end).order_by(*order))
        if whole:
            yield {"kind": "OPENING", "balance": first, "balance_value": first_value}
        last = (first, first_value)
        for r in conn.execute(_paged(stmt, limit, offset)):
            row = r._asdict()
            row["balance"], row["balance_value"] = int(row["balance"]), int(row["balance_value"])
            last = (row["balance"], row["balance_value"])
            yield row
        if whole:
            yield {"kind": "CLOSING", "balance": last[0], "balance_value": last[1]}

    return Report("card", _l("Stock card"), loc, CARD_COLUMNS, source, _engine(uow),
                  {"gtin": gtin, "batch": batch, "trade_name": name, "date_from": date_from.isoformat(),
                   "date_to": date_to.isoformat(), "opening": opening, "opening_value": opening_value,
                   "closing": opening + moved, "closing_value": opening_value + moved_value},
                  (loc.gln, gtin, batch or "", date_from.isoformat(), date_to.isoformat()))


# ---------------------------------------------------------------- expiry

EXPIRY_COLUMNS = [
    Column("band", _l("Band")), Column("days_left", _l("Days left"), "int"),
    Column("trade_name", _l("Product"), width=32), Column("gtin", _l("GTIN"), width=16),
    Column("batch", _l("Batch"), width=14), Column("expiry", _l("Expiry"), "date", 12),
    Column("quantity", _l("Quantity"), "int"), Column("value", _l("Value at cost"), "money", 14),
    Column("kept_as", _l("Kept as")), Column("recalled", _l("Recalled")),
    Column("acknowledged_at", _l("Acknowledged (UTC)"), "datetime", 17),
    Column("acknowledged_by_name", _l("Acknowledged by")),
]


def expiry(uow: UnitOfWork, location_id: int, band: str | None = None) -> Report:
    """Expired and expiring stock (within 90 days) by band, earliest expiry first, with the
    acknowledgements of the expiry notices."""
    listed = exp.expiry_list(uow, exp.ExpiryQuery(location_id, band, 1, 1))
    today = listed.today
    stmt = exp.expiring_select(listed.location.id, today, band)

    def source(conn, limit, offset, whole):
        for r in conn.execute(_paged(stmt, limit, offset)):
            row = exp.expiring_item(r, today)
            row["kept_as"] = "SERIALIZED" if row["serialized"] else "QUANTITY"
            row["recalled"] = "RECALLED" if row["recalled"] else ""
            yield row

    return Report("expiry", _l("Expiring stock"), listed.location, EXPIRY_COLUMNS, source, _engine(uow),
                  {"as_of": today.isoformat(), "bands": [{"band": k, **v} for k, v in listed.bands.items()]},
                  (listed.location.gln, band or ""))


# ---------------------------------------------------------------- consumption

CONSUMPTION_COLUMNS = [
    Column("trade_name", _l("Product"), width=32), Column("gtin", _l("GTIN"), width=16),
    Column("sold", _l("Sold"), "int"), Column("dispensed", _l("Dispensed"), "int"),
    Column("units", _l("Units out"), "int"), Column("per_day", _l("Average per day"), "decimal"),
    Column("value", _l("Value at cost"), "money", 14),
]


def consumption(uow: UnitOfWork, location_id: int, date_from: date | None = None, date_to: date | None = None
                ) -> Report:
    """Units sold and dispensed per product (GTIN: each pack size apart) over a period (default: the
    last 30 days), with the average per day of the period and their value at cost; most used first."""
    authorize(uow.actor, "stock.read")
    loc = svc._location(uow, location_id, "stock.read")
    date_from, date_to = _period(date_from, date_to)
    days = (date_to - date_from).days + 1
    m = MOVEMENTS.c
    where = [m.location_id == loc.id, m.kind.in_([k.value for k in ISSUE_KINDS]),
             m.created_at >= _start(date_from), m.created_at < _start(date_to + timedelta(1))]
    units = (-func.sum(m.quantity)).label("units")
    per_gtin = (select(m.gtin, (-func.sum(case((m.kind == Kind.SALE.value, m.quantity), else_=0))).label("sold"),
                       (-func.sum(case((m.kind == Kind.DISPENSE.value, m.quantity), else_=0))).label("dispensed"),
                       units, (-func.sum(m.value)).label("value"))
                .where(*where).group_by(m.gtin).subquery("per_gtin"))
    stmt = (select(per_gtin, Product.trade_name)
            .outerjoin(ProductGtin, ProductGtin.gtin == per_gtin.c.gtin)
            .outerjoin(Product, Product.id == ProductGtin.product_id)
            .order_by(per_gtin.c.units.desc(), per_gtin.c.gtin))
    products, total, value = uow.session.execute(
        select(func.count(), func.coalesce(func.sum(per_gtin.c.units), 0),
               func.coalesce(func.sum(per_gtin.c.value), 0))).one()

    def source(conn, limit, offset, whole):
        for r in conn.execute(_paged(stmt, limit, offset)):
            row = r._asdict()
            for k in ("sold", "dispensed", "units", "value"):
                row[k] = int(row[k])
            row["per_day"] = round(row["units"] / days, 2)
            yield row

    return Report("consumption", _l("Consumption"), loc, CONSUMPTION_COLUMNS, source, _engine(uow),
                  {"date_from": date_from.isoformat(), "date_to": date_to.isoformat(), "days": days,
                   "products": products, "units": int(total), "value": int(value),
                   "per_day": round(int(total) / days, 2)},
                  (loc.gln, date_from.isoformat(), date_to.isoformat()))


def file_name(report: Report, fmt: str) -> str:
    from pharma.shared.tabular import filename

    return filename(f"stock-{report.name}", fmt, utc_today(), *report.parts)
