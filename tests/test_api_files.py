"""The workspace files API over real HTTP: list, read, download, write, upload — and every
escape from the workspace (I10) refused with a JSON 4xx that creates nothing anywhere."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_helpers import assert_error, new_session, parse_time, shared_server_fixtures
from tests.server import HestiaServer

server, _clean_server_log = shared_server_fixtures("api-files")

CANARY = "pwned"
OUTSIDE = "outside"


@pytest.fixture
def client(server: HestiaServer) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http


@pytest.fixture
def session(client: httpx.Client) -> str:
    return new_session(client)


def files_url(session_id: str, tail: str = "") -> str:
    return f"/api/sessions/{session_id}/files{tail}"


def workspace_of(server: HestiaServer, client: httpx.Client, session_id: str) -> Path:
    """The session's own workspace folder (created on first use)."""
    assert client.get(files_url(session_id)).status_code == 200
    root = server.data_dir / "workspaces" / session_id
    assert root.is_dir()
    return root


def put(client: httpx.Client, session_id: str, path: str, data: bytes) -> httpx.Response:
    return client.put(files_url(session_id, "/content"), params={"path": path}, content=data)


def upload(
    client: httpx.Client, session_id: str, folder: str, files: list[tuple[str, bytes]]
) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(files_url(session_id, "/upload"), params={"path": folder}, files=parts)


# --- round trips -------------------------------------------------------------------------


def test_write_then_read_text(client: httpx.Client, session: str) -> None:
    response = put(client, session, "notes/today.md", "# Hello ✓\n".encode())
    assert response.status_code == 200, response.text
    written = response.json()
    assert written["path"] == "notes/today.md" and written["size"] == len("# Hello ✓\n".encode())
    parse_time(written["modified"])
    body = client.get(files_url(session, "/content"), params={"path": "notes/today.md"}).json()
    assert body["content"] == "# Hello ✓\n" and body["binary"] is False
    assert body["path"] == "notes/today.md" and body["size"] == written["size"]
    parse_time(body["modified"])


def test_write_replaces_atomically_and_leaves_no_temp_files(
    server: HestiaServer, client: httpx.Client, session: str
) -> None:
    root = workspace_of(server, client, session)
    assert put(client, session, "f.txt", b"one").status_code == 200
    os.chmod(root / "f.txt", 0o600)
    assert put(client, session, "f.txt", b"two").status_code == 200
    assert (root / "f.txt").read_bytes() == b"two"
    assert (root / "f.txt").stat().st_mode & 0o777 == 0o600  # the mode is kept
    assert sorted(p.name for p in root.iterdir()) == ["f.txt"]


def test_list_folders_first_then_names(
    server: HestiaServer, client: httpx.Client, session: str
) -> None:
    root = workspace_of(server, client, session)
    for path in ("b.txt", "A.txt", "zdir/x", "adir/y", ".gitignore"):
        assert put(client, session, path, b"12345").status_code == 200
    (root / "link").symlink_to(root / "b.txt")
    body = client.get(files_url(session)).json()
    assert body["path"] == "" and body["truncated"] is False
    names = [(e["name"], e["type"]) for e in body["entries"]]
    assert names == [
        ("adir", "dir"),
        ("zdir", "dir"),
        (".gitignore", "file"),
        ("A.txt", "file"),
        ("b.txt", "file"),
        ("link", "symlink"),
    ]
    by_name = {e["name"]: e for e in body["entries"]}
    assert by_name["b.txt"]["size"] == 5 and by_name["b.txt"]["path"] == "b.txt"
    for entry in body["entries"]:
        parse_time(entry["modified"])
    sub = client.get(files_url(session), params={"path": "zdir"}).json()
    assert sub["path"] == "zdir" and [e["path"] for e in sub["entries"]] == ["zdir/x"]


def test_listing_is_capped(server: HestiaServer, client: httpx.Client, session: str) -> None:
    root = workspace_of(server, client, session)
    (root / "many").mkdir()
    for i in range(5001):
        (root / "many" / f"f{i:05}").touch()
    body = client.get(files_url(session), params={"path": "many"}).json()
    assert body["truncated"] is True and len(body["entries"]) == 5000
    assert body["entries"][0]["name"] == "f00000"


