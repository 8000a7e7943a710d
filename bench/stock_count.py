"""A stock count of 20,000 batches, on PostgreSQL: open, record, approve.

    .venv/bin/python bench/stock_count.py [--batches 20000] [--every 10]

A fresh database (created and dropped here, like bench/stock.py) with the demo fixtures; a new
location of the demo pharmacy gets ``--batches`` batches on hand (written in bulk, server-side:
balances and their RECEIPT movements); a count is opened there, every batch is counted in one
request (one batch in ``--every`` short by one, one in ``3 * --every`` over by two), submitted, and
approved by the head pharmacist. Prints the time of each step; the target is the approval (the
posting of every difference, the findings and the commit): at most 2 s for 20,000 lines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import scratch_database  # noqa: E402

TARGET_S = 2.0


def setup(app, batches: int):
    """The head pharmacist, a new location of their pharmacy, and ``batches`` batches on hand there."""
    from sqlalchemy import select, text

    from pharma.extensions import db
    from pharma.fixtures import load_all
    from pharma.parties.models import Location, User
    from pharma.register.models import ProductGtin
    from pharma.shared.actor import Actor
    from pharma.shared.identifiers import gs1_check_digit

    with app.app_context():
        s = db.session
        load_all()
        head = s.scalars(select(User).where(User.username == "headpharmacist")).one()
        body = "476999" + "000001"
        location = Location(organisation_id=head.organisation_id, gln=body + str(gs1_check_digit(body)),
                            name="Bench counting store", region="Baku", city="Bakı", address="Bench 1")
        s.add(location)
        s.flush()
        gtins = list(s.scalars(select(ProductGtin.gtin).order_by(ProductGtin.gtin).limit(100)))
        params = {"here": location.id, "gtins": gtins, "n": batches}
        codes = "CAST(:gtins AS text[])"
        pick = f"({codes})[g % cardinality({codes}) + 1]"
        s.execute(text(
            "INSERT INTO stock_balances (location_id, gtin, batch, expiry, expiry_raw, serialized, quantity, value,"
            " updated_at) "
            f"SELECT :here, {pick}, 'CNT-' || g, CURRENT_DATE + 400, to_char(CURRENT_DATE + 400, 'YYMMDD'), false,"
            " 10 + g % 7, (10 + g % 7) * 150, now() FROM generate_series(1, :n) AS g"), params)
        s.execute(text(
            "INSERT INTO stock_movements (location_id, gtin, batch, expiry, expiry_raw, kind, quantity, unit_cost,"
            " value, document_type, document_id, serialized, created_at) "
            f"SELECT :here, {pick}, 'CNT-' || g, CURRENT_DATE + 400, to_char(CURRENT_DATE + 400, 'YYMMDD'),"
            " 'RECEIPT', 10 + g % 7, 150, (10 + g % 7) * 150, 'bench', 'OPENING', false, now() - interval '1 day' "
            "FROM generate_series(1, :n) AS g"), params)
        s.execute(text("ANALYZE stock_balances, stock_movements"))
        s.commit()
        actor = Actor(user_id=head.id, org_id=head.organisation_id, roles=head.roles, username=head.username,
                      via="token")
        return actor, location.id


def run(app, actor, here: int, every: int) -> float:
    from sqlalchemy import select

    from pharma.extensions import db
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import counts as svc
    from pharma.stock.ledger import BALANCES

    with app.app_context():
        t0 = time.perf_counter()
        count = svc.open_count(UnitOfWork(db.session, actor), svc.OpenCount(here))
        t1 = time.perf_counter()
        print(f"open: snapshot of {count['summary']['lines']:,} batches, {count['summary']['units_expected']:,} units "
              f"in {t1 - t0:.2f} s")
        b = BALANCES.c
        lines = []
        for i, (gtin, batch, quantity) in enumerate(db.session.execute(
                select(b.gtin, b.batch, b.quantity).where(b.location_id == here).order_by(b.gtin, b.batch))):
            counted = quantity - 1 if i % every == 0 else quantity + 2 if i % (3 * every) == 1 else quantity
            lines.append(svc.CountedLine(gtin, batch, counted))
        db.session.rollback()
        t2 = time.perf_counter()
        svc.record_lines(UnitOfWork(db.session, actor), count["id"], svc.RecordLines(lines=tuple(lines)))
        t3 = time.perf_counter()
        print(f"record: {len(lines):,} counted lines in one request in {t3 - t2:.2f} s")
        svc.submit_count(UnitOfWork(db.session, actor), count["id"])
        db.session.expunge_all()
        t4 = time.perf_counter()
        done = svc.approve_count(UnitOfWork(db.session, actor), count["id"])
        took = time.perf_counter() - t4
        result = done["result"]
        print(f"approve: {len(lines):,} lines, {result['movements']:,} adjustments "
              f"(+{result['surplus_units']:,} / -{result['shortage_units']:,} units), {result['findings']:,} findings "
              f"in {took:.2f} s (target {TARGET_S:.0f} s)")
        return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=10, help="one batch in this many is short by one")
    args = parser.parse_args()
    from pharma import create_app
    from pharma.config import Settings

    with scratch_database("pharma_bench_count") as url:
        app = create_app(Settings(env="development", database_url=url, log_level="WARNING"))
        actor, here = setup(app, args.batches)
        took = run(app, actor, here, args.every)
        from pharma.extensions import db

        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if took > TARGET_S:
        print(f"approve took {took:.2f} s: over the {TARGET_S:.0f} s target")


if __name__ == "__main__":
    main()
