"""I9 as a property: whatever JSON (or non-JSON bytes) reaches any POST or PATCH route, the answer
is never a 5xx, every refusal has the one error shape, and a refused request changes nothing.

One server serves the whole module, on SQLite and again on PostgreSQL. URLs are built with the
real session (and a trashed one), the real run and real message seqs, and with arbitrary bogus
ones. After every accepted request the test waits until the sessions are idle, so the next
snapshot is stable. The one non-2xx answer that is not a JSON error is Starlette's redirect of a
path with a trailing slash (e.g. an empty id), checked to go to the same path and change nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from tests.conftest import PG_ADMIN_URL, _pg_admin, server_env
from tests.server import HestiaServer, wait_for_run

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")

# Every POST and PATCH route of the app; test_every_post_and_patch_route_is_covered keeps this
# list honest against the OpenAPI schema.
ROUTES = [
    ("POST", "/api/sessions"),
    ("PATCH", "/api/sessions/{session_id}"),
    ("POST", "/api/sessions/{session_id}/restore"),
    ("POST", "/api/sessions/{session_id}/messages"),
    ("POST", "/api/sessions/{session_id}/messages/{seq}/edit"),
    ("POST", "/api/sessions/{session_id}/retry"),
    ("POST", "/api/sessions/{session_id}/files/upload"),
    ("POST", "/api/runs/{run_id}/cancel"),
    ("POST", "/api/approvals/{approval_id}"),
    ("PATCH", "/api/settings"),
    ("POST", "/api/sessions/import"),
    ("POST", "/api/render"),
]
ROUTE_IDS = [f"{method} {path}" for method, path in ROUTES]
# Fuzzed by test_schemathesis.py (and tested in test_auth.py) instead: a random body that sets
# a password would lock this module's server.
COVERED_ELSEWHERE = {
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/tokens"),
}
ID_ROUTES = [(method, path) for method, path in ROUTES if "{" in path]
ID_ROUTE_IDS = [f"{method} {path}" for method, path in ID_ROUTES]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Plausible values for the real field names, so that many requests are accepted too.
FIELDS = {
    "title": st.text(max_size=40),
    "model": st.sampled_from(["fake-model", "fake-model-large", ""]) | st.text(max_size=12),
    "runtime": st.sampled_from(["builtin", "hermes", ""]) | st.text(max_size=12),
    "workspace": st.sampled_from(["/tmp", "relative", "/no/such/folder"]) | st.text(max_size=12),
    "pinned": st.booleans(),
    "archived": st.booleans(),
    "content": st.text(min_size=1, max_size=60),
    "client_message_id": st.sampled_from(["cmid-1", "cmid-2", ""]) | st.text(max_size=12),
    "approval_policy": st.sampled_from(["ask", "dangerous", "never", ""]) | st.text(max_size=12),
    "decision": st.sampled_from(["once", "session", "always", "deny", ""]) | st.text(max_size=12),
    # A hermes-webui session file, the other format the import route reads.
    "session_id": st.sampled_from(["webui-1", ""]) | st.text(max_size=12),
    "messages": st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant", "tool", "x"]), "content": st.text()}
        ),
        max_size=3,
    ),
    "format": st.sampled_from(["hestia-session", "other"]),
    "theme": st.sampled_from(["system", "light", "dark", ""]) | st.text(max_size=12),
    "default_model": st.sampled_from(["fake-model", ""]) | st.text(max_size=12),
    "openai_base_url": st.sampled_from(["http://127.0.0.1:1/v1", "ftp://x", ""]),
    "text": st.text(max_size=60),
}
FIELD_VALUES = {name: st.one_of(values, JSON_VALUES) for name, values in FIELDS.items()}
# The fields each route's body takes; a name marked with * is required.
SESSION_FIELDS = ("title", "model", "runtime", "workspace", "approval_policy")
ROUTE_FIELDS = {
    "/api/sessions": SESSION_FIELDS,
    "/api/sessions/{session_id}": (*SESSION_FIELDS, "pinned", "archived"),
    "/api/sessions/{session_id}/messages": ("*content", "client_message_id", "model"),
    "/api/sessions/{session_id}/messages/{seq}/edit": ("*content",),
    "/api/approvals/{approval_id}": ("*decision",),
    "/api/settings": ("approval_policy", "theme", "default_model", "openai_base_url"),
    "/api/sessions/import": ("*session_id", "messages", "title", "pinned", "archived"),
    "/api/render": ("*text",),
}


def bodies_for(template: str) -> st.SearchStrategy[Any]:
    """Any JSON; objects with any real field names and any values; and bodies shaped for the
    route with plausible values (most accepted), so accepted requests are exercised too."""
    fields = ROUTE_FIELDS.get(template, ())
    required = {f[1:]: FIELDS[f[1:]] for f in fields if f.startswith("*")}
    optional = {f: FIELDS[f] for f in fields if not f.startswith("*")}
    shaped = st.fixed_dictionaries(required, optional=optional)
    return st.one_of(JSON_VALUES, st.fixed_dictionaries({}, optional=FIELD_VALUES), shaped, shaped)


RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=60).map(lambda raw: b'{"content": "' + raw + b'\xff\xfe"}'),
    st.binary(max_size=60).map(lambda raw: b"\xc3\x28" + raw),  # invalid UTF-8 up front
    st.text(max_size=60).map(str.encode),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", None, "text/plain", "application/x-www-form-urlencoded"]
)
# ("ref", name) resolves to a real id or seq at request time; ("raw", value) is used as it is.
# Real and bogus path parts are separate tests: Hypothesis prefers new inputs, and a mix would
# drift to bogus ids and rarely reach the rules behind them.
REAL_PARTS = st.fixed_dictionaries(
    {
        "session_id": st.tuples(st.just("ref"), st.sampled_from(["main", "main", "trashed"])),
        "seq": st.one_of(
            st.tuples(
                st.just("ref"), st.sampled_from(["first_user", "last_user", "last_assistant"])
            ),
            st.tuples(st.just("raw"), st.integers(1, 12)),
        ),
        "run_id": st.tuples(st.just("ref"), st.just("last_run")),
        # No run here waits for an approval, so every approval id is a bogus one.
        "approval_id": st.tuples(st.just("raw"), st.text()),
    }
)
BOGUS_PARTS = st.fixed_dictionaries(
    {
        "session_id": st.tuples(st.just("raw"), st.text()),
        "seq": st.tuples(st.just("raw"), st.integers().map(str) | st.text(max_size=12)),
        "run_id": st.tuples(st.just("raw"), st.text()),
        "approval_id": st.tuples(st.just("raw"), st.text()),
    }
)

PROPERTY_SETTINGS = settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class World:
    """The module's server, its two real sessions, and the last snapshot while nothing changed."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.main = self._create("Main")
        run = self.client.post(
            f"/api/sessions/{self.main}/messages", json={"content": "hello there"}
        ).json()["run"]
        assert wait_for_run(client, run["id"])["status"] == "completed"
        self.trashed = self._create("Trashed")
        self.client.delete(f"/api/sessions/{self.trashed}").raise_for_status()
        self._snapshot: dict[str, Any] | None = None

    def _create(self, title: str) -> str:
        response = self.client.post("/api/sessions", json={"title": title})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def url(self, template: str, parts: dict[str, tuple[str, Any]]) -> str:
        values = {
            name: quote(str(self._resolve(name, ref)), safe="") for name, ref in parts.items()
        }
        return template.format(**values)

    def _resolve(self, name: str, ref: tuple[str, Any]) -> Any:
        kind, value = ref
        if kind == "raw":
            return value
        if name == "session_id":
            return self.main if value == "main" else self.trashed
        if name == "run_id":
            runs = self.client.get(f"/api/sessions/{self.main}/runs").json()["runs"]
            return runs[-1]["id"]
        messages = self.client.get(f"/api/sessions/{self.main}", params={"limit": 1000}).json()[
            "messages"
        ]
        role = "assistant" if value == "last_assistant" else "user"
        seqs = [m["seq"] for m in messages if m["role"] == role]
        return seqs[0] if value == "first_user" else seqs[-1]

    def snapshot(self) -> dict[str, Any]:
        """Every listing, both real sessions with all their messages and runs, the settings."""
        if self._snapshot is None:
            get = self.client.get
            self._snapshot = {
                "lists": [
                    get("/api/sessions", params={"limit": 200, **params}).json()
                    for params in ({}, {"archived": "true"}, {"trashed": "true"})
                ],
                "sessions": [
                    (
                        get(
                            f"/api/sessions/{session_id}",
                            params={"limit": 1000, "include_superseded": "true"},
                        ).json(),
                        get(f"/api/sessions/{session_id}/runs").json(),
                    )
                    for session_id in (self.main, self.trashed)
                ],
                "settings": get("/api/settings").json(),
            }
        return self._snapshot

    def fresh_snapshot(self) -> dict[str, Any]:
        self._snapshot = None
        return self.snapshot()

    def changed(self, response: httpx.Response) -> None:
        """After an accepted request: let runs finish, undo what would pile up, snapshot anew."""
        self._snapshot = None
        path = response.request.url.path
        if response.request.method == "POST" and path in ("/api/sessions", "/api/sessions/import"):
            created = response.json()["id"]
            self.client.delete(f"/api/sessions/{created}").raise_for_status()
            self.client.delete(f"/api/sessions/{created}", params={"purge": "true"})
        for session_id in (self.main, self.trashed):
            self._wait_idle(session_id)
        trashed = self.client.get(f"/api/sessions/{self.trashed}").json()["session"]
        if not trashed["trashed"]:
            self.client.delete(f"/api/sessions/{self.trashed}").raise_for_status()

    def _wait_idle(self, session_id: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.client.get(f"/api/sessions/{session_id}/runs", params={"active": "true"})
            if runs.json()["runs"] == []:
                return
            time.sleep(0.02)
        raise AssertionError(f"session {session_id} still has active runs")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_provider
) -> Iterator[World]:
    """One server for the module, on SQLite and on PostgreSQL (a database of its own)."""
    env = server_env(fake_provider)
    database = None
    if request.param == "postgresql":
        database = f"hestia_i9_{uuid.uuid4().hex[:12]}"
        try:
            asyncio.run(_pg_admin(f'CREATE DATABASE "{database}"'))
        except Exception as exc:
            if os.environ.get("HESTIA_REQUIRE_POSTGRES"):
                raise
            pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        env["HESTIA_DATABASE_URL"] = f"{base}/{database}"
    fake_provider.reset()
    data_dir = tmp_path_factory.mktemp(f"i9-property-{request.param}") / "data"
    server = HestiaServer(data_dir=data_dir, env=env).start()
    try:
        with server.client() as client:
            yield World(client)
    finally:
        server.stop()
        fake_provider.reset()
        if database is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def check(world: World, response: httpx.Response, before: dict[str, Any]) -> None:
    """The I9 promise for one answer."""
    note(f"{response.request.method} {response.request.url} -> {response.status_code}")
    note(response.text[:500])
    event(f"{response.status_code} {response.text[:60] if response.status_code >= 300 else ''}")
    assert response.status_code < 500, response.text
    if 200 <= response.status_code < 300:
        assert isinstance(response.json(), dict)
        world.changed(response)
        return
    if response.status_code in (307, 308):
        # Starlette's trailing-slash redirect: to the same path without the slash, nothing done.
        path = response.request.url.path  # decoded
        target = unquote(urlsplit(response.headers["location"]).path)
        assert path.endswith("/") and target == path.rstrip("/"), (path, target)
        assert world.fresh_snapshot() == before
        return
    assert 400 <= response.status_code < 500, response.status_code
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and SNAKE_CASE.match(body["error"]["code"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    assert world.fresh_snapshot() == before, "a refused request changed something"


def test_every_post_and_patch_route_is_covered(world: World):
    schema = world.client.get("/openapi.json").json()
    routes = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("post", "patch")
    }
    assert routes == set(ROUTES) | COVERED_ELSEWHERE


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=ROUTE_IDS)
@PROPERTY_SETTINGS
@given(data=st.data(), parts=REAL_PARTS)
def test_i9_arbitrary_json_never_5xx_and_refusals_change_nothing(
    world: World, method: str, template: str, data: st.DataObject, parts: dict[str, Any]
):
    body = data.draw(bodies_for(template), label="body")
    url = world.url(template, parts)
    before = world.snapshot()
    response = world.client.request(
        method, url, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    check(world, response, before)


@pytest.mark.parametrize(("method", "template"), ID_ROUTES, ids=ID_ROUTE_IDS)
@settings(PROPERTY_SETTINGS, max_examples=12)
@given(data=st.data(), parts=BOGUS_PARTS)
def test_i9_bogus_ids_never_5xx_and_change_nothing(
    world: World, method: str, template: str, data: st.DataObject, parts: dict[str, Any]
):
    body = data.draw(bodies_for(template), label="body")
    url = world.url(template, parts)
    before = world.snapshot()
    response = world.client.request(
        method, url, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    check(world, response, before)


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=ROUTE_IDS)
@settings(PROPERTY_SETTINGS, max_examples=16)
@given(raw=RAW_BODIES, content_type=CONTENT_TYPES, parts=REAL_PARTS)
def test_i9_non_json_bytes_never_5xx_and_refusals_change_nothing(
    world: World, method: str, template: str, raw: bytes, content_type: str | None, parts: dict
):
    url = world.url(template, parts)
    before = world.snapshot()
    headers = {"content-type": content_type} if content_type else {}
    response = world.client.request(method, url, content=raw, headers=headers)
    check(world, response, before)