def test_binary_detection(server: HestiaServer, client: httpx.Client, session: str) -> None:
    assert put(client, session, "nul.bin", b"abc\x00def").status_code == 200
    assert put(client, session, "latin1.txt", "café".encode("latin-1")).status_code == 200
    assert put(client, session, "empty.txt", b"").status_code == 200
    late_nul = b"a" * 9000 + b"\x00"  # NUL after the first 8 KiB, but valid UTF-8
    assert put(client, session, "late.txt", late_nul).status_code == 200
    get = client.get
    for path in ("nul.bin", "latin1.txt"):
        body = get(files_url(session, "/content"), params={"path": path}).json()
        assert body["binary"] is True and body["content"] is None, path
    empty = get(files_url(session, "/content"), params={"path": "empty.txt"}).json()
    assert empty == {**empty, "binary": False, "content": "", "size": 0}
    late = get(files_url(session, "/content"), params={"path": "late.txt"}).json()
    assert late["binary"] is False and late["content"] == late_nul.decode()


def test_download_raw(client: httpx.Client, session: str) -> None:
    data = bytes(range(256))
    assert put(client, session, "dir/päckage.tar.gz", data).status_code == 200
    assert put(client, session, "page.html", b"<script>alert(1)</script>").status_code == 200
    response = client.get(
        files_url(session, "/content"), params={"path": "dir/päckage.tar.gz", "raw": "true"}
    )
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''p%C3%A4ckage.tar.gz" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    html = client.get(files_url(session, "/content"), params={"path": "page.html", "raw": "1"})
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].startswith("attachment;")
    assert html.headers["x-content-type-options"] == "nosniff"
    unknown = put(client, session, "blob", b"x")
    assert unknown.status_code == 200
    blob = client.get(files_url(session, "/content"), params={"path": "blob", "raw": "true"})
    assert blob.headers["content-type"] == "application/octet-stream"


def test_upload_several_files(server: HestiaServer, client: httpx.Client, session: str) -> None:
    root = workspace_of(server, client, session)
    files = [("a.txt", b"alpha"), ("日本語.md", "本".encode()), ("img.png", b"\x89PNG\x00")]
    response = upload(client, session, "in/box", files)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["path"] == "in/box"
    assert [f["path"] for f in body["files"]] == [
        "in/box/a.txt",
        "in/box/日本語.md",
        "in/box/img.png",
    ]
    for name, data in files:
        assert (root / "in" / "box" / name).read_bytes() == data
    to_root = upload(client, session, "", [("top.txt", b"t")])
    assert to_root.status_code == 201 and (root / "top.txt").read_bytes() == b"t"


def test_a_large_file_passes_the_message_body_limit(client: httpx.Client, session: str) -> None:
    data = os.urandom(3 * 1024 * 1024)  # above 4 x max message bytes, below max file bytes
    assert put(client, session, "big.bin", data).status_code == 200
    raw = client.get(files_url(session, "/content"), params={"path": "big.bin", "raw": "true"})
    assert raw.content == data
    assert upload(client, session, "up", [("big.bin", data)]).status_code == 201


# --- errors ---------------------------------------------------------------------------------


def test_unknown_session(client: httpx.Client) -> None:
    for response in (
        client.get(files_url("nope")),
        client.get(files_url("nope", "/content"), params={"path": "a"}),
        put(client, "nope", "a.txt", b"x"),
        upload(client, "nope", "", [("a.txt", b"x")]),
    ):
        assert_error(response, 404, "session_not_found")


def test_missing_files_are_404(client: httpx.Client, session: str) -> None:
    for response in (
        client.get(files_url(session), params={"path": "nope"}),
        client.get(files_url(session, "/content"), params={"path": "nope.txt"}),
        client.get(files_url(session, "/content"), params={"path": "nope.txt", "raw": "true"}),
    ):
        assert_error(response, 404, "file_not_found")


def test_folders_are_not_files(server: HestiaServer, client: httpx.Client, session: str) -> None:
    root = workspace_of(server, client, session)
    (root / "dir").mkdir()
    content = files_url(session, "/content")
    assert_error(client.get(content, params={"path": "dir"}), 400, "is_a_directory")
    assert_error(client.get(content, params={"path": ""}), 400, "is_a_directory")
    assert_error(put(client, session, "dir", b"x"), 400, "is_a_directory")
    assert_error(put(client, session, "", b"x"), 400, "is_a_directory")
    assert (root / "dir").is_dir()
    assert put(client, session, "file.txt", b"x").status_code == 200
    assert_error(
        client.get(files_url(session), params={"path": "file.txt"}), 400, "not_a_directory"
    )
    assert_error(put(client, session, "file.txt/below", b"x"), 400, "not_a_directory")
    assert_error(upload(client, session, "file.txt", [("a", b"x")]), 400, "not_a_directory")
    assert (root / "file.txt").read_bytes() == b"x"


