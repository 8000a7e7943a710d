"""End-to-end fixtures: the app served over real HTTP, and headless Chromium driven by Playwright.

The server is the session's test app (see tests/conftest.py) in a werkzeug thread, so a test
arranges data with the ``make`` factory and the register services and the browser sees it at
once, on SQLite and on PostgreSQL alike. Chromium is Debian's (``apt-get install chromium``;
``make test`` installs it); Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKEND

CHROMIUM = os.environ.get("PHARMA_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:
    """The test app on http://127.0.0.1:<free port>, served by a thread per request."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in failure reports
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; skipped without it on a developer's machine, a failure in CI."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (make test does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)  # a loaded 2-core CI machine is slower than a laptop
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def page(browser, live_server, db_session):
    """A fresh browser profile (no cookies) per test, in English, pointed at the live server."""
    context = browser.new_context(base_url=live_server, locale="en-US",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture()
def screenshot(page, request):
    """``screenshot("name")`` saves test-artifacts/<test>-<name>-<backend>.png for a human to look at."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}-{BACKEND}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
