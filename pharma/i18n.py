"""Translations: English, Azerbaijani and Russian. The user's choice wins, then the browser's."""

from __future__ import annotations

from flask import Flask, request, session
from flask_babel import get_locale

from pharma.extensions import babel
from pharma.labels import label

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
