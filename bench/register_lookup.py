"""GTIN lookups per second on PostgreSQL with the full register: in process and over HTTP.

    .venv/bin/python bench/register_lookup.py [--extra-products 20000] [--seconds 5]

A fresh database is migrated and loaded with the fixture register plus ``--extra-products``
synthetic products (so the GTIN index is the size of a national register), then:
1. in process: ``register.services.product_by_gtin`` (the service the API calls), one
   thread, random GTINs;
2. over HTTP: gunicorn (2 workers x 4 threads) serving ``GET /api/v1/register/gtins/<gtin>``
   with a bearer token, driven by client threads on the same 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import percentiles, scratch_database  # noqa: E402
from pharma.shared.identifiers import gs1_check_digit  # noqa: E402


def synthetic_products(count: int) -> list[dict]:
    """Variants of the fixture products with their own GTINs and certificate numbers."""
    base = json.loads((ROOT / "fixtures" / "register" / "products.json").read_text(encoding="utf-8"))
    out = []
    for i in range(count):
        p = json.loads(json.dumps(base[i % len(base)]))
        body = f"2{i:011d}"  # restricted-circulation prefix 2: never collides with real GTINs
        p["gtins"] = [body + str(gs1_check_digit(body))]
        p["trade_name"] = f"{p['trade_name']} S{i}"
        p["certificate"]["number"] = f"BENCH-{i:07d}"
        p["certificate"]["status"] = "active"
        p["certificate"]["valid_until"] = "2030-12-31"
        out.append(p)
    return out


def load(url: str, extra: int) -> list[str]:
    from sqlalchemy import select

    from pharma import create_app, fixtures
    from pharma.config import Settings
    from pharma.extensions import db
    from pharma.register import fixtures as register_fixtures
    from pharma.register.models import ProductGtin

    app = create_app(Settings(env="development", database_url=url))
    with app.app_context():
        t0 = time.perf_counter()
        fixtures.load_all()
        if extra:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
                json.dump(synthetic_products(extra), fh)
            register_fixtures.load_register(db.session, Path(fh.name))
            db.session.commit()
            os.unlink(fh.name)
        gtins = list(db.session.scalars(select(ProductGtin.gtin)))
        print(f"loaded {len(gtins)} GTINs in {time.perf_counter() - t0:.1f} s")
    return gtins


def in_process(url: str, gtins: list[str], seconds: float) -> None:
    from pharma import create_app
    from pharma.config import Settings
    from pharma.extensions import db
    from pharma.register import services
    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork

    app = create_app(Settings(env="development", database_url=url))
    actor = Actor(user_id=None, org_id=None, roles=frozenset({"pharmacist"}), username="bench")
    with app.app_context():
        db.session.remove()
        uow = UnitOfWork(db.session(bind=db.read_engine), actor)  # as a GET request reads
        for g in gtins[:200]:  # warm the pool and the statement cache
            services.product_by_gtin(uow, g)
        samples, end = [], time.perf_counter() + seconds
        while (now := time.perf_counter()) < end:
            services.product_by_gtin(uow, random.choice(gtins))
            samples.append(time.perf_counter() - now)
    rate = len(samples) / sum(samples)
    print(f"in process: {len(samples)} lookups, {rate:,.0f} lookups/s on one thread; {percentiles(samples)}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def over_http(url: str, gtins: list[str], seconds: float, connections: int) -> None:
    import requests

    from pharma import create_app
    from pharma.config import Settings
    from pharma.extensions import db
    from pharma.parties.auth import new_token
    from pharma.parties.models import ApiToken, User

    app = create_app(Settings(env="development", database_url=url))
    with app.app_context():
        user = db.session.query(User).filter_by(username="pharmacist").one()
        token, digest = new_token()
        db.session.add(ApiToken(token_hash=digest, prefix=token[:10], name="bench", user_id=user.id))
        db.session.commit()
    port = _free_port()
    env = {**os.environ, "PHARMA_DATABASE_URL": url, "PHARMA_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "pharma:create_app()"],
        env=env, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}/api/v1/register/gtins/"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(100):
            try:
                requests.get(base + gtins[0], headers=headers, timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        samples: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop = time.perf_counter() + seconds

        def worker():
            http = requests.Session()
            mine, bad = [], 0
            while (t0 := time.perf_counter()) < stop:
                r = http.get(base + random.choice(gtins), headers=headers, timeout=5)
                mine.append(time.perf_counter() - t0)
                bad += r.status_code != 200
            with lock:
                samples.extend(mine)
                errors[0] += bad

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(connections)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        print(f"over HTTP: {len(samples)} requests, {len(samples) / elapsed:,.0f} requests/s with "
              f"{connections} client threads, {errors[0]} non-200; {percentiles(samples)}")
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra-products", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with scratch_database() as url:
        gtins = load(url, args.extra_products)
        in_process(url, gtins, args.seconds)
        over_http(url, gtins, args.seconds, args.connections)


if __name__ == "__main__":
    main()
