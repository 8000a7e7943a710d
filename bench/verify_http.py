"""Verification over HTTP: gunicorn on PostgreSQL with ``--packs`` packs stored.

    .venv/bin/python bench/verify_http.py [--packs 10000000] [--seconds 10] [--connections 32]

A fresh database is migrated, loaded with the demo fixtures and ``pharma fixtures synth`` packs,
and the demo pharmacist's token scans packs held at its pharmacy (GS1 element strings with
batch and expiry, as a scanner sends them). Each server runs alone, with the same gunicorn
settings (``--workers`` x ``--threads``, gthread), driven by client threads on the same machine:
1. the probe (bench/verify_probe.py: Flask + psycopg, one indexed lookup) at ``--connections``;
2. ``POST /api/v1/verify`` at ``--connections``: requests/s against the probe's, p99;
3. ``POST /api/v1/verify/bulk`` with 1,000 scans per request: codes/s;
4. ``POST /api/v1/verify/photo`` with perspective photos of pack labels (pharma.barcodes.corpus): photos/s.
Each count starts once the server answers and after a warm-up of ``WARMUP`` seconds, so that
gunicorn's workers loading the app is not counted.
Targets (issue 4): single >= 0.6x the probe's requests/s with p99 <= 50 ms; bulk >= 20,000 codes/s;
photos >= 50/s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import percentiles, scratch_database  # noqa: E402

GS = "\x1d"


def scan_of(gtin: str, serial: str, batch: str, expiry: str) -> str:
    return f"]d201{gtin}17{expiry}10{batch}{GS}21{serial}"


def setup(url: str, packs: int, samples: int) -> tuple[str, str, list[tuple[str, str, str, str]]]:
    """Fixtures and synthetic packs; returns the pharmacist's token, the scanning GLN and sampled
    (gtin, serial, batch, expiry) of packs held there."""
    from sqlalchemy import func, select

    from pharma import create_app, fixtures
    from pharma.config import Settings
    from pharma.extensions import db
    from pharma.parties.auth import new_token
    from pharma.parties.models import ApiToken, Location, User
    from pharma.trace.models import Batch, Pack
    from pharma.trace.synth import synthesize

    app = create_app(Settings(env="development", database_url=url, log_level="WARNING"))
    with app.app_context():
        fixtures.load_all()
        t0 = time.perf_counter()
        stored = db.session.scalar(select(func.count()).select_from(Pack))
        if packs > stored:
            synthesize(db.session, packs - stored)
        print(f"{max(packs, stored):,} packs stored ({time.perf_counter() - t0:.0f} s to make them)")
        s = db.session
        user = s.scalars(select(User).where(User.username == "pharmacist")).one()
        location = s.scalars(select(Location).where(Location.organisation_id == user.organisation_id)
                             .order_by(Location.id)).first()
        token, digest = new_token()
        s.add(ApiToken(token_hash=digest, prefix=token[:10], name="bench", user_id=user.id))
        s.commit()
        rows = s.execute(select(Pack.gtin, Pack.serial, Batch.batch, Batch.expiry_raw)
                         .join(Batch, Batch.id == Pack.batch_id)
                         .where(Pack.location_id == location.id, Pack.state == "ACTIVE", Batch.recalled_at.is_(None))
                         .order_by(func.random()).limit(samples)).all()
    print(f"{len(rows):,} packs sampled at {location.name} (GLN {location.gln})")
    return token, location.gln, [tuple(r) for r in rows]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(spec: str, env: dict, workers: int, threads: int):
    """gunicorn serving ``spec`` on a free port until the block ends; yields its base URL."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", spec], env={**os.environ, **env}, cwd=ROOT)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        # the master accepts connections before its workers have loaded the app: wait for an answer
        # (any status), so that loading the app is not counted in the figures (see WARMUP too)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/ready-check", timeout=5)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(10)


WARMUP = 3.0  # seconds of calls before counting: the other workers finish loading the app meanwhile


