"""Packs and their events for the history tests, written directly (rows + pharma.trace.events.record),
so these tests do not depend on how commissioning, shipping or recalls are implemented; and the
EPCIS 2.0 JSON schema validator, checking formats offline."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from pharma.parties.models import Organisation, User
from pharma.permits.models import ImportPermit, PermitLine
from pharma.register import services as reg
from pharma.register.models import Product
from pharma.shared.actor import Actor
from pharma.shared.identifiers import gs1_check_digit
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace.events import record
from pharma.trace.models import Batch, Case, Declaration, Pack, Shipment, ShipmentPack
from tests.factories import Factory, gtin13

TODAY = date.today()
_n = itertools.count(1)
API = "/api/v1/packs"


def sscc(n: int) -> str:
    body = f"0476{n:013d}"
    return body + str(gs1_check_digit(body))


def actor_of(make: Factory, user: User) -> UnitOfWork:
    return make.uow(user)


@dataclass
class Lot:
    """A commissioned batch: product, permit, declaration, batch, one case, packs at the importer."""

    product_id: int
    gtin: str  # GTIN-14
    batch_id: int
    batch: str
    declaration_id: int
    declaration_number: str
    importer: Organisation
    importer_user: User
    location_id: int
    case_sscc: str
    serials: list[str]
    pack_ids: dict[str, int] = field(default_factory=dict)

    def pack_id(self, serial: str) -> int:
        return self.pack_ids[serial]


def product(make: Factory, trade_name: str = "Paracetamol Test") -> tuple[int, str]:
    n = next(_n)
    gtin = gtin13(700_000 + n, prefix="590")
    p = reg.register_product(UnitOfWork(make.session, Actor.system("test")), reg.NewProduct(
        trade_name=trade_name, substances=(reg.SubstanceLine("paracetamol", "500 mg"),), atc_code="N02BE01",
        dosage_form="TABLET", route="ORAL", pack_size=20, pack_unit="tablet", gtins=(gtin,), rx=False,
        certificate=reg.NewCertificate(f"HIST-{n}", "Holder", "Maker", "DE", TODAY - timedelta(days=10),
                                       TODAY + timedelta(days=900))))
    return p.id, gtin.zfill(14)


def commission(make: Factory, importer: Organisation | None = None, serials: tuple[str, ...] = ("S1", "S2"),
               product_id: int | None = None, gtin: str | None = None, batch: str | None = None,
               expiry: date | None = None, at: datetime | None = None) -> Lot:
    """An APPROVED permit, an ACCEPTED declaration, a batch, a case and ACTIVE packs at the importer's
    location, and the COMMISSION event scoped to the declaration."""
    s = make.session
    n = next(_n)
    importer = _with_locations(make, importer or make.org("importer"))
    user = make.user("importer", org=importer)
    if product_id is None:
        product_id, gtin = product(make)
    location_id = importer.locations[0].id
    permit = ImportPermit(number=f"IP-H-{n}", importer_id=importer.id, status="APPROVED",
                          requested_valid_until=TODAY + timedelta(days=365), valid_from=TODAY - timedelta(days=1),
                          valid_until=TODAY + timedelta(days=365))
    permit.lines = [PermitLine(product_id=product_id, manufacturer="Maker", country_of_origin="DE",
                               packs_requested=len(serials), packs_approved=len(serials), packs_used=len(serials))]
    s.add(permit)
    s.flush()
    decl = Declaration(number=f"DC-H-{n:06d}", importer_id=importer.id, permit_id=permit.id, location_id=location_id,
                       status="ACCEPTED", source_format="csv", packs_total=len(serials), packs_done=len(serials))
    s.add(decl)
    s.flush()
    expiry = expiry or TODAY + timedelta(days=700)
    lot = Batch(gtin=gtin, batch=batch or f"L{n:04d}", expiry_raw=expiry.strftime("%y%m%d"), expiry=expiry,
                manufactured_on=TODAY - timedelta(days=30), product_id=product_id, declaration_id=decl.id)
    case = Case(sscc=sscc(n), declaration_id=decl.id, location_id=location_id)
    s.add_all([lot, case])
    s.flush()
    packs = [Pack(gtin=gtin, serial=serial, batch_id=lot.id, declaration_id=decl.id, case_id=case.id,
                  location_id=location_id, state="ACTIVE") for serial in serials]
    s.add_all(packs)
    s.flush()
    uow = make.uow(user)
    record(uow, "COMMISSION", location_id=location_id, to_state="ACTIVE", declaration_id=decl.id,
           count=len(serials), document=("declaration", decl.number), at=at)
    s.commit()
    return Lot(product_id, gtin, lot.id, lot.batch, decl.id, decl.number, importer, user, location_id, case.sscc,
               list(serials), {p.serial: p.id for p in packs})


def _with_locations(make: Factory, org: Organisation) -> Organisation:
    """The organisation with its locations loaded, so it stays usable after the session is replaced."""
    return make.session.execute(
        select(Organisation).options(selectinload(Organisation.locations)).where(Organisation.id == org.id)
        .execution_options(populate_existing=True)).scalar_one()


def ship(make: Factory, user: User, pack_ids: list[int], from_location_id: int, to_location_id: int,
         at: datetime | None = None) -> Shipment:
    """Packs leave on a shipment: IN_TRANSIT, one SHIP event linked to them, naming the shipment."""
    s = make.session
    n = next(_n)
    shipment = Shipment(number=f"SH-H-{n:06d}", from_location_id=from_location_id, to_location_id=to_location_id,
                        packs_count=len(pack_ids), shipped_by=user.id, shipped_at=at or utcnow())
    s.add(shipment)
    s.flush()
    s.add_all([ShipmentPack(shipment_id=shipment.id, pack_id=pid) for pid in pack_ids])
    s.execute(update(Pack).where(Pack.id.in_(pack_ids)).values(shipment_id=shipment.id))
    record(make.uow(user), "SHIP", location_id=from_location_id, pack_ids=pack_ids,
           document=("shipment", shipment.number), details={"to_location_id": to_location_id}, at=at)
    s.commit()
    return shipment


def receive(make: Factory, user: User, shipment: Shipment, at: datetime | None = None) -> None:
    """Every pack of the shipment arrives: custody moves, one RECEIVE event."""
    s = make.session
    pack_ids = list(s.scalars(ShipmentPack.__table__.select().with_only_columns(ShipmentPack.pack_id)
                              .where(ShipmentPack.shipment_id == shipment.id)))
    s.execute(update(Pack).where(Pack.id.in_(pack_ids)).values(shipment_id=None,
                                                                location_id=shipment.to_location_id))
    s.execute(update(ShipmentPack).where(ShipmentPack.shipment_id == shipment.id).values(outcome="RECEIVED"))
    s.execute(update(Shipment).where(Shipment.id == shipment.id).values(status="RECEIVED", received_at=utcnow(),
                                                                         received_by=user.id))
    record(make.uow(user), "RECEIVE", location_id=shipment.to_location_id, pack_ids=pack_ids,
           document=("shipment", shipment.number), at=at)
    s.commit()


def deliver(make: Factory, lot: Lot, pharmacy: Organisation, serials: list[str] | None = None,
            pharmacist: User | None = None) -> Shipment:
    """The importer ships packs of ``lot`` to the pharmacy, which receives them."""
    pharmacy = _with_locations(make, pharmacy)
    ids = [lot.pack_id(sr) for sr in (serials or lot.serials)]
    shipment = ship(make, lot.importer_user, ids, lot.location_id, pharmacy.locations[0].id)
    receive(make, pharmacist or make.user("pharmacist", org=pharmacy), shipment)
    return shipment


def decommission(make: Factory, user: User, pack_id: int, location_id: int, to_state: str, reason: str,
                 document: tuple[str, str] | None = None) -> None:
    s = make.session
    s.execute(update(Pack).where(Pack.id == pack_id).values(state=to_state, state_changed_at=utcnow(),
                                                             state_location_id=location_id))
    record(make.uow(user), "DECOMMISSION", location_id=location_id, to_state=to_state, reason=reason,
           pack_ids=[pack_id], document=document)
    s.commit()


def recall(make: Factory, regulator: User, batch_id: int, reason: str = "Out of specification") -> None:
    s = make.session
    now = utcnow()
    s.execute(update(Batch).where(Batch.id == batch_id).values(recalled_at=now, recall_reason=reason))
    record(make.uow(regulator), "RECALL", location_id=None, to_state="RECALLED", reason=reason, batch_id=batch_id,
           at=now)
    s.commit()


def withdraw(make: Factory, regulator: User, product_id: int, reason: str = "Safety signal") -> None:
    s = make.session
    now = utcnow()
    s.execute(update(Product).where(Product.id == product_id).values(withdrawn_at=now, withdrawal_reason=reason))
    record(make.uow(regulator), "WITHDRAW", location_id=None, to_state="WITHDRAWN", reason=reason,
           product_id=product_id, at=now)
    s.commit()


# ---------------------------------------------------------------- EPCIS 2.0 schema


STANDARDS = Path(__file__).resolve().parents[2] / ".." / "shared" / "standards"
SCHEMA_FILE = STANDARDS / "epcis-2.0-json-schema.json"
EXAMPLE_EVENT = STANDARDS / "epcis-2.0-example-object-event.json"
# RFC 3986 absolute URI: a scheme, then characters allowed in a URI or percent-escapes
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")


def _is_uri(value) -> bool:
    return not isinstance(value, str) or bool(_URI.match(value))


def _is_datetime(value) -> bool:
    if not isinstance(value, str):
        return True
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@cache
def epcis_validator():
    """A Draft 7 validator of GS1's EPCIS 2.0 JSON schema that also checks the ``uri`` and ``date-time``
    formats (jsonschema checks them only with optional packages; these checkers need none)."""
    from jsonschema import Draft7Validator, FormatChecker

    assert SCHEMA_FILE.exists(), f"the EPCIS 2.0 JSON schema is expected at {SCHEMA_FILE}"
    schema = json.loads(SCHEMA_FILE.read_text())
    formats = FormatChecker()
    formats.checks("uri")(_is_uri)
    formats.checks("date-time")(_is_datetime)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=formats)


def epcis_errors(doc: dict) -> list[str]:
    """Every schema violation of ``doc``, as readable lines (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in epcis_validator().iter_errors(doc)]
