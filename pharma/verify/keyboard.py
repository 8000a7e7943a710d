"""What a keyboard-wedge scanner's keystrokes become on a host with another keyboard layout.

A wedge scanner types each character of the code as the key a US keyboard would use for it
(``A`` is Shift+A, ``/`` is the slash key, ``#`` is Shift+3). A host set to the Russian (ЙЦУКЕН)
or the Azerbaijani Latin layout turns those keys into other characters, and Caps Lock on the
host inverts the case of every key that carries a letter in the host's layout. ``typed`` is what
the host shows; ``untyped`` undoes it exactly, or says the text cannot have come that way.

The tables are the Windows layouts (KBDRU "Russian", KBDAZEL "Azerbaijani Latin"), key by key
from the US layout's order; on Linux the xkb layouts ``ru`` and ``az`` are the same on these keys.
"""

from __future__ import annotations

from functools import cache

# The 47 character keys of the US layout, in order: digit row, then the Q, A and Z rows.
_US = ("`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./",
       '~!@#$%^&*()_+QWERTYUIOP{}|ASDFGHJKL:"ZXCVBNM<>?')

LAYOUTS: dict[str, tuple[str, str]] = {
    "US": _US,
    # Shift+2 is ", Shift+3 №, Shift+4 ;, Shift+6 :, Shift+7 ?; the slash key types . and ,;
    # Shift+backslash types /
    "RU": ("ё1234567890-=йцукенгшщзхъ\\фывапролджэячсмитьбю.",
           'Ё!"№;%:?*()_+ЙЦУКЕНГШЩЗХЪ/ФЫВАПРОЛДЖЭЯЧСМИТЬБЮ,'),
    # the US W, [, ], ;, ', comma and period keys carry ü ö ğ ı ə ç ş; Shift+I is İ and Shift+; is I
    "AZ": ("`1234567890-=qüertyuiopöğ\\asdfghjklıəzxcvbnmçş.",
           '~!"№;%:?*()_+QÜERTYUİOPÖĞ/ASDFGHJKLIƏZXCVBNMÇŞ,'),
}

NAMES = {"RU": "Russian", "AZ": "Azerbaijani"}


@cache
def _keystrokes(layout: str, caps: bool) -> dict[str, str]:
    """US character -> what the host types for its keystroke."""
    normal, shifted = LAYOUTS[layout]
    table = {" ": " "}
    for us_normal, us_shifted, out_normal, out_shifted in zip(_US[0], _US[1], normal, shifted, strict=True):
        if caps and out_normal.isalpha():  # Caps Lock acts only on the layout's letter keys
            out_normal, out_shifted = out_shifted, out_normal
        table[us_normal] = out_normal
        table[us_shifted] = out_shifted
    if len(set(table.values())) != len(table):
        raise AssertionError(f"keyboard layout {layout} maps two keys to one character")
    return table


@cache
def _tables(layout: str, caps: bool) -> tuple[dict[int, str], dict[int, str], frozenset[str]]:
    forward = _keystrokes(layout, caps)
    back = {out: us for us, out in forward.items()}
    return str.maketrans(forward), str.maketrans(back), frozenset(back)


def typed(text: str, layout: str = "US", caps: bool = False) -> str:
    """What a host with ``layout`` (and Caps Lock on when ``caps``) shows for a scanner typing ``text``.

    Characters no key types (control characters such as GS, or letters of other alphabets) are
    passed through, as a scanner sends them with Alt codes or control keys."""
    return text.translate(_tables(layout, caps)[0])


def untyped(text: str, layout: str = "US", caps: bool = False, keep: frozenset[str] = frozenset()) -> str | None:
    """The text the scanner typed, given what a host with ``layout`` and Caps Lock ``caps`` shows;
    None when ``text`` holds a character that host cannot produce from a keystroke. Control
    characters and those in ``keep`` (sent as Alt codes) pass unchanged."""
    _, back, producible = _tables(layout, caps)
    for ch in text:
        if ch not in producible and ch >= " " and ch not in keep:
            return None
    return text.translate(back)


def foreign_letters(text: str) -> tuple[str, list[str]] | None:
    """The layout whose letters ``text`` shows, and those letters in order of appearance."""
    for layout in ("RU", "AZ"):
        letters = _LETTERS[layout]
        found = list(dict.fromkeys(ch for ch in text if ch in letters))
        if found:
            return layout, found
    return None


_LETTERS = {
    layout: frozenset(ch for ch in LAYOUTS[layout][0] + LAYOUTS[layout][1] if ch.isalpha() and not ch.isascii())
    for layout in NAMES
}
