"""Reading a pack: its facts (one indexed query, the verification hot path) and its history.

A pack's history is the events linked to it in ``trace_event_packs`` plus the scoped events
that cover it (its batch's recall, its product's withdrawal, its declaration's commissioning),
read with one ``UNION ALL`` of index lookups, so it stays fast however many packs are stored.

Who may read what ("trace.history.read"): the regulator and inspectors any pack; importers and
pharmacies only packs that are, or were, in their organisation's custody (its current location
is theirs, or one of its events happened at one of their locations). A pack the caller may not
read is answered exactly like a pack that does not exist (404 NOT_FOUND), so that a guessed
serial does not tell whether it was ever commissioned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, literal, select, union_all
from sqlalchemy.orm import Session, aliased

from pharma.parties.models import Location, Organisation
from pharma.parties.policy import POLICY, authorize
from pharma.register.models import Certificate, Product
from pharma.shared.actor import Actor
from pharma.shared.errors import NotFound
from pharma.shared.identifiers import Gtin, Serial
from pharma.shared.time import today as utc_today
from pharma.shared.uow import UnitOfWork
from pharma.trace.domain import EventType, PackFacts, effective_state
from pharma.trace.models import Batch, Case, Pack, Shipment, ShipmentPack, TraceEvent, TraceEventPack

READ = "trace.history.read"


class PackNotFound(NotFound):
    code = "PACK_NOT_FOUND"
    title = "No such pack"


class ShipmentNotFound(NotFound):
    code = "SHIPMENT_NOT_FOUND"
    title = "No such shipment"


@dataclass(frozen=True)
class PackView:
    """What is known about one pack, with its effective state as of ``today``."""

    id: int
    gtin: str
    serial: str
    state: str  # stored
    effective_state: str
    state_changed_at: datetime
    state_location_id: int | None
    batch_id: int
    batch: str
    expiry_raw: str
    expiry: date
    manufactured_on: date | None
    recalled_at: datetime | None
    recall_reason: str | None
    product_id: int
    trade_name: str
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    certificate_number: str | None
    certificate_status: str | None
    declaration_id: int
    location_id: int | None
    location_name: str | None
    location_gln: str | None
    custodian_org_id: int | None
    custodian_org_name: str | None
    case_sscc: str | None
    shipment_id: int | None
    shipment_number: str | None  # only while the pack is in transit

    @property
    def in_transit(self) -> bool:
        return self.shipment_number is not None


@dataclass(frozen=True)
class HistoryEntry:
    """One event covering a pack. ``scope`` says how: PACK (linked to it), BATCH, PRODUCT or DECLARATION."""

    id: int
    type: str
    at: datetime
    scope: str
    username: str
    organisation_id: int | None
    organisation_name: str | None
    location_id: int | None
    location_name: str | None
    location_gln: str | None
    location_org_id: int | None
    to_state: str | None
    reason: str | None
    document_type: str | None
    document_id: str | None
    count: int
    details: dict

    @property
    def who(self) -> str:
        return f"{self.username} ({self.organisation_name})" if self.organisation_name else self.username

    @property
    def where(self) -> str:
        return f"{self.location_name} ({self.location_gln})" if self.location_gln else ""

    @property
    def document(self) -> str:
        return f"{self.document_type} {self.document_id}" if self.document_type else ""


@dataclass(frozen=True)
class ShipmentView:
    id: int
    number: str
    kind: str
    status: str
    from_location_id: int
    from_gln: str
    from_org_id: int
    to_location_id: int
    to_gln: str
    to_org_id: int
    shipped_at: datetime
    received_at: datetime | None


@dataclass(frozen=True)
class ShipmentEvent:
    entry: HistoryEntry
    packs: list[tuple[str, str]]  # (gtin, serial) of the shipment's packs the event covers


# ---------------------------------------------------------------- facts


def _pack_key(gtin: str, serial: str) -> tuple[str, str]:
    return Gtin.parse(gtin).value, Serial.parse(serial).value


_custodian = aliased(Location)
_custodian_org = aliased(Organisation)
FACTS = (
    select(
        Pack.id, Pack.gtin, Pack.serial, Pack.state, Pack.state_changed_at, Pack.state_location_id,
        Pack.declaration_id, Pack.location_id, Pack.shipment_id,
        Batch.id.label("batch_id"), Batch.batch, Batch.expiry_raw, Batch.expiry, Batch.manufactured_on,
        Batch.recalled_at, Batch.recall_reason,
        Product.id.label("product_id"), Product.trade_name, Product.withdrawn_at, Product.withdrawal_reason,
        Certificate.number.label("certificate_number"), Certificate.status.label("certificate_status"),
        _custodian.name.label("location_name"), _custodian.gln.label("location_gln"),
        _custodian_org.id.label("custodian_org_id"), _custodian_org.name.label("custodian_org_name"),
        Case.sscc.label("case_sscc"), Shipment.number.label("shipment_number"),
    )
    .join(Batch, Batch.id == Pack.batch_id)
    .join(Product, Product.id == Batch.product_id)
    .outerjoin(Certificate, Certificate.product_id == Product.id)
    .outerjoin(_custodian, _custodian.id == Pack.location_id)
    .outerjoin(_custodian_org, _custodian_org.id == _custodian.organisation_id)
    .outerjoin(Case, Case.id == Pack.case_id)
    .outerjoin(Shipment, and_(Shipment.id == Pack.shipment_id, Shipment.status == "IN_TRANSIT"))
)


def pack_facts(session: Session, gtin: str, serial: str, on: date | None = None) -> PackView | None:
    """A pack's facts and effective state, in one query through the (gtin, serial) unique index.
    No authorization: callers (pages, verification) decide what to show."""
    gtin, serial = _pack_key(gtin, serial)
    row = session.execute(FACTS.where(Pack.gtin == gtin, Pack.serial == serial)).mappings().one_or_none()
    if row is None:
        return None
    facts = PackFacts(state=row["state"], location_id=row["location_id"],
                      state_changed_at=row["state_changed_at"], state_location_id=row["state_location_id"],
                      expiry=row["expiry"], recalled=row["recalled_at"] is not None,
                      withdrawn=row["withdrawn_at"] is not None)
    state = effective_state(facts, on or utc_today())
    return PackView(effective_state=state.value, **{k: row[k] for k in _VIEW_FIELDS})


_VIEW_FIELDS = [f for f in PackView.__dataclass_fields__ if f != "effective_state"]


# ---------------------------------------------------------------- history


_where = aliased(Location)
_who_org = aliased(Organisation)


def history_statement(covering):
    """The events whose ids come from ``covering`` (a subquery of ``id``, ``scope``), oldest first."""
    return (
        select(TraceEvent, covering.c.scope, _who_org.name, _where.name, _where.gln, _where.organisation_id)
        .join(covering, covering.c.id == TraceEvent.id)
        .outerjoin(_who_org, _who_org.id == TraceEvent.organisation_id)
        .outerjoin(_where, _where.id == TraceEvent.location_id)
        .order_by(TraceEvent.at, TraceEvent.id)
    )


def _history_rows(session: Session, covering) -> list[HistoryEntry]:
    entries, seen = [], set()
    for event, scope, org_name, loc_name, gln, loc_org in session.execute(history_statement(covering)):
        if event.id in seen:  # an event both linked and scoped to the pack is listed once
            continue
        seen.add(event.id)
        entries.append(HistoryEntry(
            id=event.id, type=event.type, at=event.at, scope=scope, username=event.username,
            organisation_id=event.organisation_id, organisation_name=org_name, location_id=event.location_id,
            location_name=loc_name, location_gln=gln, location_org_id=loc_org, to_state=event.to_state,
            reason=event.reason, document_type=event.document_type, document_id=event.document_id,
            count=event.count, details=event.details or {}))
    return entries


def pack_covering(pack: PackView):
    """Ids of the events covering a pack, one index lookup per branch: linked, batch, product, declaration."""
    return union_all(
        select(TraceEventPack.event_id.label("id"), literal("PACK").label("scope"))
        .where(TraceEventPack.pack_id == pack.id),
        select(TraceEvent.id, literal("BATCH")).where(TraceEvent.batch_id == pack.batch_id),
        select(TraceEvent.id, literal("PRODUCT")).where(TraceEvent.product_id == pack.product_id),
        select(TraceEvent.id, literal("DECLARATION")).where(
            TraceEvent.declaration_id == pack.declaration_id, TraceEvent.type == EventType.COMMISSION.value),
    ).subquery("covering")


def _pack_events(session: Session, pack: PackView) -> list[HistoryEntry]:
    return _history_rows(session, pack_covering(pack))


def _sees_everything(actor: Actor) -> bool:
    return actor.is_system or bool(actor.roles & POLICY[READ].any_org)


def _readable_pack(uow: UnitOfWork, gtin: str, serial: str,
                   with_history: bool = True) -> tuple[PackView, list[HistoryEntry] | None]:
    authorize(uow.actor, READ)
    pack = pack_facts(uow.session, gtin, serial)
    if pack is None:
        raise PackNotFound(f"No pack {gtin} / {serial} is known.")
    entries = _pack_events(uow.session, pack) if with_history else None
    if not _sees_everything(uow.actor) and pack.custodian_org_id != uow.actor.org_id:
        # not held now: readable only if it was, i.e. one of its events happened at one of the caller's locations
        if entries is None:
            entries = _pack_events(uow.session, pack)
        if not any(e.location_org_id == uow.actor.org_id for e in entries):
            raise PackNotFound(f"No pack {gtin} / {serial} is known.")
    return pack, entries


def read_pack(uow: UnitOfWork, gtin: str, serial: str) -> PackView:
    """A pack's facts and effective state, for a caller allowed to see the pack."""
    return _readable_pack(uow, gtin, serial, with_history=False)[0]


