"""Stock exports and the expiry scan at scale, on PostgreSQL.

    .venv/bin/python bench/stock_reports.py [--rows 100000] [--balances 1000000]

1. stock on hand of one pharmacy with ``--rows`` balance rows, exported whole as CSV and as XLSX
   through ``pharma.stock.reports.on_hand`` and ``pharma.shared.tabular`` (the rows from a
   server-side cursor, the file written as it is read): time, size, and the peak of Python memory
   (tracemalloc, in a second run: tracing slows the first);
2. the expiry scan (``pharma.stock.expiry.scan_expiry``) over ``--balances`` balance rows spread
   over the demo's locations: the first run (every notice inserted), a second run the same day
   (nothing changes), and a run a day later (the bands that move).

The balance rows are written straight into ``stock_balances`` (server-side, without movements):
the exports and the scan read only balances.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import scratch_database  # noqa: E402


def setup(app):
    """The demo (a pharmacy, its pharmacist, the register); tables newer than the migrations."""
    from sqlalchemy import select

    from pharma.extensions import db
    from pharma.fixtures import load_all
    from pharma.parties.models import Location, User
    from pharma.shared.actor import Actor

    with app.app_context():
        load_all()
        s = db.session
        user = s.scalars(select(User).where(User.username == "pharmacist")).one()
        here = s.scalars(select(Location.id).where(Location.organisation_id == user.organisation_id)
                         .order_by(Location.id)).first()
        actor = Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles, username=user.username,
                      via="token")
        return actor, here


def fill_balances(app, here, rows: int, total: int) -> None:
    """``rows`` balances at the pharmacy, then up to ``total`` over every location; expiries spread
    from 100 days ago to 630 days ahead (about a quarter within the scan's 90 days)."""
    from sqlalchemy import text

    from pharma.extensions import db

    with app.app_context():
        s = db.session
        gtins = list(s.scalars(text("SELECT gtin FROM product_gtins ORDER BY gtin LIMIT 200")))
        locations = list(s.scalars(text("SELECT id FROM locations WHERE id <> :here ORDER BY id"), {"here": here}))
        sql = text(
            "INSERT INTO stock_balances (location_id, gtin, batch, expiry, expiry_raw, serialized, quantity, value,"
            " updated_at) "
            "SELECT {loc}, (CAST(:gtins AS text[]))[g % cardinality(CAST(:gtins AS text[])) + 1],"
            " :prefix || g, CURRENT_DATE + (g % 730) - 100, to_char(CURRENT_DATE + (g % 730) - 100, 'YYMMDD'),"
            " false, 1 + g % 20, (1 + g % 20) * 137, now() FROM generate_series(1, :n) AS g")
        s.execute(text(sql.text.replace("{loc}", ":here")), {"here": here, "gtins": gtins, "prefix": "R-", "n": rows})
        if total > rows:
            s.execute(text(sql.text.replace("{loc}", "(CAST(:locs AS integer[]))[g % cardinality(CAST(:locs AS "
                                                     "integer[])) + 1]")),
                      {"locs": locations, "gtins": gtins, "prefix": "X-", "n": total - rows})
        s.execute(text("ANALYZE stock_balances"))
        s.commit()
        print(f"balances: {rows:,} at the pharmacy, {max(total, rows):,} in all over {len(locations) + 1} locations")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def export(app, actor, here) -> None:
    from pharma.extensions import db
    from pharma.shared.tabular import csv_chunks, xlsx_chunks
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import reports

    for fmt, chunks in (("CSV", csv_chunks), ("XLSX", xlsx_chunks)):
        for traced in (False, True):
            with app.test_request_context():  # the column titles are translated
                if traced:
                    tracemalloc.start()
                t0 = time.perf_counter()
                report = reports.on_hand(UnitOfWork(db.session, actor), here)
                rows = report.summary["lines"]
                size = sum(len(c) for c in chunks(report.columns, report.rows(whole=True)))
                took = time.perf_counter() - t0
                if traced:
                    _, peak = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    print(f"  peak Python memory while exporting (tracemalloc): {_mib(peak)}")
                else:
                    print(f"stock on hand, {rows:,} lines, as {fmt}: {took:.2f} s = {rows / took:,.0f} lines/s, "
                          f"{_mib(size)}")
                db.session.rollback()


def scan(app, balances: int) -> None:
    from sqlalchemy import text

    from pharma.extensions import db
    from pharma.shared.actor import Actor
    from pharma.shared.time import today
    from pharma.shared.uow import UnitOfWork
    from pharma.stock.expiry import scan_expiry

    with app.app_context():
        for name, on in (("first run", None), ("second run, same day", None),
                         ("a day later", today() + timedelta(days=1))):
            tracemalloc.start()
            t0 = time.perf_counter()
            result = scan_expiry(UnitOfWork(db.session, Actor.system("bench")), on)
            took = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"expiry scan over {balances:,} balances, {name}: {took:.2f} s; {result.changed:,} notices "
                  f"written, {result.removed:,} removed; {result.bands}; peak Python memory {_mib(peak)}")
        notices = db.session.scalar(text("SELECT count(*) FROM stock_expiry_notices"))
        print(f"  notices kept: {notices:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--balances", type=int, default=1_000_000)
    args = parser.parse_args()
    from pharma import create_app
    from pharma.config import Settings

    with scratch_database("pharma_bench_reports") as url:
        app = create_app(Settings(env="development", database_url=url, log_level="WARNING"))
        actor, here = setup(app)
        fill_balances(app, here, args.rows, args.balances)
        export(app, actor, here)
        scan(app, max(args.balances, args.rows))
    print(f"process peak RSS: {_mib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}")


if __name__ == "__main__":
    main()
