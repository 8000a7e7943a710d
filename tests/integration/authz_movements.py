"""Authorization cases for this area of the API; test_authorization.py walks them for every role.

Objects are built for the caller's own organisation where the act is own-organisation scoped:
the pharmacy roles act at ``w.pharmacy``, the importer at its own new importer organisation.
"""

from __future__ import annotations

from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.trace import movements as svc
from tests.integration.test_authorization import Case, World
from tests.integration.trace_helpers import API, licensed, received_with_missing, stock

CUSTODIANS = frozenset({"importer", "pharmacist", "head_pharmacist"})
READERS = CUSTODIANS | {"regulator", "inspector"}
REGULATOR = frozenset({"regulator"})


def _own(w: World):
    """The organisation whose packs the caller acts on: its own for custodians, else the pharmacy."""
    if w.role == "importer":
        from pharma.parties.models import Organisation

        return licensed(w.make, w.make.session.get(Organisation, w.caller_user.organisation_id))
    return w.pharmacy


def _lot(w: World):
    if "lot" not in w.extra:
        w.extra["lot"] = stock(w.make, _own(w), packs=2)
    return w.extra["lot"]


def _counterpart(w: World):
    """Someone licensed to receive from the caller's organisation."""
    return w.pharmacy if w.role == "importer" else licensed(w.make, w.importer)


def _ship_body(w: World) -> dict:
    lot = _lot(w)
    return {"from_location_id": lot.location_id, "to_location_id": _counterpart(w).locations[0].id,
            "packs": lot.packs(), "kind": "DELIVERY"}


def _incoming(w: World) -> int:
    """A shipment in transit to the caller's organisation."""
    if "incoming" not in w.extra:
        sender = licensed(w.make, w.importer) if w.role != "importer" else w.pharmacy
        receiver = _own(w)
        lot = stock(w.make, sender, packs=1)
        shipment = svc.ship(UnitOfWork(w.make.session, Actor.system("test")), svc.ShipPacks(
            lot.location_id, receiver.locations[0].id, packs=(svc.PackRef(lot.gtin, lot.serials[0]),)))
        w.extra["incoming"] = (shipment.id, lot)
    return w.extra["incoming"][0]


def _missing(w: World) -> tuple[int, object]:
    """A shipment received by the caller's organisation with one of its two packs missing."""
    if "missing" not in w.extra:
        sender = licensed(w.make, w.importer) if w.role != "importer" else w.pharmacy
        lot = stock(w.make, sender, packs=2)
        shipment_id = received_with_missing(w.make, lot, _own(w), lot.serials[:1])
        w.extra["missing"] = (shipment_id, lot)
    return w.extra["missing"]


def _sampled(w: World) -> dict:
    lot = _lot(w)
    svc.decommission(UnitOfWork(w.make.session, Actor.system("test")),
                     svc.Decommission(lot.location_id, tuple(svc.PackRef(lot.gtin, s) for s in lot.serials),
                                      "SAMPLE"))
    return {"location_id": lot.location_id, "packs": lot.packs(), "reason": "sample returned intact"}


CASES: list = [
    Case("POST", f"{API}/shipments", CUSTODIANS, lambda w: f"{API}/shipments", _ship_body, 201),
    Case("GET", f"{API}/shipments", READERS, lambda w: f"{API}/shipments?direction=incoming"),
    Case("GET", f"{API}/shipments/<int:shipment_id>", READERS, lambda w: f"{API}/shipments/{_incoming(w)}"),
    Case("POST", f"{API}/shipments/<int:shipment_id>/receive", CUSTODIANS,
         lambda w: f"{API}/shipments/{_incoming(w)}/receive",
         lambda w: {"packs": (_incoming(w), w.extra["incoming"][1])[1].packs()}),
    Case("POST", f"{API}/shipments/<int:shipment_id>/missing", CUSTODIANS,
         lambda w: f"{API}/shipments/{_missing(w)[0]}/missing",
         lambda w: {"packs": _missing(w)[1].packs(_missing(w)[1].serials[1]), "resolution": "FOUND"}),
    Case("POST", f"{API}/decommissions", CUSTODIANS | {"inspector"}, lambda w: f"{API}/decommissions",
         lambda w: {"location_id": _lot(w).location_id, "packs": _lot(w).packs(), "reason": "SAMPLE"}),
    Case("POST", f"{API}/undos", CUSTODIANS | {"inspector"}, lambda w: f"{API}/undos", _sampled),
    Case("POST", f"{API}/recalls", REGULATOR, lambda w: f"{API}/recalls",
         lambda w: {"gtin": _lot(w).gtin, "batch": _lot(w).batch, "reason": "sterility failure"}, 201),
    Case("GET", f"{API}/recalls", READERS, lambda w: f"{API}/recalls"),
    Case("POST", f"{API}/withdrawals", REGULATOR, lambda w: f"{API}/withdrawals",
         lambda w: {"product_id": _lot(w).product_id, "reason": "withdrawn by the holder"}, 201),
]
