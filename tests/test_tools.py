"""The built-in tools against a real temporary workspace (and a local HTTP server for fetch)."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hestia.core.tools.base import ToolContext
from hestia.core.tools.registry import run_tool, tool_specs
from hestia.core.workspace import Workspace


@pytest.fixture
def ctx(tmp_path):
    return ToolContext(workspace=Workspace(tmp_path / "ws").ensure())


async def call(ctx, name, **args):
    return await run_tool(name, json.dumps(args), ctx)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_dead(pid: int) -> None:
    async with asyncio.timeout(5):
        while alive(pid):
            await asyncio.sleep(0.02)


def test_every_tool_has_a_strict_schema():
    names = {spec.name for spec in tool_specs()}
    assert names == {
        "shell",
        "read_file",
        "write_file",
        "edit_file",
        "list_files",
        "search_files",
        "fetch_url",
    }
    for spec in tool_specs():
        assert spec.parameters["type"] == "object"
        assert spec.parameters["additionalProperties"] is False
        assert spec.description


async def test_shell_reports_output_and_exit_code(ctx):
    result = await call(ctx, "shell", command="echo hello; pwd; exit 3")
    assert "hello" in result.output and str(ctx.workspace.root) in result.output
    assert result.output.rstrip().endswith("[exit code 3]")
    assert not result.is_error


async def test_shell_timeout_kills_the_whole_process_group(ctx):
    result = await call(ctx, "shell", command="sleep 300 & echo child=$!; wait", timeout=1)
    assert result.is_error and "killed after 1 seconds" in result.output
    child = int(result.output.split("child=")[1].split()[0])
    await wait_dead(child)


async def test_shell_cancel_kills_the_whole_process_group(ctx):
    seen: list[str] = []
    ctx.on_output = seen.append
    task = asyncio.create_task(call(ctx, "shell", command="sleep 300 & echo child=$!; wait"))
    async with asyncio.timeout(5):
        while not any("child=" in s for s in seen):
            await asyncio.sleep(0.02)
    child = int("".join(seen).split("child=")[1].split()[0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_dead(child)


async def test_shell_output_is_truncated_with_a_note(ctx):
    result = await call(ctx, "shell", command="python3 -c \"print('x' * 100000)\"")
    assert len(result.output) < 31_000
    assert "characters omitted" in result.output and result.output.endswith("[exit code 0]")


async def test_shell_streams_output_while_it_runs(ctx):
    seen: list[str] = []
    ctx.on_output = seen.append
    await call(ctx, "shell", command="echo one; sleep 0.3; echo two")
    assert "".join(seen) == "one\ntwo\n" and len(seen) == 2


async def test_shell_leaves_no_background_job_behind(ctx):
    result = await call(ctx, "shell", command="sleep 300 >/dev/null 2>&1 & echo child=$!")
    child = int(result.output.split("child=")[1].split()[0])
    await wait_dead(child)


async def test_write_read_and_ranges(ctx):
    text = "".join(f"line {i}\n" for i in range(1, 11))
    assert not (await call(ctx, "write_file", path="dir/a.txt", content=text)).is_error
    assert (await call(ctx, "read_file", path="dir/a.txt")).output == text
    ranged = await call(ctx, "read_file", path="dir/a.txt", start_line=3, end_line=4)
    assert ranged.output == "[lines 3-4 of 10]\nline 3\nline 4\n"
    assert (await call(ctx, "read_file", path="dir/a.txt", start_line=20)).is_error


async def test_read_refuses_binary_and_missing_files(ctx):
    (ctx.workspace.root / "b.bin").write_bytes(b"\x00\x01\x02")
    assert (await call(ctx, "read_file", path="b.bin")).is_error
    missing = await call(ctx, "read_file", path="nope.txt")
    assert missing.is_error and "nope.txt" in missing.output


async def test_edit_needs_exactly_one_match(ctx):
    await call(ctx, "write_file", path="a.py", content="x = 1\ny = 1\n")
    not_found = await call(ctx, "edit_file", path="a.py", old="z = 1", new="z = 2")
    assert not_found.is_error and "not found" in not_found.output
    twice = await call(ctx, "edit_file", path="a.py", old=" = 1", new=" = 2")
    assert twice.is_error and "2 times" in twice.output
    assert (await call(ctx, "edit_file", path="a.py", old="", new="q")).is_error
    assert not (await call(ctx, "edit_file", path="a.py", old="y = 1", new="y = 2")).is_error
    assert (ctx.workspace.root / "a.py").read_text() == "x = 1\ny = 2\n"


async def test_list_files(ctx):
    await call(ctx, "write_file", path="src/pkg/mod.py", content="")
    await call(ctx, "write_file", path="README.md", content="hi")
    (ctx.workspace.root / ".git").mkdir()
    listing = (await call(ctx, "list_files")).output.splitlines()
    assert listing[:3] == ["src/", "src/pkg/", "src/pkg/mod.py  (0 bytes)"]
    assert "README.md  (2 bytes)" in listing and not any(".git" in x for x in listing)


async def test_search_respects_gitignore(ctx):
    root = ctx.workspace.root
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "sub").mkdir()
    (root / "sub" / ".gitignore").write_text("secret.txt\n")
    for path in ("a.py", "build/out.py", "x.log", "sub/b.py", "sub/secret.txt"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("needle here\n")
    result = await call(ctx, "search_files", pattern="needle")
    found = sorted(line.split(":")[0] for line in result.output.splitlines())
    assert found == ["a.py", "sub/b.py"]
    assert (await call(ctx, "search_files", pattern="(")).is_error


async def test_paths_outside_the_workspace_are_errors_not_crashes(ctx):
    for name, args in [
        ("read_file", {"path": "../../etc/passwd"}),
        ("write_file", {"path": "/tmp/escape.txt", "content": "x"}),
        ("edit_file", {"path": "../x", "old": "a", "new": "b"}),
        ("list_files", {"path": ".."}),
        ("search_files", {"pattern": "x", "path": "/etc"}),
    ]:
        result = await run_tool(name, json.dumps(args), ctx)
        assert result.is_error, name
    assert not os.path.exists("/tmp/escape.txt")


async def test_bad_calls_are_explained(ctx):
    assert "no tool named" in (await run_tool("nope", "{}", ctx)).output
    assert "not valid JSON" in (await run_tool("shell", "{oops", ctx)).output
    assert "missing command" in (await run_tool("shell", "{}", ctx)).output
    assert "unknown" in (await run_tool("shell", '{"command": "ls", "x": 1}', ctx)).output
    assert (
        "must be a integer"
        in (await run_tool("shell", '{"command": "ls", "timeout": "5"}', ctx)).output
    )
    assert "between" in (await run_tool("shell", '{"command": "ls", "timeout": 9999}', ctx)).output


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        pages = {
            "/page": (
                "text/html",
                b"<html><head><title>T</title><script>x()</script></head>"
                b"<body><h1>Hello</h1><p>World <a href='https://e.x/'>link</a></p>"
                b"<ul><li>one</li></ul></body></html>",
            ),
            "/data.json": ("application/json", b'{"a": 1}'),
            "/bin": ("application/octet-stream", b"\x00\x01"),
            "/big": ("text/plain", b"x" * (3 * 1024 * 1024)),
        }
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/page")
            self.end_headers()
            return
        kind, body = pages.get(self.path, ("text/plain", b"missing"))
        self.send_response(200 if self.path in pages else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_fetch_turns_html_into_text(ctx, site):
    result = await call(ctx, "fetch_url", url=f"{site}/redirect")
    assert not result.is_error
    assert "# Hello" in result.output and "World link (https://e.x/)" in result.output
    assert "- one" in result.output and "x()" not in result.output


async def test_fetch_errors(ctx, site):
    assert (await call(ctx, "fetch_url", url=f"{site}/data.json")).output == '{"a": 1}'
    assert (await call(ctx, "fetch_url", url=f"{site}/bin")).is_error
    assert "larger than 2 MB" in (await call(ctx, "fetch_url", url=f"{site}/big")).output
    missing = await call(ctx, "fetch_url", url=f"{site}/nothing")
    assert missing.is_error and "404" in missing.output
    assert (await call(ctx, "fetch_url", url="file:///etc/passwd")).is_error
