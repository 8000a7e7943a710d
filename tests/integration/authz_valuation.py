"""Authorization cases for valuation, purchase and retail prices and the stock value report;
test_authorization.py walks them for every role.

Custodians read their own organisation's; the head pharmacist and the importer set prices and the
valuation method of their own; the agency reads every location's value and sets nothing. A
shipment's prices are set by its sender (an importer) and read by both ends and the agency.
"""

from __future__ import annotations

from tests.integration.authz_stock import READERS, _stocked
from tests.integration.stock_helpers import API, legacy_product
from tests.integration.test_authorization import Case, World

MANAGERS = frozenset({"head_pharmacist", "importer"})
IMPORTER_READERS = frozenset({"importer", "regulator", "inspector"})


def _sender(w: World):
    """The importer whose stock is shipped: the caller's own organisation when it is an importer."""
    from pharma.parties.models import Organisation
    from tests.integration.trace_helpers import licensed

    org = (w.make.session.get(Organisation, w.caller_user.organisation_id) if w.role == "importer"
           else w.importer)
    return licensed(w.make, org)


def _shipment(w: World) -> tuple[int, str]:
    """A shipment in transit from the importer to the pharmacy; (its id, the GTIN it carries)."""
    if "shipment" not in w.extra:
        from pharma.trace import movements as trace_svc
        from tests.integration.trace_helpers import stock, system_uow

        lot = stock(w.make, _sender(w), packs=2)
        shipment = trace_svc.ship(system_uow(w.make), trace_svc.ShipPacks(
            lot.location_id, w.pharmacy.locations[0].id, packs=tuple(trace_svc.PackRef(lot.gtin, s)
                                                                     for s in lot.serials)))
        w.extra["shipment"] = (shipment.id, lot.gtin)
    return w.extra["shipment"]


def _declaration(w: World) -> tuple[int, str]:
    """A declaration of the importer not processed yet; (its id, a registered GTIN)."""
    if "declaration" not in w.extra:
        from pharma.trace.models import Declaration
        from tests.integration.trace_helpers import stock

        lot = stock(w.make, _sender(w), packs=1)
        declaration = w.make.session.get(Declaration, lot.declaration_id)
        declaration.status = "RECEIVED"
        w.make.session.commit()
        w.extra["declaration"] = (lot.declaration_id, lot.gtin)
    return w.extra["declaration"]


CASES: list = [
    Case("GET", f"{API}/valuation", READERS, lambda w: f"{API}/valuation"),
    Case("PUT", f"{API}/valuation", MANAGERS, lambda w: f"{API}/valuation", lambda w: {"method": "FIFO"}),
    Case("GET", f"{API}/valuation/layers", READERS, lambda w: f"{API}/valuation/layers?location_id={_stocked(w)[0]}"),
    Case("GET", f"{API}/shipment-prices/<int:shipment_id>", READERS,
         lambda w: f"{API}/shipment-prices/{_shipment(w)[0]}"),
    Case("PUT", f"{API}/shipment-prices/<int:shipment_id>", frozenset({"importer"}),
         lambda w: f"{API}/shipment-prices/{_shipment(w)[0]}",
         lambda w: {"lines": [{"gtin": _shipment(w)[1], "unit_price": 1200}]}),
    Case("GET", f"{API}/declaration-costs/<int:declaration_id>", IMPORTER_READERS,
         lambda w: f"{API}/declaration-costs/{_declaration(w)[0]}"),
    Case("PUT", f"{API}/declaration-costs/<int:declaration_id>", frozenset({"importer"}),
         lambda w: f"{API}/declaration-costs/{_declaration(w)[0]}",
         lambda w: {"lines": [{"gtin": _declaration(w)[1], "unit_cost": 700}]}),
    Case("GET", f"{API}/prices", READERS, lambda w: f"{API}/prices"),
    Case("POST", f"{API}/prices", MANAGERS, lambda w: f"{API}/prices",
         lambda w: {"gtin": legacy_product(w.make), "price": 990}, 201),
    Case("GET", f"{API}/value", READERS, lambda w: f"{API}/value?location_id={_stocked(w)[0]}"),
    Case("GET", f"{API}/value/locations", READERS, lambda w: f"{API}/value/locations"),
]
