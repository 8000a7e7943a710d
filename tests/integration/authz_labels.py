"""Authorization cases for the labels API; test_authorization.py walks them for every role."""

from __future__ import annotations

from tests.integration.test_authorization import Case

API = "/api/v1/labels"
DRAWERS = frozenset({"regulator", "inspector", "importer"})

CASES: list = [
    Case("GET", f"{API}/pack", DRAWERS,
         lambda w: f"{API}/pack?gtin=04030096123457&serial=AZ-1&batch=B1&expiry=271231&format=png"),
    Case("GET", f"{API}/sscc/<sscc>", DRAWERS, lambda w: f"{API}/sscc/376123450000000016"),
    Case("GET", f"{API}/ean13/<gtin>", DRAWERS, lambda w: f"{API}/ean13/4030096123457?format=png"),
]
