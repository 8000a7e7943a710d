"""Celery entry points of the trace context: thin, by id, safe to run twice."""

from __future__ import annotations

from pharma.extensions import celery, db


@celery.task(name="pharma.trace.process_declaration")
def process_declaration(declaration_id: int) -> dict:
    """Check and commission a submitted declaration, acting as the importer who submitted it."""
    from pharma.parties.auth import actor_for_user_id
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace import declarations
    from pharma.trace.models import Declaration

    session = db.session_factory()  # its own session: run inline, it leaves the caller's alone
    try:
        found = session.get(Declaration, declaration_id)
        if found is None:
            return {"id": declaration_id, "status": "MISSING"}
        actor = (actor_for_user_id(session, found.created_by) if found.created_by else None) or Actor.system()
        result = declarations.process_declaration(UnitOfWork(session, actor), declaration_id)
        return {"id": result.id, "status": result.status, "packs": result.packs_done, "errors": result.error_count}
    finally:
        session.close()
