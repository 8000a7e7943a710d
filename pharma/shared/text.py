"""Texts that pages can translate: English for the API and the logs, any language on a page.

A ``Text`` *is* the English string (so APIs, logs, equality and JSON see the exact message the
tests pin), and it also keeps its msgid and values, so a page translates it at the last moment
with ``pharma.i18n.translate`` (or the ``text`` template filter). Domain code stays free of Flask:
it only builds ``Text("... %(name)s ...", name=value)``; ``make messages`` extracts the msgid (the
extraction keyword is ``Text``). A value may itself be a ``Text`` (a field's name, say) and is
translated with it.
"""

from __future__ import annotations


class Text(str):
    """An English message with its msgid (``template``) and its values (``params``)."""

    template: str
    params: dict

    def __new__(cls, template: str, **params) -> Text:
        self = super().__new__(cls, template % params if params else template)
        self.template = template
        self.params = params
        return self

    def __reduce__(self):  # pickles (Celery, caches) keep the msgid and values
        return _rebuild, (self.template, self.params)


def _rebuild(template: str, params: dict) -> Text:
    return Text(template, **params)
