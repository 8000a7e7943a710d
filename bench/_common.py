"""Helpers the benchmarks share: a throwaway PostgreSQL database and latency figures."""

from __future__ import annotations

import contextlib
import os
import statistics
import uuid

PG_SERVER = os.environ.get("PHARMA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def scratch_database(prefix: str = "pharma_bench"):
    """A fresh PostgreSQL database, migrated to head, dropped afterwards."""
    import psycopg

    from pharma import migrate

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    q = statistics.quantiles(ms, n=100)
    return f"p50 {q[49]:.2f} ms, p95 {q[94]:.2f} ms, p99 {q[98]:.2f} ms"
