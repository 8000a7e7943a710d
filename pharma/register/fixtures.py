"""Reference data of the register: ``fixtures/register/products.json`` and ``fixtures/icd10.csv``.

Both loaders add to the caller's session and flush; the caller commits (pharma/fixtures.py).
Every GTIN, ATC code, strength and controlled-list value goes through the same domain checks
as the API. A certificate past its ``valid_until`` is entered as expired, with a history row.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pharma.register import domain as d
from pharma.register.models import (
    Certificate,
    CertificateStatusChange,
    Icd10Code,
    PriceRecord,
    Product,
    ProductGtin,
    ProductSubstance,
)
from pharma.register.services import AMENDABLE, check_facts, substance_ids
from pharma.shared.errors import ValidationFailed
from pharma.shared.identifiers import Gtin
from pharma.shared.time import today as utc_today

LOADER = "fixtures"


def load_register(session: Session, path: Path, today: date | None = None) -> dict[str, int]:
    """Insert the products of ``products.json`` with their substances, GTINs, certificates and prices."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    day = today or utc_today()
    parsed = [_parse(i, row) for i, row in enumerate(rows)]
    seen: set[str] = set()
    for i, item in enumerate(parsed):
        dup = seen.intersection(item["gtins"])
        if dup:
            raise ValueError(f"products.json item {i}: GTIN {', '.join(sorted(dup))} appears twice")
        seen.update(item["gtins"])
    ids = substance_ids(session, {inn for item in parsed for inn, _ in item["lines"]})
    counts = {"products": 0, "gtins": 0, "certificates": 0, "prices": 0, "substances": len(ids)}
    products = []
    for item in parsed:
        product = Product(**item["facts"])
        product.substances = [
            ProductSubstance(position=n, substance_id=ids[inn], strength_value=s.value, strength_unit=s.unit)
            for n, (inn, s) in enumerate(item["lines"])
        ]
        product.gtins = [ProductGtin(gtin=g) for g in item["gtins"]]
        product.prices = [PriceRecord(max_retail_price=p.max_retail_price, effective_from=p.effective_from,
                                      effective_to=p.effective_to) for p in item["prices"]]
        cert = item["certificate"]
        if cert is not None:
            product.certificate = _certificate(cert, day)
            counts["certificates"] += 1
        products.append(product)
        counts["products"] += 1
        counts["gtins"] += len(item["gtins"])
        counts["prices"] += len(item["prices"])
    session.add_all(products)
    session.flush()
    return counts


def _parse(i: int, row: dict) -> dict:
    where = f"products.json item {i} ({row.get('trade_name', '?')})"
    try:
        facts = check_facts({k: row.get(k) for k in AMENDABLE})
        lines = [(d.normalise_inn(s["inn"]), d.parse_strength(s["strength"])) for s in row["substances"]]
        gtins = [Gtin.parse(g).value for g in row["gtins"]]
        prices: list[d.PricePeriod] = []
        for p in sorted(row.get("prices") or [], key=lambda p: p["effective_from"]):
            new = d.PricePeriod(int(p["max_retail_price"]), date.fromisoformat(p["effective_from"]),
                                date.fromisoformat(p["effective_to"]) if p.get("effective_to") else None)
            closed = d.plan_price(prices, new)
            prices = [next((c for c in closed if c.effective_from == q.effective_from), q) for q in prices]
            prices.append(new)
    except ValidationFailed as exc:
        raise ValueError(f"{where}: {exc.detail} {exc.errors}") from exc
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{where}: missing or malformed {exc}") from exc
    if not gtins:
        raise ValueError(f"{where}: no GTIN")
    return {"facts": facts, "lines": lines, "gtins": gtins, "prices": prices, "certificate": row.get("certificate")}


def _certificate(raw: dict, day: date) -> Certificate:
    issued = date.fromisoformat(raw["issued"])
    valid_until = date.fromisoformat(raw["valid_until"])
    status = d.initial_status(raw.get("status", "active"), valid_until, day)
    cert = Certificate(number=raw["number"], holder=raw["holder"], manufacturer=raw["manufacturer"],
                       country=raw["country"].upper(), issued_on=issued, valid_until=valid_until,
                       status=status.value)
    history = [CertificateStatusChange(action="register", from_status=None, to_status="active",
                                       valid_until=valid_until, reason="Registered (reference data)",
                                       username=LOADER)]
    if status is d.CertificateStatus.EXPIRED:
        history.append(CertificateStatusChange(
            action="expire", from_status="active", to_status="expired", valid_until=valid_until,
            reason=f"Validity ended on {valid_until}.", username=LOADER))
    elif status is not d.CertificateStatus.ACTIVE:
        verb = {"suspended": "suspend", "revoked": "revoke"}[status.value]
        history.append(CertificateStatusChange(
            action=verb, from_status="active", to_status=status.value, valid_until=valid_until,
            reason=raw.get("reason") or f"Recorded as {status.value} in the reference register.",
            username=LOADER))
    cert.history = history
    return cert


def load_icd10(session: Session, path: Path) -> dict[str, int]:
    """Insert the ICD-10 codes of ``icd10.csv`` (header ``code,title``) in batches."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        rows = [{"code": r["code"].strip().upper(), "title": r["title"].strip()}
                for r in csv.DictReader(fh) if r.get("code", "").strip()]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Icd10Code), rows[start:start + 5000])
    return {"icd10_codes": len(rows)}


__all__ = ["load_icd10", "load_register"]
