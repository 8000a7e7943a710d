"""What the sale page reads from a keyboard-wedge scanner: a GTIN from any of the ways it arrives."""

from __future__ import annotations

import pytest

from pharma.shared.errors import InvalidIdentifier
from pharma.stock.views import gtin_of_scan, issue_lines

EAN = "4006381333931"


@pytest.mark.parametrize("scan", [EAN, "0" + EAN, f" {EAN} ", "]E0" + EAN, f"(01)0{EAN}", f"010{EAN}21SERIAL1",
                                  f"]d2010{EAN}17301231"])
def test_a_gtin_is_read_from_a_plain_ean_an_aim_prefix_or_a_gs1_string(scan):
    assert gtin_of_scan(scan) == "0" + EAN


def test_a_code_with_a_wrong_check_digit_is_refused():
    with pytest.raises(InvalidIdentifier):
        gtin_of_scan("4006381333932")


def test_each_scanned_line_is_one_unit_and_a_typed_count_is_honoured():
    lines = issue_lines(f"{EAN}\n\n]E0{EAN}\n96385074 * 3\n")
    assert {(line.gtin, line.quantity) for line in lines} == {("0" + EAN, 2), ("00000096385074", 3)}
