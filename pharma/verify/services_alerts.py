"""Alert cases: opened by alerting verdicts, worked by the regulator (DESIGN.md, "Verdicts").

The same pack seen again at the same place while its case is open adds a sighting to that case:
one ``INSERT ... ON CONFLICT DO UPDATE`` on the partial unique index of open cases, so scans
racing each other still leave one case. Its sightings are the verifications linked to it.

The daily alert rate: per UTC day, the verifications, how many of them alerted, the cases
opened, and ``rate`` = alerting verifications / verifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from pharma.parties.models import Device, Location, Organisation, User
from pharma.parties.policy import authorize
from pharma.register.models import Product, ProductGtin
from pharma.shared.errors import NotFound, ValidationFailed
from pharma.shared.schemas import Page
from pharma.shared.time import UTC, utcnow
from pharma.shared.uow import UnitOfWork
from pharma.verify import domain as d
from pharma.verify.models import OPEN, Alert, Verification

READ, MANAGE = "verify.alert.read", "verify.alert.manage"
MAX_RATE_DAYS = 366
SHOWN_SIGHTINGS = 500
STATUSES = [s.value for s in d.AlertStatus]


class AlertNotFound(NotFound):
    code = "ALERT_NOT_FOUND"
    title = "No such alert"


@dataclass(frozen=True)
class AlertQuery:
    verdict: str | None = None
    region: str | None = None
    organisation_id: int | None = None
    status: str | None = None  # NEW, INVESTIGATING, CLOSED, or OPEN (NEW and INVESTIGATING)
    date_from: date | None = None  # opened on or after
    date_to: date | None = None  # opened on or before
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    location_name: str
    location_gln: str
    organisation_name: str
    trade_name: str | None

    def __getattr__(self, name):
        return getattr(self.alert, name)


@dataclass(frozen=True)
class Sighting:
    id: int
    at: datetime
    verdict: str
    raw: str
    username: str | None
    device: str | None


@dataclass(frozen=True)
class DayRate:
    day: date
    verifications: int
    alerting: int
    alerts_opened: int

    @property
    def rate(self) -> float:
        return self.alerting / self.verifications if self.verifications else 0.0


# ---------------------------------------------------------------- opening cases


def record_alerts(uow: UnitOfWork, place: d.Place, results: list) -> None:
    """Open a case, or add sightings to the open one, for each alerting result's pack at the place;
    sets each result's ``alert_id``. Runs in the verification's transaction."""
    if not results:
        return
    s = uow.session
    groups: dict[tuple[str, str], list] = {}
    for r in results:
        groups.setdefault(r.case_key, []).append(r)
    region = s.scalar(select(Location.region).where(Location.id == place.location_id)) or ""
    now = utcnow()
    rows = [{"verdict": max((r.verdict for r in rs), key=d.RANK.__getitem__).value, "gtin": gtin, "serial": serial,
             "batch": rs[0].scan.batch, "location_id": place.location_id, "organisation_id": place.organisation_id,
             "region": region, "status": d.AlertStatus.NEW.value, "opened_at": now, "last_seen_at": now,
             "sightings": len(rs)}
            for (gtin, serial), rs in sorted(groups.items())]  # one order for every writer: no deadlocks
    insert = (postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert)(Alert)
    stmt = insert.values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["location_id", "gtin", "serial"], index_where=OPEN,
        set_={"sightings": Alert.__table__.c.sightings + stmt.excluded.sightings,
              "last_seen_at": stmt.excluded.last_seen_at},
    ).returning(Alert.id, Alert.gtin, Alert.serial, Alert.sightings, Alert.verdict)
    for alert_id, gtin, serial, sightings, verdict in s.execute(stmt).all():
        seen = groups[(gtin, serial)]
        for r in seen:
            r.alert_id = alert_id
        if sightings == len(seen):
            uow.audit("alert.open", "alert", alert_id, {"verdict": verdict, "gtin": gtin, "serial": serial,
                                                        "location_id": place.location_id})


# ---------------------------------------------------------------- the queue


_org = aliased(Organisation)
_VIEW = (
    select(Alert, Location.name, Location.gln, _org.name, Product.trade_name)
    .join(Location, Location.id == Alert.location_id)
    .join(_org, _org.id == Alert.organisation_id)
    .outerjoin(ProductGtin, ProductGtin.gtin == Alert.gtin)
    .outerjoin(Product, Product.id == ProductGtin.product_id)
)


def list_alerts(uow: UnitOfWork, q: AlertQuery) -> Page:
    """Alert cases by verdict, region, pharmacy, status and opening date, newest first."""
    authorize(uow.actor, READ)
    stmt = _VIEW.order_by(Alert.opened_at.desc(), Alert.id.desc())
    if q.verdict:
        stmt = stmt.where(Alert.verdict == q.verdict)
    if q.region:
        stmt = stmt.where(Alert.region == q.region)
    if q.organisation_id:
        stmt = stmt.where(Alert.organisation_id == q.organisation_id)
    if q.status == "OPEN":
        stmt = stmt.where(Alert.status != d.AlertStatus.CLOSED.value)
    elif q.status:
        stmt = stmt.where(Alert.status == q.status)
    if q.date_from:
        stmt = stmt.where(Alert.opened_at >= _start(q.date_from))
    if q.date_to:
        stmt = stmt.where(Alert.opened_at < _start(q.date_to + timedelta(days=1)))
    s = uow.session
    total = s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = s.execute(stmt.limit(q.per_page).offset((q.page - 1) * q.per_page)).all()
    return Page([AlertView(*row) for row in rows], total, q.page, q.per_page)


def read_alert(uow: UnitOfWork, alert_id: int) -> tuple[AlertView, list[Sighting]]:
    """One case with its sightings, newest first (the latest 500)."""
    authorize(uow.actor, READ)
    return _view(uow.session, alert_id), _sightings(uow.session, alert_id)


def alert_filters(uow: UnitOfWork) -> tuple[list[str], list[tuple[int, str]]]:
    """The regions and the organisations that have alerts, for the queue's filters."""
    authorize(uow.actor, READ)
    s = uow.session
    regions = list(s.scalars(select(Location.region).distinct().order_by(Location.region)))
    orgs = s.execute(select(Organisation.id, Organisation.name)
                     .where(Organisation.id.in_(select(Alert.organisation_id).distinct()))
                     .order_by(Organisation.name)).all()
    return regions, [tuple(o) for o in orgs]


