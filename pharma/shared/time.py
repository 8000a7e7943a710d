from __future__ import annotations

from datetime import UTC, date, datetime

__all__ = ["UTC", "today", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return utcnow().date()
