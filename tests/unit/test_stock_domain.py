"""FEFO picking and weighted-average valuation, without a database."""

from __future__ import annotations

from datetime import date

from pharma.stock.domain import Lot, pick_fefo, value_out

TODAY = date(2026, 6, 1)


def test_fefo_takes_the_earliest_expiring_batch_first_and_splits_across_batches():
    lots = [Lot("LATE", date(2027, 1, 1), 10), Lot("EARLY", date(2026, 7, 1), 3), Lot("MID", date(2026, 9, 1), 5)]
    picks, short = pick_fefo(lots, 6, TODAY)
    assert [(lot.batch, n) for lot, n in picks] == [("EARLY", 3), ("MID", 3)]
    assert short == 0


def test_fefo_never_picks_an_expired_batch():
    lots = [Lot("OLD", date(2026, 5, 31), 10), Lot("GOOD", date(2026, 6, 1), 2)]
    picks, short = pick_fefo(lots, 5, TODAY)
    assert [(lot.batch, n) for lot, n in picks] == [("GOOD", 2)]
    assert short == 3


def test_fefo_breaks_an_expiry_tie_by_batch_code():
    lots = [Lot("B", date(2026, 8, 1), 1), Lot("A", date(2026, 8, 1), 1)]
    picks, _ = pick_fefo(lots, 1, TODAY)
    assert picks[0][0].batch == "A"


def test_an_issue_takes_value_at_the_weighted_average_and_the_last_unit_takes_the_rest():
    assert value_out(3, 1000, 1) == 333
    assert value_out(2, 667, 1) == 333
    assert value_out(1, 334, 1) == 334
    assert value_out(20, 3000, 5) == 750
