"""Translations: English, Azerbaijani and Russian. The user's choice wins, then the browser's."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import get_locale, gettext

from pharma.extensions import babel
from pharma.labels import label
from pharma.shared.text import Text

LOCALES = {"en": "English", "az": "Azərbaycanca", "ru": "Русский"}


def select_locale() -> str:
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(list(LOCALES)) or "en"


def init_babel(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["LOCALES"] = LOCALES
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["text"] = translate


def translate(value):
    """A ``pharma.shared.text.Text`` in the page's language (its values translated too); any
    other value unchanged."""
    if not isinstance(value, Text):
        return value
    params = {name: translate(v) for name, v in value.params.items()}
    return gettext(value.template, **params) if params else gettext(value.template)