def test_upload_needs_files(client: httpx.Client, session: str) -> None:
    response = client.post(files_url(session, "/upload"), data={"other": "x"})
    assert response.status_code == 422 and "error" in response.json()


def test_size_limits(make_server: Callable[..., HestiaServer]) -> None:
    small = make_server(HESTIA_MAX_FILE_BYTES="1000")
    with small.client() as client:
        session = new_session(client)
        assert put(client, session, "ok.bin", b"x" * 1000).status_code == 200
        assert_error(put(client, session, "big.bin", b"x" * 1001), 413, "file_too_large")
        # Far above the files' body limit: the middleware refuses it before any route runs.
        huge = put(client, session, "huge.bin", b"x" * 200_000)
        assert_error(huge, 413, "request_too_large")
        over = upload(client, session, "", [("a.txt", b"a"), ("big.bin", b"x" * 1001)])
        assert_error(over, 413, "file_too_large")
        root = small.data_dir / "workspaces" / session
        assert sorted(p.name for p in root.iterdir()) == ["ok.bin"]  # the upload wrote nothing
        (root / "disk.bin").write_bytes(b"y" * 1001)
        for raw in ("false", "true"):
            params = {"path": "disk.bin", "raw": raw}
            read = client.get(files_url(session, "/content"), params=params)
            assert_error(read, 413, "file_too_large")


def test_a_chosen_workspace_folder_is_served(
    client: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("chosen")
    (folder / "src").mkdir()
    (folder / "src" / "main.py").write_text("print('hi')\n")
    session = new_session(client, workspace=str(folder))
    listing = client.get(files_url(session)).json()
    assert [(e["name"], e["type"]) for e in listing["entries"]] == [("src", "dir")]
    body = client.get(files_url(session, "/content"), params={"path": "src/main.py"}).json()
    assert body["content"] == "print('hi')\n"
    assert put(client, session, "src/new.py", b"x = 1\n").status_code == 200
    assert (folder / "src" / "new.py").read_bytes() == b"x = 1\n"
    assert_error(put(client, session, "../escaped.py", b"x"), 400, "path_outside_workspace")
    assert not (folder.parent / "escaped.py").exists()


# --- escapes (I10) --------------------------------------------------------------------------

ESCAPES = {
    "leading-dotdot": f"../{CANARY}.txt",
    "double-dotdot": f"../../{CANARY}.txt",
    "middle-dotdot": f"a/../../{CANARY}.txt",
    "into-outside": f"../../{OUTSIDE}/{CANARY}.txt",
    "absolute": f"/tmp/{CANARY}.txt",
    "absolute-etc": "/etc/passwd",
    "double-slash": f"//tmp/{CANARY}.txt",
    "tilde": f"~/{CANARY}.txt",
    "encoded": f"%2e%2e%2f{CANARY}.txt",
    "encoded-upper": f"%2E%2E/{CANARY}.txt",
    "encoded-slash": f"..%2f{CANARY}.txt",
    "double-encoded": f"%252e%252e%252f{CANARY}.txt",
    "fullwidth": f"．．／{CANARY}.txt",
    "division-slash": f"..\u2215{CANARY}.txt",
    "one-dot-leader": f"\u2024\u2024/{CANARY}.txt",
    "small-full-stop": f"\ufe52\ufe52/{CANARY}.txt",
    "control": f"a\x01/../../{CANARY}.txt",
    "newline": f"a\n{CANARY}.txt",
    "nul": f"{CANARY}.txt\x00.png",
    "backslash": f"..\\{CANARY}.txt",
    "over-long": "a/" * 2100 + f"{CANARY}.txt",
    "symlinked-folder": f"out/{CANARY}.txt",
    "symlinked-folder-deeper": f"out/deeper/{CANARY}.txt",
    "symlink-to-file": "link.txt",
    "symlink-chain": "chain.txt",
}
CODES = {"path_outside_workspace", "invalid_path", "invalid_url", "invalid_file_name"}


@pytest.fixture
def jail(
    server: HestiaServer, client: httpx.Client, session: str
) -> Iterator[tuple[str, Path, Path]]:
    """A session whose workspace holds symlinks out, next to an `outside` folder; after the
    test, no canary file exists anywhere and the outside is untouched."""
    root = workspace_of(server, client, session)
    outside = server.data_dir.parent / OUTSIDE
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("secret")
    (root / "a").mkdir()
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "chain.txt").symlink_to(root / "a" / "hop")
    (root / "a" / "hop").symlink_to(outside / "secret.txt")
    before = snapshot(server.data_dir.parent)
    yield session, root, outside
    assert (outside / "secret.txt").read_text() == "secret"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert snapshot(server.data_dir.parent) == before
    for place in (Path("/tmp"), Path.home(), Path("/")):
        assert not (place / f"{CANARY}.txt").exists()
    assert not list(server.data_dir.parent.rglob(f"*{CANARY}*"))


