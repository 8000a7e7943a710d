"""Demo import permits for the demo importer and wholesaler, one in each state.

Adds to the caller's session and flushes; the caller commits (pharma/fixtures.py). Products are
taken from the register in its order, only those with a certificate in force and not withdrawn.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pharma.parties.domain import OrgType
from pharma.parties.models import Organisation
from pharma.permits.models import ImportPermit, PermitLine
from pharma.permits.services import next_number
from pharma.register.domain import in_force
from pharma.register.models import Certificate, Product
from pharma.shared.time import today as utc_today

# (importer type, status, [(packs requested, packs approved)], days ago applied, reason)
DEMO_PERMITS = [
    (OrgType.IMPORTER, "APPROVED", [(5000, 5000), (2000, 1500), (1200, 1200)], 40, None),
    (OrgType.IMPORTER, "APPLIED", [(3000, 0), (800, 0)], 2, None),
    (OrgType.IMPORTER, "REFUSED", [(10000, 0)], 20, "The manufacturer's GMP certificate has lapsed."),
    (OrgType.WHOLESALER, "APPROVED", [(2500, 2500), (600, 400)], 30, None),
    (OrgType.WHOLESALER, "REVOKED", [(4000, 4000)], 60, "Import licence conditions breached (inspection report)."),
]


def load_permits(session: Session, today: date | None = None) -> dict[str, int]:
    """Create the demo permits; returns how many permits and lines were added."""
    day = today or utc_today()
    products = [p for p, c in session.execute(
        select(Product, Certificate).join(Certificate, Certificate.product_id == Product.id)
        .where(Product.withdrawn_at.is_(None)).order_by(Product.id).limit(200))
        if in_force(c.status, c.valid_until, day)]
    certificates = {c.product_id: c for c in session.scalars(
        select(Certificate).where(Certificate.product_id.in_([p.id for p in products])))}
    counts = {"permits": 0, "permit_lines": 0}
    picked = iter(products)
    for org_type, status, lines, days_ago, reason in DEMO_PERMITS:
        importer = session.scalars(select(Organisation).where(Organisation.type == org_type.value)
                                   .order_by(Organisation.id).limit(1)).first()
        if importer is None:
            continue
        applied = datetime.combine(day - timedelta(days=days_ago), time(9, 30), tzinfo=UTC)
        permit = ImportPermit(number=next_number(session, day.year), importer_id=importer.id, status=status,
                              requested_valid_until=day + timedelta(days=365), applied_at=applied)
        if status != "APPLIED":
            permit.decided_at = applied + timedelta(days=3)
            permit.decision_reason = reason if status == "REFUSED" else None
        if status in ("APPROVED", "REVOKED"):
            permit.valid_from = permit.decided_at.date()
            permit.valid_until = day + timedelta(days=300)
        if status == "REVOKED":
            permit.revoked_at = applied + timedelta(days=20)
            permit.revoke_reason = reason
        for requested, approved in lines:
            product = next(picked)
            cert = certificates[product.id]
            permit.lines.append(PermitLine(product_id=product.id, manufacturer=cert.manufacturer,
                                           country_of_origin=cert.country, packs_requested=requested,
                                           packs_approved=approved, packs_used=0))
            counts["permit_lines"] += 1
        session.add(permit)
        counts["permits"] += 1
    session.flush()
    return counts
