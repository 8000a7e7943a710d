"""Authorization cases for the pack facts, history and EPCIS API; test_authorization.py walks them for every role.

The pack is commissioned by the caller's importer organisation when the caller is an importer, and
delivered to the world's pharmacy (the pharmacist's own), so each allowed role may read it."""

from __future__ import annotations

from tests.integration.history_helpers import API, commission, deliver
from tests.integration.test_authorization import Case, World

READERS = frozenset({"regulator", "inspector", "importer", "pharmacist", "head_pharmacist"})


def _pack(w: World) -> dict:
    if "history_pack" not in w.extra:
        importer = None
        if w.role == "importer":
            from pharma.parties.models import Organisation

            importer = w.make.session.get(Organisation, w.caller_user.organisation_id)
        lot = commission(w.make, importer=importer, serials=("AZ-1",))
        shipment = deliver(w.make, lot, w.pharmacy)
        w.extra["history_pack"] = {"gtin": lot.gtin, "serial": "AZ-1", "shipment_id": shipment.id}
    return w.extra["history_pack"]


def _url(suffix: str = ""):
    return lambda w: f"{API}/{_pack(w)['gtin']}/{_pack(w)['serial']}{suffix}"


CASES: list = [
    Case("GET", f"{API}/<gtin>/<path:serial>", READERS, _url()),
    Case("GET", f"{API}/<gtin>/<path:serial>/history", READERS, _url("/history")),
    Case("GET", f"{API}/<gtin>/<path:serial>/epcis", READERS, _url("/epcis")),
    Case("GET", f"{API}/shipments/<int:shipment_id>/epcis", READERS,
         lambda w: f"{API}/shipments/{_pack(w)['shipment_id']}/epcis"),
]
