"""Celery entry points of the register."""

from __future__ import annotations

from pharma.extensions import celery


@celery.task(name="pharma.register.expire_certificates")
def expire_certificates() -> int:
    """Daily: mark active certificates past their validity as expired. Safe to run twice."""
    from pharma.extensions import db
    from pharma.register import services
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork

    try:
        return services.expire_certificates(UnitOfWork(db.session, Actor.system("task:expire_certificates")))
    finally:
        db.session.remove()
