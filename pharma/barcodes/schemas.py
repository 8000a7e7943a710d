"""Query parameters of the labels API. Syntax only: the identifiers' GS1 rules are checked when drawing."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

_TEXT = validate.Length(min=1, max=64)


class LabelFormatQuery(ma.Schema):
    format = ma.fields.String(load_default="svg", validate=validate.OneOf(("svg", "png")),
                              metadata={"description": "svg (vector, for print) or png (raster)"})


class PackLabelQuery(LabelFormatQuery):
    gtin = ma.fields.String(required=True, validate=_TEXT,
                            metadata={"description": "GTIN-8, 12, 13 or 14; drawn as GTIN-14"})
    serial = ma.fields.String(required=True, validate=_TEXT,
                              metadata={"description": "AI 21, 1 to 20 characters of GS1 set 82, URL-encoded "
                                                       "(a + is sent as %2B)"})
    batch = ma.fields.String(required=True, validate=_TEXT,
                             metadata={"description": "AI 10, 1 to 20 characters of GS1 set 82"})
    expiry = ma.fields.String(required=True, validate=_TEXT,
                              metadata={"description": "AI 17 as printed, YYMMDD; day 00 means the month's end"})
