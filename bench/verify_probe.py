"""The yardstick for bench/verify_http.py: a minimal Flask + psycopg endpoint doing the lookup a
verification needs at its core, and nothing else (no auth, no parser, no verdict, no write).

    PROBE_DATABASE_URL=postgresql://... gunicorn 'bench.verify_probe:app'

``POST /probe {"gtin": ..., "serial": ...}`` answers the pack's state, batch, expiry and custodian
from one indexed query on (gtin, serial), on a connection kept per thread.
"""

from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask, jsonify, request

app = Flask(__name__)
_local = threading.local()
QUERY = ("SELECT p.state, p.location_id, b.batch, b.expiry_raw FROM packs p JOIN batches b ON b.id = p.batch_id "
         "WHERE p.gtin = %s AND p.serial = %s")


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["PROBE_DATABASE_URL"], autocommit=True)
    return conn


@app.post("/probe")
def probe():
    body = request.get_json()
    row = _connection().execute(QUERY, (body["gtin"], body["serial"]), prepare=True).fetchone()
    if row is None:
        return jsonify({"known": False})
    return jsonify({"known": True, "state": row[0], "location_id": row[1], "batch": row[2], "expiry": row[3]})
