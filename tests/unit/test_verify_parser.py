"""The one scan parser: what scanners really send, read exactly, repaired only when sure, refused in words."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import biip
import pytest

from pharma.shared.identifiers import CSET82, Expiry, gs1_check_digit
from pharma.verify.keyboard import typed
from pharma.verify.parser import DEFAULT_GS_SUBSTITUTES, GS, ParsedScan, Repair, ScanRefused, parse_scan

TODAY = date(2026, 1, 15)
G13 = "4601234567893"
G = "0" + G13
SPECIALS = "\"%&'()*+,-./:;<=>?_!"


def with_check(body: str) -> str:
    return body + str(gs1_check_digit(body))


SSCC = with_check("04601234000000012")


@dataclass(frozen=True)
class Record:
    gtin: str
    serial: str
    batch: str
    expiry: str

    def key(self) -> tuple:
        return self.gtin, self.serial, self.batch, self.expiry, None


class Records:
    """KnownPacks over a set of pack records (test data; the rule is the contract's): a reading is
    known when its GTIN is registered and, for a pack, (gtin, serial) is a record with the same
    batch and expiry whenever the reading carries them; a case when its SSCC is a record."""

    def __init__(self, packs=(), gtins=(), ssccs=()) -> None:
        self.packs = {(p.gtin, p.serial): p for p in packs}
        self.gtins = set(gtins) | {p.gtin for p in packs}
        self.ssccs = set(ssccs)
        self.asked: list[list[ParsedScan]] = []

    def known(self, readings):
        self.asked.append(list(readings))
        return [r for r in readings if self._matches(r)]

    def _matches(self, r: ParsedScan) -> bool:
        if r.kind == "CASE":
            return r.sscc in self.ssccs
        if r.gtin not in self.gtins:
            return False
        if r.kind == "GTIN":
            return True
        pack = self.packs.get((r.gtin, r.serial))
        return pack is not None and r.batch in (None, pack.batch) and (
            r.expiry is None or r.expiry.matches(Expiry.parse(pack.expiry, today=TODAY)))


def parse(raw, **kwargs) -> ParsedScan:
    return parse_scan(raw, today=TODAY, **kwargs)


def refusal(raw, **kwargs) -> ScanRefused:
    with pytest.raises(ScanRefused) as err:
        parse(raw, **kwargs)
    return err.value


def element_string(record: Record, sep: str = GS, serial_first: bool = True) -> str:
    if serial_first:
        return f"01{record.gtin}21{record.serial}{sep}10{record.batch}{sep}17{record.expiry}"
    return f"01{record.gtin}17{record.expiry}10{record.batch}{sep}21{record.serial}"


def fields(scan: ParsedScan) -> tuple:
    return scan.gtin, scan.serial, scan.batch, scan.expiry and scan.expiry.raw, scan.sscc


def codes(scan: ParsedScan) -> list[str]:
    return [r.code for r in scan.repairs]


PACK = Record(G, "AbC123x", "LOT7", "270531")


# ---------------------------------------------------------------- clean scans


@pytest.mark.parametrize("prefix", ["]d2", "]Q3", "]C1", ""])
def test_a_clean_element_string_is_read_with_or_without_its_symbology_identifier(prefix):
    scan = parse(prefix + element_string(PACK))
    assert fields(scan) == PACK.key()
    assert scan.expiry == Expiry("270531", date(2027, 5, 31))
    assert scan.symbology == (prefix or None)
    assert scan.kind == "PACK"
    assert scan.repairs == ()
    assert scan.raw == prefix + element_string(PACK)


@pytest.mark.parametrize("symbology", ["]d2", "d2", "]Q3", "]C1"])
def test_the_symbology_identifier_may_come_separately(symbology):
    scan = parse(element_string(PACK), symbology=symbology)
    assert fields(scan) == PACK.key()
    assert scan.symbology == "]" + symbology.lstrip("]")


def test_bytes_from_an_image_or_a_serial_port_are_latin_1_and_may_carry_the_identifier():
    raw = ("]d2" + element_string(PACK) + "\r\n").encode("latin-1")
    scan = parse(raw)
    assert fields(scan) == PACK.key()
    assert scan.symbology == "]d2"
    assert scan.raw == raw.decode("latin-1")
    assert fields(parse(raw, symbology="]d2")) == PACK.key()


@pytest.mark.parametrize("raw", [f"  ]d2{element_string(PACK)}{GS}\r\n", f"{GS}{element_string(PACK)}{GS}",
                                 f"]d2{GS}{element_string(PACK)}", f"{G13}{GS}\n"])
def test_surrounding_whitespace_and_separators_are_not_data(raw):
    assert parse(raw).gtin == G


def test_fields_may_come_in_any_order_and_the_last_needs_no_separator():
    scan = parse("]d2" + element_string(PACK, serial_first=False))
    assert fields(scan) == PACK.key()


@pytest.mark.parametrize("serial", [SPECIALS, "A(B)C", "(21)X", "a-b/c.d", "%25", "0" * 20])
def test_serials_keep_every_character_of_set_82_exactly(serial):
    record = Record(G, serial, "B(1)", "270531")
    assert fields(parse("]d2" + element_string(record))) == record.key()


def test_day_00_of_an_expiry_is_the_last_day_of_its_month():
    scan = parse(f"]d201{G}17280200" + f"10L1{GS}21S1")
    assert scan.expiry == Expiry("280200", date(2028, 2, 29))


def test_other_application_identifiers_a_pack_may_carry_are_passed_over():
    scan = parse(f"]d201{G}11250101" + "17270531" + f"10L1{GS}21S1{GS}71012345678{GS}91EE06{GS}92abcDEF+/=")
    assert fields(scan) == (G, "S1", "L1", "270531", None)


# ---------------------------------------------------------------- plain GTINs, SSCCs, Digital Link


@pytest.mark.parametrize(("raw", "gtin"), [
    (with_check("9638507"), "000000" + with_check("9638507")),  # GTIN-8
    (with_check("03600029145"), "00" + with_check("03600029145")),  # GTIN-12
    (G13, G),  # GTIN-13
    (with_check("1" + G13[:-1]), with_check("1" + G13[:-1])),  # GTIN-14 of an outer package
    ("]E0" + G13, G),
    (f"01{G}", G),
    (f"]d201{G}17270531" + "10LOT7", G),
])
def test_a_plain_gtin_is_a_product_without_a_serial(raw, gtin):
    scan = parse(raw)
    assert scan.gtin == gtin
    assert scan.kind == "GTIN"
    assert scan.serial is None


@pytest.mark.parametrize("raw", [SSCC, "00" + SSCC, "]C100" + SSCC, f"]C100{SSCC}02{G}37" + "12"])
def test_an_sscc_plain_or_with_ai_00_is_a_case(raw):
    scan = parse(raw)
    assert scan.kind == "CASE"
    assert scan.sscc == SSCC


@pytest.mark.parametrize("uri", [
    f"https://id.gs1.org/01/{G}/21/AbC123x?17=270531&10=LOT7",
    f"https://id.gs1.org/01/{G}/10/LOT7/21/AbC123x?17=270531",
    f"http://example.com/some/prefix/01/{G13}/10/LOT7/21/AbC123x?17=270531&utm=x",
])
def test_a_gs1_digital_link_uri_on_any_host_is_read(uri):
    assert fields(parse(uri)) == PACK.key()
    assert fields(parse("]Q1" + uri)) == PACK.key()  # a plain QR code may carry a Digital Link


def test_digital_link_values_are_percent_decoded():
    scan = parse(f"https://id.gs1.org/01/{G}/21/A%2FB%25%22?17=270531&10=L%26%2B1")
    assert (scan.serial, scan.batch) == ('A/B%"', "L&+1")
    assert parse(f"https://id.gs1.org/00/{SSCC}").sscc == SSCC


# ---------------------------------------------------------------- GS substitutes


@pytest.mark.parametrize("sub", DEFAULT_GS_SUBSTITUTES)
def test_each_default_gs_substitute_separates_fields(sub):
    scan = parse("]d2" + element_string(PACK, sep=sub))
    assert fields(scan) == PACK.key()
    assert codes(scan) == ([] if sub == GS else ["GS_SUBSTITUTE"])


def test_the_substitute_is_named_in_the_repair():
    scan = parse(element_string(PACK, sep="~"))
    assert scan.repairs == (Repair("GS_SUBSTITUTE", "The scanner sent '~' in place of the group separator (GS)."),)


def test_a_configured_substitute_replaces_the_defaults():
    record = Record(G, "A<GS>B", "L-1", "270531")
    assert fields(parse(element_string(record, sep=GS), gs_substitutes=[GS])) == record.key()
    assert fields(parse(element_string(PACK, sep="|"), gs_substitutes=["|"])) == PACK.key()
    assert fields(parse(element_string(PACK, sep="<GS>"), gs_substitutes=["<GS>"])) == PACK.key()


def test_a_set_82_text_such_as_gs_in_angle_brackets_is_data_by_default():
    assert parse(f"01{G}21A<GS>B").serial == "A<GS>B"


# ---------------------------------------------------------------- refusals, word for word


HRI_REFUSED = ("The scan is the human-readable text printed beside the code, such as (01)…(21)…: it is never taken "
               "as data, because brackets in a serial or batch cannot be told from those around an AI. Scan the "
               "Data Matrix itself.")


@pytest.mark.parametrize(("raw", "kwargs", "code", "message"), [
    ("", {}, "EMPTY_SCAN", "The scan is empty."),
    (" \r\n", {}, "EMPTY_SCAN", "The scan is empty."),
    (b"", {}, "EMPTY_SCAN", "The scan is empty."),
    ("]d2", {}, "EMPTY_SCAN", "The scan is empty."),
    (f"]d101{G}21ABC", {}, "NOT_GS1_DATA",
     "The code is a plain Data Matrix (symbology identifier ]d1): its data cannot identify a pack. "
     "Scan the GS1 Data Matrix on the pack."),
    (f"01{G}21ABC", {"symbology": "]d1"}, "NOT_GS1_DATA",
     "The code is a plain Data Matrix (symbology identifier ]d1): its data cannot identify a pack. "
     "Scan the GS1 Data Matrix on the pack."),
    (f"]Q101{G}21ABC", {}, "NOT_GS1_DATA",
     "The code is a plain QR code (symbology identifier ]Q1): its data cannot identify a pack. "
     "Scan the GS1 Data Matrix on the pack."),
    (f"]X001{G}21ABC", {}, "NOT_GS1_DATA",
     "The code is not a GS1 symbol (symbology identifier ]X0): its data cannot identify a pack. "
     "Scan the GS1 Data Matrix on the pack."),
    (f"]D201{G}21ABC", {}, "CAPS_LOCK",
     "The scan starts with ]D2 instead of ]d2: Caps Lock is on at the computer the scanner types into. "
     "Turn Caps Lock off and scan again."),
    (f"]e0{G13}", {}, "CAPS_LOCK",
     "The scan starts with ]e0 instead of ]E0: Caps Lock is on at the computer the scanner types into. "
     "Turn Caps Lock off and scan again."),
    (f"]d201{G}21ABC", {"symbology": "]C1"}, "SYMBOLOGY_CONFLICT",
     "The data starts with the symbology identifier ]d2, but the scanner reported ]C1."),
    (f"(01){G}(21)A(B)C", {}, "HUMAN_READABLE",
     HRI_REFUSED),
    (f"]d2(01){G}(17)270531(10)L1(21)S1", {}, "HUMAN_READABLE",
     HRI_REFUSED),
    (f"01{G[:-1]}0" + "21ABC", {}, "CHECK_DIGIT", f"GTIN {G[:-1]}0 has check digit 0; the correct check digit is 3."),
    (G13[:-1] + "0", {}, "CHECK_DIGIT", f"GTIN {G13[:-1]}0 has check digit 0; the correct check digit is 3."),
    (SSCC[:-1] + "9", {}, "CHECK_DIGIT",
     f"SSCC {SSCC[:-1]}9 has check digit 9; the correct check digit is {SSCC[-1]}."),
    (f"https://id.gs1.org/01/{G[:-1]}4/21/X", {}, "CHECK_DIGIT",
     f"GTIN {G[:-1]}4 has check digit 4; the correct check digit is 3."),
    (f"01{G}17271331" + "21ABC", {}, "INVALID_DATE", "Expiry date (17) 271331 is not a date: there is no month 13."),
    (f"01{G}17270231" + "21ABC", {}, "INVALID_DATE", "Expiry date (17) 270231 is not a date: 2027-02 has no day 31."),
    (f"01{G}17270229" + "21ABC", {}, "INVALID_DATE", "Expiry date (17) 270229 is not a date: 2027-02 has no day 29."),
    (f"01{G}11250631" + "21ABC", {}, "INVALID_DATE",
     "Production date (11) 250631 is not a date: 2025-06 has no day 31."),
    (f"https://id.gs1.org/01/{G}/21/X?17=270431", {}, "INVALID_DATE",
     "Expiry date (17) 270431 is not a date: 2027-04 has no day 31."),
    (f"01{G}21" + "A" * 21, {}, "BAD_FIELD", "Serial number (21) has 21 characters; at most 20 are allowed."),
    (f"01{G}21S{GS}10" + "B" * 22, {}, "BAD_FIELD", "Batch (10) has 22 characters; at most 20 are allowed."),
    (f"01{G}21AB é#", {}, "BAD_FIELD",
     "Serial number (21) has characters outside the GS1 character set 82: ' ', 'é', '#'."),
    (f"01{G}21{GS}10L1", {}, "BAD_FIELD", "Serial number (21) is empty."),
    ("01046012345678A3" + "21X", {}, "BAD_FIELD", "GTIN (01) must be digits, not '046012345678A3'."),
    (f"01{G}43212", {}, "BAD_FIELD", "DANGEROUS GOODS (4321) '2' does not match the GS1 format N4+N1."),
    ("010460123", {}, "TRUNCATED", "GTIN (01) needs 14 digits, but only 7 follow."),
    (f"01046012{GS}21X", {}, "TRUNCATED", "GTIN (01) needs 14 digits, but only 6 follow."),
    (f"01{G}04ABC", {}, "UNKNOWN_AI", "No GS1 application identifier starts at character 17 of the data: '04ABC'."),
    (f"01{G}21S1{GS}10A{GS}10B", {}, "DUPLICATE_AI", "(10) appears twice with different values: 'A' and 'B'."),
    (f"10LOT1{GS}21ABC", {}, "NO_IDENTIFIER", "The code carries neither a GTIN (01) nor an SSCC (00)."),
    ("]E0460123456789X", {}, "UNPARSEABLE",
     "A linear code (symbology identifier ]E0) carries a GTIN of 8, 12, 13 or 14 digits, not '460123456789X'."),
    (f"https://id.gs1.org/01/{G}/21/" + "A" * 21, {}, "UNPARSEABLE",
     "The GS1 Digital Link URI cannot be read: Failed to match '21" + "A" * 21
     + "' with GS1 AI (21) pattern '^21([!%-?A-Z_a-z\\x22]{1,20})$'."),
    ("https://id.gs1.org/other/123", {}, "UNPARSEABLE",
     "The GS1 Digital Link URI cannot be read: Expected a primary identifier in the path, got '/other/123'."),
])
def test_what_cannot_be_read_for_sure_is_refused_with_its_code_and_exact_message(raw, kwargs, code, message):
    err = refusal(raw, **kwargs)
    assert (err.code, err.message) == (code, message)
    assert err.errors == {"scan": [message]}


def test_a_refusal_is_an_invalid_identifier_problem_with_its_own_code():
    problem = refusal(G13[:-1] + "0").to_problem()
    assert (problem["status"], problem["code"]) == (422, "CHECK_DIGIT")
    assert problem["type"] == "https://pharma.example/problems/check-digit"


# ---------------------------------------------------------------- a lost group separator


def test_a_lost_separator_is_restored_when_only_one_reading_is_valid():
    record = Record(G, "ABCDEFGHIJKLMNO", "XYZ123", "270531")  # batch + serial are too long for one batch
    scan = parse("]d2" + element_string(record, sep="", serial_first=False))
    assert fields(scan) == record.key()
    assert scan.repairs == (Repair("GS_RECOVERED", "The scanner dropped the group separator (GS) between fields; "
                                                   "the scan was split where the only valid reading puts it."),)


def test_a_lost_separator_is_restored_by_the_date_rules():
    # "17" inside the serial cannot start an expiry (881599 has no month 15); serial and expiry exceed 20 characters
    scan = parse(f"01{G}21XY17881599ABC17270531")
    assert fields(scan) == (G, "XY17881599ABC", None, "270531", None)
    assert codes(scan) == ["GS_RECOVERED"]


AMBIGUOUS = ("The scan can be read 2 ways because the group separator (GS) between fields is missing: the scanner "
             "drops it. Set the scanner to send GS (ASCII 29) or a substitute such as ~, and scan again.")


def test_a_scan_that_reads_several_ways_without_its_separator_asks_for_a_rescan():
    err = refusal(f"]d201{G}21ABC10LOT7")  # serial ABC10LOT7, or serial ABC and batch LOT7
    assert (err.code, err.message) == ("AMBIGUOUS_SEPARATOR", AMBIGUOUS)
    assert sorted((r.serial, r.batch) for r in err.readings) == [("ABC", "LOT7"), ("ABC10LOT7", None)]


def test_the_pack_records_settle_which_reading_of_a_scan_without_separators_is_meant():
    record = Record(G, "ABC", "LOT7", "270531")
    scan = parse(f"]d201{G}21ABC10LOT717270531", known=Records([record]))
    assert fields(scan) == record.key()
    assert codes(scan) == ["GS_RECOVERED"]


def test_the_as_is_reading_wins_when_it_is_itself_known():
    records = Records([Record(G, "ABC10LOT7", "B1", "270531"), Record(G, "ABC", "LOT7", "270531")])
    scan = parse(f"]d201{G}21ABC10LOT7", known=records)
    assert (scan.serial, scan.batch, scan.repairs) == ("ABC10LOT7", None, ())
    assert len(records.asked) == 1  # one question: the as-is reading


def test_a_known_pack_beats_a_registered_product_read_from_the_same_characters():
    # GS-less "10LOT21SERIAL" reads as a batch, or as a batch and a serial
    record = Record(G, "SERIAL", "LOT", "270531")
    raw = f"01{G}17270531" + "10LOT21SERIAL"
    assert refusal(raw).code == "AMBIGUOUS_SEPARATOR"
    scan = parse(raw, known=Records([record]))
    assert fields(scan) == record.key()
    assert codes(scan) == ["GS_RECOVERED"]
    assert parse(f"01{G}17270531" + "10LOT21X", known=Records(gtins=[G])).kind == "GTIN"


def test_two_known_readings_of_a_scan_without_separators_are_refused():
    # serial ABC, batch LOT7, expiry; or serial ABC10LOT7 and expiry: both are records
    records = Records([Record(G, "ABC", "LOT7", "270531"), Record(G, "ABC10LOT7", "X", "270531")])
    err = refusal(f"01{G}21ABC10LOT717270531", known=records)
    assert (err.code, err.message) == ("AMBIGUOUS_SEPARATOR", AMBIGUOUS)
    assert sorted(r.serial for r in err.readings) == ["ABC", "ABC10LOT7"]


def test_an_unknown_pack_whose_separator_is_lost_is_read_when_only_one_reading_is_valid():
    records = Records([PACK])
    scan = parse(f"01{G}17270531" + "10XYZ123" + "21ABCDEFGHIJKLMNO", known=records)
    assert (scan.serial, scan.batch, codes(scan)) == ("ABCDEFGHIJKLMNO", "XYZ123", ["GS_RECOVERED"])


def test_an_unknown_pack_whose_separator_is_lost_and_reads_two_ways_is_refused():
    err = refusal(f"]d201{G}21ABC10LOT7", known=Records([PACK]))
    assert (err.code, err.message) == ("AMBIGUOUS_SEPARATOR", AMBIGUOUS)


def test_data_that_reads_too_many_ways_is_refused_without_searching_on():
    raw = f"01{G}21" + "1021101710211017102" + "10" + "21101710211017102110" + "91" + "10211017" * 10
    for known in (None, Records([PACK])):
        err = refusal(raw, known=known)
        assert (err.code, err.message) == (
            "AMBIGUOUS_SEPARATOR",
            "The scan can be read too many ways because the group separator (GS) between fields is missing: the "
            "scanner drops it. Set the scanner to send GS (ASCII 29) or a substitute such as ~, and scan again.")


def test_a_scan_with_separators_is_trusted_as_they_place_the_fields():
    scan = parse(f"]d201{G}21ABC10LOT7{GS}17270531")
    assert (scan.serial, scan.batch) == ("ABC10LOT7", None)


def test_national_tails_after_a_lost_separator_are_split_off_with_the_records():
    record = Record(G, "5Lq4Yb8Rz0XxK", "L1", "270531")
    raw = f"01{G}21{record.serial}91EE0692" + "dGhpcyBpcyBhIHRlc3QgY3J5cHRvIHRhaWw="
    scan = parse(raw, known=Records([record]))
    assert scan.serial == record.serial
    assert codes(scan) == ["GS_RECOVERED"]


# ---------------------------------------------------------------- Caps Lock and keyboard layouts


def test_caps_lock_is_undone_when_that_gives_one_known_pack():
    raw = f"]D201{G}21aBc123X{GS}10lot7{GS}17270531"
    assert raw == typed("]d2" + element_string(PACK), caps=True)
    scan = parse(raw, known=Records([PACK]))
    assert fields(scan) == PACK.key()
    assert scan.symbology == "]d2"
    assert scan.repairs == (Repair("CAPS_LOCK", "Letter case was inverted (Caps Lock on at the computer the scanner "
                                                "types into) and has been restored."),)


def test_without_the_records_inverted_case_is_read_as_it_came():
    scan = parse(f"01{G}21aBc123X{GS}10lot7{GS}17270531")
    assert (scan.serial, scan.batch, scan.repairs) == ("aBc123X", "lot7", ())


def test_the_as_is_reading_wins_over_a_known_case_variant_when_it_is_known_too():
    records = Records([PACK, Record(G, "aBc123X", "lot7", "270531")])
    scan = parse(f"01{G}21aBc123X{GS}10lot7{GS}17270531", known=records)
    assert (scan.serial, scan.repairs) == ("aBc123X", ())


RUSSIAN = f"ъв201{G}21ФиС123ч{GS}10ДЩЕ7{GS}17270531"


def test_a_scan_typed_through_a_russian_layout_is_converted_back_to_a_known_pack():
    assert typed("]d2" + element_string(PACK), "RU") == RUSSIAN
    scan = parse(RUSSIAN, known=Records([PACK]))
    assert fields(scan) == PACK.key()
    assert scan.repairs == (Repair("LAYOUT_RU", "The scan was typed through a Russian keyboard layout and has "
                                                "been converted back to the characters of the code."),)


LAYOUT_RU = ("The scan contains Cyrillic letters (ъ, в, Ф, и, С, ч): the scanner is typing through a Russian keyboard "
             "layout. Switch the computer's keyboard layout to English (US), or set the scanner to serial (virtual "
             "COM) or HID-POS mode, and scan again.")


@pytest.mark.parametrize("known", [None, Records([Record(G, "other", "LOT7", "270531")])])
def test_cyrillic_letters_without_a_known_pack_are_refused_naming_the_layout(known):
    err = refusal(RUSSIAN, known=known)
    assert (err.code, err.message) == ("KEYBOARD_LAYOUT", LAYOUT_RU)


def test_russian_layout_punctuation_and_digit_row_are_undone():
    record = Record(G, "12/34?5", "7&8", "270531")  # typed as 12.34,5 and 7?8: no Cyrillic letter at all
    raw = typed(element_string(record), "RU")
    assert raw == f"01{G}2112.34,5{GS}107?8{GS}17270531"
    assert parse(raw).serial == "12.34,5"  # without the records it reads as it came
    scan = parse(raw, known=Records([record]))
    assert (scan.serial, scan.batch, codes(scan)) == ("12/34?5", "7&8", ["LAYOUT_RU"])


def test_russian_layout_with_caps_lock_and_a_typed_substitute_is_undone():
    raw = typed("]d2" + element_string(PACK, sep="~"), "RU", caps=True)
    assert raw == f"ЪВ201{G}21фИс123Чё10дще7ё17270531"  # Caps Lock acts on the ё key that types ~
    scan = parse(raw, known=Records([PACK]))
    assert fields(scan) == PACK.key()
    assert codes(scan) == ["LAYOUT_RU", "CAPS_LOCK", "GS_SUBSTITUTE"]


AZERI = f"ğd201{G}21Üiıİ{GS}10L.7{GS}17270531"
AZ_PACK = Record(G, "Wi;I", "L/7", "270531")


def test_a_scan_typed_through_an_azerbaijani_layout_is_converted_back_to_a_known_pack():
    assert typed("]d2" + element_string(AZ_PACK), "AZ") == AZERI
    scan = parse(AZERI, known=Records([AZ_PACK]))
    assert fields(scan) == AZ_PACK.key()
    assert codes(scan) == ["LAYOUT_AZ"]
    assert scan.repairs[0].message == ("The scan was typed through an Azerbaijani keyboard layout and has been "
                                       "converted back to the characters of the code.")


def test_azerbaijani_letters_without_a_known_pack_are_refused_naming_the_layout():
    err = refusal(AZERI)
    assert (err.code, err.message) == (
        "KEYBOARD_LAYOUT",
        "The scan contains Azerbaijani letters (ğ, Ü, ı, İ): the scanner is typing through an Azerbaijani keyboard "
        "layout. Switch the computer's keyboard layout to English (US), or set the scanner to serial (virtual COM) "
        "or HID-POS mode, and scan again.")


def test_azerbaijani_layout_with_caps_lock_and_a_lost_separator_is_undone():
    raw = typed(element_string(AZ_PACK, sep=""), "AZ", caps=True)
    assert raw == f"01{G}21üİIi10l.717270531"
    scan = parse(raw, known=Records([AZ_PACK]))
    assert fields(scan) == AZ_PACK.key()
    assert codes(scan) == ["LAYOUT_AZ", "CAPS_LOCK", "GS_RECOVERED"]


def test_a_digital_link_typed_with_caps_lock_or_through_a_layout_is_restored_with_the_records():
    uri = f"https://id.gs1.org/01/{G}/21/AbC123x?17=270531&10=LOT7"
    assert typed(uri, caps=True) == f"HTTPS://ID.GS1.ORG/01/{G}/21/aBc123X?17=270531&10=lot7"
    for layout, caps, repairs in [("US", True, ["CAPS_LOCK"]), ("RU", False, ["LAYOUT_RU"]),
                                  ("AZ", True, ["LAYOUT_AZ", "CAPS_LOCK"])]:
        scan = parse(typed(uri, layout, caps), known=Records([PACK]))
        assert (fields(scan), codes(scan)) == (PACK.key(), repairs)


def test_a_scan_that_matches_two_known_packs_once_corrected_is_refused():
    records = Records([Record(G, "as", "L", "270531"), Record(G, "AS", "l", "270531")])  # RU, RU + Caps Lock
    err = refusal(f"01{G}21фы{GS}10Д{GS}17270531", known=records)
    assert err.code == "AMBIGUOUS_SCAN"
    assert err.message == (
        "The scan matches 2 different known packs once letter case and keyboard layout are corrected. Switch the "
        "computer's keyboard layout to English (US), or set the scanner to serial (virtual COM) or HID-POS mode, "
        "and scan again.")


# ---------------------------------------------------------------- the records are asked as little as possible


def test_a_clean_known_pack_costs_one_question_with_one_reading():
    records = Records([PACK])
    scan = parse("]d2" + element_string(PACK), known=records)
    assert records.asked == [[scan]]


def test_an_unknown_clean_pack_is_returned_as_read_for_the_verdict():
    records = Records([PACK])
    record = Record(G, "NEVERMADE", "LOT7", "270531")
    scan = parse("]d2" + element_string(record), known=records)
    assert fields(scan) == record.key()
    assert len(records.asked) == 2  # the as-is reading, then every candidate at once


# ---------------------------------------------------------------- agreement with biip


def _random_record(rng: random.Random, alphabet: str) -> Record:
    gtin = "0" + with_check("46" + "".join(rng.choices("0123456789", k=10)))
    serial = "".join(rng.choices(alphabet, k=rng.randint(6, 20)))
    batch = "".join(rng.choices(alphabet, k=rng.randint(1, 10)))
    day = rng.choice(["00", "01", "15", "28"])
    expiry = f"{rng.randint(26, 35):02d}{rng.randint(1, 12):02d}{day}"
    return Record(gtin, serial, batch, expiry)


def test_clean_scans_read_the_same_as_biip_parse_reads_them():
    rng = random.Random(4)
    alphabet = "".join(sorted(CSET82))
    for _ in range(300):
        record = _random_record(rng, alphabet)
        raw = "]d2" + element_string(record, serial_first=rng.random() < 0.5)
        ours = parse(raw)
        theirs = biip.parse(raw, config=biip.ParseConfig(separator_chars=[GS])).gs1_message.element_strings
        assert fields(ours)[:4] == (theirs.get(ai="01").value, theirs.get(ai="21").value,
                                    theirs.get(ai="10").value, theirs.get(ai="17").value)
        assert ours.expiry.date == theirs.get(ai="17").date


# ---------------------------------------------------------------- a stream of genuine scans with real faults


FAULTS = ("gs_dropped", "substitute", "caps_lock", "layout", "no_prefix")


def _as_scanned(record: Record, rng: random.Random) -> tuple[str, set[str]]:
    faults = {f for f in FAULTS if rng.random() < 0.3}
    sep = "" if "gs_dropped" in faults else rng.choice(DEFAULT_GS_SUBSTITUTES[1:]) if "substitute" in faults else GS
    if rng.random() < 0.1:
        data = f"https://id.gs1.org/01/{record.gtin}/21/{_quote(record.serial)}?17={record.expiry}" \
               f"&10={_quote(record.batch)}"
    else:
        data = element_string(record, sep=sep, serial_first=rng.random() < 0.5)
    text = data if "no_prefix" in faults else "]d2" + data
    layout = rng.choice(["RU", "AZ"]) if "layout" in faults else "US"
    return typed(text, layout, caps="caps_lock" in faults), faults


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def test_a_stream_of_genuine_scans_with_real_faults_reads_back_every_pack_it_reads():
    rng = random.Random(2026)
    alphabets = ["".join(sorted(CSET82)), "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", "0123456789"]
    records = [_random_record(rng, alphabets[i % 3]) for i in range(2000)]  # a third all digits
    known = Records(records)
    wrong, refused = [], []
    for record in records:
        raw, faults = _as_scanned(record, rng)
        try:
            scan = parse(raw, known=known)
        except ScanRefused as err:
            refused.append((err.code, faults))
            continue
        if fields(scan) != record.key():
            wrong.append((raw, scan))
    print(f"\n2000 genuine scans: {len(refused)} refused {sorted({c for c, _ in refused})}, {len(wrong)} wrong")
    assert wrong == []
    assert len(refused) <= 20
