"""Reading the audit log (regulators and administrators)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from pharma.auditlog.models import AuditEntry
from pharma.parties.policy import authorize
from pharma.shared.schemas import Page, paginate
from pharma.shared.time import UTC
from pharma.shared.uow import UnitOfWork


@dataclass(frozen=True)
class AuditQuery:
    action: str | None = None  # prefix: "licence." finds every licence act
    object_type: str | None = None
    object_id: str | None = None
    username: str | None = None
    organisation_id: int | None = None
    request_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    per_page: int = 50


def list_entries(uow: UnitOfWork, q: AuditQuery) -> Page:
    """Filter the audit log, newest first."""
    authorize(uow.actor, "audit.read")
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if q.action:
        stmt = stmt.where(AuditEntry.action.startswith(q.action, autoescape=True))
    if q.object_type:
        stmt = stmt.where(AuditEntry.object_type == q.object_type)
    if q.object_id:
        stmt = stmt.where(AuditEntry.object_id == q.object_id)
    if q.username:
        stmt = stmt.where(AuditEntry.username == q.username.strip().lower())
    if q.organisation_id:
        stmt = stmt.where(AuditEntry.organisation_id == q.organisation_id)
    if q.request_id:
        stmt = stmt.where(AuditEntry.request_id == q.request_id)
    if q.date_from:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(q.date_from, time.min, UTC))
    if q.date_to:
        stmt = stmt.where(AuditEntry.at < datetime.combine(q.date_to + timedelta(days=1), time.min, UTC))
    return paginate(uow.session, stmt, q.page, q.per_page)
