"""`hestia import hermes-cli`: a state.db built by Hermes' own `SessionDB` (hermes-agent 0.19).

The database is made in a subprocess (Hermes reads `HERMES_HOME` and sets up logging when
imported), in a temporary `HERMES_HOME`. One fixture keeps a `SessionDB` open while Hestia
imports, as a running Hermes would, so the WAL file is live.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import wait_for_run

pytest.importorskip("hermes_state", reason="hermes-agent is not installed")

T0 = 1764000000.0  # 2025-11-24T16:00:00Z

BUILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from hermes_state import SessionDB

    db = SessionDB(db_path=Path(sys.argv[1]))
    T0 = float(sys.argv[2])
    call = {"id": "call_1", "type": "function",
            "function": {"name": "terminal", "arguments": json.dumps({"command": "ls"})}}

    # A conversation whose context was compressed: it goes on in a child session.
    db.create_session("root", "cli", model="model-a")
    db.set_session_title("root", "Tidy the repo")
    db.append_message("root", "user", "what is in here?", timestamp=T0 + 1)
    db.append_message("root", "assistant", "Looking.", tool_calls=[call], timestamp=T0 + 2)
    db.append_message("root", "tool", "README.md", tool_call_id="call_1", tool_name="terminal",
                      timestamp=T0 + 3)
    db.append_message("root", "assistant", [{"type": "text", "text": "Just a README."}],
                      reasoning="one file", timestamp=T0 + 4)
    db.end_session("root", "compression")
    db.create_session("root-2", "cli", model="model-b", parent_session_id="root")
    db.append_message("root-2", "user", "delete it", timestamp=T0 + 10)
    db.append_message("root-2", "assistant", "I would rather not.", timestamp=T0 + 11)

    # A subagent run and a tool session hang off it: not sessions of their own.
    db.create_session("sub", "cli", parent_session_id="root",
                      model_config={"_delegate_from": "root"})
    db.append_message("sub", "user", "subagent task")
    db.create_session("toolrun", "tool", parent_session_id="root")
    db.append_message("toolrun", "user", "tool task")

    # A /branch is its own conversation.
    db.create_session("branch", "cli", parent_session_id="root-2",
                      model_config={"_branched_from": "root-2"})
    db.append_message("branch", "user", "a different idea", timestamp=T0 + 20)

    # A telegram chat, archived, with a rewound (inactive) turn.
    db.create_session("tg", "telegram", model="model-c")
    db.append_message("tg", "user", "hi from telegram", timestamp=T0 + 30)
    db.append_message("tg", "assistant", "hello", timestamp=T0 + 31)
    wrong = db.append_message("tg", "user", "oops, wrong chat", timestamp=T0 + 32)
    db.append_message("tg", "assistant", "no problem", timestamp=T0 + 33)
    db.rewind_to_message("tg", wrong)
    db.set_session_archived("tg", True)

    # A session that never got a message.
    db.create_session("empty", "cli")

    if sys.argv[3] == "close":
        db.close()
    else:
        print("ready", flush=True)
        sys.stdin.read()  # keep the database open until the test is done
    """
)


def hermes_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HESTIA_", "HERMES_"))}
    return {**env, "HERMES_HOME": str(home), "COLUMNS": "200"}


def build(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "state.db"
    result = subprocess.run(
        [sys.executable, "-c", BUILD, str(path), str(T0), "close"],
        env=hermes_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture
def hermes_home(tmp_path: Path) -> Path:
    home = tmp_path / "hermes"
    build(home)
    return home


@pytest.fixture
def live_hermes_home(tmp_path: Path) -> Iterator[Path]:
    """A state.db that a Hermes process still holds open (WAL not checkpointed)."""
    home = tmp_path / "hermes"
    home.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(home / "state.db"), str(T0), "keep"],
        env=hermes_env(home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield home
    process.communicate("", timeout=30)


def hestia(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hestia", *args],
        capture_output=True,
        text=True,
        env=hermes_env(home),
        timeout=120,
    )


def fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.iterdir())
    }


