"""Use cases of the parties context: organisations, licences, locations, users, tokens,
devices, and signing in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from pharma.parties.auth import hash_password, new_token, verify_password
from pharma.parties.domain import (
    LICENCES_BY_ORG_TYPE,
    ROLES_BY_ORG_TYPE,
    LicenceKind,
    LicenceStatus,
    OrgType,
    Role,
)
from pharma.parties.models import (
    ApiToken,
    Device,
    Licence,
    Location,
    Organisation,
    SignInFailure,
    User,
    UserRole,
)
from pharma.parties.policy import authorize, scoped_org
from pharma.shared.actor import Actor
from pharma.shared.errors import (
    Conflict,
    NotFound,
    RuleViolation,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
)
from pharma.shared.identifiers import Gln
from pharma.shared.schemas import Page, paginate
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork


class RoleNotAllowedForOrganisation(RuleViolation):
    code = "ROLE_NOT_ALLOWED_FOR_ORGANISATION"
    title = "Role does not fit the organisation"


class LicenceKindNotAllowed(RuleViolation):
    code = "LICENCE_KIND_NOT_ALLOWED"
    title = "Licence kind does not fit the organisation"


class DeviceLocationNotPharmacy(RuleViolation):
    code = "DEVICE_LOCATION_NOT_PHARMACY"
    title = "Cash registers are bound to pharmacy locations"


class PasswordTooWeak(RuleViolation):
    status = 422
    code = "PASSWORD_TOO_WEAK"
    title = "Password too weak"


# ---------------------------------------------------------------- signing in

@dataclass(frozen=True)
class SignIn:
    username: str
    password: str
    address: str


def sign_in(session: Session, cmd: SignIn, max_failures: int, window_minutes: int,
            request_id: str | None = None) -> User:
    """Check a password; too many failures for a name or an address lock it out for a while."""
    since = utcnow() - timedelta(minutes=window_minutes)
    name = cmd.username.strip().lower()
    by_name = session.scalar(
        select(func.count()).where(SignInFailure.username == name, SignInFailure.at >= since)
    )
    by_addr = session.scalar(
        select(func.count()).where(SignInFailure.address == cmd.address, SignInFailure.at >= since)
    )
    if by_name >= max_failures or by_addr >= max_failures * 4:
        raise TooManyRequests(
            f"Too many failed sign-ins. Try again in {window_minutes} minutes."
        )
    user = session.scalar(
        select(User).options(selectinload(User.role_rows)).where(User.username == name)
    )
    if not verify_password(user, cmd.password) or not user.active or not user.organisation.active:
        session.add(SignInFailure(username=name, address=cmd.address))
        session.commit()
        raise Unauthenticated("The username or password is wrong, or the account is disabled.")
    session.execute(SignInFailure.__table__.delete().where(SignInFailure.username == name))
    actor = Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles, username=user.username)
    UnitOfWork(session, actor, request_id, cmd.address).audit("user.sign_in", "user", user.id, {})
    session.commit()
    return user


def check_password_strength(password: str, username: str = "") -> None:
    if len(password) < 12:
        raise PasswordTooWeak("The password must have at least 12 characters.")
    if username and username.lower() in password.lower():
        raise PasswordTooWeak("The password must not contain the username.")
    if len(set(password)) < 6:
        raise PasswordTooWeak("The password must use at least 6 different characters.")


# ---------------------------------------------------------------- organisations

@dataclass(frozen=True)
class NewOrganisation:
    key: str
    type: str
    name: str
    tax_id: str | None = None
    country: str = "AZ"


def create_organisation(uow: UnitOfWork, cmd: NewOrganisation) -> Organisation:
    """Enter an organisation into the system (agency administrators and the regulator)."""
    authorize(uow.actor, "parties.org.manage")
    with uow:
        org = Organisation(key=cmd.key, type=OrgType(cmd.type).value, name=cmd.name,
                           tax_id=cmd.tax_id, country=cmd.country)
        uow.session.add(org)
        _flush_unique(uow, "An organisation with this key or tax id already exists.")
        uow.audit("organisation.create", "organisation", org.id,
                  {"key": org.key, "type": org.type, "name": org.name, "tax_id": org.tax_id})
        uow.commit()
    return org


def set_organisation_active(uow: UnitOfWork, org_id: int, active: bool, reason: str) -> Organisation:
    """Deactivate (or reactivate) an organisation: its users and tokens stop working."""
    authorize(uow.actor, "parties.org.manage")
    with uow:
        org = _get(uow.session, Organisation, org_id, "organisation")
        before = org.active
        org.active = active
        uow.audit("organisation.activate" if active else "organisation.deactivate",
                  "organisation", org.id, {"active": [before, active], "reason": reason})
        uow.commit()
    return org


@dataclass(frozen=True)
class OrgQuery:
    q: str = ""
    type: str | None = None
    region: str | None = None
    page: int = 1
    per_page: int = 25


def list_organisations(uow: UnitOfWork, query: OrgQuery) -> Page:
    """The directory of organisations; roles scoped to their own see only their own."""
    only = scoped_org(uow.actor, "parties.org.read")
    stmt = select(Organisation).order_by(Organisation.name, Organisation.id)
    if only is not None:
        stmt = stmt.where(Organisation.id == only)
    if query.type:
        stmt = stmt.where(Organisation.type == query.type)
    if query.q:
        like = f"%{query.q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Organisation.name).like(like),
                              Organisation.tax_id == query.q.strip(),
                              Organisation.key == query.q.strip()))
    if query.region:
        stmt = stmt.where(Organisation.locations.any(Location.region == query.region))
    return paginate(uow.session, stmt, query.page, query.per_page)


def get_organisation(uow: UnitOfWork, org_id: int) -> Organisation:
    authorize(uow.actor, "parties.org.read")
    return _get(uow.session, Organisation, org_id, "organisation")


# ---------------------------------------------------------------- licences

@dataclass(frozen=True)
class NewLicence:
    organisation_id: int
    number: str
    kind: str
    valid_from: date
    valid_until: date


def grant_licence(uow: UnitOfWork, cmd: NewLicence) -> Licence:
    """Record a licence the agency granted; its kind must fit the organisation's type."""
    authorize(uow.actor, "parties.licence.manage")
    with uow:
        org = _get(uow.session, Organisation, cmd.organisation_id, "organisation")
        kind = LicenceKind(cmd.kind)
        if kind not in LICENCES_BY_ORG_TYPE[OrgType(org.type)]:
            raise LicenceKindNotAllowed(f"A {org.type} cannot hold a {kind.value} licence.")
        if cmd.valid_until < cmd.valid_from:
            raise ValidationFailed({"valid_until": ["Must not be before valid_from."]})
        lic = Licence(organisation_id=org.id, number=cmd.number, kind=kind.value,
                      valid_from=cmd.valid_from, valid_until=cmd.valid_until,
                      status=LicenceStatus.ACTIVE.value)
        uow.session.add(lic)
        _flush_unique(uow, "A licence with this number already exists.")
        uow.audit("licence.grant", "licence", lic.id,
                  {"organisation_id": org.id, "number": lic.number, "kind": lic.kind,
                   "valid_from": lic.valid_from, "valid_until": lic.valid_until})
        uow.commit()
    return lic


