"""Tables of the stock documents: write-off acts and returns to the supplier, each with its lines.

A line is either one serialized pack (GTIN + serial, quantity 1) or a quantity of one batch of a
product without serials (GTIN + batch + quantity). The documents name the ledger movements they
post: ("write_off_act", number) and ("return", number).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pharma.shared.orm import Base, UTCDateTime
from pharma.shared.time import utcnow

ACT_REASONS = ("EXPIRED", "DAMAGED", "DESTROYED", "STOLEN", "SAMPLE", "OTHER")
ACT_STATES = ("DRAFT", "CONFIRMED", "CANCELLED")
RETURN_REASONS = ("DAMAGED", "EXPIRED", "RECALLED", "WRONG_DELIVERY", "SURPLUS", "OTHER")
RETURN_STATES = ("DRAFT", "SENT", "CONFIRMED", "REJECTED", "CANCELLED")


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


_LINE_SHAPE = ("(serial IS NOT NULL AND quantity = 1) OR (serial IS NULL AND batch IS NOT NULL)")


class WriteOffAct(Base):
    """A numbered write-off act of one location: DRAFT, then CONFIRMED by the head pharmacist (its
    lines posted in one transaction) or CANCELLED."""

    __tablename__ = "stock_write_off_acts"
    __table_args__ = (
        CheckConstraint(f"reason IN ({_in(ACT_REASONS)})", name="reason_known"),
        CheckConstraint(f"status IN ({_in(ACT_STATES)})", name="status_known"),
        Index("ix_stock_write_off_acts_location_created", "location_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    reason: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(10), default="DRAFT")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # confirmed or cancelled
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    trace_event_id: Mapped[int | None] = mapped_column(BigInteger)  # the DECOMMISSION of its packs

    lines: Mapped[list[WriteOffActLine]] = relationship(
        back_populates="act", cascade="all, delete-orphan", order_by="WriteOffActLine.id")


class WriteOffActLine(Base):
    __tablename__ = "stock_write_off_act_lines"
    __table_args__ = (
        UniqueConstraint("act_id", "gtin", "serial"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_LINE_SHAPE, name="pack_or_batch"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    act_id: Mapped[int] = mapped_column(ForeignKey("stock_write_off_acts.id", ondelete="CASCADE"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))  # a serialized pack
    batch: Mapped[str | None] = mapped_column(String(20))  # the pack's batch, or the batch written off by quantity
    expiry: Mapped[date | None] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer, default=1)

    act: Mapped[WriteOffAct] = relationship(back_populates="lines")


class StockReturn(Base):
    """Stock a pharmacy sends back to its supplier: DRAFT, SENT (the packs on a return shipment, the
    quantities off the pharmacy's books), then CONFIRMED or REJECTED by the supplier; CANCELLED
    from DRAFT."""

    __tablename__ = "stock_returns"
    __table_args__ = (
        CheckConstraint(f"reason IN ({_in(RETURN_REASONS)})", name="reason_known"),
        CheckConstraint(f"status IN ({_in(RETURN_STATES)})", name="status_known"),
        CheckConstraint("status IN ('DRAFT', 'CANCELLED') OR supplier_location_id IS NOT NULL",
                        name="sent_to_a_supplier"),
        Index("ix_stock_returns_location_created", "location_id", "created_at"),
        Index("ix_stock_returns_supplier_status", "supplier_org_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    supplier_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    supplier_location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(10), default="DRAFT")
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))  # the packs going back
    back_shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))  # rejected: packs sent back
    rejection_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # confirmed, rejected or cancelled
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    lines: Mapped[list[StockReturnLine]] = relationship(
        back_populates="ret", cascade="all, delete-orphan", order_by="StockReturnLine.id")


class StockReturnLine(Base):
    __tablename__ = "stock_return_lines"
    __table_args__ = (
        UniqueConstraint("return_id", "gtin", "serial"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_LINE_SHAPE, name="pack_or_batch"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("stock_returns.id", ondelete="CASCADE"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))
    batch: Mapped[str | None] = mapped_column(String(20))
    expiry: Mapped[date | None] = mapped_column(Date)
    expiry_raw: Mapped[str | None] = mapped_column(String(6))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[int] = mapped_column(BigInteger, default=0)  # at cost, taken off the books when sent (minor units)
    source_shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))  # the delivery it came on

    ret: Mapped[StockReturn] = relationship(back_populates="lines")
