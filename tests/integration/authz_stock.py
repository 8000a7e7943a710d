"""Authorization cases for the stock API; test_authorization.py walks them for every role.

Custodians (importer, pharmacists) act on their own organisation's location; the agency's
regulator and inspector read any location's stock and write none.
"""

from __future__ import annotations

from tests.integration.stock_helpers import API, legacy_product, receipt_line
from tests.integration.test_authorization import Case, World

CUSTODIANS = frozenset({"importer", "pharmacist", "head_pharmacist"})
READERS = CUSTODIANS | {"regulator", "inspector"}


def _location(w: World) -> int:
    """The caller's own location for custodians (the importer's own organisation), else the pharmacy's."""
    if w.role == "importer":
        from pharma.parties.models import Organisation

        return w.make.session.get(Organisation, w.caller_user.organisation_id).locations[0].id
    return w.pharmacy.locations[0].id


def _stocked(w: World) -> tuple[int, str]:
    """A location with 5 units of batch S1 of a legacy product on hand (received by the system)."""
    if "stocked" not in w.extra:
        from pharma.shared.actor import Actor
        from pharma.shared.uow import UnitOfWork
        from pharma.stock import services as svc
        from pharma.stock.schemas import ReceiptLineIn

        gtin = legacy_product(w.make)
        location_id = _location(w)
        line = ReceiptLineIn().load(receipt_line(gtin, "S1", 5))
        svc.receive_stock(UnitOfWork(w.make.session, Actor.system("test")),
                          svc.ReceiveStock(location_id, "INV-A", (line,)))
        w.extra["stocked"] = (location_id, gtin)
    return w.extra["stocked"]


def _branch(w: World) -> int:
    """A second location of the stocked location's organisation, to transfer to."""
    if "branch" not in w.extra:
        from pharma.parties.models import Location
        from tests.factories import _seq, gln

        s = w.make.session
        org_id = s.get(Location, _stocked(w)[0]).organisation_id
        branch = Location(organisation_id=org_id, gln=gln(next(_seq) * 10 + 7), name="Branch", region="Baku",
                          city="Bakı", address="Branch street")
        s.add(branch)
        s.commit()
        w.extra["branch"] = branch.id
    return w.extra["branch"]


CASES: list = [
    Case("POST", f"{API}/receipts", CUSTODIANS, lambda w: f"{API}/receipts",
         lambda w: {"location_id": _location(w), "document": "INV-1",
                    "lines": [receipt_line(legacy_product(w.make), "R1", 2)]}, 201),
    Case("POST", f"{API}/issues", CUSTODIANS, lambda w: f"{API}/issues",
         lambda w: {"location_id": _stocked(w)[0], "kind": "SALE", "document": "FD-1",
                    "lines": [{"gtin": _stocked(w)[1], "quantity": 1}]}, 201),
    Case("POST", f"{API}/write-offs", CUSTODIANS, lambda w: f"{API}/write-offs",
         lambda w: {"location_id": _stocked(w)[0], "reason": "DAMAGED", "document": "ACT-1",
                    "lines": [{"gtin": _stocked(w)[1], "batch": "S1", "quantity": 1}]}, 201),
    Case("POST", f"{API}/transfers", CUSTODIANS, lambda w: f"{API}/transfers",
         lambda w: {"from_location_id": _stocked(w)[0], "to_location_id": _branch(w), "document": "TN-1",
                    "lines": [{"gtin": _stocked(w)[1], "batch": "S1", "quantity": 1}]}, 201),
    Case("GET", f"{API}/balances", READERS, lambda w: f"{API}/balances?location_id={_stocked(w)[0]}"),
    Case("GET", f"{API}/movements", READERS, lambda w: f"{API}/movements?location_id={_stocked(w)[0]}"),
    Case("GET", f"{API}/card", READERS,
         lambda w: f"{API}/card?location_id={_stocked(w)[0]}&gtin={_stocked(w)[1]}&batch=S1"),
]
