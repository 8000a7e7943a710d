"""The one-time scanner setup check: scan a printed test label, learn exactly what the setup breaks.

The test label is a GS1 Data Matrix whose batch and serial hold every character a keyboard-wedge
scanner can get wrong: letters of both cases, digits, all twenty punctuation characters of the
GS1 character set 82, and a GS separator; a correctly set up scanner also sends the AIM
identifier ``]d2``. ``diagnose`` compares what arrived with what was printed and names each fault
with its fix.

Keyboard faults are found by replaying the label through models of the keyboard: the scanner
types each character with the key and Shift state of a US keyboard, and the computer turns that
key into a character of its own layout (Russian ЙЦУКЕН or Azerbaijani Latin, as in Windows and
xkb), with Caps Lock inverting Shift on letter keys, or with the number row shifted. The model
that explains most of what arrived is taken; what it leaves unexplained is reported as lost,
changed or extra characters.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import product

from scanners.adapters import CARET_GS, is_safe_gs_substitute
from scanners.scans import AIM, GS, Finding, printable

AIM_GS1_DATAMATRIX = "]d2"
PUNCTUATION = "!\"%&'()*+,-./:;<=>?_"


@dataclass(frozen=True)
class LabelData:
    """A GS1 element string (AI 01, 17, 10, 21) for the test label."""

    gtin: str
    expiry: str
    batch: str
    serial: str

    @property
    def bracket(self) -> str:
        """The label data in the bracket syntax label printers and zxing-cpp take (parentheses occur in the serial)."""
        return f"[01]{self.gtin}[17]{self.expiry}[10]{self.batch}[21]{self.serial}"

    @property
    def element_string(self) -> str:
        return f"01{self.gtin}17{self.expiry}10{self.batch}{GS}21{self.serial}"

    @property
    def scan(self) -> str:
        """Exactly what a correctly set up scanner sends for the label."""
        return AIM_GS1_DATAMATRIX + self.element_string


# GTIN from the GS1 prefix 952, kept for examples and demonstrations; the batch and serial between
# them hold both cases, digits and every punctuation character of CSET 82
TEST_LABEL = LabelData(gtin="09520123456788", expiry="351231", batch="Ww7/:;<=>?_",
                       serial="Aa9Zz0Ii!\"%&'()*+,-.")


def test_label_data() -> LabelData:
    """The test label: ``.bracket`` to print it, ``.scan`` for what a scanner must send."""
    return TEST_LABEL


test_label_data.__test__ = False  # not a test, whatever its name

# ---------------------------------------------------------------- keyboard models

# the 47 character keys of the main block, in the same order for each layout: (unshifted, shifted)
US = ("`~", "1!", "2@", "3#", "4$", "5%", "6^", "7&", "8*", "9(", "0)", "-_", "=+",
      "qQ", "wW", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "[{", "]}", "\\|",
      "aA", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", ";:", "'\"",
      "zZ", "xX", "cC", "vV", "bB", "nN", "mM", ",<", ".>", "/?")
LAYOUTS = {
    "US": US,
    "RU": ("ёЁ", "1!", '2"', "3№", "4;", "5%", "6:", "7?", "8*", "9(", "0)", "-_", "=+",
           "йЙ", "цЦ", "уУ", "кК", "еЕ", "нН", "гГ", "шШ", "щЩ", "зЗ", "хХ", "ъЪ", "\\/",
           "фФ", "ыЫ", "вВ", "аА", "пП", "рР", "оО", "лЛ", "дД", "жЖ", "эЭ",
           "яЯ", "чЧ", "сС", "мМ", "иИ", "тТ", "ьЬ", "бБ", "юЮ", ".,"),
    "AZ": ("`~", "1!", '2"', "3№", "4;", "5%", "6:", "7?", "8*", "9(", "0)", "-_", "=+",
           "qQ", "üÜ", "eE", "rR", "tT", "yY", "uU", "iİ", "oO", "pP", "öÖ", "ğĞ", "\\/",
           "aA", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", "ıI", "əƏ",
           "zZ", "xX", "cC", "vV", "bB", "nN", "mM", "çÇ", "şŞ", ".,"),
}
NUMBER_KEYS = range(1, 11)  # the keys 1 to 0


@dataclass(frozen=True)
class Keyboard:
    """The computer's side: its layout, and whether Caps Lock is on or the number row comes out shifted."""

    layout: str = "US"
    caps_lock: bool = False
    digits_shifted: bool = False

    @property
    def faults(self) -> int:
        return (self.layout != "US") + self.caps_lock + self.digits_shifted

    def table(self) -> dict[str, str]:
        keys = LAYOUTS[self.layout]
        table = {}
        for index, (us_keys, host_keys) in enumerate(zip(US, keys, strict=True)):
            for shift, char in enumerate(us_keys):
                shifted = bool(shift) ^ (self.caps_lock and host_keys[0].isalpha()) ^ (
                    self.digits_shifted and index in NUMBER_KEYS)
                table[char] = host_keys[shifted]
        return table

    def type(self, text: str) -> str:
        table = self.table()
        return "".join(table.get(c, c) for c in text)


