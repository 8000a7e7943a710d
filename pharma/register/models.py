"""Register tables: products, their substances and GTINs, registration certificates with their
status history, regulated maximum retail prices, and ICD-10 reference codes.

Lookup paths and their indexes:
- by GTIN: ``product_gtins.gtin`` is the primary key (14 digits), one index probe;
- by trade name: ``products.search_name`` (lower case, accents removed; see domain.search_key);
- by INN: ``substances.inn`` (unique, lower case);
- by ATC prefix: ``products.atc_code`` (``varchar_pattern_ops`` on PostgreSQL so LIKE 'C09%' uses it);
- by registration number: ``certificates.number`` (unique).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from pharma.register.domain import CertificateStatus, Strength, format_decimal, search_key
from pharma.shared.orm import Base, BigId, UTCDateTime
from pharma.shared.time import utcnow


class Substance(Base):
    """An active substance by its International Non-proprietary Name (lower case)."""

    __tablename__ = "substances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inn: Mapped[str] = mapped_column(String(200), unique=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("pack_size > 0", name="pack_size_positive"),
        CheckConstraint("controlled_schedule IN ('II', 'III', 'IV')", name="schedule_known"),
        Index("ix_products_atc_code", "atc_code", postgresql_ops={"atc_code": "varchar_pattern_ops"}),
        Index("ix_products_search_name", "search_name",
              postgresql_ops={"search_name": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trade_name: Mapped[str] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(200))
    dosage_form: Mapped[str] = mapped_column(String(48), index=True)
    route: Mapped[str] = mapped_column(String(24))
    pack_size: Mapped[int] = mapped_column(Integer)
    pack_unit: Mapped[str] = mapped_column(String(16))
    rx: Mapped[bool] = mapped_column(Boolean)
    controlled_schedule: Mapped[str | None] = mapped_column(String(3))
    atc_code: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # withdrawn from the market by the regulator: every pack of the product at once (never undone)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(String(500))

    substances: Mapped[list[ProductSubstance]] = relationship(
        back_populates="product", order_by="ProductSubstance.position", cascade="all, delete-orphan")
    gtins: Mapped[list[ProductGtin]] = relationship(
        back_populates="product", order_by="ProductGtin.gtin", cascade="all, delete-orphan")
    certificate: Mapped[Certificate | None] = relationship(back_populates="product", uselist=False)
    prices: Mapped[list[PriceRecord]] = relationship(
        back_populates="product", order_by="PriceRecord.effective_from", cascade="all, delete-orphan")

    @validates("trade_name")
    def _keep_search_name(self, _key, value: str) -> str:
        self.search_name = search_key(value)
        return value

    @property
    def controlled(self) -> bool:
        return self.controlled_schedule is not None

    @property
    def inns(self) -> list[str]:
        return [s.substance.inn for s in self.substances]

    @property
    def strength_text(self) -> str:
        return " + ".join(str(s.strength) for s in self.substances)

    def price_on(self, day: date) -> PriceRecord | None:
        return next((p for p in self.prices if p.effective_from <= day
                     and (p.effective_to is None or day <= p.effective_to)), None)


class ProductSubstance(Base):
    """One active substance of a product, with its strength; ``position`` keeps the label order."""

    __tablename__ = "product_substances"
    __table_args__ = (
        UniqueConstraint("product_id", "position"),
        CheckConstraint("strength_value > 0", name="strength_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    substance_id: Mapped[int] = mapped_column(ForeignKey("substances.id"), index=True)
    strength_value: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    strength_unit: Mapped[str] = mapped_column(String(12))

    product: Mapped[Product] = relationship(back_populates="substances")
    substance: Mapped[Substance] = relationship(lazy="joined")

    @property
    def inn(self) -> str:
        return self.substance.inn

    @property
    def strength(self) -> Strength:
        return Strength(Decimal(self.strength_value), self.strength_unit)

    @property
    def strength_text(self) -> str:
        return f"{format_decimal(Decimal(self.strength_value))} {self.strength_unit}"


class ProductGtin(Base):
    """A GTIN of a product, as 14 digits. The primary key makes a lookup one index probe."""

    __tablename__ = "product_gtins"

    gtin: Mapped[str] = mapped_column(String(14), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="gtins")


class Certificate(Base):
    """A registration certificate; one per product. ``status`` also carries ``expired`` (see domain)."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("valid_until >= issued_on", name="validity_order"),
        CheckConstraint("status IN ('active', 'suspended', 'revoked', 'expired')", name="status_known"),
        Index("ix_certificates_status_valid_until", "status", "valid_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), unique=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    holder: Mapped[str] = mapped_column(String(200))
    manufacturer: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.ACTIVE.value)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="certificate")
    history: Mapped[list[CertificateStatusChange]] = relationship(
        back_populates="certificate", order_by="CertificateStatusChange.id")


class CertificateStatusChange(Base):
    """Append-only: every status change of a certificate (and each renewal), with who and why."""

    __tablename__ = "certificate_status_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    valid_until: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    certificate: Mapped[Certificate] = relationship(back_populates="history")


class PriceRecord(Base):
    """A regulated maximum retail price, in qəpik, for a period (both ends inclusive)."""

    __tablename__ = "product_prices"
    __table_args__ = (
        UniqueConstraint("product_id", "effective_from"),
        CheckConstraint("max_retail_price > 0", name="price_positive"),
        CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="period_order"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    max_retail_price: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="prices")


class Icd10Code(Base):
    """ICD-10 reference codes for prescriptions' diagnoses."""

    __tablename__ = "icd10_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
