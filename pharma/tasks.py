"""Celery wiring: tasks run inline unless a broker is configured."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Flask, has_app_context

from pharma.extensions import celery

# `celery -A pharma.worker beat`: the periodic tasks (UTC); each entry names its task and when
BEAT_SCHEDULE = {
    "register-expire-certificates": {"task": "pharma.register.expire_certificates",
                                     "schedule": crontab(hour=0, minute=15)},
    "stock-expiry-scan": {"task": "pharma.stock.scan_expiry", "schedule": crontab(hour=1, minute=30)},
}


def init_celery(app: Flask) -> None:
    settings = app.config["PHARMA"]
    celery.conf.update(
        broker_url=settings.broker_url or "memory://",
        result_backend=settings.result_backend or settings.broker_url or None,
        task_always_eager=settings.broker_url is None,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        broker_connection_retry_on_startup=True,
        beat_schedule=BEAT_SCHEDULE,
    )

    class AppContextTask(celery.Task):
        def __call__(self, *args, **kwargs):
            if has_app_context():  # run inline inside a request: its context (and session) stay
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery.Task = AppContextTask
    app.extensions["celery"] = celery
