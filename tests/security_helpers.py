"""Helpers for the security tests: log in, CSRF headers, the route table, an in-process app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.routing import Mount

from hestia.api.app import create_app
from hestia.config import Settings

PASSWORD = "correct horse battery"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def csrf(client: httpx.Client) -> dict[str, str]:
    """The header a compliant page sends: X-CSRF-Token = the hestia_csrf cookie."""
    return {"X-CSRF-Token": client.cookies.get("hestia_csrf", "")}


def login(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    """Log in as the login page does (it was loaded first, so the CSRF cookie is there)."""
    client.get("/login")
    response = client.post("/api/auth/login", json={"password": password}, headers=csrf(client))
    return response


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header of a response, by cookie name (the whole header value)."""
    return {v.split("=", 1)[0]: v for v in response.headers.get_list("set-cookie")}


def routes(
    settings: Settings | None = None, *, values: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """(method, path) of every route and mount of the app, path parameters filled in (from
    `values` by name, else `x`)."""
    app = create_app(settings or Settings())

    def walk(items: list[Any]) -> Iterator[Any]:
        for item in items:
            # FastAPI keeps included routers as lazy branches; their routes are the candidates.
            if hasattr(item, "effective_candidates"):
                yield from walk(item.effective_candidates())
            else:
                yield item

    names = {"seq": "1", **(values or {})}
    for route in walk(app.routes):
        path = re.sub(r"\{([^}]+)\}", lambda m: names.get(m.group(1), "x"), route.path)
        if isinstance(route, Mount):
            yield "GET", path + "/anything"
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                yield method, path


@asynccontextmanager
async def in_process(
    settings: Settings, *, client: tuple[str, int] = ("127.0.0.1", 40000)
) -> AsyncIterator[httpx.AsyncClient]:
    """The app in this process (its lifespan run), reached from the given client address."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as http:
            yield http
