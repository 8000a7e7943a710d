"""Stock count tables: the count (its state and people), the expected snapshot and counted lines
per batch, the serialized packs expected and scanned, and the findings the regulator reviews.

A count snapshots the location's stock when it opens: ``stock_count_lines`` (one row per batch on
hand, ``expected``; ``counted`` stays NULL until someone counts it) and ``stock_count_packs`` (one
row per ACTIVE pack in custody, ``expected``; scanning sets ``scanned``; a pack scanned but not
expected gets a row of its own). One count in progress (OPEN or SUBMITTED) per location: the
partial unique index ``ux_stock_counts_one_in_progress`` guarantees it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pharma.shared.orm import Base, BigId, JsonDoc, UTCDateTime
from pharma.shared.time import utcnow

COUNT_STATES = "'OPEN', 'SUBMITTED', 'APPROVED', 'CANCELLED'"
FINDING_KINDS = "'MISSING_PACK', 'SURPLUS_PACK', 'SHORTAGE', 'SURPLUS'"
IN_PROGRESS = "status IN ('OPEN', 'SUBMITTED')"
_BigRef = BigInteger().with_variant(Integer(), "sqlite")


class StockCount(Base):
    """A count of one location's shelves: OPEN -> SUBMITTED -> APPROVED (posted), or back to OPEN
    (returned by the head pharmacist), or CANCELLED."""

    __tablename__ = "stock_counts"
    __table_args__ = (
        CheckConstraint(f"status IN ({COUNT_STATES})", name="status_known"),
        Index("ux_stock_counts_one_in_progress", "location_id", unique=True,
              postgresql_where=text(IN_PROGRESS), sqlite_where=text(IN_PROGRESS)),
        Index("ix_stock_counts_location_opened", "location_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="OPEN")
    gtins: Mapped[list | None] = mapped_column(JsonDoc)  # the scope: only these GTINs (None: everything)
    note: Mapped[str] = mapped_column(String(500), default="")
    expected_lines: Mapped[int] = mapped_column(Integer, default=0)
    expected_units: Mapped[int] = mapped_column(Integer, default=0)
    expected_packs: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # approved, returned or cancelled
    decided_by: Mapped[int | None] = mapped_column(Integer)
    decision_note: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict | None] = mapped_column(JsonDoc)  # what approval posted: movements, packs, findings


class StockCountLine(Base):
    """One batch of a count: expected at opening (0 for a batch found that was not on the books)
    and counted (NULL: not counted yet). Serialized batches are counted by their scanned packs."""

    __tablename__ = "stock_count_lines"
    __table_args__ = (
        UniqueConstraint("count_id", "gtin", "batch"),
        CheckConstraint("expected >= 0", name="expected_not_negative"),
        CheckConstraint("counted IS NULL OR counted >= 0", name="counted_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"))
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date | None] = mapped_column(Date)
    expiry_raw: Mapped[str | None] = mapped_column(String(6))
    serialized: Mapped[bool] = mapped_column(Boolean, default=False)
    expected: Mapped[int] = mapped_column(Integer, default=0)
    counted: Mapped[int | None] = mapped_column(Integer)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StockCountPack(Base):
    """A serialized pack of a count: expected (in custody at opening) and/or scanned. ``problem``:
    why a scanned pack is not ours (UNKNOWN_PACK, NOT_IN_CUSTODY, PACK_IN_TRANSIT, INACTIVE), as
    seen when it was scanned."""

    __tablename__ = "stock_count_packs"
    __table_args__ = (
        UniqueConstraint("count_id", "gtin", "serial"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id", ondelete="CASCADE"))
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    batch: Mapped[str | None] = mapped_column(String(20))
    pack_id: Mapped[int | None] = mapped_column(_BigRef)  # NULL: never commissioned
    expected: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    problem: Mapped[str | None] = mapped_column(String(24))


class StockCountFinding(Base):
    """What an approved count found, for the regulator: a missing or surplus pack, a shortage or a
    surplus of a batch kept by quantity."""

    __tablename__ = "stock_count_findings"
    __table_args__ = (
        CheckConstraint(f"kind IN ({FINDING_KINDS})", name="kind_known"),
        CheckConstraint("status IN ('NEW', 'REVIEWED')", name="status_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_stock_count_findings_created", "created_at"),
        Index("ix_stock_count_findings_location_created", "location_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(14))
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_counts.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    organisation_id: Mapped[int] = mapped_column(Integer, index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str | None] = mapped_column(String(20))
    serial: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    detail: Mapped[str | None] = mapped_column(String(24))  # a surplus pack's problem
    status: Mapped[str] = mapped_column(String(10), default="NEW")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[int | None] = mapped_column(Integer)
