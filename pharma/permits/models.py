"""Import permits: an importer's application, the agency's decision, and the drawdown.

A permit's lines say how many packs of which registered product may be imported. Each
accepted declaration draws down ``packs_used`` in the same transaction that commissions its
packs, with an atomic ``UPDATE ... WHERE packs_used + n <= packs_approved``: two
declarations racing for the last packs of a line cannot both win.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pharma.shared.orm import Base, UTCDateTime
from pharma.shared.time import utcnow

if TYPE_CHECKING:
    from pharma.parties.models import Organisation
    from pharma.register.models import Product


class ImportPermit(Base):
    __tablename__ = "import_permits"
    __table_args__ = (
        CheckConstraint("status IN ('APPLIED', 'APPROVED', 'REFUSED', 'REVOKED')", name="status_known"),
        # the regulator's queue (APPLIED, oldest first) and listings by date
        Index("ix_import_permits_status_applied_at", "status", "applied_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    importer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="APPLIED", index=True)
    requested_valid_until: Mapped[date] = mapped_column(Date)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(500))

    lines: Mapped[list[PermitLine]] = relationship(
        back_populates="permit", order_by="PermitLine.id", cascade="all, delete-orphan")
    importer: Mapped[Organisation] = relationship(foreign_keys=[importer_id])


class PermitLine(Base):
    __tablename__ = "permit_lines"
    __table_args__ = (
        CheckConstraint("packs_requested > 0", name="requested_positive"),
        CheckConstraint("packs_approved >= 0 AND packs_approved <= packs_requested", name="approved_range"),
        CheckConstraint("packs_used >= 0 AND packs_used <= packs_approved", name="used_within_approved"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("import_permits.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    manufacturer: Mapped[str] = mapped_column(String(200))
    country_of_origin: Mapped[str] = mapped_column(String(2))
    packs_requested: Mapped[int] = mapped_column(Integer)
    packs_approved: Mapped[int] = mapped_column(Integer, default=0)
    packs_used: Mapped[int] = mapped_column(Integer, default=0)

    permit: Mapped[ImportPermit] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def packs_left(self) -> int:
        return self.packs_approved - self.packs_used


class PermitNumberCounter(Base):
    """The last permit number handed out in a year. Applying takes ``UPDATE ... SET last = last + 1``
    on the year's row, which holds its lock until commit: numbers are unique and gap-free per year."""

    __tablename__ = "permit_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)
