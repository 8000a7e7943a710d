"""The supply rules without a database: levels, the reorder rule, a request's states, what a
shipment against a request may carry."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pharma.stock.supply import (
    CANCELLABLE,
    LEAD_DAYS,
    SHIPPABLE,
    Level,
    LevelsOutOfOrder,
    MoreThanRequested,
    ProductNotRequested,
    RequestNotInState,
    RequestStatus,
    check_shipment,
    check_state,
    daily_consumption,
    propose,
    status_after_shipping,
    suggest_levels,
)


def test_a_minimum_above_the_maximum_is_refused_with_its_code():
    with pytest.raises(LevelsOutOfOrder) as exc:
        Level(5, 4)
    assert exc.value.code == "LEVELS_OUT_OF_ORDER"
    assert exc.value.detail == "The minimum (5) is above the maximum (4)."


def test_negative_levels_are_refused_and_equal_levels_are_fine():
    with pytest.raises(LevelsOutOfOrder):
        Level(-1, 3)
    assert Level(0, 0) == Level(0, 0)
    assert Level(3, 3).maximum == 3


def test_nothing_is_proposed_while_the_projected_stock_stays_above_the_minimum():
    # 20 on hand, 1 a day: in 7 days 13 left, above the minimum of 10
    p = propose(Level(10, 30), on_hand=20, in_transit=0, requested=0, daily=Fraction(1))
    assert (p.position, p.projected, p.quantity) == (20, 13, 0)


def test_the_proposal_orders_up_to_the_maximum_when_the_projection_reaches_the_minimum():
    # 17 on hand, 1 a day: 10 left when a delivery arrives, which is the minimum: order 30 - 17
    p = propose(Level(10, 30), on_hand=17, in_transit=0, requested=0, daily=Fraction(1))
    assert (p.projected, p.quantity) == (10, 13)


def test_stock_in_transit_and_already_requested_count_towards_the_position():
    p = propose(Level(10, 30), on_hand=5, in_transit=8, requested=6, daily=Fraction(0))
    assert (p.position, p.quantity) == (19, 0)
    p = propose(Level(10, 30), on_hand=2, in_transit=4, requested=4, daily=Fraction(0))
    assert (p.position, p.quantity) == (10, 20)


def test_a_position_above_the_maximum_never_proposes_a_negative_quantity():
    p = propose(Level(50, 60), on_hand=70, in_transit=0, requested=0, daily=Fraction(10))
    assert p.projected == 0 and p.quantity == 0


def test_levels_suggested_from_consumption_round_up_to_whole_packs():
    daily = daily_consumption(10, 30)  # a third of a pack a day
    assert daily == Fraction(1, 3)
    level = suggest_levels(daily)
    assert (level.minimum, level.maximum) == (3, 7)  # ceil(7/3), ceil(21/3)
    p = propose(None, on_hand=1, in_transit=0, requested=0, daily=daily)
    assert p.suggested and p.level == level and p.quantity == 6


def test_a_product_without_level_or_consumption_proposes_nothing_to_order_beyond_zero():
    p = propose(None, on_hand=0, in_transit=0, requested=0, daily=Fraction(0))
    assert (p.level, p.quantity) == (Level(0, 0), 0)


def test_consumption_is_exact_until_a_quantity_is_proposed():
    daily = daily_consumption(7, 30)
    p = propose(Level(1, 2), on_hand=2, in_transit=0, requested=0, daily=daily)
    assert p.projected == 2 - Fraction(7, 30) * LEAD_DAYS  # 0.366..., at or below the minimum of 1
    assert p.quantity == 0  # already at the maximum
    assert daily_consumption(-4, 30) == 0


def test_a_request_cannot_be_acted_on_from_the_wrong_state():
    check_state("SENT", CANCELLABLE, "cancelled", "SR-1")
    with pytest.raises(RequestNotInState) as exc:
        check_state("ACKNOWLEDGED", CANCELLABLE, "cancelled", "SR-2026-000001")
    assert exc.value.code == "SUPPLY_REQUEST_STATE"
    assert exc.value.detail == "Request SR-2026-000001 is ACKNOWLEDGED: it cannot be cancelled."
    assert RequestStatus.DRAFT not in SHIPPABLE and RequestStatus.FULFILLED not in SHIPPABLE


def test_a_request_is_fulfilled_only_when_every_line_is_shipped_in_full():
    assert status_after_shipping([(10, 10), (3, 3)]) == RequestStatus.FULFILLED
    assert status_after_shipping([(10, 10), (3, 2)]) == RequestStatus.PARTIALLY_SHIPPED
    assert status_after_shipping([(10, 0), (3, 0)]) == RequestStatus.PARTIALLY_SHIPPED


def test_a_shipment_against_a_request_carries_only_requested_products_up_to_what_is_left():
    check_shipment({"A": 3, "B": 2}, {"A": 3})
    with pytest.raises(ProductNotRequested) as stranger:
        check_shipment({"A": 3}, {"A": 1, "C": 1})
    assert stranger.value.code == "PRODUCT_NOT_REQUESTED" and stranger.value.extra["gtins"] == ["C"]
    with pytest.raises(MoreThanRequested) as over:
        check_shipment({"A": 3, "B": 0}, {"B": 1})
    assert over.value.code == "MORE_THAN_REQUESTED"
    assert over.value.extra["lines"] == [{"gtin": "B", "remaining": 0, "shipped": 1}]
