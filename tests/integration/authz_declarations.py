"""Authorization cases for /api/v1/declarations; test_authorization.py walks them for every role."""

from __future__ import annotations

from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit
from tests.integration.test_authorization import Case, World

D = "/api/v1/declarations"
READERS = frozenset({"regulator", "inspector", "importer"})


def _importer(w: World):
    """An approved permit for the caller's organisation when the caller is an importer."""
    if "declaration_importer" not in w.extra:
        from pharma.permits.models import ImportPermit, PermitLine
        from tests.integration.declaration_helpers import TODAY, Importer, product, timedelta

        if w.role == "importer":
            org_id = w.caller_user.organisation_id
            from pharma.parties.models import Location, Organisation
            from tests.integration.test_permits_support import license_importer

            loc = w.make.session.query(Location).filter_by(organisation_id=org_id).first()
            license_importer(w.make, w.make.session.get(Organisation, org_id))
            pid, gtin = product(w.make, 900 + org_id)
            permit = ImportPermit(number=f"IP-A-{org_id}", importer_id=org_id, status="APPROVED",
                                  requested_valid_until=TODAY + timedelta(days=30), valid_from=TODAY,
                                  valid_until=TODAY + timedelta(days=30))
            permit.lines = [PermitLine(product_id=pid, manufacturer="M", country_of_origin="DE",
                                       packs_requested=10, packs_approved=10)]
            w.make.session.add(permit)
            w.make.session.commit()
            w.extra["declaration_importer"] = Importer(None, org_id, loc.id, permit.id, [gtin], [])
        else:
            w.extra["declaration_importer"] = importer_with_permit(w.make, products=1)
    return w.extra["declaration_importer"]


def _declaration_id(w: World) -> int:
    if "declaration_id" not in w.extra:
        from pharma.shared.actor import Actor
        from pharma.shared.uow import UnitOfWork
        from pharma.trace.declarations import NewDeclaration, submit_declaration

        imp = _importer(w)
        actor = Actor(user_id=None, org_id=imp.org_id, roles=frozenset({"importer"}), username="seed")
        d = submit_declaration(UnitOfWork(w.make.session, actor), NewDeclaration(
            imp.permit_id, imp.location_id, "csv", "a.csv", csv_file([(imp.gtins[0], "B", EXPIRY, "S1", "", "")])))
        w.extra["declaration_id"] = d.id
    return w.extra["declaration_id"]


def _upload(w: World) -> dict:
    import io

    imp = _importer(w)
    return {"permit_id": str(imp.permit_id), "location_id": str(imp.location_id),
            "file": (io.BytesIO(csv_file([(imp.gtins[0], "B", EXPIRY, "U1", "", "")])), "a.csv")}


CASES: list[Case] = [
    Case("POST", f"{D}", frozenset({"importer"}), lambda w: D, ok=202, form=_upload),
    Case("GET", f"{D}", READERS, lambda w: D),
    Case("GET", f"{D}/<int:declaration_id>", READERS, lambda w: f"{D}/{_declaration_id(w)}"),
    Case("GET", f"{D}/<int:declaration_id>/errors", READERS, lambda w: f"{D}/{_declaration_id(w)}/errors"),
]
