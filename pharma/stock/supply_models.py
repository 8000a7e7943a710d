"""Supply tables: stock levels per (location, GTIN), supply requests with their lines, and the
shipments made against a request (a link table of our own: trace's ``shipments`` stay untouched)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pharma.shared.orm import Base, UTCDateTime
from pharma.shared.time import utcnow

STATUSES = "'DRAFT', 'SENT', 'ACKNOWLEDGED', 'REJECTED', 'PARTIALLY_SHIPPED', 'FULFILLED', 'CLOSED_SHORT', 'CANCELLED'"


class StockLevel(Base):
    """The minimum and maximum a pharmacist keeps of a product at a location, in packs."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("location_id", "gtin"),
        CheckConstraint("min_quantity >= 0", name="min_not_negative"),
        CheckConstraint("max_quantity >= min_quantity", name="max_not_below_min"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    min_quantity: Mapped[int] = mapped_column(Integer)
    max_quantity: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SupplyRequest(Base):
    """A pharmacy's request for stock, sent to one licensed wholesaler or importer."""

    __tablename__ = "supply_requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUSES})", name="status_known"),
        CheckConstraint("status = 'DRAFT' OR status = 'CANCELLED' OR supplier_id IS NOT NULL",
                        name="sent_to_supplier"),
        Index("ix_supply_requests_supplier_status", "supplier_id", "status"),
        Index("ix_supply_requests_location_status", "location_id", "status"),
        Index("ix_supply_requests_organisation_created", "organisation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))  # the requesting pharmacy
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))  # where the stock goes
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[str] = mapped_column(String(20), default="DRAFT")
    note: Mapped[str] = mapped_column(String(500), default="")
    reason: Mapped[str | None] = mapped_column(String(500))  # why rejected or cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # acknowledged or rejected
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # fulfilled or cancelled

    lines: Mapped[list[SupplyRequestLine]] = relationship(
        cascade="all, delete-orphan", order_by="SupplyRequestLine.id", back_populates="request")


class SupplyRequestLine(Base):
    __tablename__ = "supply_request_lines"
    __table_args__ = (
        UniqueConstraint("request_id", "gtin"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("supply_requests.id", ondelete="CASCADE"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    quantity: Mapped[int] = mapped_column(Integer)  # packs
    note: Mapped[str] = mapped_column(String(200), default="")

    request: Mapped[SupplyRequest] = relationship(back_populates="lines")


class SupplyRequestShipment(Base):
    """A trace shipment the supplier made against a request; a shipment serves one request at most."""

    __tablename__ = "supply_request_shipments"

    request_id: Mapped[int] = mapped_column(ForeignKey("supply_requests.id", ondelete="CASCADE"), primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), primary_key=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
