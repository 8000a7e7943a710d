"""Authorization cases for the expiry list and the stock reports; test_authorization.py walks them
for every role. Reading is ``stock.read`` (custodians their own location, the agency any);
acknowledging an expiry notice is ``stock.expiry.manage`` (custodians, their own location)."""

from __future__ import annotations

from tests.integration.authz_stock import CUSTODIANS, READERS, _location
from tests.integration.stock_helpers import API, legacy_product, receipt_line
from tests.integration.test_authorization import Case, World


def _expiring(w: World) -> tuple[int, str]:
    """A location with 3 units of batch E1 expiring in 10 days (received by the system)."""
    if "expiring" not in w.extra:
        from pharma.shared.actor import Actor
        from pharma.shared.uow import UnitOfWork
        from pharma.stock import services as svc
        from pharma.stock.schemas import ReceiptLineIn

        gtin = legacy_product(w.make)
        location_id = _location(w)
        line = ReceiptLineIn().load(receipt_line(gtin, "E1", 3, days=10))
        svc.receive_stock(UnitOfWork(w.make.session, Actor.system("test")),
                          svc.ReceiveStock(location_id, "INV-E", (line,)))
        w.extra["expiring"] = (location_id, gtin)
    return w.extra["expiring"]


def _q(w: World) -> str:
    return f"location_id={_expiring(w)[0]}"


CASES: list = [
    Case("GET", f"{API}/expiry", READERS, lambda w: f"{API}/expiry?{_q(w)}"),
    Case("POST", f"{API}/expiry/acknowledge", CUSTODIANS, lambda w: f"{API}/expiry/acknowledge",
         lambda w: {"location_id": _expiring(w)[0], "gtin": _expiring(w)[1], "batch": "E1"}),
    Case("GET", f"{API}/reports/on-hand", READERS, lambda w: f"{API}/reports/on-hand?{_q(w)}&format=csv"),
    Case("GET", f"{API}/reports/card", READERS,
         lambda w: f"{API}/reports/card?{_q(w)}&gtin={_expiring(w)[1]}&format=xlsx"),
    Case("GET", f"{API}/reports/movements", READERS, lambda w: f"{API}/reports/movements?{_q(w)}"),
    Case("GET", f"{API}/reports/expiry", READERS, lambda w: f"{API}/reports/expiry?{_q(w)}&format=csv"),
    Case("GET", f"{API}/reports/consumption", READERS, lambda w: f"{API}/reports/consumption?{_q(w)}"),
]
