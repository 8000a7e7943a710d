"""Expiry notices: what the daily expiry scan found on hand, one row per (location, GTIN, batch).

A row says that a batch with stock at a location is expired or expires within 30, 60 or 90 days
(``band``), with the quantity on hand at the last scan that changed the row, when its band was
set, and who acknowledged it in that band. The scan (``pharma.stock.expiry.scan_expiry``) keeps
the table in step with the balances: it inserts and updates rows in bulk and deletes those whose
balance is empty or no longer within 90 days; a change of band clears the acknowledgement.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pharma.shared.orm import Base, BigId, UTCDateTime
from pharma.shared.time import utcnow

BANDS = "'EXPIRED', 'D30', 'D60', 'D90'"


class StockExpiryNotice(Base):
    """A batch on hand at a location that is expired or expires within 90 days, as last scanned."""

    __tablename__ = "stock_expiry_notices"
    __table_args__ = (
        UniqueConstraint("location_id", "gtin", "batch"),
        CheckConstraint(f"band IN ({BANDS})", name="band_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_stock_expiry_notices_location_expiry", "location_id", "expiry"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date] = mapped_column(Date)
    band: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int] = mapped_column(Integer)  # on hand when the scan last changed the row
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # when the band was set
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
