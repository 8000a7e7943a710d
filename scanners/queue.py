"""The offline queue: scans kept on disk while the server is unreachable, replayed in order when it is back.

Stored in a SQLite file (the standard library's ``sqlite3``) rather than a JSON-lines file:
- a scan is removed after its answer by deleting one row in one transaction; an append-only
  file would need a second log of removals, or a rewrite of the whole file, to do the same;
- a crash (or power loss: WAL with ``synchronous=FULL``) leaves each row whole or absent, never a
  torn last line to detect and skip;
- photos are stored as they are (BLOB), without base64;
- a counter program adding scans while ``replay`` runs in another process is handled by SQLite's
  locking.

Crash safety of a replay: a row is deleted only after the server has answered it. A crash between
the answer and the delete leaves the row, and the next replay sends it again with the same
``Idempotency-Key`` and the same body bytes, so the server answers from its idempotency store and
counts the scan once.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scanners.client import ApiError, ClientError, Reply, ServerUnavailable, Submission, VerifyClient
from scanners.scans import Closing, utcnow

_SCAN = """idempotency_key TEXT NOT NULL UNIQUE, endpoint TEXT NOT NULL, content_type TEXT NOT NULL,
    body BLOB NOT NULL, label TEXT NOT NULL, queued_at TEXT NOT NULL"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, {_SCAN},
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE TABLE IF NOT EXISTS failed (id INTEGER PRIMARY KEY, {_SCAN},
    failed_at TEXT NOT NULL, status INTEGER NOT NULL, code TEXT NOT NULL, detail TEXT NOT NULL);
"""
_COLUMNS = "id, idempotency_key, endpoint, content_type, body, label, queued_at"


def default_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "pharma-scanners" / "queue.sqlite3"


@dataclass(frozen=True)
class Queued:
    id: int
    submission: Submission
    queued_at: str


@dataclass(frozen=True)
class Failed:
    """A queued scan the server refused for good (a 4xx that can never succeed)."""

    queued: Queued
    failed_at: str
    status: int
    code: str
    detail: str


@dataclass
class ReplayReport:
    sent: list[tuple[Queued, Reply]] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    stopped: ClientError | None = None  # why the replay stopped early, leaving the rest queued
    remaining: int = 0


def _queued(row) -> Queued:
    id_, key, endpoint, content_type, body, label, queued_at = row
    return Queued(id_, Submission(endpoint, bytes(body), content_type, key, label), queued_at)


class OfflineQueue(Closing):
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def put(self, submission: Submission) -> None:
        """Keep a submission until it is answered; putting the same key twice keeps one copy."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO pending (idempotency_key, endpoint, content_type, body, label, "
                       "queued_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (submission.key, submission.path, submission.content_type, submission.body,
                        submission.label, utcnow().isoformat()))

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM pending").fetchone()[0]

    def pending(self) -> list[Queued]:
        return [_queued(r) for r in self._db.execute(f"SELECT {_COLUMNS} FROM pending ORDER BY id")]

    def failed(self) -> list[Failed]:
        rows = self._db.execute(f"SELECT {_COLUMNS}, failed_at, status, code, detail FROM failed ORDER BY id")
        return [Failed(_queued(r[:7]), *r[7:]) for r in rows]

    def _next(self, after: int) -> Queued | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM pending WHERE id > ? ORDER BY id LIMIT 1",
                               (after,)).fetchone()
        return _queued(row) if row else None

    def _done(self, item: Queued) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM pending WHERE id = ?", (item.id,))

    def _fail(self, item: Queued, error: ApiError) -> Failed:
        failed = Failed(item, utcnow().isoformat(), error.status, error.code, error.detail)
        s = item.submission
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO failed (id, idempotency_key, endpoint, content_type, body, label, "
                       "queued_at, failed_at, status, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (item.id, s.key, s.path, s.content_type, s.body, s.label, item.queued_at,
                        failed.failed_at, error.status, error.code, error.detail))
            db.execute("DELETE FROM pending WHERE id = ?", (item.id,))
        return failed

    def _attempted(self, item: Queued, error: ClientError) -> None:
        with self._transaction() as db:
            db.execute("UPDATE pending SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                       (str(error), item.id))

    def replay(self, client: VerifyClient, *, on_sent: Callable[[Queued, Reply], None] | None = None,
               on_failed: Callable[[Failed], None] | None = None) -> ReplayReport:
        """Send the queued scans oldest first; stop at the first that cannot be answered now, keeping the rest."""
        report = ReplayReport()
        last_id = 0
        while (item := self._next(last_id)) is not None:
            last_id = item.id
            try:
                reply = client.send(item.submission)
            except ApiError as exc:
                if not exc.permanent:  # credentials or address: every later scan would fail the same way
                    self._attempted(item, exc)
                    report.stopped = exc
                    break
                report.failed.append(failed := self._fail(item, exc))
                if on_failed:
                    on_failed(failed)
                continue
            except ServerUnavailable as exc:
                self._attempted(item, exc)
                report.stopped = exc
                break
            self._done(item)
            report.sent.append((item, reply))
            if on_sent:
                on_sent(item, reply)
        report.remaining = len(self)
        return report
