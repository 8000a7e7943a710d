"""How the register's search box reads what was typed or scanned (no database)."""

from __future__ import annotations

import pytest

from pharma.register.services import gtin_in_query


@pytest.mark.parametrize(("typed", "gtin"), [
    ("4030096123457", "04030096123457"),
    ("04030096123457", "04030096123457"),
    (" 4030096123457 ", "04030096123457"),
    ("0104030096123457", "04030096123457"),
    ("(01)04030096123457(21)ABC", "04030096123457"),
    ("]d20104030096123457211234\x1d10LOT1", "04030096123457"),
    ("96385074", "00000096385074"),
])
def test_a_gtin_typed_or_scanned_into_the_search_box_is_recognised(typed, gtin):
    assert gtin_in_query(typed) == gtin


@pytest.mark.parametrize("typed", ["4030096123450", "augmentin", "C09AA02", "123", "AZ-R-2025-009006"])
def test_text_that_is_no_valid_gtin_is_searched_as_text(typed):
    assert gtin_in_query(typed) is None
