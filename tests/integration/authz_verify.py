"""Authorization cases for /api/v1/verify and /api/v1/alerts; test_authorization.py walks them for every role.

Every caller's organisation has one location (a cash register: its device's), so a scan needs no
``location_gln``. The alert is opened by a scan at the world's pharmacy."""

from __future__ import annotations

import io

from pharma.shared.actor import Actor
from pharma.shared.uow import UnitOfWork
from pharma.verify import services as svc
from tests.factories import gtin13
from tests.integration.test_authorization import Case, World
from tests.integration.verify_helpers import ALERTS, VERIFY, element_string

SCANNERS = frozenset({"regulator", "inspector", "importer", "pharmacist", "head_pharmacist", "cash_register"})
READERS = frozenset({"regulator", "inspector"})
REGULATOR = frozenset({"regulator"})
UNREGISTERED = gtin13(5150, prefix="469").zfill(14)


def _alert(w: World) -> int:
    if "alert_id" not in w.extra:
        result = svc.verify_scan(UnitOfWork(w.make.session, Actor.system("test")),
                                 svc.Scan(element_string(UNREGISTERED, "AUTHZ1")), w.pharmacy.locations[0].gln)
        w.extra["alert_id"] = result.alert_id
    return w.extra["alert_id"]


def _photo(w: World) -> dict:
    from pharma.barcodes.draw import pack_label

    return {"photo": (io.BytesIO(pack_label(UNREGISTERED, "AUTHZ2", "B1", "301231", kind="png")), "pack.png")}


CASES: list = [
    Case("POST", VERIFY, SCANNERS, lambda w: VERIFY, lambda w: {"scan": element_string(UNREGISTERED, "AUTHZ3")}),
    Case("POST", f"{VERIFY}/bulk", SCANNERS, lambda w: f"{VERIFY}/bulk",
         lambda w: {"scans": [{"scan": element_string(UNREGISTERED, "AUTHZ4")}, {"scan": "junk"}]}),
    Case("POST", f"{VERIFY}/photo", SCANNERS, lambda w: f"{VERIFY}/photo", form=_photo),
    Case("GET", ALERTS, READERS, lambda w: f"{ALERTS}?status=OPEN"),
    Case("GET", f"{ALERTS}/rate", READERS, lambda w: f"{ALERTS}/rate?from=2026-01-01&to=2026-01-31"),
    Case("GET", f"{ALERTS}/<int:alert_id>", READERS, lambda w: f"{ALERTS}/{_alert(w)}"),
    Case("POST", f"{ALERTS}/<int:alert_id>/investigate", REGULATOR, lambda w: f"{ALERTS}/{_alert(w)}/investigate"),
    Case("POST", f"{ALERTS}/<int:alert_id>/close", REGULATOR, lambda w: f"{ALERTS}/{_alert(w)}/close",
         lambda w: {"reason": "TECHNICAL_ERROR", "note": "label printer fault"}),
]
