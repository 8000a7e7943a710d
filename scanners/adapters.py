"""Device adapters: each turns what a scanner sends into ``RawScan`` (or ``PhotoScan``) values.

- ``KeyboardWedge``: lines typed by a USB keyboard-wedge scanner (stdin). GS has no key, so it
  arrives as Ctrl+] (the character itself), as the two characters ``^]`` echoed by a terminal,
  or as a configured substitute; all are turned back into GS.
- ``SerialScanner``: a scanner in serial / virtual COM mode, read as bytes (the best setup: GS
  arrives as a byte and no keyboard layout is involved).
- ``image_files`` and ``WatchedFolder``: PNG and JPEG photos, sent to the server for decoding.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from scanners.scans import GS, Closing, PhotoScan, RawScan, aim_of

CSET82 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'()*+,-./:;<=>?_")
CARET_GS = "^]"  # how a terminal echoes Ctrl+]
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
TERMINATORS = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "TAB": b"\t", "ETX": b"\x03", "NONE": b""}


class AdapterError(ValueError):
    """A setting or an input the adapters cannot work with; the message says which and why."""


class NotAnImage(AdapterError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: not a PNG or JPEG image")
        self.path = path


def is_safe_gs_substitute(substitute: str) -> bool:
    """True when the substitute cannot occur in GS1 data (it holds a character outside CSET 82) nor start an AIM id."""
    return any(c not in CSET82 for c in substitute) and not substitute.startswith("]")


def check_gs_substitute(substitute: str) -> str:
    if not is_safe_gs_substitute(substitute):
        raise AdapterError(
            f"--gs-substitute {substitute!r} cannot be told apart from the data: use a character outside "
            "the GS1 character set, such as | or ~")
    return substitute


def restore_gs(text: str, substitutes: Sequence[str] = ()) -> str:
    """The text with ``^]`` and each configured substitute turned back into GS."""
    for substitute in (CARET_GS, *substitutes):
        text = text.replace(substitute, GS)
    return text


class KeyboardWedge:
    """Scans typed as lines on a text stream, one scan a line; blank lines are skipped."""

    def __init__(self, stream: TextIO, *, gs_substitutes: Sequence[str] = (), source: str = "wedge") -> None:
        self.stream = stream
        self.gs_substitutes = tuple(check_gs_substitute(s) for s in gs_substitutes)
        self.source = source

    def __iter__(self) -> Iterator[RawScan]:
        for line in self.stream:
            text = restore_gs(line.rstrip("\r\n"), self.gs_substitutes)
            if text.strip():
                yield RawScan(text=text, data=None, symbology=aim_of(text), source=self.source)


def _stopped(stop: threading.Event | Callable[[], bool] | None) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


class SerialScanner(Closing):
    """Frames from a serial or virtual COM port (any ``pyserial`` URL: ``/dev/ttyACM0``, ``COM3``, ``loop://``).

    A frame ends at any byte of ``terminator`` (CR or LF by default); with ``terminator=b""``, for
    scanners set to send none, when the line stays quiet for ``timeout`` seconds. Frames are kept
    as bytes. Iteration ends when ``stop`` is set or after ``idle_limit`` seconds without data (an
    unterminated rest is then dropped).
    """

    def __init__(self, url_or_port, *, baudrate: int = 9600, timeout: float = 0.1, terminator: bytes = b"\r\n",
                 stop: threading.Event | Callable[[], bool] | None = None, idle_limit: float | None = None) -> None:
        if isinstance(url_or_port, str):
            import serial

            try:
                self.port = serial.serial_for_url(url_or_port, baudrate=baudrate, timeout=timeout)
            except (serial.SerialException, ValueError) as exc:
                raise AdapterError(f"{url_or_port}: {exc}") from None
            self.source = f"serial:{url_or_port}"
        else:
            self.port = url_or_port
            self.source = f"serial:{getattr(url_or_port, 'name', None) or getattr(url_or_port, 'port', '?')}"
        self.terminator = terminator
        self._split = re.compile(b"[" + re.escape(terminator) + b"]") if terminator else None
        self.stop = stop
        self.idle_limit = idle_limit

    def close(self) -> None:
        self.port.close()

    def _scan(self, frame: bytes) -> RawScan:
        return RawScan(text=None, data=frame, symbology=aim_of(frame), source=self.source)

    def _frames(self, buffer: bytearray) -> list[bytes]:
        """The complete frames at the front of ``buffer``, removed from it."""
        if self._split is None:
            return []
        *complete, rest = self._split.split(bytes(buffer))
        buffer[:] = rest
        return [f for f in complete if f]

    def __iter__(self) -> Iterator[RawScan]:
        buffer = bytearray()
        quiet_since = time.monotonic()
        while not _stopped(self.stop):
            chunk = self.port.read(self.port.in_waiting or 1)
            if chunk:
                buffer += chunk
                quiet_since = time.monotonic()
                yield from map(self._scan, self._frames(buffer))
                continue
            if buffer and self._split is None:  # a pause ends the frame of a scanner that sends no terminator
                yield self._scan(bytes(buffer))
                buffer.clear()
            if self.idle_limit is not None and time.monotonic() - quiet_since >= self.idle_limit:
                return


def is_image(content: bytes) -> bool:
    return content.startswith(b"\x89PNG\r\n\x1a\n") or content.startswith(b"\xff\xd8\xff")


def read_photo(path: str | os.PathLike) -> PhotoScan:
    """The photo at ``path``; raises ``NotAnImage`` unless the file is a PNG or a JPEG."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise AdapterError(f"{path}: {exc.strerror or exc}") from None
    if not is_image(content):
        raise NotAnImage(path)
    return PhotoScan(path=path, content=content)


def image_files(paths: Iterable[str | os.PathLike]) -> Iterator[PhotoScan]:
    """Each file in turn; every file is checked before the first is yielded, so a batch fails whole."""
    yield from [read_photo(p) for p in paths]


class WatchedFolder:
    """New PNG/JPEG files in ``directory``, each yielded once, when its size has stopped changing.

    After the consumer has handled a file (when it asks for the next one) the file is moved into
    ``processed`` if given, or else remembered for the life of this object. Files that are not
    images are reported to ``rejected`` and treated the same way. Iteration ends when ``stop`` is
    set or ``timeout`` seconds have passed.
    """

    def __init__(self, directory: str | os.PathLike, *, processed: str | os.PathLike | None = None,
                 poll_interval: float = 1.0, timeout: float | None = None,
                 stop: threading.Event | Callable[[], bool] | None = None,
                 rejected: Callable[[Path, str], None] | None = None) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise AdapterError(f"{self.directory}: not a folder")
        self.processed = Path(processed) if processed is not None else None
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.stop = stop
        self.rejected = rejected
        self._done: set[tuple[str, int, int]] = set()

    def _candidates(self) -> dict[Path, tuple[int, int]]:
        found = {}
        for entry in os.scandir(self.directory):
            path = Path(entry.path)
            if entry.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not entry.is_file():
                continue
            stat = entry.stat()
            if (entry.name, stat.st_size, stat.st_mtime_ns) not in self._done:
                found[path] = (stat.st_size, stat.st_mtime_ns)
        return found

    def _finish(self, path: Path, signature: tuple[int, int]) -> None:
        if self.processed is None:
            self._done.add((path.name, *signature))
            return
        self.processed.mkdir(parents=True, exist_ok=True)
        target, n = self.processed / path.name, 1
        while target.exists():
            target, n = self.processed / f"{path.stem}-{n}{path.suffix}", n + 1
        os.replace(path, target)

    def _handle(self, path: Path, signature: tuple[int, int]) -> Iterator[PhotoScan]:
        try:
            photo = read_photo(path)
        except AdapterError as exc:
            if self.rejected is not None:
                self.rejected(path, str(exc))
        else:
            yield photo
        self._finish(path, signature)

    def __iter__(self) -> Iterator[PhotoScan]:
        started = time.monotonic()
        previous: dict[Path, tuple[int, int]] = {}
        while not _stopped(self.stop):
            current = self._candidates()
            ready = sorted((p for p, sig in current.items() if previous.get(p) == sig),
                           key=lambda p: (current[p][1], p.name))
            for path in ready:
                yield from self._handle(path, current.pop(path))
            previous = current
            if self.timeout is not None and time.monotonic() - started >= self.timeout:
                return
            time.sleep(self.poll_interval)
