"""Small builders for test data; each commits, like a real act would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

from pharma.parties.auth import hash_password, new_token
from pharma.parties.domain import ROLES_BY_ORG_TYPE, OrgType, Role
from pharma.parties.models import ApiToken, Device, Licence, Location, Organisation, User, UserRole
from pharma.shared.actor import Actor
from pharma.shared.identifiers import gs1_check_digit
from pharma.shared.uow import UnitOfWork

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)

ORG_FOR_ROLE = {
    role: next(t for t in OrgType if role in ROLES_BY_ORG_TYPE[t]) for role in Role
    if role != Role.CASH_REGISTER
}


def gln(n: int) -> str:
    body = f"476{n:09d}"
    return body + str(gs1_check_digit(body))


def gtin13(n: int, prefix: str = "476") -> str:
    body = f"{prefix}{n:0{12 - len(prefix)}d}"
    return body + str(gs1_check_digit(body))


@dataclass
class Made:
    user: User
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(self, session, app=None) -> None:
        self.session = session
        self.app = app

    def password_hash(self, password: str) -> str:
        if self.app is None:
            return hash_password(password)
        with self.app.app_context():
            return hash_password(password)

    def org(self, type: str = "pharmacy", name: str | None = None, locations: int = 1,
            region: str = "Baku") -> Organisation:
        n = next(_seq)
        org = Organisation(key=f"{type.replace('_', '-')}-{n}", type=type,
                           name=name or f"Test {type} {n}", tax_id=f"{n:010d}")
        for i in range(locations):
            org.locations.append(Location(gln=gln(n * 10 + i), name=f"{org.name} #{i + 1}",
                                          region=region, city="Bakı", address=f"Street {n}"))
        if type == "pharmacy":
            org.licences.append(Licence(number=f"AP-{n}", kind="pharmacy_retail",
                                        valid_from=date(2024, 1, 1), valid_until=date(2029, 1, 1)))
        self.session.add(org)
        self.session.commit()
        return org

    def user(self, *roles: str, org: Organisation | None = None, username: str | None = None,
             password: str = PASSWORD) -> User:
        roles = roles or ("pharmacist",)
        if org is None:
            org = self.org(ORG_FOR_ROLE[Role(roles[0])].value)
        n = next(_seq)
        user = User(organisation_id=org.id, username=username or f"{roles[0]}{n}",
                    full_name=f"Test {roles[0]} {n}", password_hash=self.password_hash(password),
                    role_rows=[UserRole(role=r) for r in roles])
        self.session.add(user)
        self.session.commit()
        return user

    def token(self, user: User) -> str:
        token, digest = new_token()
        self.session.add(ApiToken(token_hash=digest, prefix=token[:10], name="test",
                                  user_id=user.id))
        self.session.commit()
        return token

    def caller(self, *roles: str, org: Organisation | None = None) -> Made:
        """A user with these roles and a bearer token for the API."""
        user = self.user(*roles, org=org)
        return Made(user, self.token(user))

    def device(self, org: Organisation | None = None) -> tuple[Device, str]:
        org = org or self.org("pharmacy")
        n = next(_seq)
        device = Device(registration_number=f"KKM-{n:06d}", serial_number=f"SN{n}",
                        model="Test till", location_id=org.locations[0].id)
        self.session.add(device)
        self.session.flush()
        token, digest = new_token()
        self.session.add(ApiToken(token_hash=digest, prefix=token[:10], name="till",
                                  device_id=device.id))
        self.session.commit()
        return device, token

    def uow(self, user: User) -> UnitOfWork:
        org = self.session.get(Organisation, user.organisation_id)
        actor = Actor(user_id=user.id, org_id=org.id, roles=frozenset(r.role for r in user.role_rows),
                      username=user.username, org_type=org.type, via="token")
        return UnitOfWork(self.session, actor, request_id="test")