def drive(send, seconds: float, connections: int, warmup: float = WARMUP) -> tuple[int, float, list[float], Counter]:
    """``send(http, i)`` from ``connections`` threads for ``seconds`` after a warm-up; returns how
    many calls, the elapsed time, each call's latency and a tally of what ``send`` returned."""
    import requests

    samples: list[float] = []
    tally: Counter = Counter()
    lock = threading.Lock()
    start = time.perf_counter() + warmup
    stop = start + seconds

    def worker(n: int) -> None:
        http = requests.Session()
        mine, seen, i = [], Counter(), n
        while (t0 := time.perf_counter()) < stop:
            outcome = send(http, i)
            i += connections
            if t0 >= start:
                mine.append(time.perf_counter() - t0)
                seen[outcome] += 1
        with lock:
            samples.extend(mine)
            tally.update(seen)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(samples), seconds, samples, tally


def report(name: str, calls: int, elapsed: float, samples: list[float], tally: Counter, unit: int = 1) -> float:
    rate = calls * unit / elapsed
    print(f"{name}: {calls:,} requests in {elapsed:.0f} s = {rate:,.0f} {'codes' if unit > 1 else 'requests'}/s; "
          f"{percentiles(samples)}; outcomes {dict(tally)}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packs", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--photos", type=int, default=100, help="distinct photos to send (0: skip)")
    args = parser.parse_args()
    gunicorn = (args.workers, args.threads)
    with scratch_database() as url:
        token, gln, packs = setup(url, args.packs, 20_000)
        scans = [scan_of(*p) for p in packs]
        auth = {"Authorization": f"Bearer {token}"}

        with serving("bench.verify_probe:app", {"PROBE_DATABASE_URL": url}, *gunicorn) as base:
            def probe(http, i):
                gtin, serial = packs[i % len(packs)][:2]
                r = http.post(f"{base}/probe", json={"gtin": gtin, "serial": serial}, timeout=10)
                return r.status_code if r.status_code != 200 else r.json()["known"]

            probe_rate = report("probe (Flask + psycopg)", *drive(probe, args.seconds, args.connections))

        env = {"PHARMA_DATABASE_URL": url, "PHARMA_LOG_LEVEL": "WARNING"}
        with serving("pharma:create_app()", env, *gunicorn) as base:
            def single(http, i):
                r = http.post(f"{base}/api/v1/verify", json={"scan": scans[i % len(scans)], "location_gln": gln},
                              headers=auth, timeout=10)
                return r.status_code if r.status_code != 200 else r.json()["verdict"]

            calls, elapsed, samples, tally = drive(single, args.seconds, args.connections)
            rate = report("POST /api/v1/verify", calls, elapsed, samples, tally)
            p99 = sorted(samples)[int(len(samples) * 0.99)] * 1000 if samples else float("nan")
            print(f"  = {rate / probe_rate:.2f}x the probe (target >= 0.6x), p99 {p99:.1f} ms (target <= 50 ms)")

            def bulk(http, i):
                body = {"scans": [{"scan": scans[(i * 1000 + k) % len(scans)]} for k in range(1000)],
                        "location_gln": gln}
                r = http.post(f"{base}/api/v1/verify/bulk", json=body, headers=auth, timeout=60)
                return r.status_code if r.status_code != 200 else Counter(x["verdict"] for x in r.json()["results"]
                                                                             ).most_common(1)[0][0]

            report("POST /api/v1/verify/bulk (1,000 scans)", *drive(bulk, args.seconds, args.workers * 2),
                          unit=1000)
            print("  (target >= 20,000 codes/s)")

            if args.photos:
                from pharma.barcodes import corpus

                records = [corpus.pack_record(*p) for p in random.Random(1).sample(packs, args.photos)]
                photos = [s.content for s in corpus.samples(records, variants=("photo",))]

                def photo(http, i):
                    r = http.post(f"{base}/api/v1/verify/photo", data={"location_gln": gln},
                                  files={"photo": ("p.jpg", photos[i % len(photos)], "image/jpeg")}, headers=auth,
                                  timeout=30)
                    return r.status_code if r.status_code != 200 else tuple(x["verdict"] for x in r.json()["results"])

                report("POST /api/v1/verify/photo", *drive(photo, args.seconds, args.workers * 4))
                print("  (target >= 50 photos/s)")


if __name__ == "__main__":
    main()
