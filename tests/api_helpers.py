"""Small helpers shared by the HTTP API tests (sessions, sends, transcripts, polling)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import server_env
from tests.fake_provider import FakeProvider
from tests.server import Event, HestiaServer

TERMINAL = ("completed", "failed", "cancelled", "interrupted")


def directive(text: str, **script: Any) -> str:
    """A user message carrying a `#fake` directive for the fake provider."""
    return f"{text} #fake {json.dumps(script)}"


def new_session(client: httpx.Client, **body: Any) -> str:
    """Create a session; its id."""
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def send(client: httpx.Client, session_id: str, content: str, **body: Any) -> dict[str, Any]:
    """Send a message; the run (asserting the 202)."""
    response = client.post(
        f"/api/sessions/{session_id}/messages", json={"content": content, **body}
    )
    assert response.status_code == 202, response.text
    return response.json()["run"]


def transcript(
    client: httpx.Client, session_id: str, *, include_superseded: bool = False
) -> list[dict[str, Any]]:
    """The session's messages, oldest first."""
    params = {"include_superseded": "true"} if include_superseded else {}
    response = client.get(f"/api/sessions/{session_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def get_run(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


def deltas(events: list[Event]) -> str:
    """The concatenated `message.delta` texts."""
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


def as_tuples(events: list[Event]) -> list[tuple[int | None, str, dict[str, Any]]]:
    return [(e.id, e.type, e.data) for e in events]


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 15, what: str = "condition"
) -> Any:
    """Poll `predicate` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def parse_time(value: str) -> datetime:
    """An API time: ISO 8601, UTC."""
    assert isinstance(value, str) and value.endswith("Z"), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.utcoffset() == UTC.utcoffset(None)
    return parsed


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the JSON error shape with this status and code; the error."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip()
    return error


def shared_server_fixtures(name: str) -> tuple[Any, Any]:
    """A module-scoped `server` (overriding conftest's per-test one) and an autouse check.

    Each test works in its own session on the shared process. After each test, no provider
    stream may be left open and the server log must hold no traceback and no error.
    """

    @pytest.fixture(scope="module")
    def server(
        tmp_path_factory: pytest.TempPathFactory, fake_provider: FakeProvider
    ) -> Iterator[HestiaServer]:
        data_dir = tmp_path_factory.mktemp(name) / "data"
        process = HestiaServer(data_dir=data_dir, env=server_env(fake_provider)).start()
        yield process
        process.stop()

    @pytest.fixture(autouse=True)
    def clean_server_log(server: HestiaServer, fake: FakeProvider) -> Iterator[None]:
        start = len(server.log())
        yield
        assert fake.wait_idle(), "a provider stream was left open"
        assert_clean_log(server.log()[start:])

    return server, clean_server_log


def assert_clean_log(log: str) -> None:
    """No traceback and no error-level line in a server log."""
    assert "Traceback" not in log and " ERROR " not in log, log
