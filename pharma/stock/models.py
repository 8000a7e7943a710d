"""Stock tables: the append-only ledger of movements and the balances kept in step with it.

``stock_movements`` grows with every sale in the country: narrow rows, BIGINT keys, two indexes: the
stock card (location, GTIN, batch, time) and the journal (location, time). No foreign keys, on
purpose (like ``packs``): bulk posts write tens of thousands of rows at a time and the per-row key
checks would cost more than the rows; only ``pharma.stock.ledger.post`` writes the table, with
the location ids of the balance rows it has locked and the acting user's own ids. ``stock_balances`` has one row
per (location, GTIN, batch); its ``quantity >= 0`` CHECK is the last line behind the service rule.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pharma.shared.orm import Base, BigId, UTCDateTime
from pharma.shared.time import utcnow

KINDS = "'RECEIPT', 'TRANSFER_IN', 'TRANSFER_OUT', 'SALE', 'DISPENSE', 'WRITE_OFF', 'RETURN', 'ADJUSTMENT'"
REASONS = ("'EXPIRED', 'DAMAGED', 'DESTROYED', 'STOLEN', 'SAMPLE', 'EXPORTED', 'LOCKED', 'UNDO', 'FOUND', "
           "'RETURNED', 'LOST', 'OPENING', 'SURPLUS', 'SHORTAGE', 'OTHER'")


class StockMovement(Base):
    """Append-only: one movement of a quantity of one batch at one location, naming its document."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint(f"kind IN ({KINDS})", name="kind_known"),
        CheckConstraint(f"reason IS NULL OR reason IN ({REASONS})", name="reason_known"),
        CheckConstraint("quantity <> 0", name="quantity_nonzero"),
        CheckConstraint("(kind NOT IN ('RECEIPT', 'TRANSFER_IN') OR quantity > 0) AND "
                        "(kind NOT IN ('TRANSFER_OUT', 'SALE', 'DISPENSE', 'WRITE_OFF', 'RETURN') OR quantity < 0)",
                        name="sign_of_kind"),
        Index("ix_stock_movements_card", "location_id", "gtin", "batch", "created_at"),
        Index("ix_stock_movements_journal", "location_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    location_id: Mapped[int] = mapped_column(Integer)
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date] = mapped_column(Date)
    expiry_raw: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(10))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[int | None] = mapped_column(BigInteger)  # minor units, for receipts
    value: Mapped[int] = mapped_column(BigInteger, default=0)  # signed value moved, minor units
    document_type: Mapped[str] = mapped_column(String(24))
    document_id: Mapped[str] = mapped_column(String(64))
    trace_event_id: Mapped[int | None] = mapped_column(BigInteger)
    serialized: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(Integer)


class StockBalance(Base):
    """Stock on hand of one batch at one location, changed only with its movements."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint("location_id", "gtin", "batch"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("ix_stock_balances_location_expiry", "location_id", "expiry"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date] = mapped_column(Date)
    expiry_raw: Mapped[str] = mapped_column(String(6))
    serialized: Mapped[bool] = mapped_column(Boolean, default=False)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units, at weighted-average cost
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
