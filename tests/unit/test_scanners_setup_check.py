"""The scanner setup check: the test label, and what ``diagnose`` says of each scanner fault, word for word.

Each fault is simulated by transforming the expected scan the way the fault does; the keyboard
layouts are written out here by hand (Windows "Russian" and "Azerbaijani Latin", as in xkb's
``ru`` and ``az`` symbols), independently of the tables in scanners.setup_check.
"""

from __future__ import annotations

import pytest

from scanners import setup_check
from scanners.scans import GS, Finding

LABEL = setup_check.test_label_data()
EXPECTED = LABEL.scan
BODY = EXPECTED[3:]  # without the AIM identifier

AIM_MISSING = Finding("AIM_MISSING", "Turn on the AIM symbology identifier (]d2) in the scanner's settings.")
GS_FIX = ("set it to send GS as Ctrl+] (0x1D), or to replace GS with a character that cannot occur in GS1 data, "
          "such as |, and start this program with --gs-substitute '|'.")
GS_DROPPED = Finding("GS_DROPPED", "The scanner drops the GS separator between fields: " + GS_FIX)
LAYOUT_FIX = ("switch the keyboard layout to English (US) before scanning, or set the scanner to type characters "
              "as Alt+numeric keypad codes.")
KEYS_FIX = ("set the scanner's keyboard country to this computer's keyboard layout, or set it to type characters "
            "as Alt+numeric keypad codes.")
CAPS_LOCK = Finding("CAPS_LOCK", "Letters arrive with their case inverted because Caps Lock is on: turn Caps Lock "
                                 "off, or set the scanner to ignore the Caps Lock state.")
LAYOUT_RU = Finding("LAYOUT_RU", "Letters and punctuation arrive as Cyrillic because this computer's keyboard layout "
                                 "is Russian (ЙЦУКЕН): " + LAYOUT_FIX)
LAYOUT_AZ = Finding("LAYOUT_AZ", "Letters and punctuation arrive changed (“w” as “ü”, “;” as “ı”) because this "
                                 "computer's keyboard layout is Azerbaijani: " + LAYOUT_FIX)

# the test label typed by a US-keyboard scanner into a computer set to Russian, and to Azerbaijani
RUSSIAN = f"ъв201095201234567881735123110Цц7.ЖжБ=Ю,_{GS}21Фф9Яя0Шш!Э%?э()*+б-ю"
AZERBAIJANI = f"ğd201095201234567881735123110Üü7.IıÇ=Ş,_{GS}21Aa9Zz0İi!Ə%?ə()*+ç-ş"
# the number row shifted: digits come out as the symbols above them, and those symbols as digits
NUMBER_ROW_SHIFTED = f"]d@)!)(%@)!@#$%^&**!&#%!@#!!)Ww&/:;<=>?_{GS}@!Aa(Zz)Ii1\"57'908+,-."


def _check_digit(body: str) -> int:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def test_the_test_label_holds_every_character_a_scanner_can_get_wrong():
    data = LABEL.batch + LABEL.serial
    assert set("!\"%&'()*+,-./:;<=>?_") <= set(data)  # all twenty CSET 82 punctuation characters
    assert any(c.islower() for c in data) and any(c.isupper() for c in data) and any(c.isdigit() for c in data)
    assert GS in EXPECTED and EXPECTED.startswith("]d2")
    assert len(LABEL.batch) <= 20 and len(LABEL.serial) <= 20
    assert int(LABEL.gtin[-1]) == _check_digit(LABEL.gtin[:-1])


def test_the_label_data_to_print_and_the_scan_to_expect():
    assert LABEL.bracket == "[01]09520123456788[17]351231[10]Ww7/:;<=>?_[21]Aa9Zz0Ii!\"%&'()*+,-."
    assert EXPECTED == "]d201095201234567881735123110Ww7/:;<=>?_\x1d21Aa9Zz0Ii!\"%&'()*+,-."


@pytest.mark.parametrize("received", [
    EXPECTED,
    EXPECTED.encode("latin-1"),             # from a serial port, GS as a byte
    EXPECTED.replace(GS, "^]"),             # Ctrl+] echoed by a terminal
], ids=["text", "bytes", "caret"])
def test_a_correct_setup_has_no_findings(received):
    assert setup_check.diagnose(received) == []


def test_a_substitute_this_program_maps_back_is_no_fault():
    assert setup_check.diagnose(EXPECTED.replace(GS, "|"), gs_substitutes=("|",)) == []


