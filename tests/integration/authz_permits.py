"""Authorization cases for this area of the API; test_authorization.py walks them for every role."""

from __future__ import annotations

from datetime import date, timedelta

from pharma.parties.models import Organisation
from tests.integration.test_authorization import Case
from tests.integration.test_permits_support import API, applied, approved, license_importer, product

READERS = frozenset({"regulator", "inspector", "importer"})
REGULATOR = frozenset({"regulator"})




def _importer(w) -> Organisation:
    """The permits' importer: the caller's own organisation when the caller is an importer."""
    if "importer" not in w.extra:
        org = w.make.session.get(Organisation, w.caller_user.organisation_id) if w.role == "importer" \
            else w.importer
        w.extra["importer"] = license_importer(w.make, org)
    return w.extra["importer"]


def _product(w) -> dict:
    if "permit_product" not in w.extra:
        w.extra["permit_product"] = product(w.make)
    return w.extra["permit_product"]


def _applied(w) -> int:
    if "applied" not in w.extra:
        w.extra["applied"] = applied(w.make, _importer(w).id, [(_product(w)["id"], 100)])
    return w.extra["applied"]


def _approved(w) -> int:
    if "approved" not in w.extra:
        w.extra["approved"] = approved(w.make, _importer(w).id, [(_product(w)["id"], 100)])
    return w.extra["approved"]


def _application(w) -> dict:
    _importer(w)
    return {"requested_valid_until": (date.today() + timedelta(days=180)).isoformat(),
            "lines": [{"gtin": _product(w)["gtin"], "packs_requested": 500}]}


CASES: list = [
    Case("POST", API, frozenset({"importer"}), lambda w: API, _application, 201),
    Case("GET", API, READERS, lambda w: f"{API}?status=APPLIED"),
    Case("GET", f"{API}/utilisation", READERS, lambda w: f"{API}/utilisation"),
    Case("GET", f"{API}/<int:permit_id>", READERS, lambda w: f"{API}/{_approved(w)}"),
    Case("GET", f"{API}/<int:permit_id>/pdf", READERS, lambda w: f"{API}/{_approved(w)}/pdf"),
    Case("POST", f"{API}/<int:permit_id>/approve", REGULATOR, lambda w: f"{API}/{_applied(w)}/approve",
         lambda w: {"lines": []}),
    Case("POST", f"{API}/<int:permit_id>/refuse", REGULATOR, lambda w: f"{API}/{_applied(w)}/refuse",
         lambda w: {"reason": "incomplete dossier"}),
    Case("POST", f"{API}/<int:permit_id>/revoke", REGULATOR, lambda w: f"{API}/{_approved(w)}/revoke",
         lambda w: {"reason": "licence breach"}),
]
