"""Extension objects, created unbound and bound to the app in ``create_app``."""

from __future__ import annotations

from celery import Celery
from flask_babel import Babel
from flask_wtf import CSRFProtect
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from pharma.shared.http import PharmaApi


class Database:
    """The engine and a session scoped to the current thread, removed after each request."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.read_engine: Engine | None = None
        self.session_factory = sessionmaker(expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self.session_factory)

    def init_app(self, app) -> None:
        settings = app.config["PHARMA"]
        self.configure(settings.database_url)
        app.before_request(self._start_request)
        app.teardown_appcontext(lambda exc: self.session.remove())
        app.extensions["pharma_db"] = self

    def configure(self, url: str) -> Engine:
        if self.engine is not None and str(self.engine.url) == url:
            return self.engine
        if self.engine is not None:
            self.session.remove()
            self.engine.dispose()
        self.engine = make_engine(url)
        # same pool, but each statement commits on its own: no BEGIN and no ROLLBACK round trips
        self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.session_factory.configure(bind=self.engine)
        return self.engine

    def _start_request(self) -> None:
        """Safe requests (GET, HEAD) read in autocommit mode, and so do the write endpoints marked
        ``autocommit_reads`` (they write in one statement or inside ``UnitOfWork.atomic``); any
        other write request gets a transaction.

        A GET's statements therefore each see the latest committed data rather than one
        snapshot; a read that needs one snapshot opens its own session on ``engine``.
        """
        from flask import current_app, request

        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if request.method in ("GET", "HEAD") or getattr(view, "autocommit_reads", False):
            self.session.remove()
            self.session(bind=self.read_engine)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # no pre-ping: it costs a round trip on every checkout; recycled connections and the
    # server's own keepalive cover restarts (a request in flight during one fails once)
    return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)


db = Database()
api = PharmaApi()
babel = Babel()
csrf = CSRFProtect()
celery = Celery("pharma")