# simplest first: the first of equally good explanations is taken
KEYBOARDS = sorted((Keyboard(layout, caps, digits) for layout, caps, digits
                    in product(LAYOUTS, (False, True), (False, True))), key=lambda k: k.faults)

# ---------------------------------------------------------------- findings

GS_FIX = ("set it to send GS as Ctrl+] (0x1D), or to replace GS with a character that cannot occur in GS1 data, "
          "such as |, and start this program with --gs-substitute '|'.")
LAYOUT_FIX = ("switch the keyboard layout to English (US) before scanning, or set the scanner to type characters "
              "as Alt+numeric keypad codes.")
KEYS_FIX = ("set the scanner's keyboard country to this computer's keyboard layout, or set it to type characters "
            "as Alt+numeric keypad codes.")
MESSAGES = {
    "NOTHING_RECEIVED": "Nothing arrived from the scanner: check that it is connected, and that this window has the "
                        "focus when you scan.",
    "NOT_TEST_LABEL": "This is not the scanner test label: print it (python -m scanners setup-check --print-label) "
                      "and scan it again.",
    "PREFIX_ADDED": "The scanner adds {0} before the code: remove this prefix in the scanner's settings.",
    "AIM_MISSING": "Turn on the AIM symbology identifier (]d2) in the scanner's settings.",
    "AIM_CHANGED": "The scanner reports the symbology as {0} instead of ]d2: turn on GS1 (FNC1) decoding of Data "
                   "Matrix codes in the scanner's settings.",
    "GS_DROPPED": "The scanner drops the GS separator between fields: " + GS_FIX,
    "GS_SUBSTITUTE": "The scanner sends the GS separator as {0}: start this program with --gs-substitute {1}.",
    "GS_SUBSTITUTE_AMBIGUOUS": "The scanner sends the GS separator as {0}, which can occur in GS1 data: " + GS_FIX,
    "LAYOUT_RU": "Letters and punctuation arrive as Cyrillic because this computer's keyboard layout is Russian "
                 "(ЙЦУКЕН): " + LAYOUT_FIX,
    "LAYOUT_AZ": "Letters and punctuation arrive changed (“w” as “ü”, “;” as “ı”) because this computer's keyboard "
                 "layout is Azerbaijani: " + LAYOUT_FIX,
    "CAPS_LOCK": "Letters arrive with their case inverted because Caps Lock is on: turn Caps Lock off, or set the "
                 "scanner to ignore the Caps Lock state.",
    "DIGIT_ROW_SHIFTED": "Keys of the number row arrive shifted (“1” as “!”): set the scanner's keyboard country to "
                         "this computer's keyboard layout, or set it to send digits as numeric keypad keys.",
    "CHARACTERS_LOST": "The scanner drops {0}: " + KEYS_FIX,
    "CHARACTERS_CHANGED": "Characters arrive changed ({0}): " + KEYS_FIX,
    "UNEXPECTED_CHARACTERS": "Characters that are not on the label arrive inside the code ({0}): turn off any "
                             "data-editing rule that inserts characters in the scanner's settings.",
    "SUFFIX_ADDED": "The scanner adds {0} after the code: remove this suffix in the scanner's settings, keeping a "
                    "single Enter.",
    "LINE_END_ADDED": "The scanner adds a line end ({0}) after the code: set its suffix to a single Enter in the "
                      "scanner's settings.",
}
_NAMES = {"\r": "CR", "\n": "LF", "\t": "Tab", GS: "GS", " ": "space"}


def _finding(code: str, *args: str) -> Finding:
    return Finding(code, MESSAGES[code].format(*args))


def _show(text: str) -> str:
    """Characters for a message: control characters by name, anything else in quotes."""
    if text and all(c in _NAMES for c in text):
        return " ".join(_NAMES[c] for c in text)
    return f"“{printable(text)}”"


def _listed(items: list[str]) -> str:
    shown = [_show(i) for i in dict.fromkeys(items)]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


