"""The Celery worker's entry point: ``celery -A pharma.worker worker``.

It builds the Flask app from the ``PHARMA_*`` environment, so tasks run in an app context with
the same database and settings as the web app, and exposes the configured ``celery``. The broker
and result backend come from ``PHARMA_BROKER_URL`` and ``PHARMA_RESULT_BACKEND`` (the latter
defaults to the broker). Without a broker the web app runs tasks inline and a worker has nothing
to do, so starting one is refused.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from celery.signals import worker_process_init

import pharma
from pharma import create_app
from pharma.config import ConfigError, Settings
from pharma.extensions import celery

settings = Settings.from_env()
if settings.broker_url is None:
    raise ConfigError(
        "a Celery worker needs PHARMA_BROKER_URL (e.g. redis://127.0.0.1:6379/0); "
        "without it the web app runs tasks inline"
    )

# named flask_app, not app: `celery -A` takes a module attribute called `app` for the Celery app
flask_app = create_app(settings)


def _import_task_modules() -> list[str]:
    """Import every context's ``tasks`` module, so the worker knows all the system's tasks."""
    found = []
    for info in pkgutil.iter_modules(pharma.__path__, "pharma."):
        if info.ispkg and importlib.util.find_spec(f"{info.name}.tasks") is not None:
            importlib.import_module(f"{info.name}.tasks")
            found.append(f"{info.name}.tasks")
    return found


TASK_MODULES = _import_task_modules()


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    """A prefork child must not reuse database connections inherited from the parent."""
    from pharma.extensions import db

    if db.engine is not None:
        db.engine.dispose(close=False)

__all__ = ["celery", "flask_app"]
