"""Authorization cases for this area of the API; test_authorization.py walks them for every role."""

from __future__ import annotations

CASES: list = []
