"""The agent loop over HTTP: tool steps, approvals, cancel, restarts, the step limit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.api_helpers import directive, new_session, send, transcript, wait_until
from tests.server import HestiaServer, read_events, wait_for_run


def call(name: str, call_id: str | None = None, **arguments: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": name, "arguments": arguments}
    if call_id:
        spec["id"] = call_id
    return spec


def steps(*each: dict[str, Any]) -> list[dict[str, Any]]:
    return list(each)


def workspace(server: HestiaServer, session_id: str) -> Path:
    return server.data_dir / "workspaces" / session_id


def types(events) -> list[str]:
    return [
        e.type for e in events if e.type not in ("message.delta", "reasoning.delta", "tool.output")
    ]


def answer_approval(client, events_so_far, decision: str) -> dict[str, Any]:
    request = next(e for e in events_so_far if e.type == "approval.requested")
    response = client.post(
        f"/api/approvals/{request.data['approval_id']}", json={"decision": decision}
    )
    assert response.status_code == 200, response.text
    return request.data


def run_until_approval(client, run_id: str):
    events = read_events(client, run_id, stop_after=None, until="approval.requested")
    assert events[-1].type == "approval.requested"
    return events


def test_multi_step_tool_run_creates_runs_and_fixes_a_file(server, client, fake):
    session = new_session(client, approval_policy="never")
    script = steps(
        {"tool_calls": [call("write_file", "c1", path="hello.py", content="print('helo')\n")]},
        {"tool_calls": [call("shell", "c2", command="python3 hello.py")]},
        {"tool_calls": [call("edit_file", "c3", path="hello.py", old="helo", new="hello")]},
        {"tool_calls": [call("shell", "c4", command="python3 hello.py")]},
        {"reply": "Fixed: it prints hello."},
    )
    run = send(client, session, directive("make hello.py", steps=script))
    events = read_events(client, run["id"])
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert types(events) == [
        "run.started",
        *(["message.completed", "tool.started", "tool.finished"] * 4),
        "message.completed",
        "run.completed",
    ]
    finished = [e.data for e in events if e.type == "tool.finished"]
    assert [f["call_id"] for f in finished] == ["c1", "c2", "c3", "c4"]
    assert "helo" in finished[1]["output"] and "hello" in finished[3]["output"]
    assert not any(f["is_error"] for f in finished)
    assert (workspace(server, session) / "hello.py").read_text() == "print('hello')\n"

    messages = transcript(client, session)
    assert [m["role"] for m in messages] == ["user"] + ["assistant", "tool"] * 4 + ["assistant"]
    assert messages[1]["parts"][0]["type"] == "tool_call" and messages[1]["parts"][0]["id"] == "c1"
    assert messages[2]["parts"] == [
        {"type": "tool_result", "call_id": "c1", "name": "write_file", "is_error": False}
    ]
    assert messages[-1]["content"] == "Fixed: it prints hello."
    assert wait_for_run(client, run["id"])["status"] == "completed"

    # The last model request carried every step exactly.
    sent = fake.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["user"] + ["assistant", "tool"] * 4
    assert [c["id"] for m in sent if m["role"] == "assistant" for c in m["tool_calls"]] == [
        "c1",
        "c2",
        "c3",
        "c4",
    ]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == ["c1", "c2", "c3", "c4"]


def test_history_after_a_restart_is_exactly_what_was_sent_before(make_server, fake):
    server = make_server()
    with server.client() as client:
        session = new_session(client, approval_policy="never")
        script = steps(
            {"tool_calls": [call("shell", "s1", command="echo one")]},
            {"reply": "done one"},
        )
        run = send(client, session, directive("first", steps=script))
        wait_for_run(client, run["id"])
        before = fake.requests[-1]["messages"]
    server.stop()
    server.restart()
    with server.client() as client:
        run = send(client, session, directive("second", reply="ok"))
        wait_for_run(client, run["id"])
        after = fake.requests[-1]["messages"]
    assert after[: len(before)] == before
    assert after[len(before)] == {"role": "assistant", "content": "done one"}
    assert after[-1]["role"] == "user" and after[-1]["content"].startswith("second")


@pytest.mark.parametrize("policy", ["ask", "dangerous"])
def test_approval_once_runs_the_command(server, client, fake, policy):
    session = new_session(client, approval_policy=policy)
    script = steps({"tool_calls": [call("shell", "a1", command="rm -rf build")]}, {"reply": "ok"})
    (workspace(server, session) / "build").mkdir(parents=True)
    run = send(client, session, directive("clean", steps=script))
    events = run_until_approval(client, run["id"])
    request = answer_approval(client, events, "once")
    assert request["tool"] == "shell" and request["arguments"] == {"command": "rm -rf build"}
    assert request["reason"]
    rest = read_events(client, run["id"], last_event_id=events[-1].id)
    assert types(rest)[:2] == ["approval.resolved", "tool.finished"]
    assert rest[0].data["decision"] == "once"
    assert not (workspace(server, session) / "build").exists()
    assert wait_for_run(client, run["id"])["status"] == "completed"


def test_denied_command_is_not_run_and_the_model_is_told(server, client, fake):
    session = new_session(client, approval_policy="ask")
    script = steps({"tool_calls": [call("shell", "d1", command="touch marker")]}, {"reply": "ok"})
    run = send(client, session, directive("try", steps=script))
    events = run_until_approval(client, run["id"])
    answer_approval(client, events, "deny")
    rest = read_events(client, run["id"], last_event_id=events[-1].id)
    finished = next(e.data for e in rest if e.type == "tool.finished")
    assert finished["is_error"] and "denied" in finished["output"]
    assert not (workspace(server, session) / "marker").exists()
    tool_message = fake.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and "denied" in tool_message["content"]


def test_always_is_remembered_across_sessions_and_session_only_within_one(server, client, fake):
    command = "git push --force origin main || true"
    script = steps({"tool_calls": [call("shell", "g1", command=command)]}, {"reply": "ok"})

    first = new_session(client)
    run = send(client, first, directive("push", steps=script))
    answer_approval(client, run_until_approval(client, run["id"]), "session")
    wait_for_run(client, run["id"])
    again = send(client, first, directive("push again", steps=script))
    assert "approval.requested" not in types(read_events(client, again["id"]))

    second = new_session(client)
    run = send(client, second, directive("push", steps=script))
    answer_approval(client, run_until_approval(client, run["id"]), "always")
    wait_for_run(client, run["id"])
    third = new_session(client)
    run = send(client, third, directive("push", steps=script))
    assert "approval.requested" not in types(read_events(client, run["id"]))
    settings = client.get("/api/settings").json()
    assert [g["key"] for g in settings["always_allowed"]]
    # A remembered approval covers that pattern only, not every dangerous command.
    other = steps({"tool_calls": [call("shell", "r1", command="rm -rf /tmp/x")]}, {"reply": "ok"})
    run = send(client, third, directive("rm", steps=other))
    events = run_until_approval(client, run["id"])
    answer_approval(client, events, "deny")
    wait_for_run(client, run["id"])
    for grant in settings["always_allowed"]:
        assert client.delete(f"/api/settings/always-allowed/{grant['id']}").status_code == 200


def test_answering_twice_or_unknown_approvals_are_clear_errors(server, client, fake):
    session = new_session(client, approval_policy="ask")
    script = steps({"tool_calls": [call("shell", "x1", command="true")]}, {"reply": "ok"})
    run = send(client, session, directive("go", steps=script))
    events = run_until_approval(client, run["id"])
    request = answer_approval(client, events, "once")
    again = client.post(f"/api/approvals/{request['approval_id']}", json={"decision": "deny"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "approval_not_pending"
    bad = client.post(f"/api/approvals/{request['approval_id']}", json={"decision": "maybe"})
    assert bad.status_code == 400
    missing = client.post("/api/approvals/nope", json={"decision": "once"})
    assert missing.status_code == 404
    wait_for_run(client, run["id"])


@pytest.mark.slow
def test_restart_while_waiting_for_approval_interrupts_cleanly(make_server, fake):
    server = make_server()
    with server.client() as client:
        session = new_session(client, approval_policy="ask")
        script = steps(
            {"tool_calls": [call("shell", "w1", command="touch waited")]}, {"reply": "ok"}
        )
        run = send(client, session, directive("wait", steps=script))
        request = run_until_approval(client, run["id"])[-1].data
    server.kill9()
    server.restart()
    with server.client() as client:
        assert client.get(f"/api/runs/{run['id']}").json()["status"] == "interrupted"
        late = client.post(f"/api/approvals/{request['approval_id']}", json={"decision": "once"})
        assert late.status_code == 409
        assert not (workspace(server, session) / "waited").exists()
        # The session goes on; the unanswered call is closed in the history sent.
        next_run = send(client, session, directive("next", reply="fine"))
        assert wait_for_run(client, next_run["id"])["status"] == "completed"
        sent = fake.requests[-1]["messages"]
        tool = next(m for m in sent if m["role"] == "tool")
        assert tool["tool_call_id"] == "w1" and "did not finish" in tool["content"]


def test_cancel_during_a_long_shell_kills_it(server, client, fake):
    session = new_session(client, approval_policy="never")
    command = "echo pid=$$; sleep 60 & echo child=$!; wait"
    first = {"reply": "Starting it. ", "tool_calls": [call("shell", "l1", command=command)]}
    script = steps(first, {"reply": "never"})
    run = send(client, session, directive("long", steps=script))
    seen = read_events(client, run["id"], until="tool.output", match="child=")
    output = "".join(e.data["text"] for e in seen if e.type == "tool.output")
    pids = [int(part.split("=")[1]) for part in output.split() if "=" in part]
    assert len(pids) == 2
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 202
    assert wait_for_run(client, run["id"])["status"] == "cancelled"
    for pid in pids:
        wait_until(lambda p=pid: not _alive(p), timeout=10, what=f"process {pid} to end")
    rest = read_events(client, run["id"], last_event_id=seen[-1].id)
    assert rest[-1].type == "run.cancelled"
    finished = next(e.data for e in rest if e.type == "tool.finished")
    assert finished["is_error"], [(e.type, e.data) for e in rest]
    # The run ends between steps: its last message.completed is the closed step's, text kept.
    last = [e.data["message"] for e in rest if e.type == "message.completed"][-1]
    assert last["content"] == "Starting it. "
    assert transcript(client, session)[1]["content"] == "Starting it. "


def test_step_limit_ends_the_run_with_a_note(make_server, fake):
    server = make_server(HESTIA_MAX_STEPS="2")
    with server.client() as client:
        session = new_session(client, approval_policy="never")
        loop = [{"tool_calls": [call("shell", f"t{i}", command="echo again")]} for i in range(5)]
        fake.clear()
        run = send(client, session, directive("loop", steps=loop))
        events = read_events(client, run["id"])
        assert events[-1].type == "run.completed"
        assert len(fake.requests) == 2
        last = transcript(client, session)[-1]
        assert last["role"] == "assistant" and "HESTIA_MAX_STEPS" in last["content"]
        assert last["content"] == "".join(
            e.data["text"] for e in events if e.type == "message.delta"
        )


def test_tool_errors_go_back_to_the_model(server, client, fake):
    session = new_session(client, approval_policy="never")
    script = steps(
        {"tool_calls": [call("read_file", "e1", path="../../etc/passwd")]},
        {"tool_calls": [{"name": "no_such_tool", "arguments": {}, "id": "e2"}]},
        {"tool_calls": [{"name": "shell", "arguments": "{not json", "id": "e3"}]},
        {"reply": "understood"},
    )
    run = send(client, session, directive("errors", steps=script))
    events = read_events(client, run["id"])
    finished = [e.data for e in events if e.type == "tool.finished"]
    assert [f["is_error"] for f in finished] == [True, True, True]
    assert events[-1].type == "run.completed"


def test_large_tool_output_is_truncated_with_a_note(server, client, fake):
    session = new_session(client, approval_policy="never")
    command = "python3 -c \"print('x' * 200000)\""
    script = steps({"tool_calls": [call("shell", "big", command=command)]}, {"reply": "ok"})
    run = send(client, session, directive("big", steps=script))
    finished = next(e.data for e in read_events(client, run["id"]) if e.type == "tool.finished")
    assert len(finished["output"]) < 50_000 and "omitted" in finished["output"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
