"""Export and import over HTTP against real servers: JSON round trip, Markdown, I9 errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.api_helpers import assert_error, directive, new_session, send, transcript
from tests.server import wait_for_run


def call(name: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "id": call_id, "arguments": arguments}


def busy_session(client) -> str:
    """A session with a tool call, an edit (superseded messages), a pin and the archive flag."""
    session_id = new_session(client, title="Build notes")
    script = [
        {"tool_calls": [call("shell", "c1", command="echo hello-from-tool")]},
        {"reply": "ok"},
    ]
    run = send(client, session_id, directive("run the tool", steps=script))
    assert wait_for_run(client, run["id"])["status"] == "completed"
    run = send(client, session_id, "first draft wording")
    assert wait_for_run(client, run["id"])["status"] == "completed"
    seq = transcript(client, session_id)[-2]["seq"]
    edit = client.post(
        f"/api/sessions/{session_id}/messages/{seq}/edit", json={"content": "second wording"}
    )
    assert edit.status_code == 202, edit.text
    assert wait_for_run(client, edit.json()["run"]["id"])["status"] == "completed"
    patched = client.patch(f"/api/sessions/{session_id}", json={"pinned": True, "archived": True})
    assert patched.status_code == 200, patched.text
    return session_id


def comparable(message: dict[str, Any]) -> dict[str, Any]:
    keep = ("seq", "role", "content", "status", "superseded", "created_at", "parts")
    return {k: message[k] for k in keep}


def test_json_export_round_trips_into_another_server(make_server):
    source, target = make_server(), make_server()
    with source.client() as a, target.client() as b:
        session_id = busy_session(a)
        original = a.get(f"/api/sessions/{session_id}").json()["session"]
        messages = transcript(a, session_id, include_superseded=True)
        assert any(m["superseded"] for m in messages)

        response = a.get(f"/api/sessions/{session_id}/export", params={"format": "json"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="hestia-build-notes-{session_id[:8]}.json"'
        )
        export = response.json()
        assert export["format"] == "hestia-session" and export["version"] == 1
        assert export["session"]["id"] == session_id
        assert [comparable(m) for m in export["messages"]] == [comparable(m) for m in messages]
        assert export["runs"]["count"] == 3
        assert export["runs"]["by_status"] == {"completed": 3}

        imported = b.post("/api/sessions/import", content=response.content)
        assert imported.status_code == 201, imported.text
        new = imported.json()
        assert new["id"] != session_id
        for field in ("title", "created_at", "updated_at", "pinned", "archived", "model"):
            assert new[field] == original[field], field
        assert new["message_count"] == original["message_count"]
        copied = transcript(b, new["id"], include_superseded=True)
        assert [comparable(m) for m in copied] == [comparable(m) for m in messages]
        assert {m["id"] for m in copied}.isdisjoint(m["id"] for m in messages)
        assert all(m["run_id"] is None for m in copied)
        assert b.get(f"/api/sessions/{new['id']}/runs").json() == {"runs": []}

        # Importing the same export again finds the first copy and makes nothing new.
        again = b.post("/api/sessions/import", content=response.content)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == new["id"]
        listed = b.get("/api/sessions", params={"archived": "true"}).json()["sessions"]
        assert [s["id"] for s in listed] == [new["id"]]

        # The copy is a normal session: searchable, and it takes new messages.
        found = b.get("/api/sessions", params={"q": "hello-from-tool", "archived": "true"})
        assert [s["id"] for s in found.json()["sessions"]] == [new["id"]]
        run = send(b, new["id"], "and one more")
        assert wait_for_run(b, run["id"])["status"] == "completed"
        assert transcript(b, new["id"])[-1]["content"] == "Echo: and one more"


def test_markdown_export_is_a_readable_transcript(client):
    session_id = busy_session(client)
    response = client.get(f"/api/sessions/{session_id}/export", params={"format": "markdown"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.headers["content-disposition"].endswith(f'-{session_id[:8]}.md"')
    text = response.text
    assert text.startswith("# Build notes\n")
    assert f"- Session: `{session_id}`" in text
    assert "- Pinned, archived" in text
    assert "## User · " in text and "## Assistant · " in text
    # The tool call's arguments and its result as fenced blocks.
    assert (
        '### Tool call: `shell`\n\n```json\n{\n  "command": "echo hello-from-tool"\n}\n```' in text
    )
    assert "### Tool result: `shell`\n\n```\nhello-from-tool\n[exit code 0]\n```" in text
    # Superseded messages are left out; the edit that replaced them is there.
    assert "first draft wording" not in text
    assert "second wording" in text
    assert text.index("run the tool") < text.index("second wording")


def test_markdown_fence_outlasts_backticks_in_content(client):
    session_id = new_session(client, title="Fences")
    script = [{"tool_calls": [call("shell", "c1", command="printf '```x```'")]}, {"reply": "ok"}]
    run = send(client, session_id, directive("fence", steps=script))
    assert wait_for_run(client, run["id"])["status"] == "completed"
    text = client.get(f"/api/sessions/{session_id}/export?format=markdown").text
    assert "````\n```x```\n[exit code 0]\n````" in text


def test_hermes_webui_session_json_imports_through_the_route(client):
    body = {
        "session_id": "webui123",
        "title": "From the web UI",
        "created_at": 1764000000.0,
        "updated_at": 1764000100.0,
        "pinned": True,
        "archived": False,
        "messages": [
            {"role": "user", "content": "what is here?", "timestamp": 1764000001},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "t1",
                        "type": "function",
                        "function": {"name": "terminal", "arguments": '{"command": "ls"}'},
                    }
                ],
                "timestamp": 1764000002,
            },
            {"role": "tool", "tool_call_id": "t1", "content": "notes.txt", "timestamp": 1764000003},
            {"role": "assistant", "content": "A file called notes.txt.", "timestamp": 1764000004},
        ],
        "tool_calls": [],
    }
    response = client.post("/api/sessions/import", json=body)
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["title"] == "From the web UI" and session["pinned"] is True
    assert session["created_at"] == "2025-11-24T16:00:00Z"
    assert session["updated_at"] == "2025-11-24T16:01:40Z"
    messages = transcript(client, session["id"])
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["parts"] == [
        {"type": "tool_call", "id": "t1", "name": "terminal", "arguments": '{"command": "ls"}'}
    ]
    assert messages[2]["parts"] == [
        {"type": "tool_result", "call_id": "t1", "name": "terminal", "is_error": False}
    ]
    assert messages[3]["created_at"] == "2025-11-24T16:00:04Z"
    again = client.post("/api/sessions/import", json=body)
    assert again.status_code == 200 and again.json()["id"] == session["id"]


def export_of(client) -> dict[str, Any]:
    session_id = new_session(client, title="Small")
    run = send(client, session_id, "hi")
    assert wait_for_run(client, run["id"])["status"] == "completed"
    return client.get(f"/api/sessions/{session_id}/export").json()


def test_i9_import_refuses_bad_documents_with_a_sentence(client):
    before = client.get("/api/sessions", params={"limit": 200}).json()
    cases = [
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[1, 2]", 400, "unknown_import_format"),
        (b'{"hello": "world"}', 400, "unknown_import_format"),
        (b'{"format": "other-app", "version": 1}', 400, "unknown_import_format"),
        (b'{"session_id": "s", "title": "t", "messages": []}', 400, "empty_session"),
        (b'{"session_id": "s", "messages": "nope"}', 400, "invalid_import"),
        (
            b'{"session_id": 5, "messages": [{"role": "user", "content": "x"}]}',
            400,
            "invalid_import",
        ),
    ]
    for raw, status, code in cases:
        assert_error(client.post("/api/sessions/import", content=raw), status, code)

    good = export_of(client)
    before = client.get("/api/sessions", params={"limit": 200}).json()
    broken: list[tuple[str, Any, str]] = [
        ("version", 2, "version"),
        ("messages.0.role", "robot", "messages[0].role"),
        ("messages.0.seq", 0, "messages[0].seq"),
        ("messages.0.created_at", "yesterday", "messages[0].created_at"),
        ("messages.0.created_at", "2026-12-01T10:00:00", "messages[0].created_at"),
        ("messages.1.seq", 1, "seqs must increase"),
        ("session.pinned", "yes", "session.pinned"),
        ("session.created_at", "9999-12-31T23:59:59-05:00", "session.created_at"),
        ("session.updated_at", "0001-01-01T00:00:00+01:00", "session.updated_at"),
        ("messages.0.parts", [{"type": "tool_call", "name": "x"}], "needs a text 'id'"),
        ("messages.0.parts", [{"type": "tool_result", "call_id": 5}], "needs a text 'call_id'"),
        ("messages.0.parts", [{"type": "thinking", "text": "t"}], "needs a text 'signature'"),
        ("session", None, "session"),
    ]
    for path, value, said in broken:
        document = json.loads(json.dumps(good))
        *parents, last = path.split(".")
        target: Any = document
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        target[int(last) if last.isdigit() else last] = value
        error = assert_error(
            client.post("/api/sessions/import", json=document), 400, "invalid_import"
        )
        assert said in error["message"], (path, error)
    # Refused imports changed nothing.
    assert client.get("/api/sessions", params={"limit": 200}).json() == before


def test_i9_export_errors(client):
    assert_error(client.get("/api/sessions/nope/export"), 404, "session_not_found")
    session_id = new_session(client)
    response = client.get(f"/api/sessions/{session_id}/export", params={"format": "pdf"})
    assert_error(response, 400, "invalid_format")


def test_import_body_limit_is_its_own(make_server):
    server = make_server(HESTIA_MAX_IMPORT_BYTES="2000", HESTIA_MAX_MESSAGE_BYTES="100")
    with server.client() as client:
        big = {"session_id": "big", "messages": [{"role": "user", "content": "x" * 3000}]}
        assert_error(client.post("/api/sessions/import", json=big), 413, "request_too_large")
        # Larger than the message limit's body size, within the import limit: accepted.
        fits = {"session_id": "fits", "messages": [{"role": "user", "content": "y" * 1200}]}
        response = client.post("/api/sessions/import", json=fits)
        assert response.status_code == 201, response.text


def run_hestia(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    return subprocess.run(
        [sys.executable, "-m", "hestia", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_cli_export_matches_the_route_while_the_server_runs(server, client, tmp_path):
    session_id = busy_session(client)
    data = str(server.data_dir)
    out = tmp_path / "talk.json"
    result = run_hestia("export", session_id, "-o", str(out), "--data-dir", data)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote {out}"
    from_cli = json.loads(out.read_text())
    from_route = client.get(f"/api/sessions/{session_id}/export").json()
    assert from_cli.pop("exported_at") <= from_route.pop("exported_at")
    assert from_cli == from_route

    markdown = run_hestia("export", session_id, "--format", "markdown", "--data-dir", data)
    assert markdown.returncode == 0
    route_markdown = client.get(f"/api/sessions/{session_id}/export?format=markdown").text
    assert markdown.stdout == route_markdown

    missing = run_hestia("export", "nope", "-o", str(tmp_path / "x.json"), "--data-dir", data)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "hestia: There is no session nope."
    assert not (tmp_path / "x.json").exists()
    wrong = run_hestia("export", session_id, "--format", "pdf", "--data-dir", data)
    assert wrong.returncode == 1 and "Unknown export format 'pdf'" in wrong.stderr


def test_a_long_session_goes_through_import_and_export(client):
    messages = [
        {
            "seq": seq,
            "role": "user" if seq % 2 else "assistant",
            "content": f"line {seq}",
            "status": "complete",
            "superseded": seq % 10 == 0,
            "created_at": "2026-01-01T00:00:00Z",
            "parts": [],
        }
        for seq in range(1, 5001)
    ]
    document = {
        "format": "hestia-session",
        "version": 1,
        "session": {
            "id": "long-one",
            "title": "Long",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-02T00:00:00Z",
        },
        "messages": messages,
    }
    response = client.post("/api/sessions/import", json=document)
    assert response.status_code == 201, response.text
    session = response.json()
    assert session["message_count"] == 4500
    export = client.get(f"/api/sessions/{session['id']}/export").json()
    assert [(m["seq"], m["content"], m["superseded"]) for m in export["messages"]] == [
        (m["seq"], m["content"], m["superseded"]) for m in messages
    ]
    markdown = client.get(f"/api/sessions/{session['id']}/export?format=markdown").text
    assert markdown.count("\n## ") == 4500 and "line 10\n" not in markdown