def _view(s: Session, alert_id: int) -> AlertView:
    row = s.execute(_VIEW.where(Alert.id == alert_id)).first()
    if row is None:
        raise AlertNotFound(f"No alert {alert_id}.")
    return AlertView(*row)


def _sightings(s: Session, alert_id: int) -> list[Sighting]:
    rows = s.execute(
        select(Verification.id, Verification.created_at, Verification.verdict, Verification.raw, User.username,
               Device.registration_number)
        .outerjoin(User, User.id == Verification.user_id)
        .outerjoin(Device, Device.id == Verification.device_id)
        .where(Verification.alert_id == alert_id)
        .order_by(Verification.created_at.desc(), Verification.id.desc()).limit(SHOWN_SIGHTINGS))
    return [Sighting(*row) for row in rows]


# ---------------------------------------------------------------- working a case


def investigate(uow: UnitOfWork, alert_id: int) -> AlertView:
    """Take a NEW case up: INVESTIGATING."""
    authorize(uow.actor, MANAGE)
    with uow:
        alert = _for_update(uow.session, alert_id)
        alert.status = d.check_investigate(alert.id, alert.status).value
        alert.investigated_at = utcnow()
        alert.investigated_by = uow.actor.user_id
        uow.audit("alert.investigate", "alert", alert.id, {"status": alert.status})
        uow.commit()
    return _view(uow.session, alert_id)


def close(uow: UnitOfWork, alert_id: int, reason: str, note: str | None = None) -> AlertView:
    """Close a case with a reason (CONFIRMED_COUNTERFEIT, TECHNICAL_ERROR, PROCESS_ERROR, OTHER) and a note."""
    authorize(uow.actor, MANAGE)
    why = _reason(reason)
    text = (note or "").strip()
    if len(text) > 1000:
        raise ValidationFailed({"note": ["At most 1000 characters."]})
    with uow:
        alert = _for_update(uow.session, alert_id)
        before = alert.status
        alert.status = d.check_close(alert.id, alert.status, why, text).value
        alert.closing_reason, alert.note = why.value, text or None
        alert.closed_at, alert.closed_by = utcnow(), uow.actor.user_id
        uow.audit("alert.close", "alert", alert.id, {"before": before, "reason": why.value, "note": text})
        uow.commit()
    return _view(uow.session, alert_id)


def _for_update(s: Session, alert_id: int) -> Alert:
    alert = s.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise AlertNotFound(f"No alert {alert_id}.")
    return alert


def _reason(value: str) -> d.ClosingReason:
    try:
        return d.ClosingReason(value)
    except ValueError:
        allowed = ", ".join(r.value for r in d.ClosingReason)
        raise ValidationFailed({"reason": [f"Use one of {allowed}."]}) from None


# ---------------------------------------------------------------- the daily rate


def alert_rate(uow: UnitOfWork, date_from: date, date_to: date) -> list[DayRate]:
    """Per UTC day from ``date_from`` to ``date_to`` (both included, at most 366 days): verifications,
    alerting verifications, cases opened, and the rate of alerting verifications."""
    authorize(uow.actor, READ)
    if date_to < date_from:
        raise ValidationFailed({"to": ["Must not be before from."]})
    if (date_to - date_from).days >= MAX_RATE_DAYS:
        raise ValidationFailed({"to": [f"At most {MAX_RATE_DAYS} days at once."]})
    s = uow.session
    start, end = _start(date_from), _start(date_to + timedelta(days=1))
    day = _utc_day(s, Verification.created_at)
    scans = {_as_date(k): (n, a) for k, n, a in s.execute(
        select(day, func.count(), func.count(Verification.alert_id))
        .where(Verification.created_at >= start, Verification.created_at < end).group_by(day))}
    day = _utc_day(s, Alert.opened_at)
    opened = {_as_date(k): n for k, n in s.execute(
        select(day, func.count()).where(Alert.opened_at >= start, Alert.opened_at < end).group_by(day))}
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    return [DayRate(x, *scans.get(x, (0, 0)), opened.get(x, 0)) for x in days]


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _utc_day(s: Session, column):
    if s.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite keeps UTC timestamps as text


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
