"""Builders the permit tests share: a licensed importer, a registered product, a permit.

(No tests here; authz_permits.py and the test_permits_* modules import these.)
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from pharma.parties.models import Licence, Organisation
from pharma.permits import services as svc
from pharma.register import services as register_svc
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from tests.factories import gtin13

API = "/api/v1/permits"
_n = itertools.count(1)


def system(session) -> UnitOfWork:
    return UnitOfWork(session, Actor.system("test"))


def license_importer(make, org: Organisation | None = None, kind: str = "import", status: str = "active",
                     valid_until: date | None = None) -> Organisation:
    """An importer organisation holding a licence (an import licence in force unless told)."""
    org = org or make.org("importer")
    n = next(_n)
    make.session.add(Licence(organisation_id=org.id, number=f"IM-T-{org.id}-{n}", kind=kind, status=status,
                             valid_from=date.today() - timedelta(days=365),
                             valid_until=valid_until or date.today() + timedelta(days=3650)))
    make.session.commit()
    return org


def product(make, trade_name: str | None = None, manufacturer: str = "Lek d.d.", country: str = "SI") -> dict:
    """A registered product with a certificate in force: {"id", "gtin", "cert", "name"}."""
    n = next(_n)
    gtin = gtin13(700000 + n, prefix="403")
    name = trade_name or f"Amoksiklav {n}"
    cmd = register_svc.NewProduct(
        trade_name=name, substances=(register_svc.SubstanceLine("amoxicillin", "875 mg"),),
        atc_code="J01CR02", dosage_form="FILM_COATED_TABLET", route="ORAL", pack_size=14,
        pack_unit="tablet", gtins=(gtin,), rx=True,
        certificate=register_svc.NewCertificate(f"AZ-T-{n:06d}", "Sandoz GmbH", manufacturer, country,
                                                date(2024, 1, 1), date.today() + timedelta(days=730)))
    item = register_svc.register_product(system(make.session), cmd)
    return {"id": item.id, "gtin": gtin.zfill(14), "cert": item.certificate.id, "name": name}


def applied(make, importer_id: int, lines: list[tuple[int, int]], days: int = 180) -> int:
    """An application by ``importer_id`` for [(product id, packs)]; returns the permit id."""
    cmd = svc.PermitApplication(requested_valid_until=date.today() + timedelta(days=days), importer_id=importer_id,
                                lines=tuple(svc.LineRequest(packs_requested=n, product_id=p) for p, n in lines))
    return svc.apply_for_permit(system(make.session), cmd).id


def approved(make, importer_id: int, lines: list[tuple[int, int]], packs: dict | None = None,
             valid_from: date | None = None, valid_until: date | None = None) -> int:
    permit_id = applied(make, importer_id, lines)
    svc.approve_permit(system(make.session), permit_id, svc.Decision(packs=packs, valid_from=valid_from,
                                                                    valid_until=valid_until))
    return permit_id
