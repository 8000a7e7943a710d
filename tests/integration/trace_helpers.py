"""Packs for the custody movement tests, written directly (rows + pharma.trace.events.record), so
these tests do not depend on how declarations commission packs.

``stock(make, org)`` gives a registered product, an APPROVED permit, an ACCEPTED declaration, one
batch, cases and ACTIVE packs at the organisation's first location, and the COMMISSION event.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import insert, select

from pharma.parties.models import Licence, Organisation
from pharma.permits.models import ImportPermit, PermitLine
from pharma.register import services as reg
from pharma.shared.actor import Actor
from pharma.shared.identifiers import gs1_check_digit
from pharma.shared.time import utcnow
from pharma.shared.uow import UnitOfWork
from pharma.trace.domain import EventType
from pharma.trace.events import record
from pharma.trace.models import Batch, Case, Declaration, Pack
from tests.factories import Factory, gtin13

API = "/api/v1/trace"
TODAY = date.today()
_n = itertools.count(1)


def sscc(n: int) -> str:
    body = f"0477{n:013d}"
    return body + str(gs1_check_digit(body))


def system_uow(make: Factory) -> UnitOfWork:
    return UnitOfWork(make.session, Actor.system("test"))


@dataclass
class Stock:
    """One batch of packs at a location; ``cases[i]`` is an SSCC holding ``case_serials[i]``."""

    product_id: int
    gtin: str  # GTIN-14
    batch_id: int
    batch: str
    declaration_id: int
    location_id: int
    serials: list[str]
    cases: list[str] = field(default_factory=list)
    case_serials: list[list[str]] = field(default_factory=list)
    pack_ids: dict[str, int] = field(default_factory=dict)
    pallet: str | None = None

    def pack(self, serial: str) -> dict:
        return {"gtin": self.gtin, "serial": serial}

    def packs(self, *serials: str) -> list[dict]:
        return [self.pack(s) for s in (serials or self.serials)]


def product(make: Factory, trade_name: str = "Movement Test") -> tuple[int, str]:
    """A registered product in force; returns (id, GTIN-14)."""
    n = next(_n)
    gtin = gtin13(800_000 + n, prefix="480")
    p = reg.register_product(system_uow(make), reg.NewProduct(
        trade_name=f"{trade_name} {n}", substances=(reg.SubstanceLine("ibuprofen", "400 mg"),), atc_code="M01AE01",
        dosage_form="TABLET", route="ORAL", pack_size=20, pack_unit="tablet", gtins=(gtin,), rx=False,
        certificate=reg.NewCertificate(f"MOV-{n}", "Holder", "Maker", "DE", TODAY - timedelta(days=10),
                                       TODAY + timedelta(days=900))))
    return p.id, gtin.zfill(14)


def licensed(make: Factory, org: Organisation, kind: str | None = None) -> Organisation:
    """Give an importer or wholesaler a wholesale licence in force (pharmacies come with one)."""
    org = make.session.get(Organisation, org.id)  # the caller's object may be detached after a request
    kind = kind or {"pharmacy": "pharmacy_retail"}.get(org.type, "wholesale")
    if not any(lic.kind == kind for lic in org.licences):
        n = next(_n)
        org.licences.append(Licence(number=f"MOV-L-{org.id}-{n}", kind=kind, valid_from=TODAY - timedelta(days=30),
                                    valid_until=TODAY + timedelta(days=365)))
        make.session.commit()
    return org


def stock(make: Factory, org: Organisation, packs: int = 4, per_case: int = 0, location_index: int = 0,
          expiry: date | None = None, product_id: int | None = None, gtin: str | None = None,
          pallet: bool = False) -> Stock:
    """ACTIVE packs at ``org``'s location, in cases of ``per_case`` (0: loose), optionally on a pallet."""
    s = make.session
    org = s.get(Organisation, org.id)
    n = next(_n)
    if product_id is None:
        product_id, gtin = product(make)
    location_id = org.locations[location_index].id
    permit = ImportPermit(number=f"IP-MOV-{n}", importer_id=org.id, status="APPROVED",
                          requested_valid_until=TODAY + timedelta(days=365), valid_from=TODAY - timedelta(days=1),
                          valid_until=TODAY + timedelta(days=365))
    permit.lines = [PermitLine(product_id=product_id, manufacturer="Maker", country_of_origin="DE",
                               packs_requested=max(packs, 1), packs_approved=max(packs, 1), packs_used=packs)]
    s.add(permit)
    s.flush()
    decl = Declaration(number=f"DC-MOV-{n}", importer_id=org.id, permit_id=permit.id, location_id=location_id,
                       status="ACCEPTED", source_format="json", packs_total=packs, packs_done=packs,
                       finished_at=utcnow())
    s.add(decl)
    s.flush()
    when = expiry or TODAY + timedelta(days=700)
    lot = Batch(gtin=gtin, batch=f"MB{n}", expiry_raw=when.strftime("%y%m%d"), expiry=when, product_id=product_id,
                declaration_id=decl.id)
    s.add(lot)
    s.flush()
    result = Stock(product_id, gtin, lot.id, lot.batch, decl.id, location_id, [f"M{n}S{i}" for i in range(packs)])
    parent_id = None
    if pallet:
        result.pallet = sscc(n * 1000)
        parent = Case(sscc=result.pallet, declaration_id=decl.id, location_id=location_id)
        s.add(parent)
        s.flush()
        parent_id = parent.id
    case_ids: list[int | None] = []
    if per_case:
        for c, start in enumerate(range(0, packs, per_case)):
            code = sscc(n * 1000 + c + 1)
            case = Case(sscc=code, parent_id=parent_id, declaration_id=decl.id, location_id=location_id)
            s.add(case)
            s.flush()
            result.cases.append(code)
            result.case_serials.append(result.serials[start:start + per_case])
            case_ids.extend([case.id] * len(result.case_serials[-1]))
    else:
        case_ids = [None] * packs
    now = utcnow()
    if packs:
        s.execute(insert(Pack), [
            {"gtin": gtin, "serial": serial, "batch_id": lot.id, "declaration_id": decl.id, "case_id": case_id,
             "location_id": location_id, "state": "ACTIVE", "state_changed_at": now,
             "state_location_id": location_id}
            for serial, case_id in zip(result.serials, case_ids, strict=True)])
    result.pack_ids = dict(s.execute(select(Pack.serial, Pack.id).where(Pack.batch_id == lot.id)).all())
    uow = system_uow(make)
    record(uow, EventType.COMMISSION.value, location_id=location_id, declaration_id=decl.id, count=packs,
           document=("declaration", decl.number))
    s.commit()
    return result


def received_with_missing(make: Factory, lot: Stock, receiver: Organisation, received: list[str],
                          cases: list[str] | None = None, sender_user=None, receiver_user=None,
                          in_cases: bool = False) -> int:
    """Ship every pack of ``lot`` (``in_cases``: as its cases) to ``receiver``'s first location and
    receive only the ``received`` serials (and ``cases``): the other packs are MISSING. Returns the
    shipment's id."""
    from pharma.trace import movements as svc

    def refs(serials):
        return tuple(svc.PackRef(lot.gtin, s) for s in serials)

    sender = make.uow(sender_user) if sender_user else system_uow(make)
    shipment = svc.ship(sender, svc.ShipPacks(lot.location_id, receiver.locations[0].id,
                                              packs=() if in_cases else refs(lot.serials),
                                              cases=tuple(lot.cases) if in_cases else ()))
    svc.receive(make.uow(receiver_user) if receiver_user else system_uow(make), shipment.id,
                svc.Receipt(packs=refs(received), cases=tuple(cases or ())))
    return shipment.id
