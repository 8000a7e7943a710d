"""Authorization cases for the supply API; test_authorization.py walks them for every role.

The pharmacy's pharmacists keep levels and requests of their own locations; the agency reads any;
the importer reads and fulfils only the requests sent to its own organisation (in this world, the
caller's own importer when the caller is an importer, else the world's importer).
"""

from __future__ import annotations

from tests.integration.test_authorization import Case, World

API = "/api/v1/supply"
PHARMACY = frozenset({"pharmacist", "head_pharmacist"})
READERS = PHARMACY | {"regulator", "inspector"}
REQUEST_READERS = READERS | {"importer"}
SUPPLIER = frozenset({"importer"})


def _here(w: World) -> int:
    return w.pharmacy.locations[0].id


def _gtin(w: World) -> str:
    if "supply_gtin" not in w.extra:
        from tests.integration.stock_helpers import legacy_product

        w.extra["supply_gtin"] = legacy_product(w.make)
    return w.extra["supply_gtin"]


def _supplier(w: World):
    """The organisation requests are sent to: the caller's own when the caller is an importer."""
    from pharma.parties.models import Organisation
    from tests.integration.trace_helpers import licensed

    if "supplier" not in w.extra:
        org = (w.make.session.get(Organisation, w.caller_user.organisation_id) if w.role == "importer"
               else w.importer)
        w.extra["supplier"] = licensed(w.make, org)
    return w.extra["supplier"]


def _request(w: World, status: str = "DRAFT") -> int:
    """A request of the world's pharmacy for one legacy product, DRAFT or SENT to the supplier."""
    key = f"request_{status}"
    if key not in w.extra:
        from pharma.shared.actor import Actor
        from pharma.shared.uow import UnitOfWork
        from pharma.stock import supply_services as svc

        def uow():
            return UnitOfWork(w.make.session, Actor.system("test"))

        view = svc.create_request(uow(), svc.NewRequest(_here(w), (svc.RequestLine(_gtin(w), 2),)))
        if status == "SENT":
            view = svc.send_request(uow(), view.id, _supplier(w).id)
        w.extra[key] = view.id
    return w.extra[key]


def _shippable(w: World) -> tuple[int, dict]:
    """A SENT request for two packs of a serialized product the supplier holds, and the body that
    ships them against it."""
    if "shippable" not in w.extra:
        from pharma.shared.actor import Actor
        from pharma.shared.uow import UnitOfWork
        from pharma.stock import supply_services as svc
        from tests.integration.trace_helpers import stock

        lot = stock(w.make, _supplier(w), packs=2)
        view = svc.create_request(UnitOfWork(w.make.session, Actor.system("test")),
                                  svc.NewRequest(_here(w), (svc.RequestLine(lot.gtin, 2),)))
        svc.send_request(UnitOfWork(w.make.session, Actor.system("test")), view.id, _supplier(w).id)
        w.extra["shippable"] = (view.id, {"from_location_id": lot.location_id, "packs": lot.packs()})
    return w.extra["shippable"]


def _partly_shipped(w: World) -> int:
    """A SENT request for two packs of which the supplier has shipped one."""
    if "partly_shipped" not in w.extra:
        from pharma.shared.actor import Actor
        from pharma.shared.uow import UnitOfWork
        from pharma.stock import supply_services as svc
        from pharma.trace.movements import PackRef
        from tests.integration.trace_helpers import stock

        def uow():
            return UnitOfWork(w.make.session, Actor.system("test"))

        lot = stock(w.make, _supplier(w), packs=2)
        view = svc.create_request(uow(), svc.NewRequest(_here(w), (svc.RequestLine(lot.gtin, 2),)))
        svc.send_request(uow(), view.id, _supplier(w).id)
        svc.ship_against(uow(), view.id, svc.ShipAgainst(lot.location_id,
                                                         packs=(PackRef(lot.gtin, lot.serials[0]),)))
        w.extra["partly_shipped"] = view.id
    return w.extra["partly_shipped"]


CASES: list = [
    Case("GET", f"{API}/levels", READERS, lambda w: f"{API}/levels?location_id={_here(w)}"),
    Case("PUT", f"{API}/levels", PHARMACY, lambda w: f"{API}/levels",
         lambda w: {"location_id": _here(w), "levels": [{"gtin": _gtin(w), "min_quantity": 1, "max_quantity": 4}]}),
    Case("GET", f"{API}/proposal", READERS, lambda w: f"{API}/proposal?location_id={_here(w)}"),
    Case("GET", f"{API}/suppliers", PHARMACY, lambda w: f"{API}/suppliers"),
    Case("GET", f"{API}/requests", REQUEST_READERS, lambda w: f"{API}/requests"),
    Case("POST", f"{API}/requests", PHARMACY, lambda w: f"{API}/requests",
         lambda w: {"location_id": _here(w), "lines": [{"gtin": _gtin(w), "quantity": 3}]}, 201),
    Case("GET", f"{API}/requests/<int:request_id>", REQUEST_READERS,
         lambda w: f"{API}/requests/{_request(w, 'SENT')}"),
    Case("PUT", f"{API}/requests/<int:request_id>/lines", PHARMACY,
         lambda w: f"{API}/requests/{_request(w)}/lines", lambda w: {"lines": [{"gtin": _gtin(w), "quantity": 5}]}),
    Case("POST", f"{API}/requests/<int:request_id>/send", PHARMACY,
         lambda w: f"{API}/requests/{_request(w)}/send", lambda w: {"supplier_id": _supplier(w).id}),
    Case("POST", f"{API}/requests/<int:request_id>/cancel", PHARMACY,
         lambda w: f"{API}/requests/{_request(w, 'SENT')}/cancel", lambda w: {"reason": "not needed"}),
    Case("POST", f"{API}/requests/<int:request_id>/close", PHARMACY | SUPPLIER,
         lambda w: f"{API}/requests/{_partly_shipped(w)}/close", lambda w: {"reason": "the rest is not coming"}),
    Case("POST", f"{API}/requests/<int:request_id>/acknowledge", SUPPLIER,
         lambda w: f"{API}/requests/{_request(w, 'SENT')}/acknowledge"),
    Case("POST", f"{API}/requests/<int:request_id>/reject", SUPPLIER,
         lambda w: f"{API}/requests/{_request(w, 'SENT')}/reject", lambda w: {"reason": "no stock"}),
    Case("POST", f"{API}/requests/<int:request_id>/shipments", SUPPLIER,
         lambda w: f"{API}/requests/{_shippable(w)[0]}/shipments", lambda w: _shippable(w)[1], 201),
]
