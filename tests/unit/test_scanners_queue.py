"""The offline queue: kept on disk, replayed in order, removed only once answered, safe across a crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scanners.client import ApiError, ServerUnavailable
from scanners.queue import OfflineQueue
from tests.unit.test_scanners_client import StubServer, client_for, closed_port_url, problem, wedge_scan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture()
def queue(tmp_path):
    with OfflineQueue(tmp_path / "q" / "queue.sqlite3") as q:
        yield q


def _queued(queue: OfflineQueue, *serials: str, url: str = "http://unused") -> list:
    client = client_for(url)
    subs = [client.scan_submission(wedge_scan(f"0104601234567893{s}", symbology=None)) for s in serials]
    for sub in subs:
        queue.put(sub)
    return subs


def test_queued_scans_survive_closing_the_file_in_order_with_their_keys(tmp_path):
    path = tmp_path / "queue.sqlite3"
    with OfflineQueue(path) as queue:
        subs = _queued(queue, "21A", "21B")
        queue.put(subs[0])  # the same scan again is kept once
    with OfflineQueue(path) as again:
        assert [q.submission for q in again.pending()] == subs
        assert len(again) == 2


def test_replay_sends_oldest_first_and_removes_each_answered_scan(queue, stub):
    subs = _queued(queue, "21A", "21B", "21C")
    report = queue.replay(client_for(stub.url))
    assert [r.headers["Idempotency-Key"] for r in stub.requests] == [s.key for s in subs]
    assert [r.body for r in stub.requests] == [s.body for s in subs]
    assert [item.submission for item, _ in report.sent] == subs
    assert (report.stopped, report.remaining, len(queue)) == (None, 0, 0)


def test_an_unreachable_server_stops_the_replay_and_keeps_every_scan(queue, tmp_path):
    subs = _queued(queue, "21A", "21B")
    report = queue.replay(client_for(closed_port_url(), retries=1))
    assert isinstance(report.stopped, ServerUnavailable)
    assert (report.sent, report.remaining) == ([], 2)
    assert [q.submission for q in queue.pending()] == subs


def test_a_scan_refused_for_good_is_recorded_as_failed_and_the_rest_go_on(queue, stub):
    subs = _queued(queue, "21A", "21B")
    stub.answer(*problem(422, "VALIDATION_FAILED", "One or more fields are not valid."))
    report = queue.replay(client_for(stub.url))
    [failed] = queue.failed()
    assert (failed.queued.submission, failed.status, failed.code, failed.detail) == (
        subs[0], 422, "VALIDATION_FAILED", "One or more fields are not valid.")
    assert report.failed == [failed]
    assert [item.submission for item, _ in report.sent] == [subs[1]]
    assert len(queue) == 0


def test_a_refused_token_stops_the_replay_without_failing_any_scan(queue, stub):
    _queued(queue, "21A", "21B")
    stub.answer(*problem(401, "UNAUTHENTICATED", "Sign-in required"))
    report = queue.replay(client_for(stub.url))
    assert isinstance(report.stopped, ApiError) and report.stopped.code == "UNAUTHENTICATED"
    assert (len(stub.requests), report.remaining, queue.failed()) == (1, 2, [])


_REPLAY = """
import sys
from scanners.client import VerifyClient
from scanners.queue import OfflineQueue
OfflineQueue(sys.argv[1]).replay(VerifyClient(sys.argv[2], "tok-123", retries=0))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_crash_between_sending_and_removing_resends_with_the_same_key_and_body(tmp_path, stub):
    """The replaying process is killed while the server holds its request: the scan stays queued, and the
    next replay sends the very same request, which the server recognises by its key (see the live test)."""
    path = tmp_path / "queue.sqlite3"
    with OfflineQueue(path) as queue:
        [sub] = _queued(queue, "21A")
    def crash(seen) -> bool:  # the first request: the server has it, the replaying process dies waiting
        if len(stub.requests) > 1:
            return False
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        return True

    stub.on_request = crash
    child = subprocess.Popen([sys.executable, "-c", _REPLAY, str(path), stub.url], cwd=ROOT)
    assert child.wait(timeout=30) == -signal.SIGKILL
    with OfflineQueue(path) as queue:
        assert [q.submission for q in queue.pending()] == [sub]
        report = queue.replay(client_for(stub.url))
        assert (len(report.sent), len(queue)) == (1, 0)
    first, second = stub.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == sub.key
    assert first.body == second.body == sub.body
    assert json.loads(second.body) == {"scan": "0104601234567893" + "21A"}