def set_licence_status(uow: UnitOfWork, licence_id: int, status: str, reason: str) -> Licence:
    """Suspend, reinstate or revoke a licence. A revoked licence stays revoked."""
    authorize(uow.actor, "parties.licence.manage")
    new = LicenceStatus(status)
    with uow:
        lic = _get(uow.session, Licence, licence_id, "licence")
        if lic.status == LicenceStatus.REVOKED.value:
            raise Conflict("A revoked licence cannot change status.")
        if lic.status == new.value:
            raise Conflict(f"The licence is already {new.value}.")
        uow.audit("licence.status", "licence", lic.id,
                  {"status": [lic.status, new.value], "reason": reason})
        lic.status = new.value
        uow.commit()
    return lic


def licence_in_force(lic: Licence, on: date) -> bool:
    return lic.status == LicenceStatus.ACTIVE.value and lic.valid_from <= on <= lic.valid_until


# ---------------------------------------------------------------- locations

@dataclass(frozen=True)
class NewLocation:
    organisation_id: int
    gln: str
    name: str
    region: str
    city: str
    address: str


def add_location(uow: UnitOfWork, cmd: NewLocation) -> Location:
    """Add a location, identified by its GLN (check digit verified)."""
    authorize(uow.actor, "parties.location.manage")
    gln = Gln.parse(cmd.gln)
    with uow:
        org = _get(uow.session, Organisation, cmd.organisation_id, "organisation")
        loc = Location(organisation_id=org.id, gln=gln.value, name=cmd.name, region=cmd.region,
                       city=cmd.city, address=cmd.address)
        uow.session.add(loc)
        _flush_unique(uow, "A location with this GLN already exists.")
        uow.audit("location.add", "location", loc.id,
                  {"organisation_id": org.id, "gln": loc.gln, "name": loc.name,
                   "region": loc.region, "city": loc.city, "address": loc.address})
        uow.commit()
    return loc


