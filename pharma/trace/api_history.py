"""/api/v1/packs: a pack's facts and history, and GS1 EPCIS 2.0 exports of packs and shipments.

A GTIN may be sent as 8, 12, 13 or 14 digits; the serial is the rest of the path, URL-encoded
(a ``/`` in a serial is sent as ``%2F``). A pack the caller may not read is 404 PACK_NOT_FOUND,
like one that does not exist.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from pharma.shared.http import uow
from pharma.trace import epcis, history
from pharma.trace import schemas_history as s

blp = Blueprint("history_api", __name__,
                url_prefix="/api/v1/packs",
                description="Pack facts, histories and EPCIS 2.0 exports")


@blp.get("/shipments/<int:shipment_id>/epcis")
@blp.response(200, s.EpcisDocumentOut, content_type=epcis.MEDIA_TYPE)
def shipment_epcis(shipment_id):
    """A shipment's events (shipped, received, missing packs resolved) as a GS1 EPCIS 2.0 JSON-LD document."""
    return epcis.export_shipment(uow(), shipment_id)


@blp.get("/<gtin>/<path:serial>/history")
@blp.response(200, s.PackHistoryOut)
def pack_history(gtin, serial):
    """A pack's facts and every event covering it, oldest first: what, when, who, where, why, document."""
    pack, events = history.pack_with_history(uow(), gtin, serial)
    return {"pack": pack, "events": events}


@blp.get("/<gtin>/<path:serial>/epcis")
@blp.response(200, s.EpcisDocumentOut, content_type=epcis.MEDIA_TYPE)
def pack_epcis(gtin, serial):
    """A pack's history as a GS1 EPCIS 2.0 JSON-LD document (ObjectEvents, Digital Link identifiers)."""
    return epcis.export_pack(uow(), gtin, serial)


@blp.get("/<gtin>/<path:serial>")
@blp.response(200, s.PackFactsOut)
def pack_facts(gtin, serial):
    """A pack's facts: product, batch, expiry, custodian, case, shipment, stored and effective state."""
    return history.read_pack(uow(), gtin, serial)