def pack_history(uow: UnitOfWork, gtin: str, serial: str) -> list[HistoryEntry]:
    """Every event covering the pack, oldest first (DESIGN.md: who, where, when, why, document)."""
    return _readable_pack(uow, gtin, serial)[1]


def pack_with_history(uow: UnitOfWork, gtin: str, serial: str) -> tuple[PackView, list[HistoryEntry]]:
    """A pack's facts and its history together, as the pack page and the EPCIS export need them."""
    return _readable_pack(uow, gtin, serial)


# ---------------------------------------------------------------- shipments


_from = aliased(Location)
_to = aliased(Location)


def _shipment(session: Session, shipment_id: int) -> ShipmentView | None:
    row = session.execute(
        select(Shipment.id, Shipment.number, Shipment.kind, Shipment.status, Shipment.from_location_id,
               _from.gln.label("from_gln"), _from.organisation_id.label("from_org_id"), Shipment.to_location_id,
               _to.gln.label("to_gln"), _to.organisation_id.label("to_org_id"), Shipment.shipped_at,
               Shipment.received_at)
        .join(_from, _from.id == Shipment.from_location_id)
        .join(_to, _to.id == Shipment.to_location_id)
        .where(Shipment.id == shipment_id)
    ).mappings().one_or_none()
    return ShipmentView(**row) if row else None


