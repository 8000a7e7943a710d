"""GS1 identifiers: exact acceptance and exact messages."""

from __future__ import annotations

from datetime import date

import pytest

from pharma.shared.errors import InvalidIdentifier
from pharma.shared.identifiers import Batch, Expiry, Gln, Gtin, Serial, Sscc, gs1_check_digit


@pytest.mark.parametrize(("raw", "stored"), [
    ("4006381333931", "04006381333931"),   # GTIN-13
    ("04006381333931", "04006381333931"),  # GTIN-14
    ("96385074", "00000096385074"),        # GTIN-8
    ("036000291452", "00036000291452"),    # GTIN-12 (UPC-A)
])
def test_every_gtin_length_is_stored_as_gtin_14(raw, stored):
    assert Gtin.parse(raw).value == stored


@pytest.mark.parametrize(("raw", "message"), [
    ("4006381333932", "GTIN check digit is 2, expected 1"),
    ("400638133393", "GTIN check digit is 3, expected 0"),
    ("40063813339", "GTIN must have 8 or 12 or 13 or 14 digits, not 11"),
    ("40063813339A", "GTIN must contain digits only"),
    ("", "GTIN must contain digits only"),
])
def test_a_bad_gtin_is_refused_with_its_reason(raw, message):
    with pytest.raises(InvalidIdentifier) as err:
        Gtin.parse(raw)
    assert err.value.message == message
    assert err.value.code == "INVALID_IDENTIFIER"
    assert err.value.errors == {"gtin": [message]}


def test_check_digits_follow_gs1_mod_10():
    assert gs1_check_digit("400638133393") == 1
    assert gs1_check_digit("10614141123456789") == 7  # the SSCC of GS1 General Specifications examples
    assert Sscc.parse("106141411234567897").value == "106141411234567897"
    assert Gln.parse("4760000000016").value == "4760000000016"
    with pytest.raises(InvalidIdentifier, match="GLN check digit is 1, expected 6"):
        Gln.parse("4760000000011")


@pytest.mark.parametrize("raw", ["A", "ABC-123/xy", "!\"%&'()*+,-./:;<=>?_", "a" * 20])
def test_serials_in_character_set_82_are_kept_as_written(raw):
    assert Serial.parse(raw).value == raw
    assert Batch.parse(raw).value == raw


@pytest.mark.parametrize(("raw", "message"), [
    ("", "Serial must have 1 to 20 characters"),
    ("a" * 21, "Serial must have 1 to 20 characters, not 21"),
    ("AB C", "Serial has characters outside GS1 set 82: ' '"),
    ("ƏŞ#", "Serial has characters outside GS1 set 82: '#', 'Ş', 'Ə'"),
])
def test_a_serial_outside_the_gs1_rules_is_refused(raw, message):
    with pytest.raises(InvalidIdentifier) as err:
        Serial.parse(raw)
    assert err.value.message == message


def test_expiry_day_00_means_the_last_day_of_the_month():
    assert Expiry.parse("280200", today=date(2026, 1, 1)).date == date(2028, 2, 29)
    assert Expiry.parse("270200", today=date(2026, 1, 1)).date == date(2027, 2, 28)


def test_two_expiries_match_by_raw_form_or_by_resolved_date():
    a = Expiry.parse("270200", today=date(2026, 1, 1))
    b = Expiry.parse("270228", today=date(2026, 1, 1))
    assert a.matches(b) and a.raw != b.raw
    assert not a.matches(Expiry.parse("270227", today=date(2026, 1, 1)))


@pytest.mark.parametrize(("raw", "message"), [
    ("2713", "Expiry must be six digits YYMMDD"),
    ("271301", "Expiry month 13 is not 01 to 12"),
    ("270231", "Expiry day 31 does not exist in 2027-02"),
])
def test_an_impossible_expiry_is_refused(raw, message):
    with pytest.raises(InvalidIdentifier) as err:
        Expiry.parse(raw, today=date(2026, 1, 1))
    assert err.value.message == message


def test_expiry_century_follows_the_gs1_sliding_window():
    assert Expiry.parse("751231", today=date(2026, 1, 1)).date.year == 2075
    assert Expiry.parse("770101", today=date(2026, 1, 1)).date.year == 1977
