"""The scanners client against a stand-in server on loopback: headers, bodies, retries, errors."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scanners.client import ApiError, ServerUnavailable, VerifyClient
from scanners.scans import GS, PhotoScan, RawScan

PACK = "]d20104601234567893172705311012345" + GS + "21SERIAL1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def result_json(verdict: str = "OK", *, alert: bool = False, alert_id: int | None = None, findings=(),
                repairs=(), product: str | None = "Paracetamol 500", batch: str | None = "12345",
                expiry: str | None = "270531", raw: str = PACK) -> dict:
    """A verification result shaped as the server's ``VerificationOut``."""
    return {
        "verdict": verdict, "alert": alert, "alert_id": alert_id,
        "findings": [{"code": c, "message": m, "reason": None} for c, m in findings],
        "scan": {"raw": raw, "symbology": "]d2", "kind": "PACK", "gtin": "04601234567893", "serial": "SERIAL1",
                 "batch": batch, "expiry": expiry,
                 "expiry_date": f"20{expiry[:2]}-{expiry[2:4]}-{expiry[4:]}" if expiry else None,
                 "sscc": None, "repairs": [{"code": c, "message": m} for c, m in repairs]},
        "product": {"trade_name": product, "gtin": "04601234567893"} if product else None,
        "pack": None,
    }


def problem(status: int, code: str, detail: str, **extra) -> tuple[int, dict, dict]:
    body = {"type": "about:blank", "title": "Refused", "status": status, "code": code, "detail": detail, **extra}
    return status, body, {"Content-Type": "application/problem+json"}


@dataclass
class Seen:
    path: str
    headers: dict
    body: bytes