def read_shipment(uow: UnitOfWork, shipment_id: int) -> ShipmentView:
    """A shipment's parties, for a caller allowed to see it (sender, receiver, regulator, inspector)."""
    authorize(uow.actor, READ)
    shipment = _shipment(uow.session, shipment_id)
    if shipment is None or not (_sees_everything(uow.actor)
                                or uow.actor.org_id in (shipment.from_org_id, shipment.to_org_id)):
        raise ShipmentNotFound(f"No shipment {shipment_id} is known.")
    return shipment


SHIPMENT_EVENTS = (EventType.SHIP.value, EventType.RECEIVE.value, EventType.RESOLVE_MISSING.value)


def shipment_history(uow: UnitOfWork, shipment_id: int) -> list[ShipmentEvent]:
    """The shipment's SHIP and RECEIVE events and the resolutions of its missing packs, oldest
    first, each with the shipment's packs it covers.

    An event belongs to the shipment when it is linked to the shipment's packs and names the
    shipment (its id or number) as its document."""
    shipment = read_shipment(uow, shipment_id)
    return _shipment_events(uow.session, shipment)


def shipment_events(uow: UnitOfWork, shipment_id: int) -> list[HistoryEntry]:
    """The shipment's events without their pack lists (however many packs it carries), for its page."""
    shipment = read_shipment(uow, shipment_id)
    return _history_rows(uow.session, _shipment_covering(shipment))


def shipment_with_history(uow: UnitOfWork, shipment_id: int) -> tuple[ShipmentView, list[ShipmentEvent]]:
    """The shipment and its events, as the EPCIS export needs them."""
    shipment = read_shipment(uow, shipment_id)
    return shipment, _shipment_events(uow.session, shipment)


def _shipment_covering(shipment: ShipmentView):
    names = (str(shipment.id), shipment.number)
    return (
        select(TraceEvent.id.label("id"), literal("PACK").label("scope"))
        .join(TraceEventPack, TraceEventPack.event_id == TraceEvent.id)
        .join(ShipmentPack, ShipmentPack.pack_id == TraceEventPack.pack_id)
        .where(ShipmentPack.shipment_id == shipment.id,
               TraceEvent.type.in_(SHIPMENT_EVENTS),
               TraceEvent.document_id.in_(names))
        .distinct()
        .subquery("covering")
    )


def _shipment_events(session: Session, shipment: ShipmentView) -> list[ShipmentEvent]:
    entries = _history_rows(session, _shipment_covering(shipment))
    if not entries:
        return []
    packs: dict[int, list[tuple[str, str]]] = {e.id: [] for e in entries}
    rows = session.execute(
        select(TraceEventPack.event_id, Pack.gtin, Pack.serial)
        .join(ShipmentPack, and_(ShipmentPack.pack_id == TraceEventPack.pack_id,
                                 ShipmentPack.shipment_id == shipment.id))
        .join(Pack, Pack.id == TraceEventPack.pack_id)
        .where(TraceEventPack.event_id.in_(list(packs)))
        .order_by(Pack.gtin, Pack.serial)
    )
    for event_id, gtin, serial in rows:
        packs[event_id].append((gtin, serial))
    return [ShipmentEvent(e, packs[e.id]) for e in entries]


__all__ = ["HistoryEntry", "PackView", "pack_facts", "pack_history", "shipment_history"]
