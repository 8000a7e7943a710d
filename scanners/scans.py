"""What the adapters yield: a raw scan as received, or a photo to decode on the server.

Each scan gets its ``Idempotency-Key`` the moment it is received and keeps it through retries and
the offline queue, so the server counts it once however many times it is sent.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

GS = "\x1d"
# an AIM symbology identifier: "]", the symbology letter, a modifier character ("]d2", "]Q3", "]C1")
AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_SHOWN = {GS: "<GS>", "\r": "<CR>", "\n": "<LF>", "\t": "<Tab>"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_key() -> str:
    return str(uuid.uuid4())


def aim_of(raw: str | bytes) -> str | None:
    """The AIM identifier the scan starts with, if any."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    found = AIM.match(text)
    return found.group(0) if found else None


def printable(raw: str | bytes) -> str:
    """The scan on one line: GS as <GS>, other control characters as <0x..>."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    return "".join(_SHOWN.get(c) or (f"<0x{ord(c):02X}>" if ord(c) < 32 or ord(c) == 127 else c) for c in text)


@dataclass(frozen=True)
class RawScan:
    """One scan: ``text`` from a keyboard wedge, or ``data`` (bytes, GS kept as a byte) from a port."""

    text: str | None
    data: bytes | None
    symbology: str | None
    source: str
    received_at: datetime = field(default_factory=utcnow)
    key: str = field(default_factory=new_key)

    @property
    def raw(self) -> str:
        """What is sent to the server: the text, or the bytes decoded latin-1 (one character per byte)."""
        return self.text if self.text is not None else (self.data or b"").decode("latin-1")


@dataclass(frozen=True)
class PhotoScan:
    """A PNG or JPEG image; the server decodes every code in it."""

    path: Path
    content: bytes
    received_at: datetime = field(default_factory=utcnow)
    key: str = field(default_factory=new_key)

    @property
    def source(self) -> str:
        return f"file:{self.path}"


@dataclass(frozen=True)
class Finding:
    """A stable code and a message for a person."""

    code: str
    message: str


class Closing:
    """``with`` support for a resource that has ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
