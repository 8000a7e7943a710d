"""The stock ledger at national scale, on PostgreSQL.

    .venv/bin/python bench/stock.py [--bulk 100000] [--sales 1000] [--ledger 1000000]

1. bulk movements: ``--bulk`` receipts, then as many sales, over 2,000 batches of one pharmacy,
   posted by ``pharma.stock.ledger.post`` in transactions of 20,000 (target: 20,000 movements/s);
2. one sale in process: ``issue_stock`` (authorization, FEFO over the batches of a product with
   their locks, the movement, the balance, the audit entry, the commit), ``--sales`` times
   (target: p95 under 10 ms);
3. stock on hand of a pharmacy with ``--ledger`` ledger rows: the first page and totals (target:
   under 50 ms), with the journal's first page and a batch's stock card for comparison.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import percentiles, scratch_database  # noqa: E402

BATCHES = 2000
CHUNK = 20_000


def setup(app):
    """A pharmacy, its pharmacist, and registered products (the demo register)."""
    from sqlalchemy import select

    from pharma.extensions import db
    from pharma.fixtures import load_all
    from pharma.parties.models import Location, User
    from pharma.register.models import ProductGtin
    from pharma.shared.actor import Actor

    with app.app_context():
        load_all()
        s = db.session
        user = s.scalars(select(User).where(User.username == "pharmacist")).one()
        here = s.scalars(select(Location.id).where(Location.organisation_id == user.organisation_id)
                         .order_by(Location.id)).first()
        gtins = list(s.scalars(select(ProductGtin.gtin).order_by(ProductGtin.gtin).limit(100)))
        actor = Actor(user_id=user.id, org_id=user.organisation_id, roles=user.roles, username=user.username,
                      via="token")
        return actor, here, gtins


def _moves(here, gtins, kind, quantity, n, start=0):
    from pharma.stock.domain import Move, expiry_raw_of

    expiry = date.today() + timedelta(days=500)
    raw = expiry_raw_of(expiry)
    return [Move(here, gtins[(start + i) % len(gtins)], f"BULK-{(start + i) % BATCHES}", expiry, raw, kind, quantity,
                 unit_cost=100 if quantity > 0 else None) for i in range(n)]


def bulk(app, actor, here, gtins, total):
    from pharma.extensions import db
    from pharma.shared.uow import UnitOfWork
    from pharma.stock.domain import Kind
    from pharma.stock.ledger import post

    # every batch key must pair one GTIN with one batch code: BATCHES is a multiple of len(gtins)
    for kind, quantity in ((Kind.RECEIPT, 5), (Kind.SALE, -1)):
        with app.app_context():
            t0 = time.perf_counter()
            for start in range(0, total, CHUNK):
                uow = UnitOfWork(db.session, actor)
                post(uow, _moves(here, gtins, kind, quantity, min(CHUNK, total - start), start), ("bench", kind))
                db.session.commit()
            took = time.perf_counter() - t0
        print(f"bulk {kind.value.lower()}s: {total:,} movements over {BATCHES:,} batches in {took:.2f} s "
              f"= {total / took:,.0f} movements/s (target 20,000)")


def sales(app, actor, here, gtins, n):
    from pharma.extensions import db
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import services as svc

    gtin = gtins[0]
    with app.app_context():
        # three batches of the product expiring at different dates: FEFO works across them
        lines = tuple(svc.ReceiptLine(gtin, f"SALE-{i}", date.today() + timedelta(days=100 * (i + 1)), n, 100)
                      for i in range(3))
        svc.receive_stock(UnitOfWork(db.session, actor), svc.ReceiveStock(here, "INV-BENCH", lines))
        timings = []
        for i in range(n):
            t0 = time.perf_counter()
            svc.issue_stock(UnitOfWork(db.session, actor),
                            svc.IssueStock(here, "SALE", f"FD-{i}", (svc.IssueLine(gtin, 2),)))
            timings.append(time.perf_counter() - t0)
            db.session.expunge_all()
    print(f"one sale in process (FEFO, lock, movement, balance, audit, commit): {n} sales, {percentiles(timings)} "
          "(target p95 10 ms)")


def ledger_rows(app, here, gtins, rows):
    """Fill the pharmacy's ledger to ``rows`` movements (server-side), as a year of trade would."""
    from sqlalchemy import func, select, text

    from pharma.extensions import db
    from pharma.stock.models import StockMovement

    with app.app_context():
        s = db.session
        have = s.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.location_id == here))
        if rows > have:
            codes = "CAST(:gtins AS text[])"
            s.execute(text(
                "INSERT INTO stock_movements (location_id, gtin, batch, expiry, expiry_raw, kind, quantity, value,"
                " document_type, document_id, serialized, created_at) "
                f"SELECT :here, ({codes})[g % cardinality({codes}) + 1], 'HIST-' || (g % 3000), CURRENT_DATE + 400,"
                " to_char(CURRENT_DATE + 400, 'YYMMDD'), CASE WHEN g % 2 = 0 THEN 'RECEIPT' ELSE 'SALE' END,"
                " CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END, 0, 'bench', 'HIST', false,"
                " now() - make_interval(secs => g * 30) "
                "FROM generate_series(1, :n) AS g"), {"here": here, "gtins": gtins, "n": rows - have})
            s.execute(text("ANALYZE stock_movements, stock_balances"))
            s.commit()
        return s.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.location_id == here))


def reads(app, actor, here, gtins, rows, n=200):
    from pharma.extensions import db
    from pharma.shared.time import today
    from pharma.shared.uow import UnitOfWork
    from pharma.stock import services as svc

    with app.app_context():
        for name, act in (
            ("stock on hand (first page of 50 + totals)",
             lambda uow: svc.stock_on_hand(uow, svc.BalanceQuery(here, per_page=50))),
            ("stock on hand of one product", lambda uow: svc.stock_on_hand(uow, svc.BalanceQuery(here, gtins[1]))),
            ("journal (first page of 50, total counted to 10,000)",
             lambda uow: svc.journal(uow, svc.MovementQuery(here))),
            ("stock card of a batch (30 days)",
             lambda uow: svc.stock_card(uow, here, gtins[0], "BULK-0", today() - timedelta(days=30), today())),
        ):
            timings = []
            for _ in range(n):
                t0 = time.perf_counter()
                act(UnitOfWork(db.session, actor))
                db.session.rollback()
                timings.append(time.perf_counter() - t0)
            print(f"{name} with {rows:,} ledger rows at the pharmacy: {n} reads, {percentiles(timings)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--sales", type=int, default=1000)
    parser.add_argument("--ledger", type=int, default=1_000_000)
    args = parser.parse_args()
    from pharma import create_app
    from pharma.config import Settings

    with scratch_database("pharma_bench_stock") as url:
        app = create_app(Settings(env="development", database_url=url, log_level="WARNING"))
        actor, here, gtins = setup(app)
        gtins = gtins[:len(gtins) - BATCHES % len(gtins)] if BATCHES % len(gtins) else gtins
        bulk(app, actor, here, gtins, args.bulk)
        sales(app, actor, here, gtins, args.sales)
        rows = ledger_rows(app, here, gtins, args.ledger)
        reads(app, actor, here, gtins, rows)


if __name__ == "__main__":
    main()
