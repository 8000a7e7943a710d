"""Commissioning at national scale, on PostgreSQL.

    .venv/bin/python bench/commission.py [--packs 1000000] [--recall 100000] [--stored 10000000]

1. a declaration of ``--packs`` packs (10 batches, cases of 100, pallets of 50 cases) as a CSV
   upload, end to end: stored, parsed, checked, written with the permit's drawdown and the
   COMMISSION event, committed (the target: 100,000 packs/s, under 15 s for 1,000,000);
2. a recall of a batch of ``--recall`` packs (target: under 1 s);
3. a shipment of ``--ship`` packs (whole pallets of the second batch) to a pharmacy, and its
   receipt by scanning the pallets' cases, one case left unscanned (its packs MISSING);
4. pack history lookups with ``--stored`` packs in the database (target: milliseconds); the
   packs beyond the declaration are made by ``pharma fixtures synth``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import percentiles, scratch_database  # noqa: E402
from pharma.shared.identifiers import gs1_check_digit  # noqa: E402


def sscc(n: int) -> str:
    body = f"3476000{n:010d}"
    return body + str(gs1_check_digit(body))


def declaration_csv(gtin: str, packs: int, batches: int = 10) -> bytes:
    expiry = (date.today() + timedelta(days=900)).strftime("%y%m%d")
    per_batch = -(-packs // batches)
    lines = ["gtin,batch,expiry,serial,sscc,parent_sscc"]
    rnd = random.Random(7)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    for i in range(packs):
        serial = "".join(rnd.choices(alphabet, k=8)) + f"{i:07d}"  # random prefix: realistic index inserts
        case = i // 100
        lines.append(f"{gtin},L{i // per_batch:03d},{expiry},{serial},{sscc(case)},{sscc(900_000 + case // 50)}")
    return ("\n".join(lines) + "\n").encode()


def setup(app, packs: int):
    from sqlalchemy import select

    from pharma import fixtures
    from pharma.extensions import db
    from pharma.parties.models import Location, User
    from pharma.permits.models import ImportPermit, PermitLine
    from pharma.register.models import Certificate, ProductGtin

    with app.app_context():
        fixtures.load_all()
        s = db.session
        user = s.scalars(select(User).where(User.username == "importer")).one()
        location = s.scalars(select(Location).where(Location.organisation_id == user.organisation_id)).first()
        gtin, product_id = s.execute(
            select(ProductGtin.gtin, ProductGtin.product_id)
            .join(Certificate, Certificate.product_id == ProductGtin.product_id)
            .where(Certificate.status == "active", Certificate.valid_until > date.today() + timedelta(days=30))
            .order_by(ProductGtin.gtin)).first()
        permit = ImportPermit(number="IP-BENCH-1", importer_id=user.organisation_id, status="APPROVED",
                              requested_valid_until=date.today() + timedelta(days=90), valid_from=date.today(),
                              valid_until=date.today() + timedelta(days=90))
        permit.lines = [PermitLine(product_id=product_id, manufacturer="bench", country_of_origin="DE",
                                   packs_requested=packs * 2, packs_approved=packs * 2)]
        s.add(permit)
        s.commit()
        return user.id, user.organisation_id, location.id, permit.id, gtin


def commission(app, user_id, org_id, location_id, permit_id, gtin, packs) -> int:
    from pharma.extensions import db
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace.declarations import NewDeclaration, process_declaration, submit_declaration

    content = declaration_csv(gtin, packs)
    actor = Actor(user_id=user_id, org_id=org_id, roles=frozenset({"importer"}), username="importer")
    with app.app_context():
        t0 = time.perf_counter()
        d = submit_declaration(UnitOfWork(db.session, actor), NewDeclaration(
            permit_id, location_id, "csv", "bench.csv", content))
        t1 = time.perf_counter()
        result = process_declaration(UnitOfWork(db.session, actor), d.id)
        t2 = time.perf_counter()
        assert result.status == "ACCEPTED", (result.status, result.errors[:5])
    total = t2 - t0
    print(f"declaration of {packs:,} packs ({len(content) / 1e6:.0f} MB CSV): upload stored in {t1 - t0:.2f} s, "
          f"checked and commissioned in {t2 - t1:.2f} s; end to end {total:.2f} s = {packs / total:,.0f} packs/s")
    return d.id


def recall(app, gtin: str) -> None:
    from sqlalchemy import func, select

    from pharma.extensions import db
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace import movements
    from pharma.trace.models import Batch, Pack

    with app.app_context():
        batch, n = db.session.execute(
            select(Batch.batch, func.count(Pack.id)).join(Pack, Pack.batch_id == Batch.id)
            .where(Batch.gtin == gtin).group_by(Batch.batch).order_by(Batch.batch)).first()
        actor = Actor(user_id=None, org_id=None, roles=frozenset({"regulator"}), username="bench")
        t0 = time.perf_counter()
        movements.recall_batch(UnitOfWork(db.session, actor), gtin, batch, "bench recall")
        elapsed = time.perf_counter() - t0
    print(f"recall of batch {batch} ({n:,} packs): {elapsed * 1000:.1f} ms")


def ship_and_receive(app, user_id: int, org_id: int, location_id: int, packs: int, ship: int) -> None:
    from sqlalchemy import select

    from pharma.extensions import db
    from pharma.parties.models import Location, User
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace import movements

    per_batch = -(-packs // 10)
    first_case = per_batch // 100  # the second batch (L001): the first one is recalled by now
    cases = list(range(first_case, first_case + ship // 100))
    pallets = sorted({900_000 + c // 50 for c in cases})
    with app.app_context():
        s = db.session
        pharmacist = s.scalars(select(User).where(User.username == "pharmacist")).one()
        pharmacy = s.scalars(select(Location).where(Location.organisation_id == pharmacist.organisation_id)
                             .order_by(Location.id)).first()
        importer = Actor(user_id=user_id, org_id=org_id, roles=frozenset({"importer"}), username="importer")
        receiver = Actor(user_id=pharmacist.id, org_id=pharmacist.organisation_id,
                         roles=frozenset({"pharmacist"}), username="pharmacist")
        t0 = time.perf_counter()
        shipment = movements.ship(UnitOfWork(s, importer), movements.ShipPacks(
            location_id, pharmacy.id, cases=tuple(sscc(p) for p in pallets)))
        t1 = time.perf_counter()
        scanned = tuple(sscc(c) for c in cases[1:])  # the first case is not scanned: 100 packs missing
        view = movements.receive(UnitOfWork(s, receiver), shipment.id, movements.Receipt(cases=scanned))
        t2 = time.perf_counter()
    print(f"shipment of {shipment.packs_count:,} packs ({len(pallets)} pallets): shipped in {t1 - t0:.2f} s; "
          f"received by scanning {len(scanned)} cases in {t2 - t1:.2f} s ({view.discrepancies['missing']} missing)")


def synth(app, packs: int) -> None:
    from pharma.extensions import db
    from pharma.trace.synth import synthesize

    with app.app_context():
        t0 = time.perf_counter()
        made = synthesize(db.session, packs)
        print(f"synthesized {made:,} more packs in {time.perf_counter() - t0:.1f} s")


def history(app, samples: int = 2000) -> None:
    from sqlalchemy import func, select

    from pharma.extensions import db
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace import history as hist
    from pharma.trace.models import Pack

    with app.app_context():
        session = db.session
        total = session.scalar(select(func.count()).select_from(Pack))
        top = session.scalar(select(func.max(Pack.id)))
        ids = [random.randint(1, top) for _ in range(samples)]
        keys = session.execute(select(Pack.gtin, Pack.serial).where(Pack.id.in_(ids))).all()
        actor = Actor(user_id=None, org_id=None, roles=frozenset({"regulator"}), username="bench")
        session.remove()
        work = UnitOfWork(db.session(bind=db.read_engine), actor)
        timings, events = [], []
        for gtin, serial in keys:
            t0 = time.perf_counter()
            entries = hist.pack_history(work, gtin, serial)
            timings.append(time.perf_counter() - t0)
            events.append(len(entries))
    print(f"pack history with {total:,} packs stored: {len(timings)} lookups, {percentiles(timings)}; "
          f"{statistics.mean(events):.1f} events per pack")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=1_000_000)
    parser.add_argument("--stored", type=int, default=10_000_000)
    parser.add_argument("--ship", type=int, default=100_000, help="packs to ship and receive (0: skip)")
    parser.add_argument("--skip-history", action="store_true")
    args = parser.parse_args()
    from pharma import create_app
    from pharma.config import Settings

    with scratch_database() as url:
        app = create_app(Settings(env="development", database_url=url, log_level="WARNING"))
        ids = setup(app, args.packs)
        commission(app, *ids, args.packs)
        recall(app, ids[-1])
        if args.ship:
            ship_and_receive(app, *ids[:3], args.packs, min(args.ship, args.packs // 10))
        if not args.skip_history:
            if args.stored > args.packs:
                synth(app, args.stored - args.packs)
            history(app)


if __name__ == "__main__":
    main()
