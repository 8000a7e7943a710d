"""The HTTP client of the verification API (``POST /api/v1/verify``, ``/verify/bulk``, ``/verify/photo``).

Every request is built once, as a ``Submission`` holding the exact body bytes and the scan's
``Idempotency-Key``: retries and the offline queue resend those same bytes with the same key,
because the server recognises a repeat only when both match (it fingerprints the body). For the
same reason the multipart boundary of a photo is derived from its key instead of drawn at random.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import requests
from urllib3 import encode_multipart_formdata

from scanners import __version__
from scanners.scans import PhotoScan, RawScan, new_key

VERIFY, BULK, PHOTO = "/api/v1/verify", "/api/v1/verify/bulk", "/api/v1/verify/photo"
JSON = "application/json"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# 4xx answers that mean the request itself is wrong: sending it again can never succeed
PERMANENT_STATUSES = frozenset({400, 413, 415, 422})
IN_USE = "IDEMPOTENCY_KEY_IN_USE"  # 409: the first copy of this request is still running on the server
MAX_DELAY = 30.0


class ClientError(Exception):
    """Base of the errors this client raises."""


class ServerUnavailable(ClientError):
    """The server could not be reached or kept failing (5xx, 429) after every retry: queue the scan."""


class ApiError(ClientError):
    """A 4xx answer, with the problem+json ``code`` (``HTTP_<status>`` when the body is not a problem)."""

    def __init__(self, status: int, code: str, detail: str, title: str = "", errors: dict | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.status, self.code, self.detail, self.title = status, code, detail, title
        self.errors = errors or {}

    @property
    def permanent(self) -> bool:
        """True when the request can never succeed (a malformed scan); False for credentials, URLs and the like."""
        return self.status in PERMANENT_STATUSES

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "code" not in body:
            return cls(response.status_code, f"HTTP_{response.status_code}", response.reason or "error")
        return cls(response.status_code, str(body["code"]), str(body.get("detail") or body.get("title") or ""),
                   str(body.get("title") or ""), body.get("errors") if isinstance(body.get("errors"), dict) else None)


@dataclass(frozen=True)
class Submission:
    """One request, ready to send again byte for byte: endpoint, body, content type, key, and a label to show."""

    path: str
    body: bytes
    content_type: str
    key: str
    label: str


@dataclass(frozen=True)
class Reply:
    status: int
    data: dict
    replayed: bool  # the server answered from its idempotency store: this request had been counted already


@dataclass(frozen=True)
class Note:
    code: str
    message: str


def _notes(items) -> tuple[Note, ...]:
    return tuple(Note(str(i.get("code", "")), str(i.get("message", ""))) for i in items or ())


@dataclass(frozen=True)
class VerificationResult:
    """One verdict of the server (DESIGN.md "Verdicts"), with what the client shows of it."""

    verdict: str
    alert: bool
    alert_id: int | None
    findings: tuple[Note, ...]
    repairs: tuple[Note, ...]
    scan: dict = field(default_factory=dict)
    product: dict | None = None
    pack: dict | None = None

    @classmethod
    def from_json(cls, data: dict) -> VerificationResult:
        scan = data.get("scan") or {}
        return cls(verdict=str(data["verdict"]), alert=bool(data.get("alert")), alert_id=data.get("alert_id"),
                   findings=_notes(data.get("findings")), repairs=_notes(scan.get("repairs")), scan=scan,
                   product=data.get("product"), pack=data.get("pack"))

    def _fact(self, name: str):
        return self.scan.get(name) or (self.pack or {}).get(name)

    @property
    def product_name(self) -> str | None:
        product = self.product or {}
        return product.get("trade_name") or product.get("name")

    @property
    def batch(self) -> str | None:
        return self._fact("batch")

    @property
    def expiry(self) -> str | None:
        """The expiry date (ISO) when the server resolved it, else as printed (YYMMDD)."""
        return self._fact("expiry_date") or self._fact("expiry")


def results_of(submission: Submission, reply: Reply) -> list[VerificationResult]:
    """The verdicts in a reply: one for a single scan, one per scan or per code found for bulk and photo."""
    if submission.path == VERIFY:
        return [VerificationResult.from_json(reply.data)]
    return [VerificationResult.from_json(r) for r in reply.data.get("results", [])]


def _json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode()


def _scan_payload(scan: RawScan) -> dict:
    payload = {"scan": scan.raw}
    # the AIM identifier travels inside the scan text when it came that way; otherwise it is sent alongside
    if scan.symbology and not payload["scan"].startswith(scan.symbology):
        payload["symbology"] = scan.symbology
    return payload


class VerifyClient:
    """Sends scans with ``Authorization: Bearer``; retries connection errors, 5xx and 429 with backoff."""

    def __init__(self, base_url: str, token: str, location_gln: str | None = None, timeout: float = 10.0,
                 retries: int = 3, *, backoff: float = 0.5, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.location_gln = location_gln
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
        self.sleep = sleep

    # ------------------------------------------------------------ building requests

    def scan_submission(self, scan: RawScan) -> Submission:
        payload = _scan_payload(scan)
        if self.location_gln:
            payload["location_gln"] = self.location_gln
        return Submission(VERIFY, _json(payload), JSON, scan.key, scan.raw)

    def bulk_submission(self, scans: Sequence[RawScan], key: str | None = None) -> Submission:
        payload = {"scans": [_scan_payload(s) for s in scans]}
        if self.location_gln:
            payload["location_gln"] = self.location_gln
        return Submission(BULK, _json(payload), JSON, key or new_key(), f"{len(scans)} scans")

    def photo_submission(self, photo: PhotoScan) -> Submission:
        fields: dict = {"photo": (photo.path.name, photo.content, _image_type(photo.content))}
        if self.location_gln:
            fields["location_gln"] = self.location_gln
        body, content_type = encode_multipart_formdata(fields, boundary=f"scanners-{photo.key.replace('-', '')}")
        return Submission(PHOTO, body, content_type, photo.key, str(photo.path))

    # ------------------------------------------------------------ sending

    def send(self, submission: Submission, retries: int | None = None) -> Reply:
        """Send (and resend on transient failures) one submission; raises ``ServerUnavailable`` or ``ApiError``."""
        retries = self.retries if retries is None else retries
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": submission.key,
                   "Content-Type": submission.content_type, "Accept": JSON,
                   "User-Agent": f"pharma-scanners/{__version__}"}
        url = self.base_url + submission.path
        for attempt in range(retries + 1):
            last = attempt == retries
            try:
                response = self.session.post(url, data=submission.body, headers=headers,
                                             timeout=(min(self.timeout, 5.0), self.timeout))
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise ServerUnavailable(f"{self.base_url} is unreachable ({type(exc).__name__})") from None
                self.sleep(self._delay(attempt, None))
                continue
            if response.status_code < 300:
                return self._reply(response)
            error = ApiError.from_response(response)
            transient = response.status_code in RETRY_STATUSES or error.code == IN_USE
            if not transient:
                raise error
            if last:
                raise ServerUnavailable(f"{self.base_url} answered {response.status_code} ({error.code})")
            self.sleep(self._delay(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), MAX_DELAY)
        return min(self.backoff * 2**attempt, MAX_DELAY)

    @staticmethod
    def _reply(response: requests.Response) -> Reply:
        try:
            data = response.json()
        except ValueError:
            raise ApiError(response.status_code, "BAD_RESPONSE", "The server's answer is not JSON.") from None
        return Reply(response.status_code, data, response.headers.get("Idempotent-Replayed") == "true")

    # ------------------------------------------------------------ the three calls

    def verify(self, scan: RawScan) -> VerificationResult:
        return results_of(sub := self.scan_submission(scan), self.send(sub))[0]

    def verify_bulk(self, scans: Sequence[RawScan], key: str | None = None) -> list[VerificationResult]:
        return results_of(sub := self.bulk_submission(scans, key), self.send(sub))

    def verify_photo(self, photo: PhotoScan) -> list[VerificationResult]:
        return results_of(sub := self.photo_submission(photo), self.send(sub))


def _image_type(content: bytes) -> str:
    return "image/png" if content.startswith(b"\x89PNG") else "image/jpeg"
