"""The scanners client against the real pharma server over HTTP on loopback.

Scans go the way they go at a counter: a keyboard-wedge line -> ``KeyboardWedge`` -> ``VerifyClient``
(or ``python -m scanners``) -> ``POST /api/v1/verify`` of the test app served by werkzeug. The
server is stopped to take a scan offline, started again on the same port, and the replaying
process is killed (SIGKILL) after the server answered but before it could remove the scan from its
queue: the next replay sends the same request again, and the server counts the scan once.
"""

from __future__ import annotations

import io
import logging
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from pharma.trace.models import Batch
from pharma.verify.models import Verification
from scanners.adapters import KeyboardWedge
from scanners.cli import main
from scanners.client import VerifyClient
from scanners.queue import OfflineQueue
from scanners.scans import GS
from tests.integration.history_helpers import commission, deliver

ROOT = Path(__file__).resolve().parents[2]


class LoopbackServer:
    """The test app on a fixed loopback port that can be stopped and started again.

    ``kill_after_answer(victim)``: the next ``POST /api/v1/verify`` is handled in full (the
    verification and the idempotent answer are stored), then the process ``victim()`` returns is
    killed before a byte of the answer is sent to it.
    """

    def __init__(self, app) -> None:
        self.app = app
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server = None
        self._thread = None
        self._victim: Callable[[], subprocess.Popen] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    def kill_after_answer(self, victim: Callable[[], subprocess.Popen]) -> None:
        self._victim = victim

    def _wsgi(self, environ, start_response):
        response = self.app(environ, start_response)
        with self._lock:
            victim = self._victim if environ["PATH_INFO"] == "/api/v1/verify" else None
            self._victim = None if victim else self._victim
        if victim is None:
            return response
        body = b"".join(response)
        process = victim()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        return [body]


@pytest.fixture()
def server(app, db_session):
    loopback = LoopbackServer(app)
    loopback.start()
    try:
        yield loopback
    finally:
        loopback.stop()


@dataclass
class Counter:
    """A pharmacy's counter: its pharmacist's token, and a delivered lot of genuine packs."""

    token: str
    gtin: str
    batch: str
    expiry: str  # AI 17 as printed

    def typed(self, serial: str, gs: str = "|") -> str:
        """What a wedge scanner with AIM on and GS mapped to ``gs`` types for the pack."""
        return f"]d201{self.gtin}17{self.expiry}10{self.batch}{gs}21{serial}"


@pytest.fixture()
def counter(make) -> Counter:
    pharmacy = make.org("pharmacy")
    pharmacist = make.user("pharmacist", org=pharmacy)
    lot = commission(make, serials=("SCAN-1", "SCAN-2"))
    deliver(make, lot, pharmacy, pharmacist=pharmacist)
    expiry = make.session.get(Batch, lot.batch_id).expiry_raw
    return Counter(make.token(pharmacist), lot.gtin, lot.batch, expiry)


def _iso(yymmdd: str) -> str:
    return f"20{yymmdd[:2]}-{yymmdd[2:4]}-{yymmdd[4:]}"


def _verifications(db_session, **where) -> int:
    db_session.expire_all()
    return db_session.query(Verification).filter_by(**where).count()


