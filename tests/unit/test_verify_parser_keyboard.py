"""Keyboard layouts a wedge scanner types through: exact tables, and their exact inverse."""

from __future__ import annotations

import string

import pytest

from pharma.verify.keyboard import LAYOUTS, foreign_letters, typed, untyped

PRINTABLE_US = string.ascii_letters + string.digits + string.punctuation + " "
MODES = [(layout, caps) for layout in LAYOUTS for caps in (False, True)]


@pytest.mark.parametrize(("text", "shown"), [
    ("]d2", "ъв2"),
    ("qwertyuiop[]", "йцукенгшщзхъ"),
    ("asdfghjkl;'", "фывапролджэ"),
    ("zxcvbnm,./", "ячсмитьбю."),
    ("`~", "ёЁ"),
    ("!@#$%^&*()_+", '!"№;%:?*()_+'),
    ("{}|:\"<>?", "ХЪ/ЖЭБЮ,"),
    ("\\", "\\"),
    ("0123456789-=", "0123456789-="),
    ("A1b/\x1d", "Ф1и.\x1d"),
])
def test_a_russian_host_turns_us_keystrokes_into_cyrillic_and_moves_the_punctuation(text, shown):
    assert typed(text, "RU") == shown


@pytest.mark.parametrize(("text", "shown"), [
    ("wW", "üÜ"),
    ("iI", "iİ"),
    (";:", "ıI"),
    ("'\"", "əƏ"),
    ("[{]}", "öÖğĞ"),
    (",<.>", "çÇşŞ"),
    ("/?", ".,"),
    ("\\|", "\\/"),
    ("@#$^&", '"№;:?'),
    ("]d2", "ğd2"),
    ("qertyuopasdfghjklzxcvbnm", "qertyuopasdfghjklzxcvbnm"),
])
def test_an_azerbaijani_host_changes_the_keys_that_carry_its_letters(text, shown):
    assert typed(text, "AZ") == shown


@pytest.mark.parametrize(("text", "layout", "shown"), [
    ("aB1;/", "US", "Ab1;/"),
    ("]d2A", "RU", "ЪВ2ф"),
    ("[;'.,", "RU", "ХЖЭЮБ"),
    ("/?", "RU", ".,"),
    ("]d2iI;W", "AZ", "ĞD2İiIü"),
    ("/", "AZ", "."),
])
def test_caps_lock_inverts_only_the_keys_that_carry_letters_in_the_host_layout(text, layout, shown):
    assert typed(text, layout, caps=True) == shown


@pytest.mark.parametrize(("layout", "caps"), MODES)
def test_every_printable_ascii_character_comes_back_from_every_layout_and_caps_lock(layout, caps):
    shown = typed(PRINTABLE_US, layout, caps)
    assert len(set(shown)) == len(PRINTABLE_US)
    assert untyped(shown, layout, caps) == PRINTABLE_US


def test_text_a_layout_cannot_type_is_not_taken_as_typed_through_it():
    assert untyped("ABC", "RU") is None  # a Russian host types no Latin letters
    assert untyped("фыв", "US", caps=True) is None
    assert untyped("w", "AZ") is None  # the W key types ü there
    assert untyped("ф\x1d↔", "RU", keep=frozenset("↔")) == "a\x1d↔"


def test_foreign_letters_name_the_layout_and_the_letters_in_order():
    assert foreign_letters("ъв20104ФФ") == ("RU", ["ъ", "в", "Ф"])
    assert foreign_letters("ğd2Üiı") == ("AZ", ["ğ", "Ü", "ı"])
    assert foreign_letters("]d2ABC-/.") is None
