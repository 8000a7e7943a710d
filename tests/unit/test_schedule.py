"""The beat schedule names only tasks that exist, found the way the worker finds them."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import pharma
from pharma.extensions import celery
from pharma.tasks import BEAT_SCHEDULE


def test_every_scheduled_task_is_a_task_the_worker_knows():
    for info in pkgutil.iter_modules(pharma.__path__, "pharma."):
        if info.ispkg and importlib.util.find_spec(f"{info.name}.tasks") is not None:
            importlib.import_module(f"{info.name}.tasks")
    names = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert names >= {"pharma.register.expire_certificates", "pharma.stock.scan_expiry"}
    assert names <= set(celery.tasks)
