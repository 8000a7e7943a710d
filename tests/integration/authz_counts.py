"""Authorization cases for the stock count API; test_authorization.py walks them for every role.

Custodians (importer, pharmacists) count their own organisation's location; only the head
pharmacist (or an importer, which has none) approves or returns a count; the agency reads counts and
findings, the head pharmacist and the importer their own findings; the regulator reviews findings.
"""

from __future__ import annotations

from tests.integration.authz_stock import CUSTODIANS, READERS, _stocked
from tests.integration.stock_helpers import API
from tests.integration.test_authorization import Case, World

C = f"{API}/counts"
HEAD = frozenset({"head_pharmacist", "importer"})
FINDING_READERS = frozenset({"regulator", "inspector", "head_pharmacist", "importer"})


def _system():
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork

    def uow(w: World):
        return UnitOfWork(w.make.session, Actor.system("test"))

    return uow


def _count(w: World, submitted: bool = False) -> int:
    """An open count (or a submitted one) at the caller's location, where 5 units of S1 are on hand."""
    key = "count_submitted" if submitted else "count"
    if key not in w.extra:
        from pharma.stock import counts as svc

        uow = _system()
        location_id, gtin = _stocked(w)
        if submitted and "count" in w.extra:
            count_id = w.extra["count"]
        else:
            count_id = svc.open_count(uow(w), svc.OpenCount(location_id))["id"]
        if submitted:
            svc.record_lines(uow(w), count_id, svc.RecordLines(lines=(svc.CountedLine(gtin, "S1", 4),)))
            svc.submit_count(uow(w), count_id)
        w.extra[key] = count_id
    return w.extra[key]


def _finding(w: World) -> int:
    """A SHORTAGE finding of an approved count at the pharmacy."""
    if "finding" not in w.extra:
        from sqlalchemy import select

        from pharma.stock import counts as svc
        from pharma.stock.counts_models import StockCountFinding

        svc.approve_count(_system()(w), _count(w, submitted=True))
        w.extra["finding"] = w.make.session.scalars(select(StockCountFinding.id)).first()
    return w.extra["finding"]


CASES: list = [
    Case("POST", C, CUSTODIANS, lambda w: C, lambda w: {"location_id": _stocked(w)[0], "note": "monthly"}, 201),
    Case("GET", C, READERS, lambda w: C),
    Case("GET", f"{C}/<int:count_id>", READERS, lambda w: f"{C}/{_count(w)}"),
    Case("POST", f"{C}/<int:count_id>/lines", CUSTODIANS, lambda w: f"{C}/{_count(w)}/lines",
         lambda w: {"lines": [{"gtin": _stocked(w)[1], "batch": "S1", "counted": 5}]}),
    Case("POST", f"{C}/<int:count_id>/submit", CUSTODIANS, lambda w: f"{C}/{_count(w)}/submit",
         lambda w: {"uncounted_as_zero": True}),
    Case("POST", f"{C}/<int:count_id>/approve", HEAD, lambda w: f"{C}/{_count(w, submitted=True)}/approve"),
    Case("POST", f"{C}/<int:count_id>/return", HEAD, lambda w: f"{C}/{_count(w, submitted=True)}/return",
         lambda w: {"note": "recount the shelf"}),
    Case("POST", f"{C}/<int:count_id>/cancel", CUSTODIANS, lambda w: f"{C}/{_count(w)}/cancel",
         lambda w: {"note": "opened by mistake"}),
    Case("GET", f"{API}/findings", FINDING_READERS, lambda w: f"{API}/findings?kind=SHORTAGE"),
    Case("POST", f"{API}/findings/<int:finding_id>/review", frozenset({"regulator"}),
         lambda w: f"{API}/findings/{_finding(w)}/review"),
]
