"""/api/v1/labels: GS1 labels drawn from validated data, as SVG or PNG.

Nothing is drawn from data that breaks a GS1 rule: a wrong check digit, a date that does not
exist or a character outside GS1 set 82 is 422 INVALID_IDENTIFIER naming the field.
"""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from pharma.barcodes import schemas as s
from pharma.barcodes import services as svc
from pharma.shared.http import uow

blp = Blueprint("labels_api", __name__,
                url_prefix="/api/v1/labels",
                description="GS1 labels: Data Matrix for packs, GS1-128 for cases, EAN-13")

_BINARY = {"schema": {"type": "string", "format": "binary"}}
IMAGE = {"description": "The label: image/svg+xml or image/png as format asks",
         "content": {"image/svg+xml": _BINARY, "image/png": _BINARY}}


def _send(label: svc.Label) -> Response:
    return Response(label.body, mimetype=label.media_type,
                    headers={"Content-Disposition": f'inline; filename="{label.filename}"'})


@blp.get("/pack")
@blp.arguments(s.PackLabelQuery, location="query")
@blp.response(200, description="The pack's label")
@blp.doc(responses={"200": IMAGE})
def pack_label(args):
    """A pack's square GS1 Data Matrix: (01) GTIN, (17) expiry, (10) batch, (21) serial."""
    return _send(svc.draw_pack_label(uow(), args["gtin"], args["serial"], args["batch"], args["expiry"],
                                     args["format"]))


@blp.get("/sscc/<sscc>")
@blp.arguments(s.LabelFormatQuery, location="query")
@blp.response(200, description="The case's label")
@blp.doc(responses={"200": IMAGE})
def sscc_label(args, sscc):
    """A case's GS1-128 label: (00) and the 18-digit SSCC, printed under the bars."""
    return _send(svc.draw_sscc_label(uow(), sscc, args["format"]))


@blp.get("/ean13/<gtin>")
@blp.arguments(s.LabelFormatQuery, location="query")
@blp.response(200, description="The product's EAN-13")
@blp.doc(responses={"200": IMAGE})
def ean13_label(args, gtin):
    """An EAN-13 for a GTIN-13 (or a GTIN-12 or GTIN-14 with leading zeros), digits under the bars."""
    return _send(svc.draw_ean13_label(uow(), gtin, args["format"]))
