"""`hestia import hermes-webui`: fixtures written in hermes-webui's own session format.

The files are laid out as hermes-webui's `Session.save` writes them (metadata first, then
`messages` and `tool_calls`; `<id>.json.bak` from a shrinking save; `_index.json`), see
src/hestia/core/importers/hermes_webui.py for where the format was read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hestia.core.importers import Skipped, Unreadable
from hestia.core.importers.hermes_webui import parse_bytes, read_file

T0 = 1764000000.0  # 2025-11-24T16:00:00Z


def webui_session(session_id: str, messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A session object with hermes-webui's field order and defaults."""
    meta = {
        "session_id": session_id,
        "title": "Untitled",
        "workspace": "/home/someone/project",
        "model": "anthropic/claude-sonnet-4",
        "created_at": T0,
        "updated_at": T0 + 60,
        "pinned": False,
        "archived": False,
        "project_id": None,
        "profile": None,
        "input_tokens": 120,
        "output_tokens": 40,
        "estimated_cost": None,
        "personality": None,
        "active_stream_id": None,
        "pending_user_message": None,
        "pending_attachments": [],
        "pending_started_at": None,
    }
    meta.update(fields)
    return {**meta, "messages": messages, "tool_calls": summary_of(messages)}


def summary_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """hermes-webui's display summary of tool calls (not what gets imported)."""
    out = []
    for index, m in enumerate(messages):
        for call in m.get("tool_calls") or []:
            out.append(
                {
                    "name": call["function"]["name"],
                    "snippet": "…",
                    "tid": call["id"],
                    "assistant_msg_idx": index,
                    "args": {},
                }
            )
    return out


