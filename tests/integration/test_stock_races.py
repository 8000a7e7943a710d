"""Races on PostgreSQL, with real threads and separate sessions: two tills, the last unit, one sale."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pharma.stock import services as svc
from pharma.stock.domain import InsufficientStock
from pharma.stock.models import StockMovement
from tests.integration.stock_helpers import legacy_product, on_hand, receipt_line, receive
from tests.integration.test_movements_races import _actor, _uow, race

pytestmark = pytest.mark.postgres_only


def test_two_tills_selling_the_last_unit_leave_one_winner(client, make, db_session):
    pharmacy = make.org("pharmacy")
    caller = make.caller("pharmacist", org=pharmacy)
    here = pharmacy.locations[0].id
    gtin = legacy_product(make)
    receive(client, caller, here, receipt_line(gtin, "L1", 1))
    actor = _actor(make, caller.user)

    def sell(document):
        return lambda session: svc.issue_stock(_uow(actor, session), svc.IssueStock(
            here, "SALE", document, (svc.IssueLine(gtin, 1),)))

    results = race([sell("TILL-1"), sell("TILL-2")])
    assert sorted(type(r).__name__ for r in results) == ["InsufficientStock", "Posted"]
    assert any(isinstance(r, InsufficientStock) for r in results)
    assert on_hand(db_session, here) == {}
    assert db_session.scalar(select(func.count()).select_from(StockMovement)
                             .where(StockMovement.kind == "SALE")) == 1


def test_many_tills_selling_across_batches_never_oversell(client, make, db_session):
    pharmacy = make.org("pharmacy")
    caller = make.caller("pharmacist", org=pharmacy)
    here = pharmacy.locations[0].id
    gtin = legacy_product(make)
    receive(client, caller, here, receipt_line(gtin, "A", 3, days=100), receipt_line(gtin, "B", 4, days=200))
    actor = _actor(make, caller.user)

    def sell(n):
        return lambda session: svc.issue_stock(_uow(actor, session), svc.IssueStock(
            here, "SALE", f"TILL-{n}", (svc.IssueLine(gtin, 2),)))

    results = race([sell(n) for n in range(6)])
    sold = sum(-m["quantity"] for r in results if isinstance(r, svc.Posted) for m in r.movements)
    assert sold == 6  # three sales of two; the others refused, none half-done
    assert on_hand(db_session, here) == {(gtin, "B"): 1}
