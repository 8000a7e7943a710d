"""The ``pharma`` command: ``pharma run``, ``pharma db upgrade``, ``pharma fixtures load``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup


def _app() -> Flask:
    from pharma import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_app, add_version_option=False)
def cli() -> None:
    """pharma: national pharmaceutical supply and traceability."""


def main() -> None:
    cli()


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(fixtures_group)
    app.cli.add_command(stock_group)


def _url() -> str:
    return current_app.config["PHARMA"].database_url


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from pharma import migrate

    _ensure_sqlite_dir(_url())
    migrate.upgrade(_url(), revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from pharma import migrate

    migrate.downgrade(_url(), revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models' difference to the database."""
    from pharma import migrate

    migrate.revision(_url(), message)


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@click.group("fixtures")
def fixtures_group() -> None:
    """Demo and reference data."""


@fixtures_group.command("load")
@click.option("--if-empty", is_flag=True, help="Load only into a database with no organisations (products).")
@click.option("--register-only", is_flag=True,
              help="Only the reference data (products, ICD-10): no demo organisations, users, permits or packs.")
def fixtures_load(if_empty: bool, register_only: bool) -> None:
    """Load the register and ICD-10 codes and, unless --register-only, the demo parties, users and packs."""
    from pharma import fixtures

    report = fixtures.load_all(if_empty=if_empty, register_only=register_only)
    click.echo(report.summary())


@fixtures_group.command("synth")
@click.option("--packs", type=int, required=True, help="How many synthetic packs to add.")
def fixtures_synth(packs: int) -> None:
    """Add synthetic packs with their history (for benchmarks); needs the fixtures loaded."""
    from pharma.extensions import db
    from pharma.trace.synth import synthesize

    made = synthesize(db.session, packs)
    click.echo(f"added {made} synthetic packs")


@click.group("stock")
def stock_group() -> None:
    """Stock: the expiry scan."""


@stock_group.command("expiry-scan")
@click.option("--on", "on", default=None, help="Scan as of this ISO date (default: today, UTC).")
def stock_expiry_scan(on: str | None) -> None:
    """Mark stock expired or expiring within 30/60/90 days (what the daily task does); safe to rerun."""
    from pharma.stock.tasks import scan_expiry

    result = scan_expiry.run(on)
    bands = ", ".join(f"{band} {count}" for band, count in result["bands"].items())
    click.echo(f"expiry scan on {result['on']}: {result['changed']} notices changed, {result['removed']} removed; "
               f"{bands}")
