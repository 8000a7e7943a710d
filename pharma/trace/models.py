"""Traceability tables: declarations, batches, cases, packs, shipments and the event history.

``packs`` and ``trace_events``/``trace_event_packs`` are the largest tables of the system
(tens of millions of rows): narrow rows, BIGINT keys, and one unique index per natural key.
Facts that change many packs at once (a batch recall, a product withdrawal, a commission of
a million packs) are one event row with a scope (batch, product, declaration), not a row per
pack; a pack's history is its own event links plus the scoped events that cover it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pharma.shared.orm import Base, BigId, JsonDoc, UTCDateTime
from pharma.shared.time import utcnow


class Declaration(Base):
    """An importer's arrival declaration: the batches and serials commissioned against a permit."""

    __tablename__ = "declarations"
    __table_args__ = (
        CheckConstraint("status IN ('RECEIVED', 'PROCESSING', 'ACCEPTED', 'REJECTED')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    importer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("import_permits.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    status: Mapped[str] = mapped_column(String(16), default="RECEIVED", index=True)
    source_format: Mapped[str] = mapped_column(String(8))  # csv | json
    filename: Mapped[str] = mapped_column(String(200), default="")
    packs_total: Mapped[int] = mapped_column(Integer, default=0)
    packs_done: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JsonDoc, default=list)  # [{line, field, code, message}], capped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def percent(self) -> int:
        if self.status in ("ACCEPTED", "REJECTED"):
            return 100
        return int(100 * self.packs_done / self.packs_total) if self.packs_total else 0


class DeclarationUpload(Base):
    """The uploaded file, kept apart from the declaration row; workers read it from here."""

    __tablename__ = "declaration_uploads"

    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"),
                                                primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (UniqueConstraint("gtin", "batch"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str] = mapped_column(String(20))
    expiry_raw: Mapped[str] = mapped_column(String(6))
    expiry: Mapped[date] = mapped_column(Date, index=True)
    manufactured_on: Mapped[date | None] = mapped_column(Date)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"), index=True)
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recall_reason: Mapped[str | None] = mapped_column(String(500))


class Case(Base):
    """A logistic unit by its SSCC: a case of packs, or a pallet of cases (``parent_id``)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sscc: Mapped[str] = mapped_column(String(18), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id"), index=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"), index=True)


class Pack(Base):
    """A serialized pack: (GTIN, serial). ``location_id`` is its custodian; ``shipment_id`` is
    set while it travels. ``state`` is the stored state (see trace.domain for the effective one).

    No foreign keys here, on purpose: commissioning writes a million packs at a time, and the
    per-row key checks would cost more than the rows themselves. Only the trace services write
    this table, and they take every id from rows they have just read or written.
    """

    __tablename__ = "packs"
    __table_args__ = (
        UniqueConstraint("gtin", "serial"),
        CheckConstraint(
            "state IN ('ACTIVE', 'DISPENSED', 'DESTROYED', 'STOLEN', 'EXPORTED', 'SAMPLE', 'LOCKED')",
            name="state_known"),
        Index("ix_packs_location_state", "location_id", "state"),
        Index("ix_packs_shipment_id", "shipment_id", postgresql_where=text("shipment_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # byte-wise collation for the natural key: cheaper unique-index inserts than a locale's
    gtin: Mapped[str] = mapped_column(String(14).with_variant(String(14, collation="C"), "postgresql"))
    serial: Mapped[str] = mapped_column(String(20).with_variant(String(20, collation="C"), "postgresql"))
    batch_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), index=True)
    declaration_id: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), index=True)
    location_id: Mapped[int | None] = mapped_column(Integer)
    shipment_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="ACTIVE")
    # the server default serves COPY: parsing a timestamp per row costs PostgreSQL ~1 s per million packs
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow,
                                                       server_default=func.current_timestamp())
    state_location_id: Mapped[int | None] = mapped_column(Integer)
    state_org_id: Mapped[int | None] = mapped_column(Integer)  # who set the state: undo is theirs alone

    batch: Mapped[Batch] = relationship(primaryjoin="Batch.id == foreign(Pack.batch_id)")


class Shipment(Base):
    """Packs and cases moving from one custodian location to another (a delivery or a return)."""

    __tablename__ = "shipments"
    __table_args__ = (
        CheckConstraint("status IN ('IN_TRANSIT', 'RECEIVED', 'CANCELLED')", name="status_known"),
        CheckConstraint("kind IN ('DELIVERY', 'RETURN')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(10), default="DELIVERY")
    from_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    to_location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="IN_TRANSIT", index=True)
    return_of_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    packs_count: Mapped[int] = mapped_column(Integer, default=0)
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    shipped_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    discrepancies: Mapped[dict] = mapped_column(JsonDoc, default=dict)  # {"missing": n, "extra": n, "damaged": n}


class ShipmentPack(Base):
    """Every pack a shipment carries (packs of shipped cases included), and how it arrived.

    A pack MISSING at receipt keeps that outcome for the record; how the discrepancy was cleared
    up later (found at the receiver, back with the sender, lost in transit) is its ``resolution``.
    """

    __tablename__ = "shipment_packs"
    __table_args__ = (
        CheckConstraint("outcome IS NULL OR outcome IN ('RECEIVED', 'MISSING', 'DAMAGED', 'EXTRA')",
                        name="outcome_known"),
        CheckConstraint("resolution IS NULL OR resolution IN ('FOUND', 'RETURNED', 'LOST')",
                        name="resolution_known"),
        CheckConstraint("resolution IS NULL OR (outcome = 'MISSING' AND resolved_at IS NOT NULL)",
                        name="resolution_of_missing"),
    )

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    pack_id: Mapped[int] = mapped_column(ForeignKey("packs.id"), primary_key=True, index=True)
    outcome: Mapped[str | None] = mapped_column(String(10))
    resolution: Mapped[str | None] = mapped_column(String(10))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TraceEvent(Base):
    """Append-only: one thing that happened to packs. Scope: explicit packs (trace_event_packs),
    or every pack of a batch, a product, a declaration. Never updated or deleted."""

    __tablename__ = "trace_events"
    __table_args__ = (
        Index("ix_trace_events_batch", "batch_id"),
        Index("ix_trace_events_product", "product_id"),
        Index("ix_trace_events_declaration", "declaration_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    to_state: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(500))
    document_type: Mapped[str | None] = mapped_column(String(24))
    document_id: Mapped[str | None] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("declarations.id"))
    count: Mapped[int] = mapped_column(Integer, default=0)
    details: Mapped[dict] = mapped_column(JsonDoc, default=dict)


class TraceEventPack(Base):
    __tablename__ = "trace_event_packs"

    pack_id: Mapped[int] = mapped_column(ForeignKey("packs.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("trace_events.id"), primary_key=True)