@dataclass
class Reading:
    """How ``received`` lines up with the label typed through one keyboard model."""

    keyboard: Keyboard
    matched: int = 0
    prefix: str = ""
    aim: str | None = None  # None: missing
    gs: dict[int, str] = field(default_factory=dict)  # position in the element string -> what arrived there
    lost: list[str] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    suffix: str = ""

    def _split_aim(self, body: str) -> str:
        typed = self.keyboard.type(AIM_GS1_DATAMATRIX)
        at = body.find(typed)
        if at >= 0 and (at == 0 or not AIM.match(body)):
            self.prefix, self.aim = body[:at], AIM_GS1_DATAMATRIX
            self.matched += len(typed)
            return body[at + len(typed):]
        if found := AIM.match(body):
            self.aim = found.group(0)
            return body[len(self.aim):]
        return body

    def _replace(self, start: int, expected: str, got: str) -> None:
        if expected == GS:
            self.gs[start] = got
        elif len(expected) != len(got):
            self.changed.append((expected, got))
        else:
            self._pairs(start, expected, got)

    def _pairs(self, start: int, expected: str, got: str) -> None:
        for offset, (e, g) in enumerate(zip(expected, got, strict=True)):
            if e == GS:
                self.gs[start + offset] = g
            else:
                self.changed.append((e, g))

    def _insert(self, at: int, end: int, got: str) -> None:
        if at == 0 and self.aim is None and not self.prefix:
            self.prefix = got
        elif at == end:
            self.suffix = got
        else:
            self.extra.append(got)

    def read(self, body: str) -> Reading:
        rest = self._split_aim(body)
        expected = TEST_LABEL.element_string
        self.gs = {i: GS for i, c in enumerate(expected) if c == GS}
        matcher = SequenceMatcher(None, self.keyboard.type(expected), rest, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                self.matched += i2 - i1
            elif tag == "delete":
                for i in range(i1, i2):
                    if expected[i] == GS:
                        self.gs[i] = ""
                    else:
                        self.lost.append(expected[i])
            elif tag == "insert":
                self._insert(i1, len(expected), rest[j1:j2])
            else:
                self._replace(i1, expected[i1:i2], rest[j1:j2])
        return self

    def _gs_findings(self) -> list[Finding]:
        found = []
        arrived = list(dict.fromkeys(self.gs.values()))
        if "" in arrived:
            found.append(_finding("GS_DROPPED"))
        for substitute in (a for a in arrived if a not in ("", GS)):
            if not is_safe_gs_substitute(substitute):
                found.append(_finding("GS_SUBSTITUTE_AMBIGUOUS", _show(substitute)))
            else:
                found.append(_finding("GS_SUBSTITUTE", _show(substitute), shlex.quote(substitute)))
        return found

    def _keyboard_findings(self) -> list[Finding]:
        k = self.keyboard
        codes = [f"LAYOUT_{k.layout}"] if k.layout != "US" else []
        codes += ["CAPS_LOCK"] * k.caps_lock + ["DIGIT_ROW_SHIFTED"] * k.digits_shifted
        return [_finding(c) for c in codes]

    def findings(self) -> list[Finding]:
        found = [_finding("PREFIX_ADDED", _show(self.prefix))] if self.prefix else []
        if self.aim is None:
            found.append(_finding("AIM_MISSING"))
        elif self.aim != AIM_GS1_DATAMATRIX:
            found.append(_finding("AIM_CHANGED", self.aim))
        found += self._gs_findings() + self._keyboard_findings()
        if self.lost:
            found.append(_finding("CHARACTERS_LOST", _listed(self.lost)))
        if self.changed:
            pairs = ", ".join(f"{_show(e)} as {_show(g)}" for e, g in dict.fromkeys(self.changed))
            found.append(_finding("CHARACTERS_CHANGED", pairs))
        if self.extra:
            found.append(_finding("UNEXPECTED_CHARACTERS", _listed(self.extra)))
        if self.suffix:
            found.append(_finding("SUFFIX_ADDED", _show(self.suffix)))
        return found


def diagnose(received: str | bytes, *, gs_substitutes: tuple[str, ...] = ()) -> list[Finding]:
    """What the scanner setup breaks, judged from its scan of the test label; empty when nothing.

    ``received`` is the scan as it arrived, without the one line end that ended it. Substitutes
    this program is already told to map back to GS (``gs_substitutes``) are not faults.
    """
    text = received.decode("latin-1") if isinstance(received, bytes) else received
    for substitute in (CARET_GS, *gs_substitutes):
        text = text.replace(substitute, GS)
    body = text.rstrip("\r\n")
    line_end = text[len(body):]
    if not body.strip():
        return [_finding("NOTHING_RECEIVED")]
    best = max((Reading(k).read(body) for k in KEYBOARDS), key=lambda r: r.matched)
    found = best.findings() if best.matched * 2 >= len(TEST_LABEL.scan) else [_finding("NOT_TEST_LABEL")]
    if line_end:
        found.append(_finding("LINE_END_ADDED", _show(line_end)))
    return found
