"""Crash tests: the server is really killed with SIGKILL and restarted on the same data (I1, I2)."""

from __future__ import annotations

import json
import time

import pytest

from tests.server import Event, parse_sse, read_events, wait_for_run

pytestmark = pytest.mark.slow


def send(client, session_id: str, content: str) -> dict:
    response = client.post(f"/api/sessions/{session_id}/messages", json={"content": content})
    assert response.status_code == 202, response.text
    return response.json()["run"]


def test_i1_acknowledged_message_survives_kill_9(server, client):
    session = client.post("/api/sessions", json={}).json()
    run = send(client, session["id"], 'remember this #fake {"first_delay": 30}')
    server.kill9()  # right after the 202

    server.restart()
    with server.client() as after:
        body = after.get(f"/api/sessions/{session['id']}").json()
        assert body["messages"][0]["role"] == "user"
        assert body["messages"][0]["content"] == 'remember this #fake {"first_delay": 30}'
        assert after.get(f"/api/runs/{run['id']}").json()["status"] == "interrupted"
        # run.started was stored with the send (the run started in the same transaction).
        events = read_events(after, run["id"])
        assert [(e.id, e.type) for e in events] == [
            (1, "run.started"),
            (2, "message.completed"),
            (3, "run.interrupted"),
        ]


def test_i1_queued_message_survives_kill_9_and_then_runs(server, client):
    session = client.post("/api/sessions", json={}).json()
    first = send(client, session["id"], 'one #fake {"first_delay": 30}')
    second = send(client, session["id"], 'two #fake {"tokens": 3}')
    assert (first["status"], second["status"]) == ("running", "queued")
    server.kill9()

    server.restart()
    with server.client() as after:
        assert after.get(f"/api/runs/{first['id']}").json()["status"] == "interrupted"
        assert wait_for_run(after, second["id"])["status"] == "completed"
        messages = after.get(f"/api/sessions/{session['id']}").json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "complete"),
            ("assistant", "interrupted"),
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert messages[2]["content"].startswith("two")
        assert messages[3]["content"] == "w0 w1 w2 "


def test_i2_kill_9_mid_stream_keeps_a_prefix_no_older_than_250_ms(server, client):
    session = client.post("/api/sessions", json={}).json()
    run = send(client, session["id"], 'stream #fake {"tokens": 2000, "delay": 0.005}')
    received: list[tuple[float, str]] = []
    with client.stream("GET", f"/api/runs/{run['id']}/events") as response:
        for item in parse_sse(response.iter_lines()):
            if isinstance(item, Event) and item.type == "message.delta":
                received.append((time.monotonic(), item.data["text"]))
                if len(received) >= 300:
                    killed_at = time.monotonic()
                    server.kill9()
                    break
    streamed = "".join(text for _, text in received)
    streamed_250ms_before = "".join(text for at, text in received if at <= killed_at - 0.25)
    assert len(streamed_250ms_before) > 0

    server.restart()
    with server.client() as after:
        # The first API request after the restart already sees the sweep's result.
        assert after.get(f"/api/runs/{run['id']}").json()["status"] == "interrupted"
        answer = after.get(f"/api/sessions/{session['id']}").json()["messages"][1]
        assert answer["status"] == "interrupted"
        assert streamed.startswith(answer["content"])
        assert len(answer["content"]) >= len(streamed_250ms_before)
        # The run's log ends with the interruption, gapless, and a follower is told so.
        events = list(_events(after, run["id"]))
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        assert events[-1].type == "run.interrupted"
        deltas = "".join(e.data["text"] for e in events if e.type == "message.delta")
        assert deltas == answer["content"]  # I4 holds for what was kept
        # A client that saw more than was kept still learns that the run ended.
        tail = list(_events(after, run["id"], last_event_id=len(received) + 10))
        assert [e.type for e in tail] == ["run.interrupted"]

        # The session is usable afterwards.
        retry = send(after, session["id"], 'again #fake {"tokens": 2}')
        assert wait_for_run(after, retry["id"])["status"] == "completed"


def test_i2_kill_9_in_a_later_step_interrupts_that_steps_message(server, client):
    """The message streaming when the server dies is the step's, not the run's first one."""
    session = client.post("/api/sessions", json={"approval_policy": "never"}).json()
    script = [
        {"reply": "Let me look. ", "tool_calls": [{"name": "list_files", "arguments": {}}]},
        {"tokens": 2000, "delay": 0.005},
    ]
    run = send(client, session["id"], "look #fake " + json.dumps({"steps": script}))
    received: list[str] = []
    with client.stream("GET", f"/api/runs/{run['id']}/events") as response:
        after_tool = False
        for item in parse_sse(response.iter_lines()):
            if not isinstance(item, Event):
                continue
            after_tool = after_tool or item.type == "tool.finished"
            if after_tool and item.type == "message.delta":
                received.append(item.data["text"])
                if len(received) >= 300:
                    server.kill9()
                    break
    streamed = "".join(received)

    server.restart()
    with server.client() as after:
        assert after.get(f"/api/runs/{run['id']}").json()["status"] == "interrupted"
        messages = after.get(f"/api/sessions/{session['id']}").json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [
            ("user", "complete"),
            ("assistant", "complete"),
            ("tool", "complete"),
            ("assistant", "interrupted"),
        ]
        assert messages[1]["content"] == "Let me look. "
        answer = messages[3]
        assert answer["content"] and streamed.startswith(answer["content"])
        events = list(_events(after, run["id"]))
        assert [e.id for e in events] == list(range(1, len(events) + 1))
        completed = [e.data["message"] for e in events if e.type == "message.completed"]
        assert [(m["id"], m["status"]) for m in completed] == [
            (messages[1]["id"], "complete"),
            (answer["id"], "interrupted"),
        ]
        assert completed[-1]["content"] == answer["content"]
        tool_at = next(e.id for e in events if e.type == "tool.finished")
        later = [e for e in events if e.type == "message.delta" and e.id > tool_at]
        assert "".join(e.data["text"] for e in later) == answer["content"]  # I4, this message


def test_graceful_stop_interrupts_runs_and_restart_starts_queued(server, client):
    session = client.post("/api/sessions", json={}).json()
    first = send(client, session["id"], 'slow #fake {"tokens": 500, "delay": 0.02}')
    second = send(client, session["id"], 'next #fake {"tokens": 2}')
    time.sleep(0.3)
    server.stop()

    server.restart()
    with server.client() as after:
        assert after.get(f"/api/runs/{first['id']}").json()["status"] == "interrupted"
        answer = after.get(f"/api/sessions/{session['id']}").json()["messages"][1]
        assert answer["status"] == "interrupted" and answer["content"].startswith("w0 ")
        assert wait_for_run(after, second["id"])["status"] == "completed"


def _events(client, run_id: str, last_event_id: int | None = None):
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        for item in parse_sse(response.iter_lines()):
            if isinstance(item, Event):
                yield item