@pytest.mark.parametrize(("received", "findings"), [
    (BODY, [AIM_MISSING]),
    ("]d1" + BODY, [Finding("AIM_CHANGED", "The scanner reports the symbology as ]d1 instead of ]d2: turn on GS1 "
                                           "(FNC1) decoding of Data Matrix codes in the scanner's settings.")]),
    (EXPECTED.replace(GS, ""), [GS_DROPPED]),
    (EXPECTED.replace(GS, "|"), [Finding("GS_SUBSTITUTE", "The scanner sends the GS separator as “|”: start this "
                                                          "program with --gs-substitute '|'.")]),
    (EXPECTED.replace(GS, "<GS>"), [Finding("GS_SUBSTITUTE_AMBIGUOUS",
                                            "The scanner sends the GS separator as “<GS>”, which can occur in GS1 "
                                            "data: " + GS_FIX)]),
    (EXPECTED.swapcase(), [CAPS_LOCK]),
    (RUSSIAN, [LAYOUT_RU]),
    (AZERBAIJANI, [LAYOUT_AZ]),
    (NUMBER_ROW_SHIFTED, [Finding("DIGIT_ROW_SHIFTED", "Keys of the number row arrive shifted (“1” as “!”): set the "
                                                       "scanner's keyboard country to this computer's keyboard layout, "
                                                       "or set it to send digits as numeric keypad keys.")]),
    (EXPECTED.replace("%", "").replace('"', ""), [Finding("CHARACTERS_LOST", "The scanner drops “\"” and “%”: "
                                                                             + KEYS_FIX)]),
    (EXPECTED.replace('"', "@"), [Finding("CHARACTERS_CHANGED", "Characters arrive changed (“\"” as “@”): "
                                                                + KEYS_FIX)]),
    (EXPECTED.replace("Zz", "Z#z"), [Finding("UNEXPECTED_CHARACTERS",
                                             "Characters that are not on the label arrive inside the code (“#”): turn "
                                             "off any data-editing rule that inserts characters in the scanner's "
                                             "settings.")]),
    ("@@" + EXPECTED, [Finding("PREFIX_ADDED", "The scanner adds “@@” before the code: remove this prefix in the "
                                               "scanner's settings.")]),
    (EXPECTED + "\t", [Finding("SUFFIX_ADDED", "The scanner adds Tab after the code: remove this suffix in the "
                                               "scanner's settings, keeping a single Enter.")]),
    (EXPECTED + "\r\n", [Finding("LINE_END_ADDED", "The scanner adds a line end (CR LF) after the code: set its "
                                                   "suffix to a single Enter in the scanner's settings.")]),
    ("", [Finding("NOTHING_RECEIVED", "Nothing arrived from the scanner: check that it is connected, and that this "
                                      "window has the focus when you scan.")]),
    ("0104601234567893", [Finding("NOT_TEST_LABEL", "This is not the scanner test label: print it (python -m "
                                                    "scanners setup-check --print-label) and scan it again.")]),
], ids=["aim-off", "aim-d1", "gs-dropped", "gs-as-bar", "gs-ambiguous", "caps-lock", "russian", "azerbaijani",
        "number-row", "lost", "changed", "extra", "prefix", "suffix", "line-end", "nothing", "other-code"])
def test_each_fault_is_named_with_its_fix(received, findings):
    assert setup_check.diagnose(received) == findings


def test_faults_together_are_all_reported_in_a_stable_order():
    russian_caps_no_aim_no_gs = RUSSIAN[3:].replace(GS, "").swapcase() + "\r"
    assert [f.code for f in setup_check.diagnose(russian_caps_no_aim_no_gs)] == [
        "AIM_MISSING", "GS_DROPPED", "LAYOUT_RU", "CAPS_LOCK", "LINE_END_ADDED"]


def test_a_character_lost_through_a_layout_is_named_as_printed():
    azerbaijani_without_percent = AZERBAIJANI.replace("%", "")
    assert setup_check.diagnose(azerbaijani_without_percent) == [
        LAYOUT_AZ, Finding("CHARACTERS_LOST", "The scanner drops “%”: " + KEYS_FIX)]


def test_a_prefix_before_a_missing_aim_identifier():
    assert [f.code for f in setup_check.diagnose("XY" + BODY)] == ["PREFIX_ADDED", "AIM_MISSING"]


@pytest.mark.parametrize("keyboard", setup_check.KEYBOARDS, ids=lambda k: f"{k.layout}-caps{k.caps_lock:d}-"
                                                                       f"digits{k.digits_shifted:d}")
def test_every_combination_of_faults_is_told_apart(keyboard):
    """The module's own keyboard models type the label (the hand-written cases above check the models)."""
    for aim, gs, line_end in [(a, g, e) for a in (True, False) for g in ("", GS, "|", "?") for e in ("", "\r")]:
        received = keyboard.type(EXPECTED if aim else BODY).replace(GS, gs) + line_end
        expected = ([] if aim else ["AIM_MISSING"]) + {
            "": ["GS_DROPPED"], GS: [], "|": ["GS_SUBSTITUTE"], "?": ["GS_SUBSTITUTE_AMBIGUOUS"]}[gs]
        expected += [f"LAYOUT_{keyboard.layout}"] * (keyboard.layout != "US") + ["CAPS_LOCK"] * keyboard.caps_lock
        expected += ["DIGIT_ROW_SHIFTED"] * keyboard.digits_shifted + ["LINE_END_ADDED"] * bool(line_end)
        assert [f.code for f in setup_check.diagnose(received)] == expected, (aim, gs, line_end)


def test_the_test_label_drawn_by_the_project_reads_back_as_the_expected_scan():
    """The label is printable with the project's own drawer, and a reader of it gets exactly ``LABEL.scan``."""
    from pharma.barcodes.decode import decode_image
    from pharma.barcodes.draw import pack_label

    [read] = decode_image(pack_label(LABEL.gtin, LABEL.serial, LABEL.batch, LABEL.expiry, kind="png"))
    assert read.symbology + read.data.decode("latin-1") == EXPECTED
    assert setup_check.diagnose(read.symbology.encode() + read.data) == []