# ---------------------------------------------------------------- users

@dataclass(frozen=True)
class NewUser:
    organisation_id: int
    username: str
    full_name: str
    password: str
    roles: tuple[str, ...]
    email: str | None = None
    locale: str = "en"


def create_user(uow: UnitOfWork, cmd: NewUser) -> User:
    """Create a person's account in one organisation, with roles that fit its type."""
    authorize(uow.actor, "parties.user.manage", cmd.organisation_id)
    username = cmd.username.strip().lower()
    check_password_strength(cmd.password, username)
    with uow:
        org = _get(uow.session, Organisation, cmd.organisation_id, "organisation")
        roles = _check_roles(org, cmd.roles)
        user = User(organisation_id=org.id, username=username, full_name=cmd.full_name,
                    email=cmd.email, password_hash=hash_password(cmd.password),
                    locale=cmd.locale, role_rows=[UserRole(role=r) for r in sorted(roles)])
        uow.session.add(user)
        _flush_unique(uow, "This username is taken.")
        uow.audit("user.create", "user", user.id,
                  {"username": username, "organisation_id": org.id, "roles": sorted(roles)})
        uow.commit()
    return user


def set_user_roles(uow: UnitOfWork, user_id: int, roles: tuple[str, ...]) -> User:
    authorize(uow.actor, "parties.user.manage")
    with uow:
        user = _get(uow.session, User, user_id, "user")
        new = _check_roles(user.organisation, roles)
        before = sorted(user.roles)
        user.role_rows = [UserRole(role=r) for r in sorted(new)]
        user.session_epoch += 1
        uow.audit("user.roles", "user", user.id, {"roles": [before, sorted(new)]})
        uow.commit()
    return user


def set_user_active(uow: UnitOfWork, user_id: int, active: bool) -> User:
    """Disable or enable an account; disabling ends its sessions and stops its tokens."""
    authorize(uow.actor, "parties.user.manage")
    with uow:
        user = _get(uow.session, User, user_id, "user")
        if user.id == uow.actor.user_id and not active:
            raise Conflict("You cannot disable your own account.")
        uow.audit("user.activate" if active else "user.deactivate", "user", user.id,
                  {"active": [user.active, active]})
        user.active = active
        user.session_epoch += 1
        uow.commit()
    return user


def change_password(uow: UnitOfWork, current: str, new: str) -> User:
    """A person changes their own password; other sessions end."""
    authorize(uow.actor, "parties.password.own")
    with uow:
        user = _get(uow.session, User, uow.actor.user_id, "user")
        if not verify_password(user, current):
            raise Unauthenticated("The current password is wrong.")
        check_password_strength(new, user.username)
        user.password_hash = hash_password(new)
        user.session_epoch += 1
        uow.audit("user.password", "user", user.id, {})
        uow.commit()
    return user


def list_users(uow: UnitOfWork, organisation_id: int | None, page: int, per_page: int) -> Page:
    only = scoped_org(uow.actor, "parties.user.read")
    stmt = select(User).options(selectinload(User.role_rows)).order_by(User.username)
    if only is not None:
        stmt = stmt.where(User.organisation_id == only)
    if organisation_id is not None:
        stmt = stmt.where(User.organisation_id == organisation_id)
    return paginate(uow.session, stmt, page, per_page)


def _check_roles(org: Organisation, roles) -> set[str]:
    wanted = set()
    for r in roles:
        try:
            wanted.add(Role(r).value)
        except ValueError:
            raise ValidationFailed({"roles": [f"Unknown role {r!r}."]}) from None
    if not wanted:
        raise ValidationFailed({"roles": ["At least one role is needed."]})
    fit = {r.value for r in ROLES_BY_ORG_TYPE[OrgType(org.type)]}
    bad = sorted(wanted - fit)
    if bad:
        raise RoleNotAllowedForOrganisation(
            f"A user of a {org.type} cannot hold the role(s): {', '.join(bad)}."
        )
    return wanted


# ---------------------------------------------------------------- tokens

@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    row: ApiToken


