"""Scans parsed per second by the one scan parser (pharma.verify.parser), on one core.

    .venv/bin/python bench/parse_scans.py [--scans 20000] [--seed 1]

Prints scans/s and microseconds per scan for: clean ``]d2`` scans with GS (the common case),
the same with the records given (``known``, in memory here), plain EAN-13, and mangled scans
(GS dropped, a GS substitute, Caps Lock, a Russian layout) repaired with the records; and
biip.parse on the clean scans for comparison.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import biip  # noqa: E402

from pharma.shared.identifiers import CSET82, gs1_check_digit  # noqa: E402
from pharma.verify.keyboard import typed  # noqa: E402
from pharma.verify.parser import GS, ParsedScan, parse_scan  # noqa: E402

TODAY = date(2026, 1, 15)


class InMemoryRecords:
    """KnownPacks over a dict of (gtin, serial) -> (batch, expiry): what the database answers."""

    def __init__(self, packs: dict[tuple[str, str], tuple[str, str]]) -> None:
        self.packs = packs
        self.gtins = {gtin for gtin, _ in packs}

    def known(self, readings: list[ParsedScan]) -> list[ParsedScan]:
        return [r for r in readings if self._match(r)]

    def _match(self, r: ParsedScan) -> bool:
        if r.kind != "PACK":
            return r.gtin in self.gtins
        record = self.packs.get((r.gtin, r.serial))
        return record is not None and r.batch in (None, record[0]) and (r.expiry is None or r.expiry.raw == record[1])


def packs(n: int, rng: random.Random) -> list[tuple[str, str, str, str]]:
    alphabet = "".join(sorted(CSET82))
    out = []
    for _ in range(n):
        body = "46" + "".join(rng.choices("0123456789", k=10))
        gtin = "0" + body + str(gs1_check_digit(body))
        serial = "".join(rng.choices(alphabet, k=rng.randint(8, 20)))
        batch = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=rng.randint(4, 10)))
        out.append((gtin, serial, batch, f"{rng.randint(26, 30)}{rng.randint(1, 12):02d}00"))
    return out


def element_string(gtin: str, serial: str, batch: str, expiry: str, sep: str = GS) -> str:
    return f"01{gtin}17{expiry}10{batch}{sep}21{serial}"


def mangled(pack: tuple[str, str, str, str], rng: random.Random) -> str:
    fault = rng.choice(["gs_dropped", "substitute", "caps_lock", "russian"])
    if fault == "gs_dropped":
        return "]d2" + element_string(*pack, sep="")
    if fault == "substitute":
        return element_string(*pack, sep="~")
    return typed("]d2" + element_string(*pack), "RU" if fault == "russian" else "US", caps=fault == "caps_lock")


def rate(label: str, scans: list[str], parse) -> None:
    start = time.perf_counter()
    for raw in scans:
        parse(raw)
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {len(scans) / elapsed:>10,.0f} scans/s  {elapsed / len(scans) * 1e6:>7.1f} us/scan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    data = packs(args.scans, rng)
    records = InMemoryRecords({(g, s): (b, e) for g, s, b, e in data})
    clean = ["]d2" + element_string(*p) for p in data]
    ean13 = [p[0][1:] for p in data]
    broken = [mangled(p, rng) for p in data]

    rate("clean ]d2 with GS", clean, lambda raw: parse_scan(raw, today=TODAY))
    rate("clean ]d2 with GS, known", clean, lambda raw: parse_scan(raw, today=TODAY, known=records))
    rate("plain EAN-13", ean13, lambda raw: parse_scan(raw, today=TODAY))
    rate("mangled (GS lost/substituted, Caps, RU), known", broken,
         lambda raw: parse_scan(raw, today=TODAY, known=records))
    config = biip.ParseConfig(separator_chars=[GS])
    rate("biip.parse, clean ]d2 with GS (reference)", clean[:5000], lambda raw: biip.parse(raw, config=config))


if __name__ == "__main__":
    main()
