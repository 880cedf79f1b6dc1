"""The built-in tools against a real temporary workspace (and a local HTTP server for fetch)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hestia.core.tools import fetch
from hestia.core.tools.base import ToolContext
from hestia.core.tools.fetch import html_to_text
from hestia.core.tools.registry import BUILTIN_TOOLS, run_tool, tool_specs
from hestia.core.tools.shell import ShellTool
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
    # A zombie waiting for its new parent to reap it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def wait_dead(pid: int) -> None:
    async with asyncio.timeout(5):
        while alive(pid):
            await asyncio.sleep(0.02)


def child_pid(output: str) -> int:
    return int(output.split("child=")[1].split()[0])


# -- specs and the registry -----------------------------------------------------------------------


def test_every_tool_has_a_strict_schema_matching_the_contract():
    contract = {
        "shell": ({"command", "timeout"}, ["command"]),
        "read_file": ({"path", "start_line", "end_line"}, ["path"]),
        "write_file": ({"path", "content"}, ["path", "content"]),
        "edit_file": ({"path", "old", "new"}, ["path", "old", "new"]),
        "list_files": ({"path"}, []),
        "search_files": ({"pattern", "path"}, ["pattern"]),
        "fetch_url": ({"url"}, ["url"]),
    }
    specs = {spec.name: spec for spec in tool_specs()}
    assert set(specs) == set(contract) == set(BUILTIN_TOOLS)
    for name, (properties, required) in contract.items():
        schema = specs[name].parameters
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema["properties"]) == properties and schema["required"] == required
        assert len(specs[name].description) > 40
        json.dumps(schema)  # plain JSON, as providers need it


async def test_bad_calls_are_explained(ctx):
    assert "no tool named 'nope'" in (await run_tool("nope", "{}", ctx)).output
    assert "not valid JSON" in (await run_tool("shell", "{oops", ctx)).output
    assert "JSON object" in (await run_tool("shell", '["ls"]', ctx)).output
    assert "missing command" in (await run_tool("shell", "{}", ctx)).output
    assert "missing command" in (await run_tool("shell", "", ctx)).output
    unknown = (await run_tool("shell", '{"command": "ls", "x": 1}', ctx)).output
    assert "unknown x" in unknown and "command, timeout" in unknown
    as_text = await run_tool("shell", '{"command": "ls", "timeout": "5"}', ctx)
    assert as_text.is_error and "timeout must be an integer" in as_text.output
    too_long = await run_tool("shell", '{"command": "ls", "timeout": 9999}', ctx)
    assert "between 1 and 600" in too_long.output
    assert "must be a string" in (await run_tool("shell", '{"command": true}', ctx)).output
    start = await run_tool("read_file", '{"path": "a", "start_line": 0}', ctx)
    assert "at least 1" in start.output


async def test_models_nulls_and_whole_floats_are_accepted(ctx):
    (ctx.workspace.root / "a.txt").write_text("one\ntwo\n")
    result = await run_tool(
        "read_file", '{"path": "a.txt", "start_line": 2.0, "end_line": null}', ctx
    )
    assert result.output == "[lines 2-2 of 2]\ntwo\n"
    assert not (await run_tool("shell", '{"command": "true", "timeout": 5.0}', ctx)).is_error


async def test_failures_inside_a_tool_become_error_results(ctx, monkeypatch):
    async def broken(args, ctx):
        raise RuntimeError("kaboom")

    async def disk_full(args, ctx):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BUILTIN_TOOLS["list_files"], "run", broken)
    result = await call(ctx, "list_files")
    assert result.is_error and "RuntimeError: kaboom" in result.output
    monkeypatch.setattr(BUILTIN_TOOLS["list_files"], "run", disk_full)
    result = await call(ctx, "list_files")
    assert result.is_error and "No space left on device" in result.output


async def test_paths_outside_the_workspace_are_errors_not_crashes(ctx, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path, ctx.workspace.root / "escape")
    for name, args in [
        ("read_file", {"path": "../../etc/passwd"}),
        ("read_file", {"path": "escape/secret.txt"}),
        ("write_file", {"path": "/tmp/escape.txt", "content": "x"}),
        ("write_file", {"path": "escape/new.txt", "content": "x"}),
        ("edit_file", {"path": "../x", "old": "a", "new": "b"}),
        ("list_files", {"path": ".."}),
        ("list_files", {"path": "escape"}),
        ("search_files", {"pattern": "x", "path": "/etc"}),
        ("search_files", {"pattern": "secret", "path": "escape"}),
    ]:
        result = await run_tool(name, json.dumps(args), ctx)
        assert result.is_error, name
        assert "workspace" in result.output or "path" in result.output, result.output
    assert not os.path.exists("/tmp/escape.txt") and not (tmp_path / "new.txt").exists()
    # A search of the whole workspace does not follow the symlink either.
    assert (await call(ctx, "search_files", pattern="secret")).output == "No matches."


# -- shell ----------------------------------------------------------------------------------------


async def test_shell_reports_output_and_exit_code(ctx):
    result = await call(ctx, "shell", command="echo hello; echo oops >&2; pwd; exit 3")
    lines = result.output.splitlines()
    assert lines[:3] == ["hello", "oops", str(ctx.workspace.root)]
    assert lines[-1] == "[exit code 3]"
    assert not result.is_error  # the model needs the output; the exit code says the rest
    assert (await call(ctx, "shell", command="true")).output == "(no output)\n[exit code 0]"
    assert (await call(ctx, "shell", command="printf x")).output == "x\n[exit code 0]"


async def test_shell_environment_and_stdin(ctx, monkeypatch):
    monkeypatch.setenv("HESTIA_PASSWORD", "s3cret")
    monkeypatch.setenv("SOME_TOOL_SETTING", "kept")
    command = 'echo "[$HESTIA_PASSWORD] [$SOME_TOOL_SETTING] $PWD $HOME"; cat'
    result = await call(ctx, "shell", command=command)
    assert f"[] [kept] {ctx.workspace.root} {os.environ['HOME']}" in result.output
    assert result.output.endswith("[exit code 0]")  # `cat` read an empty stdin


async def test_shell_timeout_kills_the_whole_process_group(ctx):
    started = time.monotonic()
    result = await call(ctx, "shell", command="sleep 300 & echo child=$!; wait", timeout=1)
    assert time.monotonic() - started < 5
    assert result.is_error and "killed after 1 seconds" in result.output
    assert result.output.startswith("child=")
    await wait_dead(child_pid(result.output))


async def test_shell_cancel_kills_the_whole_process_group(ctx):
    seen: list[str] = []
    ctx.on_output = seen.append
    task = asyncio.create_task(call(ctx, "shell", command="sleep 300 & echo child=$!; wait"))
    async with asyncio.timeout(5):
        while not any("child=" in s for s in seen):
            await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_dead(child_pid("".join(seen)))


async def test_shell_background_job_holding_the_output_neither_hangs_nor_survives(ctx):
    # The job inherits the output pipe: the call must still end when bash does.
    started = time.monotonic()
    result = await call(ctx, "shell", command="sleep 300 & echo child=$!")
    assert time.monotonic() - started < 5
    assert not result.is_error and result.output.endswith("[exit code 0]")
    await wait_dead(child_pid(result.output))


async def test_shell_leaves_no_detached_background_job_behind(ctx):
    result = await call(ctx, "shell", command="sleep 300 >/dev/null 2>&1 & echo child=$!")
    await wait_dead(child_pid(result.output))


async def test_shell_output_is_truncated_keeping_head_and_tail(ctx):
    command = "echo FIRST; python3 -c \"print('x' * 100000)\"; echo LAST"
    result = await call(ctx, "shell", command=command)
    assert len(result.output) < 31_000
    assert result.output.startswith("FIRST\n") and result.output.endswith("LAST\n[exit code 0]")
    assert "characters omitted …]" in result.output
    omitted = int(result.output.split("[… ")[1].split(" characters")[0].replace(",", ""))
    assert 70_000 < omitted < 72_000


async def test_shell_streams_output_while_it_runs(ctx):
    seen: list[str] = []
    ctx.on_output = seen.append
    await call(ctx, "shell", command="echo one; sleep 0.3; echo two")
    assert "".join(seen) == "one\ntwo\n" and len(seen) == 2


async def test_shell_live_output_is_batched(ctx):
    seen: list[tuple[float, str]] = []
    ctx.on_output = lambda text: seen.append((time.monotonic(), text))
    command = "for i in $(seq 1 60); do echo line$i; sleep 0.01; done"
    result = await call(ctx, "shell", command=command)
    assert "".join(text for _, text in seen) == "".join(f"line{i}\n" for i in range(1, 61))
    assert len(seen) < 30  # ~60 writes over ~0.6 s+, at most one call per 100 ms
    gaps = [b - a for (a, _), (b, _) in zip(seen, seen[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps[:-1])  # the last one is the final flush
    assert result.output.startswith("line1\n")


async def test_shell_decodes_utf8_split_across_reads(ctx):
    seen: list[str] = []
    ctx.on_output = seen.append
    result = await call(ctx, "shell", command=r"printf '\xc3'; sleep 0.2; printf '\xa9\n\xff\n'")
    assert result.output.startswith("é\n\ufffd\n")
    assert "".join(seen) == "é\n\ufffd\n"


async def test_shell_reports_a_signal_and_survives_a_broken_viewer(ctx):
    def broken(text: str) -> None:
        raise RuntimeError("viewer gone")

    ctx.on_output = broken
    result = await call(ctx, "shell", command="echo before; kill -9 $$")
    assert result.output == "before\n[killed by SIGKILL]" and not result.is_error


async def test_shell_validates_its_own_arguments(ctx):
    tool = ShellTool()
    for bad in (0, 601, 1.5, "10", True):
        result = await tool.run({"command": "true", "timeout": bad}, ctx)
        assert result.is_error and "timeout" in result.output
    assert (await tool.run({"command": "  "}, ctx)).is_error


# -- read, write, edit ----------------------------------------------------------------------------


async def test_write_read_and_ranges(ctx):
    text = "".join(f"line {i}\n" for i in range(1, 11))
    created = await call(ctx, "write_file", path="dir/a.txt", content=text)
    assert created.output == "Created dir/a.txt (71 bytes)."
    assert (await call(ctx, "read_file", path="dir/a.txt")).output == text
    ranged = await call(ctx, "read_file", path="dir/a.txt", start_line=3, end_line=4)
    assert ranged.output == "[lines 3-4 of 10]\nline 3\nline 4\n"
    tail = await call(ctx, "read_file", path="dir/a.txt", start_line=9, end_line=99)
    assert tail.output == "[lines 9-10 of 10]\nline 9\nline 10\n"
    beyond = await call(ctx, "read_file", path="dir/a.txt", start_line=20)
    assert beyond.is_error and "10 lines" in beyond.output
    backwards = await call(ctx, "read_file", path="dir/a.txt", start_line=5, end_line=4)
    assert backwards.is_error


async def test_read_caps_long_files_and_says_how_to_read_on(ctx):
    line = "y" * 99 + "\n"
    (ctx.workspace.root / "big.txt").write_text(line * 3000)  # 300,000 characters
    result = await call(ctx, "read_file", path="big.txt")
    header, body = result.output.split("\n", 1)
    assert (
        header
        == "[lines 1-1000 of 3000; more than 100,000 characters, read on with start_line=1001]"
    )
    assert body == line * 1000
    again = await call(ctx, "read_file", path="big.txt", start_line=2995)
    assert again.output == "[lines 2995-3000 of 3000]\n" + line * 6


async def test_read_refuses_binary_folders_and_missing_files(ctx):
    root = ctx.workspace.root
    (root / "b.bin").write_bytes(b"\x00\x01\x02")
    (root / "noise.bin").write_bytes(bytes(range(128, 256)) * 10)
    (root / "latin1.txt").write_bytes("café au lait\n".encode("latin-1"))
    (root / "empty.txt").write_text("")
    (root / "sub").mkdir()
    assert "binary" in (await call(ctx, "read_file", path="b.bin")).output
    assert (await call(ctx, "read_file", path="noise.bin")).is_error
    assert (await call(ctx, "read_file", path="latin1.txt")).output == "caf\ufffd au lait\n"
    assert (await call(ctx, "read_file", path="empty.txt")).output == "(empty.txt is empty)"
    assert "folder" in (await call(ctx, "read_file", path="sub")).output
    missing = await call(ctx, "read_file", path="nope.txt")
    assert missing.is_error and "nope.txt" in missing.output


async def test_write_is_atomic_and_keeps_the_mode(ctx):
    root = ctx.workspace.root
    script = root / "run.sh"
    script.write_text("old")
    script.chmod(0o750)
    replaced = await call(ctx, "write_file", path="run.sh", content="#!/bin/sh\necho hé\n")
    assert replaced.output.startswith("Replaced run.sh")
    assert script.read_text() == "#!/bin/sh\necho hé\n"
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    await call(ctx, "write_file", path="new.txt", content="x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((root / "new.txt").stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in root.iterdir()) == ["new.txt", "run.sh"]  # no temp files


async def test_write_errors(ctx):
    (ctx.workspace.root / "file").write_text("x")
    (ctx.workspace.root / "folder").mkdir()
    assert "folder" in (await call(ctx, "write_file", path="folder", content="x")).output
    under_file = await call(ctx, "write_file", path="file/child.txt", content="x")
    assert under_file.is_error and "is a file" in under_file.output
    assert (await call(ctx, "write_file", path="", content="x")).is_error


async def test_edit_needs_exactly_one_match(ctx):
    await call(ctx, "write_file", path="a.py", content="x = 1\ny = 1\n")
    not_found = await call(ctx, "edit_file", path="a.py", old="z = 1", new="z = 2")
    assert not_found.is_error and "The text was not found in a.py" in not_found.output
    twice = await call(ctx, "edit_file", path="a.py", old=" = 1", new=" = 2")
    assert twice.is_error and "2 times" in twice.output and "more" in twice.output
    assert "empty" in (await call(ctx, "edit_file", path="a.py", old="", new="q")).output
    same = await call(ctx, "edit_file", path="a.py", old="x = 1", new="x = 1")
    assert same.is_error and "same" in same.output
    done = await call(ctx, "edit_file", path="a.py", old="y = 1", new="y = 2")
    assert done.output == "Edited a.py at line 2." and not done.is_error
    assert (ctx.workspace.root / "a.py").read_text() == "x = 1\ny = 2\n"
    missing = await call(ctx, "edit_file", path="nope.py", old="a", new="b")
    assert missing.is_error and "nope.py" in missing.output


async def test_edit_handles_crlf_files_and_explains_line_numbers(ctx):
    path = ctx.workspace.root / "win.txt"
    path.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    result = await call(ctx, "edit_file", path="win.txt", old="one\ntwo", new="1\n2")
    assert not result.is_error
    assert path.read_bytes() == b"1\r\n2\r\nthree\r\n"
    numbered = await call(ctx, "edit_file", path="win.txt", old="     1\t1\n     2\t2", new="x")
    assert numbered.is_error and "line numbers" in numbered.output
    (ctx.workspace.root / "blob").write_bytes(b"\x00abc")
    assert (
        "not a UTF-8 text file"
        in (await call(ctx, "edit_file", path="blob", old="a", new="b")).output
    )


# -- list and search ------------------------------------------------------------------------------


async def test_list_files(ctx):
    await call(ctx, "write_file", path="src/pkg/mod.py", content="")
    await call(ctx, "write_file", path="README.md", content="hi")
    (ctx.workspace.root / ".git" / "objects").mkdir(parents=True)
    (ctx.workspace.root / "node_modules" / "left-pad").mkdir(parents=True)
    os.symlink("/etc", ctx.workspace.root / "etc-link")
    listing = (await call(ctx, "list_files")).output.splitlines()
    assert listing == [
        "node_modules/  (not listed)",
        "src/",
        "src/pkg/",
        "src/pkg/mod.py  (0 bytes)",
        "README.md  (2 bytes)",
        "etc-link -> /etc",
    ]
    assert (await call(ctx, "list_files", path="src")).output.splitlines() == [
        "src/pkg/",
        "src/pkg/mod.py  (0 bytes)",
    ]
    assert "file, not a folder" in (await call(ctx, "list_files", path="README.md")).output
    (ctx.workspace.root / "empty").mkdir()
    assert (await call(ctx, "list_files", path="empty")).output == "(empty folder)"


async def test_list_files_caps_breadth_first(ctx):
    root = ctx.workspace.root
    (root / "aaa").mkdir()
    for i in range(500):
        (root / "aaa" / f"f{i:03}").write_text("")
    (root / "zzz.txt").write_text("")
    (root / "a" / "b" / "c" / "d").mkdir(parents=True)
    listing = (await call(ctx, "list_files")).output.splitlines()
    assert len(listing) == 401 and listing[-1].startswith("[… stopped after 400 entries")
    # Level by level: the top-level file is listed although `aaa` alone would fill the cap.
    assert "zzz.txt  (0 bytes)" in listing and "a/b/" in listing and "a/b/c/" not in listing
    deep = (await call(ctx, "list_files", path="a")).output.splitlines()
    assert deep == ["a/b/", "a/b/c/", "a/b/c/d/"]


async def test_search_respects_gitignore(ctx):
    root = ctx.workspace.root
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "sub").mkdir()
    (root / "sub" / ".gitignore").write_text("secret.txt\n!keep.log\n")
    (root / ".git").mkdir()
    for path in (
        "a.py",
        "build/out.py",
        "x.log",
        "sub/b.py",
        "sub/secret.txt",
        "sub/keep.log",
        ".git/config",
        "node_modules/m.js",
    ):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("needle here\n")
    result = await call(ctx, "search_files", pattern="needle")
    found = sorted(line.split(":")[0] for line in result.output.splitlines())
    assert found == ["a.py", "sub/b.py", "sub/keep.log"]
    assert "a.py:1: needle here" in result.output.splitlines()
    # A folder named explicitly is searched even though it is ignored; so is a single file.
    explicit = await call(ctx, "search_files", pattern="needle", path="build")
    assert explicit.output == "build/out.py:1: needle here"
    one = await call(ctx, "search_files", pattern="need+le", path="sub/secret.txt")
    assert one.output == "sub/secret.txt:1: needle here"


async def test_search_results_errors_and_caps(ctx):
    root = ctx.workspace.root
    (root / "many.txt").write_text("hit\n" * 300)
    (root / "bin.dat").write_bytes(b"\x00hit\n")
    (root / "huge.txt").write_text("hit\n" + "x" * (1024 * 1024))
    (root / "wide.txt").write_text("find-me " + "w" * 1000 + "\n")
    result = await call(ctx, "search_files", pattern="^hit$")
    lines = result.output.splitlines()
    assert len(lines) == 201 and lines[0] == "many.txt:1: hit" and "stopped after 200" in lines[-1]
    assert not any(line.startswith(("bin.dat", "huge.txt")) for line in lines)
    wide = (await call(ctx, "search_files", pattern="(?i)FIND-ME")).output
    assert wide.startswith("wide.txt:1: find-me ") and wide.endswith(" […]") and len(wide) < 400
    assert (await call(ctx, "search_files", pattern="nothing-like-this")).output == "No matches."
    bad = await call(ctx, "search_files", pattern="(")
    assert bad.is_error and "not a valid regular expression" in bad.output
    assert (await call(ctx, "search_files", pattern="x", path="missing")).is_error


# -- fetch_url ------------------------------------------------------------------------------------

PAGE = (
    b"<html><head><title>T</title><script>x()</script><style>p{}</style></head>"
    b"<body><nav>Menu</nav><h1>Hello</h1><p>World <a href='https://e.x/'>link</a> and "
    b"<a href='/rel'>relative</a></p><ul><li>one</li><li>two</li></ul>"
    b"<ol><li>first</li><li>second</li></ol><pre>def f():\n    return 1\n</pre>"
    b"<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
    b"<footer>Imprint</footer></body></html>"
)


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        pages = {
            "/page": ("text/html; charset=utf-8", PAGE),
            "/data.json": ("application/json", b'{"a": 1}'),
            "/bin": ("application/octet-stream", b"\x00\x01"),
            "/big": ("text/plain", b"x" * (3 * 1024 * 1024)),
            "/latin1": (
                "text/html",
                b'<html><head><meta charset="iso-8859-1"></head><p>caf\xe9</p></html>',
            ),
            "/untyped": ("", b"plain words"),
        }
        if self.path in ("/redirect", "/loop"):
            self.send_response(302)
            self.send_header("Location", "/page" if self.path == "/redirect" else "/loop")
            self.end_headers()
            return
        if self.path == "/stream":  # no Content-Length: only the streamed count can stop it
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for _ in range(48):
                    self.wfile.write(b"y" * 65536)
            except OSError:
                pass  # the client hung up once it had enough
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(1.5)
        kind, body = pages.get(self.path, ("text/plain", b"missing"))
        self.send_response(200 if self.path in pages or self.path == "/slow" else 404)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_fetch_turns_html_into_text(ctx, site):
    result = await call(ctx, "fetch_url", url=f"{site}/redirect")
    assert not result.is_error
    assert result.output.splitlines()[0] == f"[redirected to {site}/page]"
    text = result.output
    assert "# Hello" in text and "World link (https://e.x/)" in text
    assert f"relative ({site}/rel)" in text
    assert "- one\n- two" in text and "1. first\n2. second" in text
    assert "```\ndef f():\n    return 1\n```" in text
    assert "a | b\n1 | 2" in text
    for dropped in ("x()", "p{}", "Menu", "Imprint"):
        assert dropped not in text


def test_html_to_text_details():
    assert html_to_text("<title>Only</title><p>a\n   b</p>") == "# Only\n\na b"
    # A head without `</head>` does not swallow the page.
    assert html_to_text("<head><title>X</title><h2>Body</h2><p>text") == "# X\n\n## Body\n\ntext"
    nested = html_to_text("<ul><li>a<ul><li>b</li></ul></li></ul>")
    assert nested == "- a\n  - b"
    assert html_to_text("<p>use <code>ls -l</code> &amp; more</p>") == "use `ls -l` & more"


async def test_fetch_other_types_and_errors(ctx, site):
    assert (await call(ctx, "fetch_url", url=f"{site}/data.json")).output == '{"a": 1}'
    assert (await call(ctx, "fetch_url", url=f"{site}/untyped")).output == "plain words"
    assert "café" in (await call(ctx, "fetch_url", url=f"{site}/latin1")).output
    binary = await call(ctx, "fetch_url", url=f"{site}/bin")
    assert binary.is_error and "application/octet-stream" in binary.output
    assert "larger than 2 MB" in (await call(ctx, "fetch_url", url=f"{site}/big")).output
    streamed = await call(ctx, "fetch_url", url=f"{site}/stream")
    assert streamed.is_error and "larger than 2 MB" in streamed.output
    missing = await call(ctx, "fetch_url", url=f"{site}/nothing")
    assert missing.is_error and missing.output.startswith("[HTTP 404 Not Found]\nmissing")
    loop = await call(ctx, "fetch_url", url=f"{site}/loop")
    assert loop.is_error and "redirects more than 5 times" in loop.output
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "http://", "not a url"):
        result = await call(ctx, "fetch_url", url=url)
        assert result.is_error and "http://" in result.output, url


async def test_fetch_connection_failures_and_timeouts(ctx, site, monkeypatch):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    port = closed.server_address[1]
    closed.server_close()
    refused = await call(ctx, "fetch_url", url=f"http://127.0.0.1:{port}/")
    assert refused.is_error and "Could not fetch" in refused.output
    monkeypatch.setattr(fetch, "TIMEOUT", 0.3)
    slow = await call(ctx, "fetch_url", url=f"{site}/slow")
    assert slow.is_error and "did not answer within 0.3 seconds" in slow.output
