"""FIFO cost layers: laying a balance, taking oldest first, reconciling with the balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pharma.stock.domain import value_out
from pharma.stock.valuation import Layer, layers_for, reconcile, take_fifo

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _sums(layers: list[Layer]) -> tuple[int, int]:
    return sum(layer.quantity for layer in layers), sum(layer.value for layer in layers)


def test_an_outgoing_movement_takes_the_oldest_layers_first():
    layers = [Layer(T0, 5, 100), Layer(T0 + timedelta(days=1), 5, 150)]
    assert take_fifo(layers, 7) == 5 * 100 + 2 * 150
    assert [layer.quantity for layer in layers] == [0, 3]
    assert take_fifo(layers, 3) == 450
    assert _sums(layers) == (0, 0)


def test_fifo_differs_from_the_weighted_average():
    layers = [Layer(T0, 1, 100), Layer(T0, 1, 300)]
    assert take_fifo(layers, 1) == 100
    assert value_out(2, 400, 1) == 200


def test_taking_more_than_the_layers_hold_takes_what_is_there():
    layers = [Layer(T0, 2, 10)]
    assert take_fifo(layers, 5) == 20


@pytest.mark.parametrize(("quantity", "value"), [(3, 10), (7, 700), (1, 0), (4, 3), (10, 9999)])
def test_a_balance_is_laid_as_at_most_two_layers_worth_exactly_its_value(quantity, value):
    layers = layers_for(quantity, value, T0)
    assert 1 <= len(layers) <= 2
    assert _sums(layers) == (quantity, value)
    assert all(layer.quantity > 0 for layer in layers)


def test_an_empty_balance_has_no_layers():
    assert layers_for(0, 0, T0) == []


def test_layers_that_add_up_are_kept():
    layers = [Layer(T0, 2, 50, id=1)]
    assert reconcile(layers, 2, 100, T0) is layers


def test_units_missing_from_the_layers_become_the_oldest_layer():
    layers = [Layer(T0, 2, 50, id=1)]
    fixed = reconcile(layers, 5, 400, T0 + timedelta(days=3))
    assert _sums(fixed) == (5, 400)
    assert fixed[-1] is layers[0]
    assert all(layer.received_at < T0 for layer in fixed[:-1])


def test_layers_holding_more_than_the_balance_are_replaced():
    layers = [Layer(T0, 9, 50, id=1)]
    fixed = reconcile(layers, 2, 120, T0)
    assert _sums(fixed) == (2, 120)
    assert [(layer.id, layer.quantity) for layer in fixed if layer.id is not None] == [(1, 0)]
