"""Accuracy (issue 4): a stream of genuine scans with the faults real scanners make gives no false
alert, and injected counterfeits (unknown serial, copied serial, batch or expiry mismatch,
unregistered GTIN) are all flagged. Real packs, verified through verify_bulk."""

from __future__ import annotations

import random
from collections import Counter as Tally
from datetime import timedelta

from sqlalchemy import event

from pharma.shared.uow import UnitOfWork
from pharma.verify import keyboard
from pharma.verify import services as svc
from tests.factories import gtin13
from tests.integration.history_helpers import TODAY, commission, deliver, product
from tests.integration.verify_helpers import element_string, set_state

SET82_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
DIGITS = "0123456789"


def serials(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(SET82_LETTERS + DIGITS) for _ in range(rng.randint(8, 12))))
    return sorted(out)


def faulty(rng: random.Random, gtin: str, serial: str, batch: str, expiry: str) -> tuple[str, str]:
    """One genuine pack's scan as some scanner at some counter sends it, and the fault's name."""
    clean = element_string(gtin, serial, batch, expiry)
    fault = rng.choice(["clean", "no AIM prefix", "GS as ~", "GS as ^]", "GS lost", "serial first", "Caps Lock",
                        "Russian layout", "Azerbaijani layout", "trailing CR LF", "EAN-13 only"])
    scan = {
        "clean": clean,
        "no AIM prefix": clean.removeprefix("]d2"),
        "GS as ~": clean.replace("\x1d", "~"),
        "GS as ^]": clean.replace("\x1d", "^]"),
        "GS lost": element_string(gtin, serial, batch, expiry, gs=""),
        "serial first": f"]d201{gtin}21{serial}\x1d17{expiry}10{batch}",
        "Caps Lock": keyboard.typed(clean, "US", caps=True),
        "Russian layout": keyboard.typed(clean, "RU"),
        "Azerbaijani layout": keyboard.typed(clean, "AZ"),
        "trailing CR LF": clean + "\r\n",
        "EAN-13 only": gtin[1:],
    }[fault]
    return scan, fault


def test_genuine_scans_with_real_faults_raise_no_alert_and_every_counterfeit_is_flagged(make, db_session):
    rng = random.Random(20260310)
    pharmacy, neighbour = make.org("pharmacy"), make.org("pharmacy")
    lots = []
    for name in ("Stream A", "Stream B"):
        pid, gtin = product(make, name)
        lot = commission(make, serials=tuple(serials(rng, 120)), product_id=pid, gtin=gtin,
                         batch=f"{name[-1]}{rng.randint(1000, 9999)}x", expiry=TODAY + timedelta(days=400))
        deliver(make, lot, pharmacy, lot.serials[:100])
        deliver(make, lot, neighbour, lot.serials[100:110])
        set_state(make, lot, lot.serials[110], "DISPENSED")  # sold elsewhere; a copy of it turns up here
        lots.append(lot)
    expiry = (TODAY + timedelta(days=400)).strftime("%y%m%d")
    other_expiry = (TODAY + timedelta(days=430)).strftime("%y%m%d")

    genuine, faults = [], Tally()
    for lot in lots:
        for serial in lot.serials[:100]:
            scan, fault = faulty(rng, lot.gtin, serial, lot.batch, expiry)
            genuine.append(scan)
            faults[fault] += 1
    a, b = lots
    counterfeits = {
        "UNKNOWN_PACK": [element_string(a.gtin, "Zz" + s[2:], a.batch, expiry) for s in a.serials[:5]],
        "NOT_IN_CUSTODY": [element_string(b.gtin, s, b.batch, expiry) for s in b.serials[100:105]],
        "ALREADY_DISPENSED": [element_string(lot.gtin, lot.serials[110], lot.batch, expiry) for lot in lots],
        "BATCH_MISMATCH": [element_string(a.gtin, s, "FAKE7", expiry) for s in a.serials[10:15]],
        "EXPIRY_MISMATCH": [element_string(b.gtin, s, b.batch, other_expiry).replace("\x1d", "~")
                            for s in b.serials[20:25]],
        "UNREGISTERED_PRODUCT": [element_string(gtin13(90_000 + i, "469").zfill(14), f"CF{i}", "X1", expiry)
                                 for i in range(5)],
    }
    stream = [(scan, None) for scan in genuine] + [(scan, v) for v, scans in counterfeits.items() for scan in scans]
    rng.shuffle(stream)

    actor = make.uow(make.user("pharmacist", org=pharmacy)).actor
    selects: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(db_session.get_bind(), "before_cursor_execute", count)
    try:
        results = svc.verify_bulk(UnitOfWork(db_session, actor),
                                  svc.VerifyScans(tuple(svc.Scan(s) for s, _ in stream)))
    finally:
        event.remove(db_session.get_bind(), "before_cursor_execute", count)
    # the location, the GTINs, the packs, the candidate readings of the mangled scans, the region for the alerts
    assert len(selects) == 5, selects

    false_alerts = [(scan, r.verdict.value) for (scan, injected), r in zip(stream, results, strict=True)
                    if injected is None and r.alert]
    assert false_alerts == []
    missed = [(scan, injected, r.verdict.value) for (scan, injected), r in zip(stream, results, strict=True)
              if injected is not None and (not r.alert or r.verdict.value != injected)]
    assert missed == []
    verdicts = Tally(r.verdict.value for (_, injected), r in zip(stream, results, strict=True) if injected is None)
    assert set(verdicts) == {"OK"}, (verdicts, faults)
    assert len(faults) == 11  # every kind of fault occurred
