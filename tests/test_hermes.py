"""The Hermes Agent runtime, with the real `hermes-agent` pointed at the fake provider.

Each server gets a temporary HERMES_HOME whose config.yaml names a `custom` provider on
127.0.0.1, with a context length (so Hermes looks up no model metadata on the internet) and
the tirith scanner off (so it is not downloaded); a test checks that nothing else is reached.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api_helpers import (
    assert_clean_log,
    assert_error,
    deltas,
    directive,
    get_run,
    new_session,
    send,
    transcript,
    wait_until,
)
from tests.conftest import server_env
from tests.fake_provider import FakeProvider
from tests.server import HestiaServer, read_events, wait_for_run
from tests.test_cli import hestia

HERMES_MISSING = importlib.util.find_spec("run_agent") is None

pytestmark = [
    pytest.mark.hermes,
    pytest.mark.slow,
    pytest.mark.skipif(HERMES_MISSING, reason="hermes-agent is not installed"),
]

WAIT = 120  # building a Hermes agent takes seconds on a loaded machine


def write_hermes_home(path: Path, fake: FakeProvider) -> Path:
    """A HERMES_HOME whose only provider is the fake one."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(
        "model:\n"
        "  provider: custom\n"
        f"  base_url: {fake.base_url}\n"
        "  api_key: test-key\n"
        "  default: fake-model\n"
        "  context_length: 128000\n"
        # Hermes would download its tirith scanner from GitHub at the first terminal command.
        "security:\n"
        "  tirith_enabled: false\n"
    )
    return path


@pytest.fixture
def hermes_server(
    make_server: Callable[..., HestiaServer], tmp_path: Path, fake: FakeProvider
) -> HestiaServer:
    home = write_hermes_home(tmp_path / "hermes-home", fake)
    return make_server(HESTIA_HERMES_HOME=str(home), HESTIA_RUNTIME="hermes")


@pytest.fixture
def hclient(hermes_server: HestiaServer) -> Iterator[httpx.Client]:
    with hermes_server.client(timeout=WAIT) as http:
        yield http
    assert_clean_log(hermes_server.log())


