"""Every text of the pages is translated into Azerbaijani and Russian.

The texts are extracted from the sources as the test runs (with babel.cfg, as `pybabel extract`
does), so a new `_("...")` in a template or a module fails here until messages.pot is
re-extracted and both catalogues translate it, placeholders and all.
"""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "pharma" / "translations"
LOCALES = ("az", "ru")
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def ids(message) -> tuple[str, ...]:
    return message if isinstance(message, tuple) else (message,)


@cache
def source_texts() -> dict[str, str]:
    """msgid -> where it is used, extracted from pharma/ as babel.cfg says."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.setdefault(ids(message)[0], f"{filename}:{lineno}")
    return found


@cache
def catalogue(name: str) -> Catalog:
    path = TRANSLATIONS / "messages.pot" if name == "pot" else TRANSLATIONS / name / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing"
    with path.open("rb") as f:
        return read_po(f, locale=None if name == "pot" else name)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_messages_pot_is_up_to_date_with_the_sources():
    pot = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue("pot") if m.id}
    missing = {text: where for text, where in source_texts().items() if text not in pot}
    assert not missing, (
        f"texts not in messages.pot: run `make messages`, then translate them in az and ru: {missing}")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_has_a_translation_with_the_same_placeholders(locale):
    po = catalogue(locale)
    problems = []
    for message in catalogue("pot"):
        if not message.id:
            continue
        msgids = ids(message.id)
        entry = po.get(message.id)
        if entry is None:
            problems.append(f"{msgids[0]!r}: not in the catalogue")
            continue
        if entry.fuzzy:
            problems.append(f"{msgids[0]!r}: fuzzy")
        forms = [s for s in ids(entry.string)]
        if not forms or any(not s.strip() for s in forms):
            problems.append(f"{msgids[0]!r}: not translated")
            continue
        expected = set().union(*(placeholders(i) for i in msgids))
        for form in forms:
            if placeholders(form) != expected:
                problems.append(f"{msgids[0]!r}: placeholders {sorted(placeholders(form))} "
                                f"instead of {sorted(expected)} in {form!r}")
            try:
                form % dict.fromkeys(expected, 1)
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"{msgids[0]!r}: {form!r} does not format ({exc}); write a literal % as %%")
    assert not problems, f"{locale}: " + "\n".join(problems)


def test_every_text_of_a_template_formats():
    """Jinja's gettext always applies %-formatting, even without variables: a literal % is %%."""
    problems = []
    for text, where in source_texts().items():
        if where.endswith(".html") or ".html:" in where:
            try:
                text % dict.fromkeys(placeholders(text), 1)
            except (KeyError, ValueError, TypeError) as exc:
                problems.append(f"{where}: {text!r} does not format ({exc}); write a literal % as %%")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalogue_has_no_untranslated_leftovers_and_compiles(locale):
    po = catalogue(locale)
    assert str(po.locale) == locale
    wanted = {m.id for m in catalogue("pot") if m.id}
    stale = [m.id for m in po if m.id and m.id not in wanted and not m.fuzzy]
    assert not stale, f"{locale}: entries no longer in the sources (run pybabel update): {stale}"
    write_mo(io.BytesIO(), po)
    assert po.num_plurals >= 1


def compile_catalogues() -> None:
    """Compile each .po whose .mo is missing or older, as `make` does (the .mo are not committed)."""
    for locale in LOCALES:
        po = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with mo.open("wb") as f:
                write_mo(f, catalogue(locale))


@pytest.mark.parametrize(("locale", "sign_in", "username"), [
    ("az", "Daxil ol", "İstifadəçi adı"),
    ("ru", "Войти", "Имя пользователя"),
])
def test_the_sign_in_page_speaks_the_browsers_language(client, locale, sign_in, username):
    compile_catalogues()
    page = client.get("/sign-in", headers={"Accept-Language": f"{locale},en;q=0.5"}).get_data(as_text=True)
    assert f'<html lang="{locale}">' in page
    assert f"<h1>{sign_in}</h1>" in page
    assert f'<label for="username">{username}</label>' in page
