"""Data for declaration tests: registered products and an approved permit for an importer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pharma.permits.models import ImportPermit, PermitLine
from pharma.register import services as reg
from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from tests.factories import Factory, Made, gtin13
from tests.integration.test_permits_support import license_importer

TODAY = date.today()
EXPIRY = (TODAY + timedelta(days=700)).strftime("%y%m%d")


def product(make: Factory, n: int, trade_name: str | None = None) -> tuple[int, str]:
    """A registered product in force; returns (product id, its GTIN-13)."""
    gtin = gtin13(500_000 + n, prefix="403")
    p = reg.register_product(UnitOfWork(make.session, Actor.system("test")), reg.NewProduct(
        trade_name=trade_name or f"Product {n}", substances=(reg.SubstanceLine("paracetamol", "500 mg"),),
        atc_code="N02BE01", dosage_form="TABLET", route="ORAL", pack_size=20, pack_unit="tablet",
        gtins=(gtin,), rx=False,
        certificate=reg.NewCertificate(f"CERT-{n}", "Holder", "Maker", "DE", TODAY - timedelta(days=10),
                                       TODAY + timedelta(days=900))))
    return p.id, gtin


@dataclass
class Importer:
    caller: Made
    org_id: int
    location_id: int
    permit_id: int
    gtins: list[str]
    line_ids: list[int]


def importer_with_permit(make: Factory, packs: int = 1000, products: int = 2, status: str = "APPROVED",
                         valid_until: date | None = None) -> Importer:
    org = license_importer(make)
    caller = make.caller("importer", org=org)
    made = [product(make, org.id * 10 + i) for i in range(products)]
    permit = ImportPermit(number=f"IP-T-{org.id}", importer_id=org.id, status=status,
                          requested_valid_until=TODAY + timedelta(days=365), valid_from=TODAY - timedelta(days=1),
                          valid_until=valid_until or TODAY + timedelta(days=365))
    permit.lines = [PermitLine(product_id=pid, manufacturer="Maker", country_of_origin="DE", packs_requested=packs,
                               packs_approved=packs, packs_used=0) for pid, _ in made]
    make.session.add(permit)
    make.session.commit()
    return Importer(caller, org.id, org.locations[0].id, permit.id, [g for _, g in made],
                    [line.id for line in permit.lines])


def csv_file(rows: list[tuple], header: str = "gtin,batch,expiry,serial,sscc,parent_sscc") -> bytes:
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def upload(client, imp: Importer, content: bytes, filename: str = "arrival.csv", **form):
    import io

    data = {"permit_id": str(form.get("permit_id", imp.permit_id)),
            "location_id": str(form.get("location_id", imp.location_id)),
            "file": (io.BytesIO(content), filename)}
    return client.post("/api/v1/declarations", data=data, headers=imp.caller.headers,
                       content_type="multipart/form-data")
