"""Stock count rules without a database: the states a count moves through, the adjustment a
counted batch posts, and when a scanned pack is on a location's books."""

from __future__ import annotations

import pytest

from pharma.stock.counts import (
    CountClosed,
    CountNotOpen,
    CountNotSubmitted,
    PackProblem,
    adjustment,
    pack_problem,
    require_open,
    transition,
)
from pharma.stock.domain import Reason


@pytest.mark.parametrize(("state", "act", "to"), [
    ("OPEN", "submit", "SUBMITTED"), ("SUBMITTED", "approve", "APPROVED"), ("SUBMITTED", "return", "OPEN"),
    ("OPEN", "cancel", "CANCELLED"), ("SUBMITTED", "cancel", "CANCELLED")])
def test_a_count_moves_open_submitted_approved_or_back(state, act, to):
    assert transition(state, act) == to


@pytest.mark.parametrize(("state", "act", "error"), [
    ("OPEN", "approve", CountNotSubmitted), ("OPEN", "return", CountNotSubmitted),
    ("APPROVED", "approve", CountClosed), ("APPROVED", "cancel", CountClosed), ("CANCELLED", "submit", CountClosed),
    ("SUBMITTED", "submit", CountNotOpen)])
def test_an_act_the_state_does_not_allow_is_refused_with_its_code(state, act, error):
    with pytest.raises(error):
        transition(state, act)


def test_only_an_open_count_takes_lines():
    require_open("OPEN")
    with pytest.raises(CountNotOpen):
        require_open("SUBMITTED")
    with pytest.raises(CountClosed):
        require_open("APPROVED")


def test_the_adjustment_is_counted_minus_expected_as_surplus_or_shortage():
    assert adjustment(10, 12) == (2, Reason.SURPLUS)
    assert adjustment(10, 7) == (-3, Reason.SHORTAGE)
    assert adjustment(4, 4) == (0, None)


def test_a_scanned_pack_is_ours_only_when_active_here_and_not_travelling():
    assert pack_problem(1, True, "ACTIVE", 1, None) is None
    assert pack_problem(1, False, None, None, None) == PackProblem.UNKNOWN_PACK
    assert pack_problem(1, True, "ACTIVE", 2, None) == PackProblem.NOT_IN_CUSTODY
    assert pack_problem(1, True, "ACTIVE", 1, 9) == PackProblem.PACK_IN_TRANSIT
    assert pack_problem(1, True, "STOLEN", 1, None) == PackProblem.INACTIVE
