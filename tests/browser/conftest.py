"""Browser tests: Debian's Chromium (/usr/bin/chromium, installed by `make test`) driven by
Playwright, against the application served on a free loopback port from a thread.
These run on SQLite only: the database layer is covered on both backends elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def backend() -> str:
    return "sqlite"


@dataclass
class LiveServer:
    app: Flask
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"


def serve(app: Flask) -> LiveServer:
    """Serve ``app`` on 127.0.0.1 on a free port from a daemon thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # Poll for shutdown every 20 ms (not 500): tests start and stop many servers.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    return LiveServer(app, server, thread)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    running = serve(app)
    yield running
    running.server.shutdown()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageWatch:
    """What the page said while a test drove it: JavaScript dialogs (an XSS payload that
    ran would open one) and console errors."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, watch: PageWatch) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def on_dialog(dialog: Dialog) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watch.errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.set_default_timeout(10_000)
    yield page
    context.close()