def issue_token(uow: UnitOfWork, name: str, days: int | None = 365,
                user_id: int | None = None) -> IssuedToken:
    """Issue a bearer token for yourself, or (administrators) for another user."""
    target = user_id if user_id is not None else uow.actor.user_id
    authorize(uow.actor, "parties.token.own" if target == uow.actor.user_id
              else "parties.token.manage")
    if target is None:
        raise Conflict("Only people hold personal tokens; devices get theirs when registered.")
    with uow:
        user = _get(uow.session, User, target, "user")
        token, digest = new_token()
        row = ApiToken(token_hash=digest, prefix=token[:10], name=name, user_id=user.id,
                       expires_at=utcnow() + timedelta(days=days) if days else None)
        uow.session.add(row)
        uow.session.flush()
        uow.audit("token.issue", "api_token", row.id,
                  {"name": name, "user_id": user.id, "expires_at": row.expires_at})
        uow.commit()
    return IssuedToken(token, row)


def revoke_token(uow: UnitOfWork, token_id: int) -> ApiToken:
    with uow:
        row = _get(uow.session, ApiToken, token_id, "token")
        if row.user_id != uow.actor.user_id or row.user_id is None:
            authorize(uow.actor, "parties.token.manage")
        else:
            authorize(uow.actor, "parties.token.own")
        if row.revoked_at is not None:
            raise Conflict("The token is already revoked.")
        row.revoked_at = utcnow()
        uow.audit("token.revoke", "api_token", row.id, {"name": row.name})
        uow.commit()
    return row


def list_tokens(uow: UnitOfWork, user_id: int | None = None) -> list[ApiToken]:
    target = user_id if user_id is not None else uow.actor.user_id
    authorize(uow.actor, "parties.token.own" if target == uow.actor.user_id
              else "parties.token.manage")
    return list(uow.session.scalars(
        select(ApiToken).where(ApiToken.user_id == target).order_by(ApiToken.id.desc())
    ))


# ---------------------------------------------------------------- devices

@dataclass(frozen=True)
class NewDevice:
    location_id: int
    registration_number: str
    serial_number: str
    model: str


def register_device(uow: UnitOfWork, cmd: NewDevice) -> IssuedToken:
    """Bind a fiscal cash register to a pharmacy location and issue its token."""
    with uow:
        loc = _get(uow.session, Location, cmd.location_id, "location")
        authorize(uow.actor, "parties.device.manage", loc.organisation_id)
        if loc.organisation.type != OrgType.PHARMACY.value:
            raise DeviceLocationNotPharmacy("A cash register must be bound to a pharmacy location.")
        device = Device(location_id=loc.id, registration_number=cmd.registration_number.strip(),
                        serial_number=cmd.serial_number.strip(), model=cmd.model.strip())
        uow.session.add(device)
        _flush_unique(uow, "A device with this registration number already exists.")
        token, digest = new_token()
        row = ApiToken(token_hash=digest, prefix=token[:10], name=f"device {device.registration_number}",
                       device_id=device.id)
        uow.session.add(row)
        uow.session.flush()
        uow.audit("device.register", "device", device.id,
                  {"registration_number": device.registration_number, "location_id": loc.id,
                   "model": device.model, "serial_number": device.serial_number})
        uow.commit()
    return IssuedToken(token, row)


def deactivate_device(uow: UnitOfWork, device_id: int) -> Device:
    """Take a cash register out of service; its token stops working."""
    with uow:
        device = _get(uow.session, Device, device_id, "device")
        authorize(uow.actor, "parties.device.manage", device.location.organisation_id)
        if not device.active:
            raise Conflict("The device is already out of service.")
        device.active = False
        for tok in uow.session.scalars(select(ApiToken).where(ApiToken.device_id == device.id)):
            tok.revoked_at = tok.revoked_at or utcnow()
        uow.audit("device.deactivate", "device", device.id,
                  {"registration_number": device.registration_number})
        uow.commit()
    return device


def list_devices(uow: UnitOfWork, organisation_id: int | None = None) -> list[Device]:
    only = scoped_org(uow.actor, "parties.device.read")
    stmt = select(Device).join(Location).order_by(Device.registration_number)
    if only is not None:
        stmt = stmt.where(Location.organisation_id == only)
    if organisation_id is not None:
        stmt = stmt.where(Location.organisation_id == organisation_id)
    return list(uow.session.scalars(stmt))


# ---------------------------------------------------------------- helpers

def _get(session: Session, model, ident, what: str):
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound(f"No {what} with id {ident}.")
    return obj


def _flush_unique(uow: UnitOfWork, message: str) -> None:
    try:
        uow.session.flush()
    except IntegrityError as exc:
        uow.session.rollback()
        raise Conflict(message) from exc

