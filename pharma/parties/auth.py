"""Who is calling: session cookies for pages, bearer tokens for the API.

Passwords are hashed with argon2id. Tokens are 32 random bytes shown once; only their SHA-256
is stored, so a stolen database yields no usable token.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, g, request, session
from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.models import ApiToken, Device, User
from pharma.shared.actor import Actor
from pharma.shared.time import utcnow

TOKEN_PREFIX = "ph_"
_hashers: dict[tuple[int, int], PasswordHasher] = {}


def password_hasher() -> PasswordHasher:
    settings = current_app.config["PHARMA"]
    key = (settings.password_time_cost, settings.password_memory_kib)
    if key not in _hashers:
        _hashers[key] = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=1)
    return _hashers[key]


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


# verified against when the username is unknown, so both paths cost the same time
_DUMMY_HASH: dict[tuple[int, int], str] = {}


def verify_password(user: User | None, password: str) -> bool:
    hasher = password_hasher()
    if user is None:
        key = (hasher.time_cost, hasher.memory_cost)
        if key not in _DUMMY_HASH:
            _DUMMY_HASH[key] = hasher.hash(secrets.token_hex(16))
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY_HASH[key], password)
        return False
    try:
        return hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh token and its stored hash."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor_for_user(user: User, via: str) -> Actor:
    org = user.organisation
    return Actor(
        user_id=user.id,
        org_id=user.organisation_id,
        roles=user.roles,
        username=user.username,
        org_type=org.type if org else None,
        via=via,
        location_ids=frozenset(loc.id for loc in org.locations) if org else frozenset(),
    )


def actor_for_device(device: Device) -> Actor:
    loc = device.location
    return Actor(
        user_id=None,
        org_id=loc.organisation_id,
        roles=frozenset({"cash_register"}),
        device_id=device.id,
        location_id=loc.id,
        username=f"device:{device.registration_number}",
        org_type="pharmacy",
        via="token",
        location_ids=frozenset({loc.id}),
    )


def actor_from_token(db: Session, token: str) -> Actor | None:
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.user is not None:
        if not row.user.active or not row.user.organisation.active:
            return None
        actor = actor_for_user(row.user, "token")
    else:
        if row.device is None or not row.device.active:
            return None
        actor = actor_for_device(row.device)
    # last use is recorded at most once a minute, keeping reads read-only on the hot path
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        db.commit()
    return actor


def actor_from_session(db: Session) -> Actor | None:
    user_id = session.get("uid")
    if user_id is None:
        return None
    settings = current_app.config["PHARMA"]
    last_seen = session.get("seen", 0)
    now = int(utcnow().timestamp())
    if now - last_seen > settings.session_minutes * 60:
        session.clear()
        return None
    user = db.get(User, user_id)
    if (
        user is None
        or not user.active
        or not user.organisation.active
        or session.get("epoch") != user.session_epoch
    ):
        session.clear()
        return None
    if now - last_seen > 30:
        session["seen"] = now
    return actor_for_user(user, "session")


def start_session(user: User) -> None:
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["epoch"] = user.session_epoch
    session["seen"] = int(utcnow().timestamp())
    session["locale"] = user.locale


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def current_actor() -> Actor | None:
    """The caller of this request, resolved once."""
    if "actor" in g:
        return g.actor
    from pharma.extensions import db

    token = bearer_token()
    actor = actor_from_token(db.session, token) if token else actor_from_session(db.session)
    g.actor = actor
    return actor
