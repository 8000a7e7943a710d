"""A real Celery worker, started as ``celery -A pharma.worker worker``, takes the system's own
task from Redis, runs it against the test database and sends its result back.

The worker is a separate process with its own app built from PHARMA_* variables (the test
database, a Redis database chosen for this run). It listens on a queue named for this run
only, so parallel test runs on one Redis never take each other's messages. Skipped when Redis
is unreachable on a developer's machine; with CI=true that is a failure instead.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import test_settings as settings_for_test

pytestmark = pytest.mark.celery_worker

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("PHARMA_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
EXPIRE = "pharma.register.expire_certificates"
STARTUP_SECONDS = 60
RESULT_SECONDS = 60


@pytest.fixture(scope="module")
def broker_url() -> str:
    """A Redis database picked at random for this run (1-15; 0 is left to `make worker`)."""
    import redis

    try:
        redis.Redis.from_url(f"{REDIS}/0", socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as exc:
        message = f"Redis is unreachable at {REDIS}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return f"{REDIS}/{random.randint(1, 15)}"


@pytest.fixture(scope="module")
def queue() -> str:
    return f"pharma-test-{uuid.uuid4().hex[:12]}"


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            if " ready." in self.output():
                return
            time.sleep(0.2)
        pytest.fail(f"the worker was not ready after {seconds}s:\n{self.output()}")

    def stop(self) -> int:
        """Warm shutdown (SIGTERM lets the current task finish), then a kill if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


