"""Secrets stay secret: provider keys, the password hash and tokens never come back from a GET
or reach the server log; the data dir is the owner's alone."""

from __future__ import annotations

import stat

import pytest

from tests.api_helpers import directive, new_session, send
from tests.security_helpers import PASSWORD, csrf, login, routes
from tests.server import read_events, wait_for_run

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-test-SECRET-0123456789abcdefOPENAI"
ANTHROPIC_KEY = "sk-ant-SECRET-0123456789abcdefANTHROPIC"


def test_no_get_route_and_no_log_line_holds_a_secret(make_server, fake):
    server = make_server(
        HESTIA_OPENAI_API_KEY=OPENAI_KEY,
        ANTHROPIC_API_KEY=ANTHROPIC_KEY,
        HESTIA_ANTHROPIC_BASE_URL=fake.url,
    )
    with server.client() as client:
        assert client.post("/api/auth/password", json={"new": PASSWORD}).status_code == 200
        client.headers.update(csrf(client))  # from now on a logged-in, compliant browser
        token = client.post("/api/tokens", json={"name": "t"}).json()
        session_id = new_session(client)
        client.put(
            f"/api/sessions/{session_id}/files/content",
            params={"path": "notes.txt"},
            content=b"hello",
        )
        ok = send(client, session_id, "hello")
        wait_for_run(client, ok["id"])
        # A failing provider call: error paths are where keys usually leak.
        failed = send(client, session_id, directive("again", fail="401"))
        wait_for_run(client, failed["id"])
        anthropic = send(client, session_id, "hi", model="claude-fake")
        wait_for_run(client, anthropic["id"])
        ids = {"session_id": session_id, "run_id": ok["id"]}
        bodies: list[str] = []
        gets = sorted({path for method, path in routes(values=ids) if method == "GET"})
        for path in gets:
            params = {"path": "notes.txt"} if path.endswith("/content") else {}
            if path == "/static/anything":  # the static mount: ask for a file it has
                path = "/static/js/app.js"
            response = client.get(path, params=params)
            bodies.append(f"{path} {response.status_code} {response.headers} {response.text}")
        for run_id in (ok["id"], failed["id"]):
            events = read_events(client, run_id)
            bodies.append(repr([e.data for e in events]))
            bodies.append(client.get(f"/api/runs/{run_id}").text)
        not_ok = [body[:200] for body in bodies[: len(gets)] if body.split(" ", 2)[1] != "200"]
        assert not_ok == []
    text = "\n".join(bodies)
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, PASSWORD, token["token"], "$argon2"):
        assert secret not in text, secret
    log = server.log()
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, PASSWORD, token["token"]):
        assert secret not in log, secret
    assert login_works(server)


def login_works(server) -> bool:
    with server.client() as client:
        return login(client).status_code == 200


def test_the_data_dir_is_the_owners_alone(server, client):
    session_id = new_session(client)
    client.put(
        f"/api/sessions/{session_id}/files/content", params={"path": "a/b.txt"}, content=b"x"
    )
    run = send(client, session_id, "hello")
    wait_for_run(client, run["id"])
    found = []
    for path in [server.data_dir, *server.data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        found.append(path.name)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
    assert "hestia.db" in found and "hestia.db-wal" in found and "b.txt" in found