class StubServer:
    """A stand-in for the pharma server: answers from a script (then 200 OK) and records every request."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.answers: deque = deque()
        self.on_request: Callable[[Seen], bool] | None = None  # True: hang up
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                seen = Seen(self.path, dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(seen)
                if stub.on_request and stub.on_request(seen):
                    return  # hang up without an answer
                status, body, headers = stub.answers.popleft() if stub.answers else (200, result_json(), {})
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, status: int, body: dict | bytes, headers: dict | None = None) -> None:
        self.answers.append((status, body, headers or {}))

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An address where nothing listens: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture()
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture()
def sleeps():
    return []


def client_for(url: str, sleeps: list | None = None, **kw) -> VerifyClient:
    return VerifyClient(url, "tok-123", sleep=(sleeps.append if sleeps is not None else lambda s: None), **kw)


def wedge_scan(text: str = PACK, **kw) -> RawScan:
    return RawScan(text=text, data=None, symbology=kw.pop("symbology", "]d2"), source="test", **kw)


# ---------------------------------------------------------------- what is sent


def test_a_scan_is_posted_as_json_with_the_token_and_its_idempotency_key(stub):
    scan = wedge_scan()
    result = client_for(stub.url).verify(scan)
    [seen] = stub.requests
    assert seen.path == "/api/v1/verify"
    assert seen.headers["Authorization"] == "Bearer tok-123"
    assert seen.headers["Idempotency-Key"] == scan.key
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.body == b'{"scan":"]d20104601234567893172705311012345\\u001d21SERIAL1"}'
    assert (result.verdict, result.product_name, result.batch, result.expiry) == (
        "OK", "Paracetamol 500", "12345", "2027-05-31")


def test_the_location_is_sent_when_configured(stub):
    client_for(stub.url, location_gln="4760000000017").verify(wedge_scan())
    assert json.loads(stub.requests[0].body) == {"scan": PACK, "location_gln": "4760000000017"}


def test_serial_bytes_are_sent_decoded_latin_1_and_a_separate_symbology_alongside(stub):
    scan = RawScan(text=None, data=b"0104601234567893\x1d\xe9", symbology="]d2", source="serial")
    client_for(stub.url).verify(scan)
    assert json.loads(stub.requests[0].body) == {"scan": "0104601234567893\x1d\u00e9", "symbology": "]d2"}


def test_each_scan_has_its_own_key():
    assert wedge_scan().key != wedge_scan().key


def test_a_photo_is_posted_as_multipart_field_photo(stub, tmp_path):
    stub.answer(200, {"results": [result_json(), result_json("EXPIRED")]})
    photo = PhotoScan(path=Path(tmp_path / "shelf.png"), content=PNG)
    results = client_for(stub.url, location_gln="4760000000017").verify_photo(photo)
    [seen] = stub.requests
    assert seen.path == "/api/v1/verify/photo"
    assert seen.headers["Content-Type"] == f"multipart/form-data; boundary=scanners-{photo.key.replace('-', '')}"
    assert b'Content-Disposition: form-data; name="photo"; filename="shelf.png"\r\nContent-Type: image/png\r\n\r\n' \
        + PNG in seen.body
    assert b'name="location_gln"\r\n\r\n4760000000017\r\n' in seen.body
    assert [r.verdict for r in results] == ["OK", "EXPIRED"]


def test_bulk_sends_every_scan_in_one_request(stub):
    stub.answer(200, {"results": [result_json(), result_json("UNKNOWN_PACK", alert=True, alert_id=4)]})
    results = client_for(stub.url).verify_bulk([wedge_scan(), wedge_scan("0104601234567893")], key="bulk-1")
    [seen] = stub.requests
    assert (seen.path, seen.headers["Idempotency-Key"]) == ("/api/v1/verify/bulk", "bulk-1")
    assert json.loads(seen.body) == {"scans": [{"scan": PACK}, {"scan": "0104601234567893", "symbology": "]d2"}]}
    assert [(r.verdict, r.alert_id) for r in results] == [("OK", None), ("UNKNOWN_PACK", 4)]


# ---------------------------------------------------------------- retries


def test_a_server_error_is_retried_with_backoff_and_the_same_key_and_body(stub, sleeps):
    stub.answer(503, b"busy", {"Content-Type": "text/plain"})
    stub.answer(502, b"busy", {"Content-Type": "text/plain"})
    photo = PhotoScan(path=Path("a.png"), content=PNG)
    stub.answer(200, {"results": []})
    assert client_for(stub.url, sleeps, backoff=0.5).verify_photo(photo) == []
    assert len(stub.requests) == 3
    assert len({(r.headers["Idempotency-Key"], r.body) for r in stub.requests}) == 1
    assert sleeps == [0.5, 1.0]


def test_too_many_requests_waits_as_long_as_retry_after_says(stub, sleeps):
    stub.answer(*problem(429, "TOO_MANY_REQUESTS", "Slow down.")[:2], {"Retry-After": "2"})
    client_for(stub.url, sleeps).verify(wedge_scan())
    assert (len(stub.requests), sleeps) == (2, [2.0])


def test_a_request_still_running_on_the_server_is_retried(stub, sleeps):
    stub.answer(*problem(409, "IDEMPOTENCY_KEY_IN_USE", "The first request with this key is still running."))
    assert client_for(stub.url, sleeps).verify(wedge_scan()).verdict == "OK"
    assert len(stub.requests) == 2


def test_a_4xx_is_never_retried_and_raises_its_problem_code(stub, sleeps):
    stub.answer(*problem(422, "VALIDATION_FAILED", "One or more fields are not valid.",
                         errors={"scan": ["Missing data for required field."]}))
    with pytest.raises(ApiError) as caught:
        client_for(stub.url, sleeps).verify(wedge_scan())
    error = caught.value
    assert (error.status, error.code, error.detail, error.errors, error.permanent) == (
        422, "VALIDATION_FAILED", "One or more fields are not valid.", {"scan": ["Missing data for required field."]},
        True)
    assert (len(stub.requests), sleeps) == (1, [])


def test_a_refused_token_is_not_a_permanent_failure_of_the_scan(stub):
    stub.answer(*problem(401, "UNAUTHENTICATED", "Sign-in required"))
    with pytest.raises(ApiError) as caught:
        client_for(stub.url).verify(wedge_scan())
    assert (caught.value.code, caught.value.permanent) == ("UNAUTHENTICATED", False)


def test_an_answer_that_is_not_a_problem_gets_the_http_status_as_its_code(stub):
    stub.answer(404, b"<html>Not Found</html>", {"Content-Type": "text/html"})
    with pytest.raises(ApiError) as caught:
        client_for(stub.url).verify(wedge_scan())
    assert (caught.value.code, caught.value.detail) == ("HTTP_404", "Not Found")


def test_server_errors_after_every_retry_make_the_server_unavailable(stub, sleeps):
    for _ in range(3):
        stub.answer(500, b"oops", {"Content-Type": "text/plain"})
    with pytest.raises(ServerUnavailable, match=r"answered 500 \(HTTP_500\)$"):
        client_for(stub.url, sleeps, retries=2).verify(wedge_scan())
    assert (len(stub.requests), sleeps) == (3, [0.5, 1.0])


def test_an_unreachable_server_is_retried_then_reported_unavailable(sleeps):
    url = closed_port_url()
    with pytest.raises(ServerUnavailable) as caught:
        client_for(url, sleeps, retries=3, backoff=0.25).verify(wedge_scan())
    assert str(caught.value) == f"{url} is unreachable (ConnectionError)"
    assert sleeps == [0.25, 0.5, 1.0]


def test_a_replayed_answer_is_marked(stub):
    stub.answer(200, result_json(), {"Idempotent-Replayed": "true"})
    client = client_for(stub.url)
    assert client.send(client.scan_submission(wedge_scan())).replayed is True
