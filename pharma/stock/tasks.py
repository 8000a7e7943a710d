"""Celery entry points of the stock context: thin, safe to run twice."""

from __future__ import annotations

from datetime import date

from pharma.extensions import celery


@celery.task(name="pharma.stock.scan_expiry")
def scan_expiry(on: str | None = None) -> dict:
    """Daily: mark stock expired or expiring within 30/60/90 days (``on``: an ISO date, default today)."""
    from pharma.extensions import db
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import expiry

    session = db.session_factory()  # its own session: run inline, it leaves the caller's alone
    try:
        day = date.fromisoformat(on) if on else None
        return expiry.scan_expiry(UnitOfWork(session, Actor.system("task:scan_expiry")), day).to_dict()
    finally:
        session.close()
