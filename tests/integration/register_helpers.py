"""Payloads for the register tests."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from tests.factories import gtin13

API = "/api/v1/register"
_n = itertools.count(1)


def product_payload(**overrides) -> dict:
    n = next(_n)
    payload = {
        "trade_name": f"Amoksiklav {n}",
        "substances": [{"inn": "amoxicillin", "strength": "875 mg"},
                       {"inn": "clavulanic acid", "strength": "125 mg"}],
        "atc_code": "J01CR02",
        "dosage_form": "FILM_COATED_TABLET",
        "route": "ORAL",
        "pack_size": 14,
        "pack_unit": "tablet",
        "gtins": [gtin13(900000 + n, prefix="403")],
        "rx": True,
        "controlled_schedule": None,
        "certificate": {
            "number": f"DV-2024-{n:05d}",
            "holder": "Sandoz GmbH",
            "manufacturer": "Lek d.d.",
            "country": "SI",
            "issued": "2024-03-15",
            "valid_until": (date.today() + timedelta(days=365)).isoformat(),
        },
    }
    payload.update(overrides)
    return payload


def register(client, caller, **overrides) -> dict:
    res = client.post(f"{API}/products", headers=caller.headers, json=product_payload(**overrides))
    assert res.status_code == 201, res.json
    return res.json
