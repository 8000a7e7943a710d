"""Texts that pages translate: the English string itself, with its msgid and values."""

from __future__ import annotations

import json
import pickle

from flask import Flask

from pharma.extensions import babel
from pharma.i18n import translate
from pharma.shared.text import Text


def test_a_text_is_its_english_string():
    text = Text("GTIN %(gtin)s is not in the product register.", gtin="04030096123457")
    assert text == "GTIN 04030096123457 is not in the product register."
    assert json.dumps({"m": text}) == '{"m": "GTIN 04030096123457 is not in the product register."}'
    assert f"{text}" == str(text) and text.template.startswith("GTIN %(gtin)s")


def test_a_text_without_values_keeps_percent_signs_as_they_are():
    assert Text("100% sure") == "100% sure"


def test_a_pickled_text_keeps_its_msgid_and_values():
    text = pickle.loads(pickle.dumps(Text("%(name)s is empty.", name=Text("Batch"))))
    assert isinstance(text, Text) and text == "Batch is empty." and text.params["name"].template == "Batch"


def test_translate_uses_the_page_language_and_translates_values_too():
    app = Flask(__name__)
    babel.init_app(app, locale_selector=lambda: "ru", default_translation_directories="../../pharma/translations")
    app.root_path = __import__("pharma").__path__[0]
    with app.test_request_context():
        text = Text("%(name)s is empty.", name=Text("%(label)s (%(ai)s)", label=Text("Expiry date"), ai="17"))
        assert translate(text) == "Поле «Срок годности (17)» пустое."
        assert translate("plain") == "plain"