def _alert(server: LoopbackServer, make, alert_id: int) -> dict:
    """The alert case with its sightings, as the regulator reads it."""
    regulator = make.caller("regulator")
    response = requests.get(f"{server.url}/api/v1/alerts/{alert_id}", headers=regulator.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _cli(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=io.StringIO(), env={})
    return code, out.getvalue()


def test_a_genuine_pack_typed_by_a_wedge_scanner_is_ok(server, counter, db_session):
    [scan] = KeyboardWedge(io.StringIO(counter.typed("SCAN-1") + "\n"), gs_substitutes=["|"])
    result = VerifyClient(server.url, counter.token).verify(scan)
    assert (result.verdict, result.alert, result.findings) == ("OK", False, ())
    assert (result.product_name, result.batch, result.expiry) == ("Paracetamol Test", counter.batch,
                                                                  _iso(counter.expiry))
    assert result.scan["raw"] == counter.typed("SCAN-1", GS)
    assert _verifications(db_session, idempotency_key=scan.key) == 1


def test_an_unknown_serial_is_flagged_and_raises_an_alert(server, counter, make):
    [scan] = KeyboardWedge(io.StringIO(counter.typed("FAKE-9") + "\n"), gs_substitutes=["|"])
    result = VerifyClient(server.url, counter.token).verify(scan)
    assert (result.verdict, result.alert) == ("UNKNOWN_PACK", True)
    assert [(f.code, f.message) for f in result.findings] == [
        ("UNKNOWN_PACK", f"No pack with serial FAKE-9 was ever commissioned for GTIN {counter.gtin}.")]
    alert = _alert(server, make, result.alert_id)
    assert (alert["alert"]["verdict"], alert["alert"]["serial"], alert["alert"]["sightings"]) == (
        "UNKNOWN_PACK", "FAKE-9", 1)


def test_the_cli_shows_each_verdict_on_one_line_and_fails_when_one_alerts(server, counter, tmp_path):
    typed = counter.typed("SCAN-2") + "\n" + counter.typed("FAKE-1") + "\n"
    code, out = _cli("wedge", "--server", server.url, "--token", counter.token, "--gs-substitute", "|",
                     "--queue", str(tmp_path / "queue.sqlite3"), stdin=typed)
    ok, alerting = out.splitlines()
    assert ok == f"✓ OK  Paracetamol Test · batch {counter.batch} · expiry {_iso(counter.expiry)}"
    assert alerting.startswith(f"✗ UNKNOWN_PACK  Paracetamol Test · batch {counter.batch} · expiry "
                               f"{_iso(counter.expiry)} · No pack with serial FAKE-1 was ever commissioned for GTIN "
                               f"{counter.gtin}. · alert #")
    assert code == 1


def test_a_photo_of_a_pack_is_decoded_and_verified_by_the_server(server, counter, tmp_path):
    from pharma.barcodes.draw import pack_label

    photo = tmp_path / "pack.png"
    photo.write_bytes(pack_label(counter.gtin, "SCAN-1", counter.batch, counter.expiry, kind="png"))
    code, out = _cli("files", str(photo), "--server", server.url, "--token", counter.token,
                     "--queue", str(tmp_path / "queue.sqlite3"))
    assert (code, out) == (0, f"✓ OK  Paracetamol Test · batch {counter.batch} · expiry {_iso(counter.expiry)}\n")


def test_a_scan_taken_offline_is_counted_once_even_after_a_crash_during_its_replay(server, counter, db_session,
                                                                                  make, tmp_path):
    queue_path = tmp_path / "queue.sqlite3"
    options = ["--server", server.url, "--token", counter.token, "--queue", str(queue_path)]
    server.stop()
    code, out = _cli("wedge", *options, "--retries", "0", "--gs-substitute", "|",
                     stdin=counter.typed("FAKE-2") + "\n")
    assert (code, out) == (3, f"… QUEUED  {counter.typed('FAKE-2', '<GS>')} · the server is unavailable; kept in "
                              "the offline queue (1 waiting)\n")
    with OfflineQueue(queue_path) as queue:
        [queued] = queue.pending()
    key = queued.submission.key

    server.start()  # back, on the same address; the first replay dies before it can remove the scan
    server.kill_after_answer(lambda: replaying)
    replaying = subprocess.Popen([sys.executable, "-m", "scanners", "replay", *options], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert replaying.wait(timeout=60) == -signal.SIGKILL
    with OfflineQueue(queue_path) as queue:
        assert [q.submission for q in queue.pending()] == [queued.submission]
    assert _verifications(db_session, idempotency_key=key) == 1  # the server had counted it

    code, out = _cli("replay", *options)
    resent, summary = out.splitlines()
    assert resent.startswith(f"✗ UNKNOWN_PACK  Paracetamol Test · batch {counter.batch}")
    assert resent.endswith(" UTC (already counted)")
    assert summary == "Replayed 1 of 1 queued scans; 0 still waiting."
    assert code == 1
    assert _verifications(db_session, idempotency_key=key) == _verifications(db_session, serial="FAKE-2") == 1
    alert_id = int(resent.split("alert #")[1].split(" ")[0])
    alert = _alert(server, make, alert_id)
    assert alert["alert"]["sightings"] == 1
    assert [s["raw"] for s in alert["sightings"]] == [counter.typed("FAKE-2", GS)]
