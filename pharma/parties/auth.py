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
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from pharma.parties.models import ApiToken, Device, Location, Organisation, User, UserRole
from pharma.shared.actor import Actor
from pharma.shared.prepared import Prepared
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


def _roles_of_user():
    return (select(func.aggregate_strings(UserRole.role, ","))
            .where(UserRole.user_id == User.id).scalar_subquery())


# One statement resolves a token to its owner (a person or a device), their organisation and
# roles: authentication costs a single round trip on every API call.
_TOKEN_ACTOR = (
    select(ApiToken.id, ApiToken.expires_at, ApiToken.revoked_at, ApiToken.last_used_at,
           User.id, User.username, User.active, Device.id, Device.registration_number, Device.active,
           Location.id, Organisation.id, Organisation.type, Organisation.active, _roles_of_user())
    .select_from(ApiToken)
    .outerjoin(User, User.id == ApiToken.user_id)
    .outerjoin(Device, Device.id == ApiToken.device_id)
    .outerjoin(Location, Location.id == Device.location_id)
    .outerjoin(Organisation, Organisation.id == func.coalesce(User.organisation_id, Location.organisation_id))
)

# built once: working out a fresh statement's cache key costs more than the query itself; on
# PostgreSQL run as a prepared statement on the driver connection (every API call makes it)
_TOKEN_ACTOR_BY_HASH = Prepared(_TOKEN_ACTOR.where(ApiToken.token_hash == bindparam("hash")))

_SESSION_ACTOR = (
    select(User.username, User.active, User.session_epoch, Organisation.id, Organisation.type,
           Organisation.active, _roles_of_user())
    .join(Organisation, Organisation.id == User.organisation_id)
)


def _roles(joined: str | None) -> frozenset[str]:
    return frozenset(joined.split(",")) if joined else frozenset()


def actor_from_token(db: Session, token: str) -> Actor | None:
    rows = _TOKEN_ACTOR_BY_HASH.rows(db.connection(), {"hash": token_hash(token)})
    if not rows:
        return None
    (token_id, expires_at, revoked_at, last_used_at, user_id, username, user_active, device_id,
     registration_number, device_active, location_id, org_id, org_type, org_active, roles) = rows[0]
    now = utcnow()
    if revoked_at is not None or (expires_at is not None and expires_at <= now) or not org_active:
        return None
    if user_id is not None:
        if not user_active:
            return None
        actor = Actor(user_id=user_id, org_id=org_id, roles=_roles(roles), username=username,
                      org_type=org_type, via="token")
    else:
        if not device_active:
            return None
        actor = Actor(user_id=None, org_id=org_id, roles=frozenset({"cash_register"}), device_id=device_id,
                      location_id=location_id, username=f"device:{registration_number}", org_type=org_type,
                      via="token")
    # last use is recorded at most once a minute, keeping reads read-only on the hot path
    if last_used_at is None or now - last_used_at > timedelta(minutes=1):
        db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        db.commit()
    return actor


_SESSION_ACTOR_BY_ID = _SESSION_ACTOR.where(User.id == bindparam("uid"))


def actor_for_user_id(db: Session, user_id: int, via: str = "system") -> Actor | None:
    """The actor a background task acts as: the person who asked for the work."""
    row = db.connection().execute(_SESSION_ACTOR_BY_ID, {"uid": user_id}).first()
    if row is None:
        return None
    username, _active, _epoch, org_id, org_type, _org_active, roles = row
    return Actor(user_id=user_id, org_id=org_id, roles=_roles(roles), username=username, org_type=org_type, via=via)


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
    row = db.connection().execute(_SESSION_ACTOR_BY_ID, {"uid": user_id}).first()
    if row is None:
        session.clear()
        return None
    username, active, epoch, org_id, org_type, org_active, roles = row
    if not active or not org_active or session.get("epoch") != epoch:
        session.clear()
        return None
    if now - last_seen > 30:
        session["seen"] = now
    return Actor(user_id=user_id, org_id=org_id, roles=_roles(roles), username=username,
                 org_type=org_type, via="session")


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


class TokenCallSessionInterface(SecureCookieSessionInterface):
    """Cookie sessions for pages; none for a bearer-token call that brings no session cookie: an API
    client or a device never reads or writes one, and opening it (a signer per request) costs a few
    percent of a verification. Anything that tries to write to it fails loudly (Flask's NullSession)."""

    def open_session(self, app, request):
        if request.headers.get("Authorization", "")[:7].lower() == "bearer " and \
                self.get_cookie_name(app) not in request.cookies:
            return self.null_session_class()
        return super().open_session(app, request)