def worker_pids(run_id: str | None = None) -> list[int]:
    """Live Hermes worker processes (of one run, if given), found by their command line."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"hestia.runtimes.hermes_worker" not in cmdline or state == "Z":
            continue
        if run_id is None or run_id.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def test_hermes_is_reported_available(hclient):
    body = hclient.get("/api/models").json()
    hermes = next(r for r in body["runtimes"] if r["name"] == "hermes")
    assert hermes["available"] is True and hermes["version"].startswith("0.19")
    assert body["default_runtime"] == "hermes"
    session = hclient.post("/api/sessions", json={}).json()
    assert session["runtime"] == "hermes"
    assert_error(
        hclient.patch(f"/api/sessions/{session['id']}", json={"runtime": "nope"}),
        400,
        "runtime_unavailable",
    )


def test_hermes_run_streams_and_completes(hclient, fake):
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("hi", reply="Hello from the hearth", reasoning="hmm"))
    events = read_events(hclient, run["id"], timeout=WAIT)
    assert [e.id for e in events] == list(range(1, len(events) + 1))  # I3
    types = [e.type for e in events]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert "reasoning.delta" in types
    assert deltas(events) == "Hello from the hearth"
    messages = transcript(hclient, session_id)
    assert [(m["role"], m["status"]) for m in messages] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert messages[1]["content"] == deltas(events)  # I4
    assert get_run(hclient, run["id"])["status"] == "completed"
    assert wait_until(lambda: not worker_pids(run["id"]), timeout=10, what="the worker to exit")


def test_hermes_terminal_tool_call_produces_tool_events(hclient, fake):
    session_id = new_session(hclient)
    script = {
        "steps": [
            {
                "reply": "Looking.",
                # Hestia's settings are not in the agent's environment.
                "tool_calls": [
                    {"name": "terminal", "arguments": {"command": "echo hearth-42; env"}}
                ],
            },
            {"reply": "It said hearth-42."},
        ]
    }
    run = send(hclient, session_id, directive("run it", **script))
    events = read_events(hclient, run["id"], timeout=WAIT)
    assert events[-1].type == "run.completed", events[-1]
    started = [e for e in events if e.type == "tool.started"]
    finished = [e for e in events if e.type == "tool.finished"]
    assert [e.data["name"] for e in started] == ["terminal"]
    assert started[0].data["arguments"] == {"command": "echo hearth-42; env"}
    assert finished[0].data["call_id"] == started[0].data["call_id"]
    assert "hearth-42" in finished[0].data["output"]
    assert "HERMES_HOME" in finished[0].data["output"]
    assert "HESTIA_" not in finished[0].data["output"]
    assert "test-key" not in finished[0].data["output"]
    messages = transcript(hclient, session_id)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    call = messages[1]["parts"][0]
    assert call["type"] == "tool_call" and call["name"] == "terminal"
    assert call["id"] == started[0].data["call_id"]
    assert json.loads(call["arguments"]) == {"command": "echo hearth-42; env"}
    assert messages[2]["parts"][0]["call_id"] == call["id"]
    assert messages[2]["parts"][0]["is_error"] is False is finished[0].data["is_error"]
    assert "hearth-42" in messages[2]["content"]
    # I4: the deltas of the run are its assistant messages' text, in order.
    assert deltas(events) == messages[1]["content"] + messages[3]["content"]
    assert messages[3]["content"] == "It said hearth-42."


@pytest.mark.parametrize("decision", ["deny", "once"])
def test_hermes_dangerous_command_asks_for_approval(hclient, fake, tmp_path, decision):
    victim = tmp_path / f"victim-{decision}"
    (victim / "inner").mkdir(parents=True)
    script = {
        "steps": [
            {"tool_calls": [{"name": "terminal", "arguments": {"command": f"rm -rf {victim}"}}]},
            {"reply": "Finished."},
        ]
    }
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("clean up", **script))
    asked = read_events(hclient, run["id"], until="approval.requested", timeout=WAIT)
    request = asked[-1]
    assert request.type == "approval.requested"
    assert str(victim) in request.data["arguments"]["command"]
    assert request.data["reason"]
    assert victim.exists()  # nothing ran before the answer
    answer = hclient.post(
        f"/api/approvals/{request.data['approval_id']}", json={"decision": decision}
    )
    assert answer.status_code == 200, answer.text
    events = read_events(hclient, run["id"], timeout=WAIT)
    assert events[-1].type == "run.completed", events[-1]
    resolved = [e for e in events if e.type == "approval.resolved"]
    assert [e.data["decision"] for e in resolved] == [decision]
    finished = [e for e in events if e.type == "tool.finished"]
    assert len(finished) == 1
    if decision == "deny":
        assert victim.exists()
        assert "BLOCKED" in finished[0].data["output"]
    else:
        assert not victim.exists()
    tool = [m for m in transcript(hclient, session_id) if m["role"] == "tool"]
    assert len(tool) == 1 and tool[0]["content"] == finished[0].data["output"]


def test_hermes_cancel_mid_stream_leaves_no_worker(hclient, fake):
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("long", tokens=2000, delay=0.02))
    read_events(hclient, run["id"], until="message.delta", timeout=WAIT)
    assert worker_pids(run["id"])
    assert hclient.post(f"/api/runs/{run['id']}/cancel").status_code == 202
    ended = wait_for_run(hclient, run["id"], timeout=WAIT)
    assert ended["status"] == "cancelled"
    assert worker_pids(run["id"]) == []  # killed before the run ended
    events = read_events(hclient, run["id"], timeout=WAIT)
    assert events[-1].type == "run.cancelled"
    messages = transcript(hclient, session_id)
    assert messages[-1]["status"] == "cancelled"
    assert messages[-1]["content"] == deltas(events)  # I4 for a cut-short run
    assert fake.wait_idle()


def test_hermes_worker_crash_fails_the_run_with_its_stderr(hclient, fake):
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("long", tokens=2000, delay=0.02))
    read_events(hclient, run["id"], until="message.delta", timeout=WAIT)
    (pid,) = worker_pids(run["id"])
    os.kill(pid, signal.SIGKILL)
    ended = wait_for_run(hclient, run["id"], timeout=WAIT)
    assert ended["status"] == "failed"
    assert ended["error"]["code"] == "hermes_failed"
    assert "exit status -9" in ended["error"]["message"]
    assert transcript(hclient, session_id)[-1]["status"] == "error"


def test_hermes_kill_9_of_the_server_leaves_an_interrupted_run_and_no_worker(
    hermes_server, hclient, fake
):
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("long", tokens=4000, delay=0.02))
    read_events(hclient, run["id"], until="message.delta", timeout=WAIT)
    assert worker_pids(run["id"])
    wait_until(lambda: transcript(hclient, session_id)[-1]["content"], what="a flushed delta")
    hermes_server.kill9()
    # The worker notices its owner is gone (end of stdin) and ends its process group.
    wait_until(lambda: not worker_pids(run["id"]), timeout=30, what="the orphan worker to exit")
    hermes_server.restart()
    with hermes_server.client(timeout=WAIT) as after:
        assert get_run(after, run["id"])["status"] == "interrupted"
        messages = transcript(after, session_id)
        assert messages[-1]["status"] == "interrupted"
        assert messages[-1]["content"].startswith("w0 ")
    assert worker_pids(run["id"]) == []
    assert list((hermes_server.data_dir / "hermes-workers").iterdir()) == []  # records reaped


def spawn_idle_worker(run_id: str) -> subprocess.Popen[bytes]:
    """A real worker process that waits for its request (its stdin stays open)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hestia.runtimes.hermes_worker", "--run", run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


