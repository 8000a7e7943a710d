"""Authorization cases for write-off acts and returns; test_authorization.py walks them for every role.

Acts: custodians draft at their own location, the head pharmacist (an importer at its own
locations) confirms; everyone with stock.read reads. Returns: the pharmacy's pharmacists draft and
send, the importer the return goes to confirms or rejects; the pharmacy, that importer and the
agency read it.
"""

from __future__ import annotations

from tests.integration.authz_stock import CUSTODIANS, READERS, _location, _stocked
from tests.integration.stock_helpers import API, legacy_product, receipt_line
from tests.integration.test_authorization import Case, World

ACTS = f"{API}/write-off-acts"
RETURNS = f"{API}/returns"
PHARMACY_STAFF = frozenset({"pharmacist", "head_pharmacist"})
SUPPLIER = frozenset({"importer"})


def _system(w: World):
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork

    return UnitOfWork(w.make.session, Actor.system("test"))


def _act(w: World, with_line: bool = True) -> dict:
    """A draft act at the caller's own location (the pharmacy's for the agency) with one batch line."""
    key = f"act-{with_line}"
    if key not in w.extra:
        from pharma.stock import acts
        from pharma.stock.documents import AddLines, BatchLine

        location_id, gtin = _stocked(w)
        act = acts.create_act(_system(w), acts.NewAct(location_id, "DAMAGED"))
        if with_line:
            act = acts.add_act_lines(_system(w), act.id, AddLines(batches=(BatchLine(gtin, "S1", 1),)))
        w.extra[key] = {"id": act.id, "line_id": act.lines[0].id if act.lines else 0}
    return w.extra[key]


def _supplier_location(w: World) -> int:
    """The importer the return goes to: the caller's own organisation for an importer, else another."""
    from pharma.parties.models import Organisation
    from tests.integration.trace_helpers import licensed

    org_id = w.caller_user.organisation_id if w.role == "importer" else w.importer.id
    org = licensed(w.make, w.make.session.get(Organisation, org_id))
    return org.locations[0].id


def _return(w: World, send: bool = False) -> dict:
    """A return from the pharmacy with one batch line, addressed to ``_supplier_location``."""
    key = f"return-{send}"
    if key not in w.extra:
        from pharma.stock import returns
        from pharma.stock import services as svc
        from pharma.stock.documents import AddLines, BatchLine
        from pharma.stock.schemas import ReceiptLineIn

        here = w.pharmacy.locations[0].id
        gtin = legacy_product(w.make)
        line = ReceiptLineIn().load(receipt_line(gtin, "R9", 3))
        svc.receive_stock(_system(w), svc.ReceiveStock(here, "INV-R", (line,)))
        ret = returns.create_return(_system(w), returns.NewReturn(here, "SURPLUS", "", _supplier_location(w)))
        ret = returns.add_return_lines(_system(w), ret.id, AddLines(batches=(BatchLine(gtin, "R9", 1),)))
        w.extra[key] = {"id": ret.id, "line_id": ret.lines[0].id}
        if send:
            returns.send_return(_system(w), ret.id)
    return w.extra[key]


def _line_body(w: World) -> dict:
    return {"batches": [{"gtin": _stocked(w)[1], "batch": "S1", "quantity": 1}]}


CASES: list = [
    Case("POST", ACTS, CUSTODIANS, lambda w: ACTS, lambda w: {"location_id": _location(w), "reason": "EXPIRED"}, 201),
    Case("GET", ACTS, READERS, lambda w: ACTS),
    Case("GET", f"{ACTS}/<int:act_id>", READERS, lambda w: f"{ACTS}/{_act(w)['id']}"),
    Case("POST", f"{ACTS}/<int:act_id>/lines", CUSTODIANS, lambda w: f"{ACTS}/{_act(w, False)['id']}/lines",
         _line_body),
    Case("DELETE", f"{ACTS}/<int:act_id>/lines/<int:line_id>", CUSTODIANS,
         lambda w: f"{ACTS}/{_act(w)['id']}/lines/{_act(w)['line_id']}"),
    Case("POST", f"{ACTS}/<int:act_id>/confirm", frozenset({"head_pharmacist", "importer"}),
         lambda w: f"{ACTS}/{_act(w)['id']}/confirm"),
    Case("POST", f"{ACTS}/<int:act_id>/cancel", CUSTODIANS, lambda w: f"{ACTS}/{_act(w)['id']}/cancel"),
    Case("POST", RETURNS, PHARMACY_STAFF, lambda w: RETURNS,
         lambda w: {"location_id": w.pharmacy.locations[0].id, "reason": "DAMAGED"}, 201),
    Case("GET", RETURNS, READERS, lambda w: RETURNS),
    Case("GET", f"{RETURNS}/<int:return_id>", READERS, lambda w: f"{RETURNS}/{_return(w)['id']}"),
    Case("POST", f"{RETURNS}/<int:return_id>/lines", PHARMACY_STAFF, lambda w: f"{RETURNS}/{_return(w)['id']}/lines",
         lambda w: {"batches": [{"gtin": _return_gtin(w), "batch": "R9", "quantity": 1}]}),
    Case("DELETE", f"{RETURNS}/<int:return_id>/lines/<int:line_id>", PHARMACY_STAFF,
         lambda w: f"{RETURNS}/{_return(w)['id']}/lines/{_return(w)['line_id']}"),
    Case("POST", f"{RETURNS}/<int:return_id>/send", PHARMACY_STAFF, lambda w: f"{RETURNS}/{_return(w)['id']}/send"),
    Case("POST", f"{RETURNS}/<int:return_id>/cancel", PHARMACY_STAFF,
         lambda w: f"{RETURNS}/{_return(w)['id']}/cancel"),
    Case("POST", f"{RETURNS}/<int:return_id>/confirm", SUPPLIER,
         lambda w: f"{RETURNS}/{_return(w, send=True)['id']}/confirm"),
    Case("POST", f"{RETURNS}/<int:return_id>/reject", SUPPLIER,
         lambda w: f"{RETURNS}/{_return(w, send=True)['id']}/reject", lambda w: {"reason": "not ours"}),
]


def _return_gtin(w: World) -> str:
    from pharma.stock.documents_models import StockReturn

    _return(w)
    ret = w.make.session.get(StockReturn, _return(w)["id"])
    return ret.lines[0].gtin
