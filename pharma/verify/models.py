"""Verification tables: one row per verification, and the regulator's alert cases.

``verifications`` is append-only and one of the largest tables (every scan at every counter):
narrow rows, BIGINT ids, no foreign keys (like ``packs``: the per-row key checks would cost more
than the row; only verify.services writes it, with ids it has just read), and two indexes for
its two reads: by day (the alert rate) and by location and day. Its rows that opened or added
to an alert case are the case's sightings (partial index on ``alert_id``).

``alerts``: at most one open case per (location, GTIN, serial) is enforced by a partial unique
index, so the same pack seen again at the same place adds a sighting (``INSERT ... ON CONFLICT
DO UPDATE``, safe under concurrency); once the case is closed, a new sighting opens a new case.
A GTIN-only scan has no serial: ``serial`` is then the empty string, so the key stays unique.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from pharma.shared.orm import Base, BigId, UTCDateTime
from pharma.shared.time import utcnow

RAW_KEPT = 200  # characters of the raw scan kept
_BIG = BigInteger().with_variant(Integer(), "sqlite")
OPEN = text("status <> 'CLOSED'")


class Verification(Base):
    __tablename__ = "verifications"
    __table_args__ = (
        Index("ix_verifications_created_at", "created_at"),
        Index("ix_verifications_location_created_at", "location_id", "created_at"),
        Index("ix_verifications_alert_id", "alert_id", postgresql_where=text("alert_id IS NOT NULL"),
              sqlite_where=text("alert_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(Integer)
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    location_id: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(String(RAW_KEPT))
    gtin: Mapped[str | None] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))
    verdict: Mapped[str] = mapped_column(String(24))
    alert_id: Mapped[int | None] = mapped_column(_BIG)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))


class Alert(Base):
    """A case the regulator works: NEW → INVESTIGATING → CLOSED (with a reason)."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('NEW', 'INVESTIGATING', 'CLOSED')", name="status_known"),
        CheckConstraint("closing_reason IS NULL OR closing_reason IN ('CONFIRMED_COUNTERFEIT', 'TECHNICAL_ERROR', "
                        "'PROCESS_ERROR', 'OTHER')", name="closing_reason_known"),
        Index("uq_alerts_open_case", "location_id", "gtin", "serial", unique=True,
              postgresql_where=OPEN, sqlite_where=OPEN),
        Index("ix_alerts_status_opened_at", "status", "opened_at"),
        Index("ix_alerts_opened_at", "opened_at"),
        Index("ix_alerts_region_opened_at", "region", "opened_at"),
        Index("ix_alerts_organisation_opened_at", "organisation_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    verdict: Mapped[str] = mapped_column(String(24))
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20), default="")  # "" for a GTIN-only scan
    batch: Mapped[str | None] = mapped_column(String(20))  # as printed on the first sighting
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    region: Mapped[str] = mapped_column(String(64))  # the location's, for the queue's filter
    status: Mapped[str] = mapped_column(String(16), default="NEW")
    closing_reason: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(String(1000))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    investigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    investigated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