def test_start_up_kills_workers_whose_owner_is_dead_and_only_those(make_server, tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs: the "dead owner"
    host = socket.gethostname()
    orphan, owned = spawn_idle_worker("orphan-run"), spawn_idle_worker("owned-run")
    try:
        records = tmp_path / "data0" / "hermes-workers"
        records.mkdir(parents=True)
        for process, run_id, owner in (
            (orphan, "orphan-run", f"{host}:{gone.pid}:deadbeef"),
            (owned, "owned-run", f"{host}:{os.getpid()}:alive"),
        ):
            record = {"pid": process.pid, "run_id": run_id, "owner": owner}
            (records / f"{run_id}.json").write_text(json.dumps(record))
        make_server()
        assert orphan.wait(timeout=30) == -signal.SIGKILL
        assert owned.poll() is None  # its owner (this test process) is alive
        assert [p.name for p in records.iterdir()] == ["owned-run.json"]
    finally:
        for process in (orphan, owned):
            process.kill()
            process.wait()
            assert process.stdin is not None
            process.stdin.close()


def test_hermes_history_round_trips_over_three_turns(hermes_server, hclient, fake):
    session_id = new_session(hclient)
    turns = [
        directive(
            "first",
            steps=[
                {"tool_calls": [{"name": "terminal", "arguments": {"command": "echo one-1"}}]},
                {"reply": "First answer."},
            ],
        ),
        directive("second", reply="Second answer."),
        directive("third", reply="Third answer."),
    ]
    for content in turns[:2]:
        run = send(hclient, session_id, content)
        assert wait_for_run(hclient, run["id"], timeout=WAIT)["status"] == "completed"
    before = transcript(hclient, session_id)
    hermes_server.stop()  # history comes from Hestia's store, not a process's memory
    hermes_server.restart()
    with hermes_server.client(timeout=WAIT) as after:
        assert transcript(after, session_id) == before
        fake.clear()
        run = send(after, session_id, turns[2])
        assert wait_for_run(after, run["id"], timeout=WAIT)["status"] == "completed"
        final = transcript(after, session_id)
    sent = [m for m in fake.requests[-1]["messages"] if m["role"] != "system"]
    roles = [m["role"] for m in sent]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant", "user"]
    call_id = before[1]["parts"][0]["id"]
    assert sent[1]["tool_calls"][0]["id"] == call_id
    assert sent[1]["tool_calls"][0]["function"]["name"] == "terminal"
    assert sent[2]["tool_call_id"] == call_id and "one-1" in sent[2]["content"]
    assert sent[3]["content"].strip() == "First answer."
    assert sent[5]["content"] == "Second answer."
    assert sent[6]["content"] == turns[2]
    assert [m["role"] for m in final] == [*(m["role"] for m in before), "user", "assistant"]
    assert final[-1]["content"] == "Third answer."


def test_doctor_reports_hermes_and_its_provider(tmp_path, fake):
    home = write_hermes_home(tmp_path / "home", fake)
    env = server_env(fake, HESTIA_HERMES_HOME=str(home), HESTIA_RUNTIME="hermes")
    result = hestia("doctor", "--data-dir", str(tmp_path / "data"), env=env, timeout=WAIT)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert any("hermes-agent 0.19" in line and str(home) in line for line in lines), lines
    assert f"ok   hermes provider custom at {fake.base_url} answers (model fake-model)" in lines


def test_doctor_fails_when_the_hermes_provider_is_down(tmp_path, fake):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text(
        "model:\n  provider: custom\n  base_url: http://127.0.0.1:9/v1\n"
        "  api_key: k\n  default: m\n  context_length: 8192\n"
    )
    env = server_env(fake, HESTIA_HERMES_HOME=str(home))
    result = hestia("doctor", "--data-dir", str(tmp_path / "data"), env=env, timeout=WAIT)
    assert result.returncode == 1
    expected = "FAIL hermes provider custom at http://127.0.0.1:9/v1: cannot be reached"
    assert expected in result.stdout, result.stdout


def test_hermes_can_use_hestias_provider(make_server, tmp_path, fake):
    # Hermes' own config points nowhere; HESTIA_HERMES_PROVIDER=hestia passes Hestia's through.
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("model:\n  context_length: 128000\n")
    server = make_server(
        HESTIA_HERMES_HOME=str(home), HESTIA_RUNTIME="hermes", HESTIA_HERMES_PROVIDER="hestia"
    )
    with server.client(timeout=WAIT) as client:
        session_id = new_session(client, model="fake-model-large")
        run = send(client, session_id, directive("hi", reply="Through Hestia"))
        assert wait_for_run(client, run["id"], timeout=WAIT)["status"] == "completed"
        assert transcript(client, session_id)[-1]["content"] == "Through Hestia"
    assert fake.requests[-1]["model"] == "fake-model-large"
    assert fake.records[-1]["headers"]["authorization"] == "Bearer test-key"


def decide(client: httpx.Client, approval_id: str, decision: str) -> httpx.Response:
    return client.post(f"/api/approvals/{approval_id}", json={"decision": decision})


def rm_script(path: Path) -> dict:
    return {
        "steps": [
            {"tool_calls": [{"name": "terminal", "arguments": {"command": f"rm -rf {path}"}}]},
            {"reply": "Removed."},
        ]
    }


@pytest.mark.parametrize("decision", ["session", "always"])
def test_hermes_remembered_approvals_span_worker_processes(hclient, fake, tmp_path, decision):
    victims = [tmp_path / f"v{i}" for i in range(3)]
    for victim in victims:
        victim.mkdir()
    first_session = new_session(hclient)
    run = send(hclient, first_session, directive("clean", **rm_script(victims[0])))
    asked = read_events(hclient, run["id"], until="approval.requested", timeout=WAIT)[-1]
    answer = decide(hclient, asked.data["approval_id"], decision)
    assert answer.status_code == 200, answer.text
    assert wait_for_run(hclient, run["id"], timeout=WAIT)["status"] == "completed"
    assert not victims[0].exists()

    # The next run is a new worker process: Hestia's grant answers Hermes' guard.
    run = send(hclient, first_session, directive("again", **rm_script(victims[1])))
    events = read_events(hclient, run["id"], timeout=WAIT)
    assert events[-1].type == "run.completed"
    assert "approval.requested" not in [e.type for e in events]
    assert not victims[1].exists()

    # Another session: "always" still covers it, "session" does not.
    other = new_session(hclient)
    run = send(hclient, other, directive("there", **rm_script(victims[2])))
    if decision == "always":
        events = read_events(hclient, run["id"], timeout=WAIT)
        assert "approval.requested" not in [e.type for e in events]
        assert not victims[2].exists()
    else:
        asked = read_events(hclient, run["id"], until="approval.requested", timeout=WAIT)[-1]
        assert asked.type == "approval.requested"
        assert decide(hclient, asked.data["approval_id"], "deny").status_code == 200
        assert wait_for_run(hclient, run["id"], timeout=WAIT)["status"] == "completed"
        assert victims[2].exists()


AUDIT_HOOK = """
import os, sys

_LOG = os.environ.get("NET_AUDIT_LOG")
_LOCAL = {"127.0.0.1", "localhost", "::1", None, ""}


def _hook(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and isinstance(args[1], tuple):
        host = args[1][0]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode()
    if not _LOG:
        return
    if host in _LOCAL:
        if event == "socket.connect":
            with open(_LOG + ".local", "a") as log:
                log.write(f"{os.getpid()} {' '.join(sys.argv)}\\n")
        return
    import traceback

    with open(_LOG, "a") as log:
        log.write(f"{os.getpid()} {event} {host}\\n{''.join(traceback.format_stack())}")


sys.addaudithook(_hook)
"""


def test_hermes_reaches_nothing_but_127_0_0_1(make_server, tmp_path, fake):
    # Every Python process of the server (and so every worker) records any connection or name
    # lookup that is not for the loopback address.
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(AUDIT_HOOK)
    net_log = tmp_path / "net.log"
    net_log.touch()
    home = write_hermes_home(tmp_path / "hermes-home", fake)
    path = os.pathsep.join(p for p in (str(hooks), os.environ.get("PYTHONPATH")) if p)
    server = make_server(
        HESTIA_HERMES_HOME=str(home),
        HESTIA_RUNTIME="hermes",
        PYTHONPATH=path,
        NET_AUDIT_LOG=str(net_log),
    )
    script = {
        "steps": [
            {"tool_calls": [{"name": "terminal", "arguments": {"command": "echo ok"}}]},
            {"reply": "ok", "reasoning": "fine"},
        ]
    }
    with server.client(timeout=WAIT) as client:
        session_id = new_session(client)
        for content in (directive("one", **script), directive("two", reply="again")):
            run = send(client, session_id, content)
            assert wait_for_run(client, run["id"], timeout=WAIT)["status"] == "completed"
    assert net_log.read_text() == ""
    # The hook did run where it matters: in the workers, which talked to the provider.
    local = (tmp_path / "net.log.local").read_text()
    assert local.count("hermes_worker.py --run") >= 2, local


def test_hermes_without_a_home_fails_the_run_plainly(client, fake):
    session_id = new_session(client, runtime="hermes")
    run = send(client, session_id, "hello")
    ended = wait_for_run(client, run["id"], timeout=WAIT)
    assert ended["status"] == "failed"
    assert ended["error"]["code"] == "hermes_failed"
    assert "/nonexistent/hestia-tests-hermes-home" in ended["error"]["message"]
    assert "hermes setup" in ended["error"]["message"]
    assert worker_pids(run["id"]) == []
    assert fake.requests == []
    # The session stays usable: back on the built-in runtime, it answers.
    patched = client.patch(f"/api/sessions/{session_id}", json={"runtime": "builtin"})
    assert patched.json()["runtime"] == "builtin"
    run = send(client, session_id, "again")
    assert wait_for_run(client, run["id"], timeout=WAIT)["status"] == "completed"
    assert transcript(client, session_id)[-1]["content"] == "Echo: again"


def test_hermes_cancel_while_waiting_for_approval(hclient, fake, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("clean", **rm_script(victim)))
    asked = read_events(hclient, run["id"], until="approval.requested", timeout=WAIT)[-1]
    assert hclient.post(f"/api/runs/{run['id']}/cancel").status_code == 202
    assert wait_for_run(hclient, run["id"], timeout=WAIT)["status"] == "cancelled"
    assert worker_pids(run["id"]) == []
    assert victim.exists()
    assert_error(decide(hclient, asked.data["approval_id"], "once"), 409, "approval_not_pending")
    # The cut-short call is answered in the history, so the next turn is valid for Hermes.
    run = send(hclient, session_id, directive("next", reply="Fine."))
    assert wait_for_run(hclient, run["id"], timeout=WAIT)["status"] == "completed"
    sent = fake.requests[-1]["messages"]
    tool = [m for m in sent if m["role"] == "tool"]
    assert len(tool) == 1 and "did not finish" in tool[0]["content"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_hermes_run_on_postgresql(make_server, tmp_path, fake, database_url):
    home = write_hermes_home(tmp_path / "hermes-home", fake)
    server = make_server(
        HESTIA_HERMES_HOME=str(home), HESTIA_RUNTIME="hermes", HESTIA_DATABASE_URL=database_url
    )
    with server.client(timeout=WAIT) as client:
        session_id = new_session(client)
        run = send(client, session_id, directive("hi", tokens=30, delay=0.01))
        events = read_events(client, run["id"], timeout=WAIT)
        assert events[-1].type == "run.completed"
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        assert transcript(client, session_id)[-1]["content"] == deltas(events)
        assert deltas(events) == "".join(f"w{i} " for i in range(30))


def test_hermes_graceful_stop_interrupts_the_run_and_its_worker(hermes_server, hclient, fake):
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("long", tokens=4000, delay=0.02))
    read_events(hclient, run["id"], until="message.delta", timeout=WAIT)
    assert worker_pids(run["id"])
    hermes_server.stop()  # SIGTERM
    assert worker_pids(run["id"]) == []
    hermes_server.restart()
    with hermes_server.client(timeout=WAIT) as after:
        assert get_run(after, run["id"])["status"] == "interrupted"
        events = read_events(after, run["id"], timeout=WAIT)
        assert events[-1].type == "run.interrupted"
        assert transcript(after, session_id)[-1]["content"] == deltas(events)


def finished(client: httpx.Client, response: httpx.Response) -> str:
    return wait_for_run(client, response.json()["run"]["id"], timeout=WAIT)["status"]


def test_hermes_retry_and_edit_send_the_right_history(hclient, fake):
    session_id = new_session(hclient)
    first = directive("first", reply="One.")
    run = send(hclient, session_id, first)
    assert wait_for_run(hclient, run["id"], timeout=WAIT)["status"] == "completed"
    response = hclient.post(f"/api/sessions/{session_id}/retry")
    assert response.status_code == 202, response.text
    assert finished(hclient, response) == "completed"
    sent = [m for m in fake.requests[-1]["messages"] if m["role"] != "system"]
    assert [(m["role"], m["content"]) for m in sent] == [("user", first)]
    edited = directive("edited", reply="Two.")
    response = hclient.post(f"/api/sessions/{session_id}/messages/1/edit", json={"content": edited})
    assert response.status_code == 202, response.text
    assert finished(hclient, response) == "completed"
    sent = [m for m in fake.requests[-1]["messages"] if m["role"] != "system"]
    assert [(m["role"], m["content"]) for m in sent] == [("user", edited)]
    assert [(m["role"], m["content"]) for m in transcript(hclient, session_id)] == [
        ("user", edited),
        ("assistant", "Two."),
    ]


def test_hermes_provider_failure_fails_the_run_with_hermes_words(hclient, fake):
    session_id = new_session(hclient)
    run = send(hclient, session_id, directive("hi", fail="401"))
    ended = wait_for_run(hclient, run["id"], timeout=WAIT)
    assert ended["status"] == "failed", ended
    assert ended["error"]["code"] == "hermes_failed"
    assert ended["error"]["message"].startswith("Hermes failed: ")
    assert worker_pids(run["id"]) == []
    events = read_events(hclient, run["id"], timeout=WAIT)
    assert events[-1].type == "run.failed"
    assert events[-1].data["error"] == ended["error"]