def snapshot(base: Path) -> set[str]:
    """Every path below `base` except the database and server logs, which change anyway."""
    return {
        str(p.relative_to(base))
        for p in base.rglob("*")
        if not p.name.startswith(("hestia.db", "server-"))
    }


def assert_refused(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] in CODES, error
    assert error["message"].strip()


@pytest.mark.parametrize("path", ESCAPES.values(), ids=ESCAPES.keys())
def test_i10_escape_is_refused_everywhere(
    client: httpx.Client, jail: tuple[str, Path, Path], path: str
) -> None:
    session, _, _ = jail
    content = files_url(session, "/content")
    responses = [
        client.get(files_url(session), params={"path": path}),
        client.get(content, params={"path": path}),
        client.get(content, params={"path": path, "raw": "true"}),
        put(client, session, path, CANARY.encode()),
        upload(client, session, path, [(f"{CANARY}.txt", b"x")]),
    ]
    for response in responses:
        assert_refused(response)
        assert "secret" not in response.text


UPLOAD_NAMES = {
    "dotdot": f"../{CANARY}.txt",
    "nested": f"a/../../{CANARY}.txt",
    "absolute": f"/tmp/{CANARY}.txt",
    "dot": ".",
    "dotdot-alone": "..",
    "encoded": f"%2e%2e%2f{CANARY}.txt",
    "fullwidth": f"．．／{CANARY}.txt",
    "backslash": f"..\\{CANARY}.txt",
    "symlink-to-file": "link.txt",
}


@pytest.mark.parametrize("name", UPLOAD_NAMES.values(), ids=UPLOAD_NAMES.keys())
def test_i10_upload_file_names_are_refused(
    client: httpx.Client, jail: tuple[str, Path, Path], name: str
) -> None:
    session, root, _ = jail
    response = upload(client, session, "", [("fine.txt", b"ok"), (name, b"x")])
    assert_refused(response)
    assert not (root / "fine.txt").exists()  # nothing of a refused upload is written


RAW_QUERIES = {
    "dotdot-slash": f"..%2F{CANARY}.txt",
    "all-encoded": f"%2E%2E%2F{CANARY}.txt",
    "lower-encoded": f"%2e%2e/{CANARY}.txt",
    "absolute": f"%2Ftmp%2F{CANARY}.txt",
    "etc-passwd": "/etc/passwd",
    "double-encoded": f"%252e%252e%252f{CANARY}.txt",
    "backslash": f"..%5C{CANARY}.txt",
    "fullwidth": f"%EF%BC%8E%EF%BC%8E%EF%BC%8F{CANARY}.txt",
    "division-slash": f"..%E2%88%95{CANARY}.txt",
    "nul": f"{CANARY}.txt%00.png",
    "control": f"a%01%2F..%2F..%2F{CANARY}.txt",
    "tilde": f"%7E/{CANARY}.txt",
    "symlinked-folder": f"out%2F{CANARY}.txt",
    "plus-and-dots": f"..%2F..%2F{OUTSIDE}%2F{CANARY}.txt",
}


@pytest.mark.parametrize("query", RAW_QUERIES.values(), ids=RAW_QUERIES.keys())
def test_i10_raw_url_escape_is_refused(
    server: HestiaServer, jail: tuple[str, Path, Path], query: str
) -> None:
    session, _, _ = jail
    base = f"{server.url}/api/sessions/{session}/files"
    # A plain client sends these query strings as written; the framework decodes them once.
    with httpx.Client(timeout=30) as raw:
        responses: list[Any] = [
            raw.get(httpx.URL(f"{base}?path={query}")),
            raw.get(httpx.URL(f"{base}/content?path={query}")),
            raw.get(httpx.URL(f"{base}/content?raw=true&path={query}")),
            raw.put(httpx.URL(f"{base}/content?path={query}"), content=CANARY.encode()),
            raw.post(
                httpx.URL(f"{base}/upload?path={query}"),
                files=[("files", (f"{CANARY}.txt", b"x", "text/plain"))],
            ),
        ]
    for response in responses:
        assert_refused(response)
