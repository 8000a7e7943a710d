"""Scans and packs for the verification tests: a pharmacy holding delivered packs, GS1 element
strings as a scanner sends them, and calls to the verification API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import update

from pharma.parties.models import Organisation
from pharma.shared.identifiers import Expiry
from pharma.trace.models import Pack
from tests.factories import Factory, Made
from tests.integration.history_helpers import Lot, commission, deliver

GS = "\x1d"
VERIFY = "/api/v1/verify"
ALERTS = "/api/v1/alerts"


def element_string(gtin: str, serial: str | None = None, batch: str | None = None, expiry: str | None = None,
                   aim: str = "]d2", gs: str = GS) -> str:
    """A GS1 Data Matrix's data as a scanner sends it: fixed-length fields first, GS after each
    variable-length field but the last."""
    text = f"01{gtin}" + (f"17{expiry}" if expiry else "")
    variable = [f"10{batch}"] if batch else []
    variable += [f"21{serial}"] if serial else []
    return aim + text + gs.join(variable)


@dataclass
class Counter:
    """A pharmacy with packs delivered to it, and a pharmacist with a token."""

    make: Factory
    pharmacy: Organisation
    pharmacist: Made
    lot: Lot

    @property
    def location_id(self) -> int:
        return self.pharmacy.locations[0].id

    def scan(self, serial: str, batch: str | None = None, expiry: str | None = None, **kw) -> str:
        return element_string(self.lot.gtin, serial, batch or self.lot.batch, expiry or self.expiry, **kw)

    @property
    def expiry(self) -> str:
        return Expiry.from_date(self.lot_expiry).raw

    @property
    def lot_expiry(self) -> date:
        from pharma.trace.models import Batch

        return self.make.session.get(Batch, self.lot.batch_id).expiry


def counter(make: Factory, serials: tuple[str, ...] = ("P1", "P2", "P3"), **kw) -> Counter:
    pharmacy = make.org("pharmacy")
    lot = commission(make, serials=serials, **kw)
    deliver(make, lot, pharmacy)
    return Counter(make, pharmacy, make.caller("pharmacist", org=pharmacy), lot)


def set_state(make: Factory, lot: Lot, serial: str, state: str) -> None:
    """Set a pack's stored state directly (DISPENSED: issue 6's dispensing does not exist yet)."""
    make.session.execute(update(Pack).where(Pack.id == lot.pack_id(serial)).values(state=state))
    make.session.commit()


def verify(client, caller: Made, scan: str, status: int = 200, headers: dict | None = None, **body) -> dict:
    res = client.post(VERIFY, json={"scan": scan, **body}, headers={**caller.headers, **(headers or {})})
    assert res.status_code == status, res.get_json()
    return res.get_json()


def findings(result: dict) -> list[tuple[str, str]]:
    return [(f["code"], f["message"]) for f in result["findings"]]