def tool_conversation() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "Which files are in the project?", "timestamp": T0 + 1},
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_ls",
                    "type": "function",
                    "function": {"name": "terminal", "arguments": '{"command": "ls -1"}'},
                }
            ],
            "timestamp": T0 + 2,
        },
        {
            "role": "tool",
            "tool_call_id": "call_ls",
            "content": '{"output": "README.md\\nsetup.py", "exit_code": 0}',
            "timestamp": T0 + 3,
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Two files: README.md and setup.py."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "x"}},
            ],
            "reasoning": "The listing shows two entries.",
            "timestamp": T0 + 4,
        },
        {
            "role": "tool",
            "tool_use_id": "toolu_1",
            "content": "contents of x",
            "_ts": T0 + 5,
        },
        {"role": "assistant", "content": "Done.", "timestamp": T0 + 6},
    ]


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A hermes-webui state dir with one of every kind of file the importer must handle."""
    root = tmp_path / "webui"
    sessions = root / "sessions"
    (sessions / "_drafts").mkdir(parents=True)
    write(
        sessions / "a1b2c3d4e5f6.json",
        webui_session(
            "a1b2c3d4e5f6",
            tool_conversation(),
            title="Project files",
            pinned=True,
            updated_at=T0 + 600,
        ),
    )
    archived = [{"role": "user", "content": "old idea"}, {"role": "assistant", "content": "noted"}]
    write(
        sessions / "0ld0ld0ld0ld.json",
        webui_session("0ld0ld0ld0ld", archived, title="Archived", archived=True),
    )
    # A save that shrank the messages left the longer state in a .bak: the .bak is imported
    # instead of the file (as hermes-webui's own recovery would), and not as a second session.
    longer = [{"role": "user", "content": f"line {i}"} for i in range(4)]
    write(sessions / "bakbakbakbak.json", webui_session("bakbakbakbak", longer[:3], title="Bak"))
    write(sessions / "bakbakbakbak.json.bak", webui_session("bakbakbakbak", longer, title="Bak"))
    # A .bak with fewer messages than its file: the file is imported, the .bak ignored.
    write(sessions / "newer0000000.json", webui_session("newer0000000", longer, title="Newer"))
    write(
        sessions / "newer0000000.json.bak",
        webui_session("newer0000000", longer[:1], title="Newer"),
    )
    # A metadata-only stub: metadata, no messages.
    write(sessions / "stub00000000.json", webui_session("stub00000000", [], title="Stub"))
    # Damaged files.
    full = json.dumps(webui_session("trunc0000000", tool_conversation(), title="Cut"))
    (sessions / "trunc0000000.json").write_text(full[: len(full) // 2], encoding="utf-8")
    (sessions / "broken000000.json").write_text('{"session_id": "broken000000",, }')
    latin = json.dumps(
        webui_session("latin1000000", [{"role": "user", "content": "café"}]), ensure_ascii=False
    )
    (sessions / "latin1000000.json").write_bytes(latin.encode("latin-1"))
    # Not sessions at all.
    write(sessions / "_index.json", [{"session_id": "a1b2c3d4e5f6", "title": "Project files"}])
    write(sessions / "a1b2c3d4e5f6.json.tmp.123.456", {"session_id": "leftover"})
    write(sessions / "_drafts" / "a1b2c3d4e5f6.json", {"text": "draft"})
    return root


def fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under `root`: its hash, size and mtime in ns."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (digest, stat.st_size, stat.st_mtime_ns)
    return out


def hestia(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    return subprocess.run(
        [sys.executable, "-m", "hestia", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=120,
    )


def rows(data_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data_dir / "hestia.db") as conn:
        return conn.execute(query).fetchall()


def test_import_twice_imports_once_and_never_touches_the_source(state_dir: Path, tmp_path: Path):
    data = tmp_path / "data"
    before = fingerprint(state_dir)

    first = hestia("import", "hermes-webui", str(state_dir), "--data-dir", str(data))
    assert first.returncode == 1, first.stdout + first.stderr  # some files failed
    out = first.stdout
    assert "8 hermes-webui sessions in" in out
    assert "imported 4, skipped 1, failed 3" in out.splitlines()[-1]
    assert "skipped  stub00000000.json: has no messages" in out
    assert "failed   trunc0000000.json: ends in the middle of the JSON (truncated" in out
    assert "failed   broken000000.json: is not valid JSON (Expecting property name" in out
    assert "failed   latin1000000.json: is not UTF-8 text" in out
    assert (
        "imported bakbakbakbak.json: recovered 4 messages from its .bak (the file holds 3)" in out
    )

    sources = rows(data, "SELECT source, source_id FROM sessions ORDER BY source_id")
    assert sources == [
        ("hermes-webui", "0ld0ld0ld0ld"),
        ("hermes-webui", "a1b2c3d4e5f6"),
        ("hermes-webui", "bakbakbakbak"),
        ("hermes-webui", "newer0000000"),
    ]
    counts = dict(rows(data, "SELECT source_id, message_count FROM sessions"))
    assert counts["bakbakbakbak"] == 4 and counts["newer0000000"] == 4

    second = hestia("import", "hermes-webui", str(state_dir), "--data-dir", str(data))
    assert second.returncode == 1
    assert second.stdout.splitlines()[-1] == "imported 0, skipped 5, failed 3"
    assert "skipped  a1b2c3d4e5f6.json: already imported as " in second.stdout
    assert len(rows(data, "SELECT id FROM sessions")) == 4

    assert fingerprint(state_dir) == before
    assert not list(state_dir.rglob("*-journal")) and not list(state_dir.rglob("*.wal"))


def test_clean_folder_exits_zero(tmp_path: Path):
    root = tmp_path / "webui"
    (root / "sessions").mkdir(parents=True)
    write(root / "sessions" / "s1.json", webui_session("s1", tool_conversation(), title="One"))
    data = tmp_path / "data"
    result = hestia("import", "hermes-webui", str(root), "--data-dir", str(data))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "imported 1, skipped 0, failed 0"
    again = hestia("import", "hermes-webui", str(root), "--data-dir", str(data))
    assert again.returncode == 0
    assert again.stdout.splitlines()[-1] == "imported 0, skipped 1, failed 0"


def test_missing_folder_is_one_clear_line(tmp_path: Path):
    result = hestia("import", "hermes-webui", str(tmp_path / "nope"), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"hestia: {tmp_path / 'nope'} is not a hermes-webui state folder (no sessions/ in it)."
    )


def test_imported_session_keeps_everything_over_http(state_dir: Path, tmp_path: Path, make_server):
    server = make_server()
    server.stop()
    result = hestia("import", "hermes-webui", str(state_dir), "--data-dir", str(server.data_dir))
    assert "imported 4" in result.stdout
    server.restart()
    with server.client() as client:
        listed = client.get("/api/sessions").json()["sessions"]
        assert [s["title"] for s in listed][0] == "Project files"  # pinned first
        session = next(s for s in listed if s["title"] == "Project files")
        assert session["pinned"] is True and session["archived"] is False
        assert session["created_at"] == "2025-11-24T16:00:00Z"
        assert session["updated_at"] == "2025-11-24T16:10:00Z"
        assert session["model"] == "anthropic/claude-sonnet-4"
        assert session["workspace"] is None
        archived = client.get("/api/sessions", params={"archived": "true"}).json()["sessions"]
        assert [s["title"] for s in archived] == ["Archived"]

        messages = client.get(f"/api/sessions/{session['id']}").json()["messages"]
        assert [(m["role"], m["content"]) for m in messages] == [
            ("user", "Which files are in the project?"),
            ("assistant", "Let me look."),
            ("tool", '{"output": "README.md\\nsetup.py", "exit_code": 0}'),
            ("assistant", "Two files: README.md and setup.py."),
            ("tool", "contents of x"),
            ("assistant", "Done."),
        ]
        assert [m["seq"] for m in messages] == [1, 2, 3, 4, 5, 6]
        assert messages[1]["parts"] == [
            {
                "type": "tool_call",
                "id": "call_ls",
                "name": "terminal",
                "arguments": '{"command": "ls -1"}',
            }
        ]
        assert messages[2]["parts"] == [
            {"type": "tool_result", "call_id": "call_ls", "name": "terminal", "is_error": False}
        ]
        assert messages[3]["parts"] == [
            {"type": "reasoning", "text": "The listing shows two entries."},
            {
                "type": "tool_call",
                "id": "toolu_1",
                "name": "read_file",
                "arguments": '{"path": "x"}',
            },
        ]
        assert messages[4]["parts"][0]["name"] == "read_file"
        assert [m["created_at"] for m in messages][4] == "2025-11-24T16:00:05Z"

        # The history of an imported session is valid for a provider: continue it.
        run = client.post(
            f"/api/sessions/{session['id']}/messages", json={"content": "thanks"}
        ).json()["run"]
        from tests.server import wait_for_run

        assert wait_for_run(client, run["id"])["status"] == "completed"
        found = client.get("/api/sessions", params={"q": "setup.py"}).json()["sessions"]
        assert session["id"] in [s["id"] for s in found]


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "is empty."),
        (b'{"session_id": "x", "messages": [', "ends in the middle of the JSON"),
        (b'{"session_id": "x", "title": "unterminated', "ends in the middle of the JSON"),
        (b'{"session_id": "x"} trailing', "is not valid JSON (Extra data at line 1"),
        (b"[]", "holds a JSON list, not a session object."),
        (b'{"title": "caf\xe9"}', "is not UTF-8 text (bad byte at offset 14)."),
    ],
)
def test_unreadable_files_say_why_in_one_sentence(raw: bytes, said: str):
    with pytest.raises(Unreadable) as caught:
        parse_bytes(raw)
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)


def test_stub_with_a_longer_bak_is_recovered_and_a_lone_stub_skipped(tmp_path: Path):
    conversation = tool_conversation()
    stub = write(tmp_path / "s.json", webui_session("s", [], title="Long talk"))
    with pytest.raises(Skipped):
        read_file(stub)
    write(tmp_path / "s.json.bak", webui_session("s", conversation, title="Long talk"))
    recovered = read_file(stub)
    assert len(recovered.messages) == len(conversation)
    assert recovered.note == "recovered 6 messages from its .bak (the file holds 0)"
    # A truncated file with a good .bak is recovered from the .bak too.
    stub.write_text('{"session_id": "s", "messages": [{"ro')
    assert read_file(stub).note.startswith("ends in the middle of the JSON")
