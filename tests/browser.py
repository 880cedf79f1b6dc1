"""Browser-test support: Debian's Chromium through Playwright, a page on a real `hestia serve`,
and a TCP proxy in between whose connections a test can cut (a real network drop)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import pytest

from tests.server import HestiaServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: four engineers share two cores. Waits end as soon as the DOM condition holds.
TIMEOUT_MS = 30_000


@dataclass
class CuttableProxy:
    """Forwards 127.0.0.1:<port> to the server; `cut()` drops every open connection at once."""

    target_port: int
    port: int = 0
    _listener: socket.socket | None = None
    _conns: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CuttableProxy:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            sock.close()

    def cut(self) -> None:
        """Drop every connection now (the browser sees the network fail mid-stream)."""
        with self._lock:
            conns = list(self._conns)
        for sock in conns:
            self._close(sock)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self.cut()


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module. Not per session: Playwright's sync API keeps an
    event loop running on this thread while it is started, and the async tests of the modules
    after it need the thread to themselves."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def proxy(server: HestiaServer) -> Iterator[CuttableProxy]:
    """The server behind a proxy the test can cut."""
    proxy = CuttableProxy(target_port=server.port).start()
    yield proxy
    proxy.stop()


@contextmanager
def open_page(chromium, base_url: str, **context_options):
    """A fresh browser page on the app at `base_url`; page errors fail the test."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    options = {"viewport": {"width": 1280, "height": 860}, **context_options}
    context = chromium.new_context(base_url=base_url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # index.html carries the CSP as a meta tag too, so any violation shows up here.
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto("/")
    page.wait_for_selector("body[data-ready]")
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors


@pytest.fixture
def page(chromium, proxy: CuttableProxy):
    """The app in a fresh browser page, talking to `server` through `proxy`."""
    with open_page(chromium, proxy.url) as page:
        yield page


def send(page, text: str) -> None:
    """Type a message into the composer and press Enter."""
    page.locator("#prompt").fill(text)
    page.locator("#prompt").press("Enter")


def answers(page):
    """Stored (finished) answers in the conversation."""
    return page.locator(".msg.assistant:not(.live) .answer")