@pytest.fixture(scope="module")
def worker(app, database_url, broker_url, queue, tmp_path_factory):
    """``celery -A pharma.worker worker`` on this run's queue, against the test database.

    ``app`` comes first so the session's tables exist before the worker opens the database.
    """
    env = {
        **os.environ,
        "PHARMA_ENV": "testing",
        "PHARMA_DATABASE_URL": database_url,
        "PHARMA_BROKER_URL": broker_url,
        "PHARMA_RESULT_BACKEND": broker_url,
        "PHARMA_SECRET_KEY": "worker-test-secret-" + "x" * 32,
        "PHARMA_PASSWORD_TIME_COST": "1",
        "PHARMA_PASSWORD_MEMORY_KIB": "1024",
        "PHARMA_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    command = [
        sys.executable, "-m", "celery", "-A", "pharma.worker", "worker",
        "--pool=solo", "--concurrency=1", "-Q", queue, "-n", f"{queue}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    running = Worker(process, log)
    try:
        running.wait_ready(STARTUP_SECONDS)
        yield running
    finally:
        code = running.stop()
        _forget_queue(broker_url, queue)
        if code not in (0, -signal.SIGTERM, -signal.SIGKILL):
            print(f"the worker exited with {code}:\n{running.output()}")


def _forget_queue(broker_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=3)
    client.delete(queue, f"_kombu.binding.{queue}")
    client.close()


@pytest.fixture()
def sender(app, database_url, broker_url):
    """The system's ``celery``, configured by create_app with this run's broker, as the web app
    would be in production; afterwards put back the way the session's app had it (inline)."""
    from pharma import create_app
    from pharma.extensions import api, celery
    from pharma.tasks import init_celery

    api_state = dict(api.__dict__)  # the shared API object follows the last app built; keep the session's
    create_app(settings_for_test(database_url, broker_url=broker_url, result_backend=broker_url))
    _drop_connections(celery)  # tasks run inline earlier in the session left a cached (disabled) backend
    assert not celery.conf.task_always_eager
    try:
        yield celery
    finally:
        _drop_connections(celery)
        init_celery(app)
        assert celery.conf.task_always_eager, "the session's app must run tasks inline again"
        api.__dict__.clear()
        api.__dict__.update(api_state)


def _drop_connections(celery) -> None:
    import threading

    celery._after_fork()  # forget the broker connection and producer pools
    celery._backend_cache = None
    celery._local = threading.local()
    celery.__dict__.pop("amqp", None)


# ------------------------------------------------------------------------------ the tests


def register(make, regulator, n: int, valid_until: date):
    """A product with its certificate, entered through the register's own service."""
    from pharma.register import services as reg
    from tests.factories import gtin13

    return reg.register_product(make.uow(regulator), reg.NewProduct(
        trade_name=f"Worker Test {n}", substances=(reg.SubstanceLine("amoxicillin", "500 mg"),),
        atc_code="J01CA04", dosage_form="HARD_CAPSULE", route="ORAL", pack_size=16, pack_unit="capsule",
        gtins=(gtin13(900_000 + n),), rx=True,
        certificate=reg.NewCertificate(number=f"WT-{n:05d}", holder="Holder LLC", manufacturer="Maker AG",
                                       country="DE", issued=date.today() - timedelta(days=730),
                                       valid_until=valid_until),
    ))


def backdate(db_session, product, valid_until: date) -> None:
    """Time passes: the certificate's validity (entered while still in force) is now over."""
    from sqlalchemy import update

    from pharma.register.models import Certificate

    db_session.execute(update(Certificate).where(Certificate.product_id == product.id)
                       .values(valid_until=valid_until))
    db_session.commit()


def statuses(db_session) -> dict[str, str]:
    from sqlalchemy import select

    from pharma.register.models import Certificate

    db_session.expire_all()
    return dict(db_session.execute(select(Certificate.number, Certificate.status)).all())


def test_the_worker_runs_the_daily_certificate_expiry_sent_through_redis(worker, sender, queue, make,
                                                                          db_session):
    from pharma.register import services as reg
    from pharma.register.models import CertificateStatusChange

    regulator = make.user("regulator")
    next_year = date.today() + timedelta(days=365)
    lapsed = [register(make, regulator, n, next_year) for n in (1, 2)]
    in_force = register(make, regulator, 3, next_year)
    suspended = register(make, regulator, 4, next_year)
    reg.suspend_certificate(make.uow(regulator), suspended.certificate.id, "GMP inspection pending")
    yesterday = date.today() - timedelta(days=1)
    for product in (*lapsed, suspended):
        backdate(db_session, product, yesterday)

    result = sender.send_task(EXPIRE, queue=queue)
    try:
        marked = result.get(timeout=RESULT_SECONDS)
    except Exception as exc:
        pytest.fail(f"{EXPIRE} did not come back ({exc!r}); worker log:\n{worker.output()}")
    assert marked == 2
    assert result.successful()
    assert statuses(db_session) == {"WT-00001": "expired", "WT-00002": "expired",
                                    "WT-00003": "active", "WT-00004": "suspended"}
    expiries = db_session.query(CertificateStatusChange).filter_by(action="expire").all()
    assert sorted(c.certificate_id for c in expiries) == sorted(p.certificate.id for p in lapsed)
    assert in_force.certificate.status == "active"

    # the task is safe to run twice: nothing is left to expire
    again = sender.send_task(EXPIRE, queue=queue)
    assert again.get(timeout=RESULT_SECONDS) == 0
    for r in (result, again):
        r.forget()
    assert f"Task {EXPIRE}[{result.id}] succeeded" in worker.output()


def test_the_worker_commissions_a_declaration_and_its_progress_shows(worker, sender, queue, make, db_session,
                                                                       client):
    from sqlalchemy import func, select

    from pharma.shared.actor import Actor
    from pharma.shared.uow import UnitOfWork
    from pharma.trace.declarations import NewDeclaration, submit_declaration
    from pharma.trace.models import Pack
    from tests.integration.declaration_helpers import EXPIRY, csv_file, importer_with_permit

    imp = importer_with_permit(make, packs=500, products=1)
    actor = Actor(user_id=imp.caller.user.id, org_id=imp.org_id, roles=frozenset({"importer"}), username="imp")
    rows = [(imp.gtins[0], "W1", EXPIRY, f"W{i:04d}", "", "") for i in range(300)]
    declaration = submit_declaration(UnitOfWork(db_session, actor), NewDeclaration(
        imp.permit_id, imp.location_id, "csv", "w.csv", csv_file(rows)))
    before = client.get(f"/api/v1/declarations/{declaration.id}", headers=imp.caller.headers).json
    assert (before["status"], before["percent"]) == ("RECEIVED", 0)

    result = sender.send_task("pharma.trace.process_declaration", args=[declaration.id], queue=queue)
    try:
        outcome = result.get(timeout=RESULT_SECONDS)
    except Exception as exc:
        pytest.fail(f"the declaration task did not come back ({exc!r}); worker log:\n{worker.output()}")
    result.forget()
    assert outcome == {"id": declaration.id, "status": "ACCEPTED", "packs": 300, "errors": 0}
    after = client.get(f"/api/v1/declarations/{declaration.id}", headers=imp.caller.headers).json
    assert (after["status"], after["percent"], after["packs_done"], after["packs_total"]) == ("ACCEPTED", 100, 300, 300)
    assert db_session.scalar(select(func.count()).select_from(Pack)) == 300
