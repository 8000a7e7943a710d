"""Valuation and price tables of the stock context.

- ``stock_valuation_settings``: an organisation's valuation method (no row: weighted average).
- ``stock_cost_layers``: under FIFO, what is left of each receipt of a (location, GTIN, batch) at
  its unit cost; consumed oldest first by ``pharma.stock.ledger.post`` while it holds the balance
  row's lock. Exhausted layers are deleted, so the table holds only stock on hand. Invariant: a
  balance's quantity and value are the sums of its layers' ``quantity_left`` and
  ``quantity_left * unit_cost``.
- ``stock_shipment_prices``: the sender's unit prices on a shipment (per GTIN, or per GTIN and
  batch), which are the receiver's purchase cost when the shipment is received.
- ``stock_declaration_costs``: an importer's import unit cost per GTIN (or batch) of a declaration,
  the value of the commissioned packs.
- ``stock_retail_prices``: a pharmacy's retail price of a GTIN, for the whole organisation
  (``location_id`` NULL) or one location, from ``valid_from``; never updated, a new row supersedes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pharma.shared.orm import Base, BigId, UTCDateTime
from pharma.shared.time import utcnow

METHODS = "'WEIGHTED_AVERAGE', 'FIFO'"


class ValuationSetting(Base):
    """An organisation's valuation method of its stock."""

    __tablename__ = "stock_valuation_settings"
    __table_args__ = (CheckConstraint(f"method IN ({METHODS})", name="method_known"),)

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CostLayer(Base):
    """Under FIFO: the units of one receipt still on hand, at their unit cost."""

    __tablename__ = "stock_cost_layers"
    __table_args__ = (
        CheckConstraint("quantity_left > 0", name="quantity_left_positive"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
        Index("ix_stock_cost_layers_key", "location_id", "gtin", "batch", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    location_id: Mapped[int] = mapped_column(Integer)  # no FK, like the ledger: written in bulk with it
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    quantity_left: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[int] = mapped_column(BigInteger)  # minor units


class ShipmentPrice(Base):
    """The sender's unit price of a GTIN (``batch`` NULL) or of one batch on a shipment."""

    __tablename__ = "stock_shipment_prices"
    __table_args__ = (
        UniqueConstraint("shipment_id", "gtin", "batch"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str | None] = mapped_column(String(20))
    unit_price: Mapped[int] = mapped_column(BigInteger)  # minor units
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DeclarationCost(Base):
    """An importer's import unit cost of a GTIN (``batch`` NULL) or one batch of a declaration."""

    __tablename__ = "stock_declaration_costs"
    __table_args__ = (
        UniqueConstraint("declaration_id", "gtin", "batch"),
        CheckConstraint("unit_cost >= 0", name="unit_cost_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("declarations.id", ondelete="CASCADE"), index=True)
    gtin: Mapped[str] = mapped_column(String(14))
    batch: Mapped[str | None] = mapped_column(String(20))
    unit_cost: Mapped[int] = mapped_column(BigInteger)  # minor units
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RetailPrice(Base):
    """A retail price of a pack, in minor units, from ``valid_from`` until a later row of the same
    scope (organisation, location or the whole organisation, GTIN)."""

    __tablename__ = "stock_retail_prices"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        Index("ix_stock_retail_prices_scope", "organisation_id", "gtin", "location_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))  # NULL: every location
    gtin: Mapped[str] = mapped_column(String(14))
    price: Mapped[int] = mapped_column(BigInteger)
    valid_from: Mapped[date] = mapped_column(Date)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
