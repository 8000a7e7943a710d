"""Demo organisations, users per role and a demo cash register."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.auth import hash_password, token_hash
from pharma.parties.domain import OrgType
from pharma.parties.models import (
    ApiToken,
    Device,
    Licence,
    Location,
    Organisation,
    User,
    UserRole,
)
from pharma.shared.identifiers import Gln

DEMO_PASSWORD = "demo-password-2026"
DEMO_DEVICE_TOKEN = "ph_demo-cash-register-token-not-for-production"

# username, full name, role(s), organisation key (a type picks the first of that type)
DEMO_USERS = [
    ("admin", "Agency Administrator", ("admin",), "agency"),
    ("regulator", "Leyla Məmmədova", ("regulator",), "agency"),
    ("inspector", "Rəşad Əliyev", ("inspector",), "agency"),
    ("importer", "Elvin Hüseynov", ("importer",), OrgType.IMPORTER),
    ("wholesaler", "Nigar Quliyeva", ("importer",), OrgType.WHOLESALER),
    ("pharmacist", "Aysel Kərimova", ("pharmacist",), OrgType.PHARMACY),
    ("headpharmacist", "Tural İsmayılov", ("head_pharmacist", "pharmacist"), OrgType.PHARMACY),
    ("physician", "Dr. Kamran Babayev", ("physician",), OrgType.MEDICAL_INSTITUTION),
    ("patient", "Günel Rzayeva", ("patient",), "public"),
]


def load_organisations(session: Session, path: Path) -> dict[str, int]:
    """Insert organisations, licences and locations from ``organisations.json``."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    counts = {"organisations": 0, "licences": 0, "locations": 0}
    rows.append({"key": "public", "type": "public", "name": "Members of the public",
                 "tax_id": None, "licences": [], "locations": []})
    for row in rows:
        org = Organisation(key=row["key"], type=OrgType(row["type"]).value, name=row["name"],
                           tax_id=row.get("tax_id"), country=row.get("country", "AZ"))
        session.add(org)
        counts["organisations"] += 1
        for lic in row.get("licences", []):
            org.licences.append(Licence(
                number=lic["number"], kind=lic["kind"], status=lic.get("status", "active"),
                valid_from=date.fromisoformat(lic["valid_from"]),
                valid_until=date.fromisoformat(lic["valid_until"]),
            ))
            counts["licences"] += 1
        for loc in row.get("locations", []):
            org.locations.append(Location(
                gln=Gln.parse(loc["gln"]).value, name=loc["name"], region=loc["region"],
                city=loc["city"], address=loc["address"],
            ))
            counts["locations"] += 1
    session.flush()
    return counts


def load_demo_users(session: Session) -> dict[str, int]:
    """One demo user per role, all with ``DEMO_PASSWORD``, and one demo cash register."""
    password = hash_password(DEMO_PASSWORD)
    for username, full_name, roles, where in DEMO_USERS:
        org = _org(session, where)
        session.add(User(
            organisation_id=org.id, username=username, full_name=full_name,
            password_hash=password, role_rows=[UserRole(role=r) for r in roles],
        ))
    pharmacy = _org(session, OrgType.PHARMACY)
    device = Device(registration_number="KKM-DEMO-0001", serial_number="SN-000001",
                    model="Demo Fiscal 1", location_id=pharmacy.locations[0].id)
    session.add(device)
    session.flush()
    session.add(ApiToken(token_hash=token_hash(DEMO_DEVICE_TOKEN), prefix=DEMO_DEVICE_TOKEN[:10],
                         name="demo cash register", device_id=device.id))
    session.flush()
    return {"users": len(DEMO_USERS), "devices": 1}


def _org(session: Session, where) -> Organisation:
    if isinstance(where, OrgType):
        stmt = select(Organisation).where(Organisation.type == where.value).order_by(Organisation.id)
    else:
        stmt = select(Organisation).where(Organisation.key == where)
    org = session.scalars(stmt.limit(1)).first()
    if org is None:
        raise LookupError(f"the fixtures have no organisation for {where}")
    return org


def demo_sign_ins() -> list[tuple[str, str, str]]:
    """(role, username, password) lines that `make run` prints."""
    lines = [(", ".join(roles), username, DEMO_PASSWORD) for username, _, roles, _ in DEMO_USERS]
    lines.append(("cash_register (bearer token)", "KKM-DEMO-0001", DEMO_DEVICE_TOKEN))
    return lines
