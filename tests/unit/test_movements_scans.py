"""What the movement and history pages read from a line: SSCCs, GS1 codes through the verification
parser, bracketed element strings typed by hand, and "GTIN serial" pairs."""

from __future__ import annotations

import pytest

from pharma.shared.errors import InvalidIdentifier
from pharma.trace.scans import ScannedCase, ScannedPack, parse_scan, parse_scan_lines

SSCC = "047700000000010005"[:17]
GTIN = "04030096123457"


def _sscc() -> str:
    from pharma.shared.identifiers import gs1_check_digit

    return SSCC + str(gs1_check_digit(SSCC))


@pytest.mark.parametrize("line", [_sscc(), "00" + _sscc(), "(00)" + _sscc(), f"  {_sscc()}  ", "]C1" + "00" + _sscc()])
def test_an_sscc_is_read_plain_with_its_ai_or_bracketed(line):
    assert parse_scan(line) == ScannedCase(_sscc())


@pytest.mark.parametrize("line", [
    f"01{GTIN}21ABC-1",
    f"(01){GTIN}(21)ABC-1",
    f"01{GTIN}17280131" + "10LOT7\x1d21ABC-1",
    f"]d201{GTIN}21ABC-1\x1d10LOT7",
    f"(01){GTIN}(17)280131(10)LOT7(21)ABC-1",
    f"{GTIN} ABC-1",
    "4030096123457 ABC-1",
    f"]d201{GTIN}10LOT7~21ABC-1",  # a scanner configured to send ~ for GS
    f"]d201{GTIN}10LOT7{{GS}}21ABC-1",
])
def test_a_pack_is_read_from_an_element_string_or_a_gtin_serial_pair(line):
    assert parse_scan(line) == ScannedPack(GTIN, "ABC-1")


@pytest.mark.parametrize("line, message", [
    ("", "The line is empty"),
    (f"01{GTIN}", "The code has a GTIN but no serial number (21)"),
    ("01123", "GTIN (01) needs 14 digits, but only 3 follow."),
    ("99ABC", "The code carries neither a GTIN (01) nor an SSCC (00)."),
    ("(01)123(21", "The bracketed element string is malformed"),
    ("4030096123458 X", "GTIN check digit is 8, expected 7"),
    ("047700000000010001", "SSCC check digit is 1, expected " + _sscc()[-1]),
])
def test_unreadable_lines_say_why(line, message):
    with pytest.raises(InvalidIdentifier) as err:
        parse_scan(line)
    assert err.value.message == message


def test_lines_are_parsed_one_by_one_and_bad_ones_named_by_number():
    items, errors = parse_scan_lines(f"{_sscc()}\n\n{GTIN} S1\nnonsense\n")
    assert items == [ScannedCase(_sscc()), ScannedPack(GTIN, "S1")]
    assert list(errors) == ["line 4"]
    assert errors["line 4"][0].startswith("nonsense: ")
