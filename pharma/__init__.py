"""pharma: national pharmaceutical supply and drug-traceability system."""

from __future__ import annotations

import logging

from flask import Flask

from pharma.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(settings.flask_config())
    logging.basicConfig(level=settings.log_level)
    register_extensions(app)
    register_blueprints(app)
    register_pages(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    from pharma.extensions import api, csrf, db
    from pharma.i18n import init_babel
    from pharma.parties.auth import TokenCallSessionInterface
    from pharma.shared.http import register_http
    from pharma.tasks import init_celery

    app.session_interface = TokenCallSessionInterface()
    db.init_app(app)
    csrf.init_app(app)
    init_babel(app)
    api.init_app(app)
    register_http(app, api)
    init_celery(app)


def register_blueprints(app: Flask) -> None:
    from pharma.extensions import api, csrf

    for blp in api_blueprints():
        csrf.exempt(blp)  # API writes are token-authenticated; cookie writes are checked in guard_api
        api.register_blueprint(blp)


def api_blueprints():
    from pharma.auditlog.api import blp as audit_api
    from pharma.barcodes.api import blp as labels_api
    from pharma.parties.api import blp as parties_api
    from pharma.permits.api import blp as permits_api
    from pharma.register.api import blp as register_api
    from pharma.stock.api import blp as stock_api
    from pharma.stock.counts_api import blp as stock_counts_api
    from pharma.stock.documents_api import blp as stock_documents_api
    from pharma.stock.reports_api import blp as stock_reports_api
    from pharma.stock.supply_api import blp as supply_api
    from pharma.stock.valuation_api import blp as stock_valuation_api
    from pharma.trace.api_declarations import blp as declarations_api
    from pharma.trace.api_history import blp as history_api
    from pharma.trace.api_movements import blp as movements_api
    from pharma.verify.api import alerts_blp as alerts_api
    from pharma.verify.api import blp as verify_api

    return [register_api, parties_api, permits_api, declarations_api, movements_api, history_api, audit_api,
            labels_api, verify_api, alerts_api, stock_api, stock_reports_api, supply_api, stock_counts_api,
            stock_valuation_api, stock_documents_api]


def register_pages(app: Flask) -> None:
    from pharma.auditlog.views import bp as audit_web
    from pharma.barcodes.views import bp as labels_web
    from pharma.parties.views import bp as parties_web
    from pharma.permits.views import bp as permits_web
    from pharma.register.views import bp as register_web
    from pharma.stock.counts_views import bp as stock_counts_web
    from pharma.stock.documents_views import bp as stock_documents_web
    from pharma.stock.reports_views import bp as stock_reports_web
    from pharma.stock.supply_views import bp as supply_web
    from pharma.stock.valuation_views import bp as stock_valuation_web
    from pharma.stock.views import bp as stock_web
    from pharma.trace.views_declarations import bp as declarations_web
    from pharma.trace.views_history import bp as history_web
    from pharma.trace.views_movements import bp as movements_web
    from pharma.verify.views import bp as verify_web
    from pharma.web import bp as home_web

    for bp in (home_web, parties_web, register_web, permits_web, declarations_web, movements_web, history_web,
               audit_web, labels_web, verify_web, stock_web, stock_reports_web, supply_web, stock_counts_web,
               stock_valuation_web, stock_documents_web):
        app.register_blueprint(bp)


def register_cli(app: Flask) -> None:
    from pharma.cli import register_commands

    register_commands(app)