def rows(data: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(data / "hestia.db") as conn:
        return conn.execute(query, params).fetchall()


def test_conversations_come_over_whole_and_only_once(hermes_home: Path, tmp_path: Path):
    data = tmp_path / "data"
    before = fingerprint(hermes_home)
    first = hestia(hermes_home, "import", "hermes-cli", str(hermes_home), "--data-dir", str(data))
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"4 Hermes sessions in {hermes_home / 'state.db'}"
    assert "imported session root: 2 segments after context compression" in first.stdout
    assert "skipped  session empty: has no messages." in first.stdout
    assert lines[-1] == "imported 3, skipped 1, failed 0"

    sessions = rows(
        data,
        "SELECT source_id, title, model, archived, message_count FROM sessions ORDER BY source_id",
    )
    assert sessions == [
        ("branch", "a different idea", None, 0, 1),
        ("root", "Tidy the repo", "model-b", 0, 6),
        ("tg", "hi from telegram", "model-c", 1, 2),
    ]
    assert {s for (s,) in rows(data, "SELECT source FROM sessions")} == {"hermes-cli"}
    (root_id,) = rows(data, "SELECT id FROM sessions WHERE source_id = 'root'")[0]
    messages = rows(
        data,
        "SELECT seq, role, content, parts, created_at FROM messages WHERE session_id = ? "
        "ORDER BY seq",
        root_id,
    )
    assert [(m[1], m[2]) for m in messages] == [
        ("user", "what is in here?"),
        ("assistant", "Looking."),
        ("tool", "README.md"),
        ("assistant", "Just a README."),
        ("user", "delete it"),
        ("assistant", "I would rather not."),
    ]
    assert messages[1][3] == (
        '[{"type": "tool_call", "id": "call_1", "name": "terminal", '
        '"arguments": "{\\"command\\": \\"ls\\"}"}]'
    )
    assert messages[2][3] == (
        '[{"type": "tool_result", "call_id": "call_1", "name": "terminal", "is_error": false}]'
    )
    assert messages[3][3] == '[{"type": "reasoning", "text": "one file"}]'
    assert messages[0][4].startswith("2025-11-24 16:00:01")
    (tg_id,) = rows(data, "SELECT id FROM sessions WHERE source_id = 'tg'")[0]
    tg = rows(data, "SELECT content FROM messages WHERE session_id = ? ORDER BY seq", tg_id)
    assert tg == [("hi from telegram",), ("hello",)]  # the rewound turn stays behind

    second = hestia(hermes_home, "import", "hermes-cli", str(hermes_home), "--data-dir", str(data))
    assert second.returncode == 0
    assert second.stdout.splitlines()[-1] == "imported 0, skipped 4, failed 0"
    assert "skipped  session root: already imported as " in second.stdout
    assert len(rows(data, "SELECT id FROM sessions")) == 3
    assert fingerprint(hermes_home) == before


def test_hermes_home_is_the_default(hermes_home: Path, tmp_path: Path):
    result = hestia(hermes_home, "import", "hermes-cli", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"4 Hermes sessions in {hermes_home / 'state.db'}"


def test_reads_a_database_hermes_has_open(live_hermes_home: Path, tmp_path: Path):
    assert (live_hermes_home / "state.db-wal").exists()
    # The -shm file is the WAL's shared lock index: every reader takes a read mark in it.
    before = fingerprint(live_hermes_home)
    del before["state.db-shm"]
    data = tmp_path / "data"
    result = hestia(
        live_hermes_home, "import", "hermes-cli", str(live_hermes_home), "--data-dir", str(data)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "imported 3, skipped 1, failed 0"
    after = fingerprint(live_hermes_home)
    assert set(after) == {*before, "state.db-shm"}
    del after["state.db-shm"]
    assert after == before


def test_imported_conversation_continues_over_http(hermes_home: Path, make_server, fake):
    server = make_server()
    server.stop()
    result = hestia(
        hermes_home, "import", "hermes-cli", str(hermes_home), "--data-dir", str(server.data_dir)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    server.restart()
    with server.client() as client:
        listed = client.get("/api/sessions").json()["sessions"]
        root = next(s for s in listed if s["title"] == "Tidy the repo")
        assert root["message_count"] == 6 and root["updated_at"] >= root["created_at"]
        response = client.post(f"/api/sessions/{root['id']}/messages", json={"content": "ok"})
        assert wait_for_run(client, response.json()["run"]["id"])["status"] == "completed"
        messages = client.get(f"/api/sessions/{root['id']}").json()["messages"]
        assert [m["content"] for m in messages[-3:]] == ["I would rather not.", "ok", "Echo: ok"]
        # The provider got the imported history, tool call and result included.
        sent = fake.requests[-1]["messages"]
        assert [m["role"] for m in sent if m["role"] != "system"] == [
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
            "assistant",
            "user",
        ]


def test_no_state_db_is_one_clear_line(tmp_path: Path):
    result = hestia(tmp_path, "import", "hermes-cli", str(tmp_path), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"hestia: There is no Hermes state.db at {tmp_path}/state.db."
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE things (x)")
    result = hestia(tmp_path, "import", "hermes-cli", str(other), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "is not a Hermes state.db (missing columns:" in result.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    result = hestia(tmp_path, "import", "hermes-cli", str(garbage), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "cannot be read as a Hermes state.db" in result.stderr


def test_a_conversation_from_both_webui_and_state_db_comes_over_once(
    hermes_home: Path, tmp_path: Path
):
    # hermes-webui names its session after the agent's session id in state.db.
    sessions = tmp_path / "webui" / "sessions"
    sessions.mkdir(parents=True)
    webui = {"session_id": "root", "title": "Tidy the repo", "created_at": T0, "updated_at": T0}
    webui["messages"] = [{"role": "user", "content": "what is in here?"}]
    (sessions / "root.json").write_text(json.dumps(webui))
    data = tmp_path / "data"
    webui_dir = str(tmp_path / "webui")
    first = hestia(hermes_home, "import", "hermes-webui", webui_dir, "--data-dir", str(data))
    assert first.stdout.splitlines()[-1] == "imported 1, skipped 0, failed 0"
    second = hestia(hermes_home, "import", "hermes-cli", str(hermes_home), "--data-dir", str(data))
    assert "skipped  session root: already imported from hermes-webui as " in second.stdout
    assert second.stdout.splitlines()[-1] == "imported 2, skipped 2, failed 0"
    assert len(rows(data, "SELECT id FROM sessions")) == 3
