"""``Idempotency-Key``: a retried POST returns the first answer instead of acting twice.

The key is claimed (a row, unique per caller and key) before the view runs, so two copies of
the same request racing each other cannot both act: the second gets 409 while the first is
under way, and the stored answer afterwards. A key reused for a different request is refused.
Server errors release the key so the client may retry.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import Flask, Response, g, request
from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from pharma.shared.errors import Conflict, ValidationFailed
from pharma.shared.orm import Base, BigId, UTCDateTime
from pharma.shared.time import utcnow

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)


class IdempotencyKeyInUse(Conflict):
    code = "IDEMPOTENCY_KEY_IN_USE"
    title = "A request with this Idempotency-Key is still being processed"


class IdempotencyKeyReused(ValidationFailed):
    code = "IDEMPOTENCY_KEY_REUSED"
    title = "This Idempotency-Key was used for a different request"


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    caller: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def _caller() -> str | None:
    actor = g.get("actor")
    if actor is None:
        return None
    return f"device:{actor.device_id}" if actor.device_id else f"user:{actor.user_id}"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def claim() -> Response | None:
    """Before the view: replay a finished answer, or claim the key for this request."""
    key = request.headers.get(HEADER)
    if not key or request.method != "POST" or not request.path.startswith("/api/v1/"):
        return None
    caller = _caller()
    if caller is None:
        return None
    if len(key) > 200:
        raise ValidationFailed({HEADER: ["At most 200 characters."]})
    from pharma.extensions import db

    session = db.session
    fingerprint = _fingerprint()
    session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < utcnow() - KEEP))
    row = IdempotentRequest(caller=caller, key=key, fingerprint=fingerprint)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        found = session.scalar(select(IdempotentRequest).where(
            IdempotentRequest.caller == caller, IdempotentRequest.key == key))
        if found is None:  # released between our insert and this read
            raise IdempotencyKeyInUse("Retry the request.") from None
        if found.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                {HEADER: ["Already used for a different request."]},
                detail="This Idempotency-Key was used for a different request.",
            ) from None
        if found.status is None:
            raise IdempotencyKeyInUse("The first request with this key is still running.") from None
        replay = Response(found.body, status=found.status, content_type=found.content_type)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    g.idempotency_row_id = row.id
    return None


def record(response: Response) -> Response:
    """After the view: keep the answer (or release the key after a server error)."""
    row_id = g.pop("idempotency_row_id", None)
    if row_id is None:
        return response
    from pharma.extensions import db

    session = db.session
    session.rollback()
    row = session.get(IdempotentRequest, row_id)
    if row is not None:
        if response.status_code >= 500:
            session.delete(row)
        else:
            row.status = response.status_code
            row.content_type = response.content_type
            row.body = response.get_data()
        session.commit()
    return response


def register_idempotency(app: Flask) -> None:
    app.after_request(record)


