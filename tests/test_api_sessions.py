"""The sessions API over real HTTP (DESIGN §5): create, list, search, page, change, trash (I7),
and the errors every bad request gets (I9) — each refused request changes nothing."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx

from tests.server import wait_for_run

# DESIGN §5; the tests check that none is missing (features may add more).
SESSION_KEYS = {
    "id",
    "title",
    "model",
    "runtime",
    "workspace",
    "created_at",
    "updated_at",
    "pinned",
    "archived",
    "trashed",
    "message_count",
    "active_run_id",
}
MESSAGE_KEYS = {
    "id",
    "seq",
    "role",
    "content",
    "status",
    "run_id",
    "superseded",
    "created_at",
    "parts",
}
RUN_KEYS = {
    "id",
    "session_id",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "error",
    "last_event_id",
    "input",
}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$")
SLOW = '#fake {"tokens": 200, "delay": 0.05}'
SLOW_TEXT = "".join(f"w{i} " for i in range(200))
JSON_HEADERS = {"content-type": "application/json"}
BOGUS_ID = "0" * 32
MAX_SEQ = 2**31 - 1


# -- helpers ------------------------------------------------------------------------------


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The one error shape with `status`; returns the code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and SNAKE_CASE.match(body["error"]["code"]), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip(), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]["code"]


def new_session(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/sessions", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def send(client: httpx.Client, session_id: str, content: str, **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/sessions/{session_id}/messages", json={"content": content, **fields}
    )
    assert response.status_code == 202, response.text
    return response.json()["run"]


def send_and_wait(client: httpx.Client, session_id: str, content: str, **fields: Any) -> dict:
    run = wait_for_run(client, send(client, session_id, content, **fields)["id"])
    assert run["status"] == "completed", run
    return run


def get_session(client: httpx.Client, session_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/sessions/{session_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def patch(client: httpx.Client, session_id: str, **changes: Any) -> dict[str, Any]:
    response = client.patch(f"/api/sessions/{session_id}", json=changes)
    assert response.status_code == 200, response.text
    assert SESSION_KEYS <= set(response.json())
    return response.json()


def listing(client: httpx.Client, **params: Any) -> list[str]:
    """Ids of one page of the listing."""
    response = client.get("/api/sessions", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["sessions"]]


def snapshot(client: httpx.Client) -> dict[str, Any]:
    """Everything the API shows: every listing, and every session with all its messages and runs."""
    lists = {
        name: client.get("/api/sessions", params={"limit": 200, **params}).json()
        for name, params in {
            "live": {},
            "archived": {"archived": "true"},
            "trashed": {"trashed": "true"},
        }.items()
    }
    sessions = {}
    for page in lists.values():
        for session in page["sessions"]:
            sessions[session["id"]] = {
                "read": get_session(client, session["id"], limit=1000, include_superseded="true"),
                "runs": client.get(f"/api/sessions/{session['id']}/runs").json(),
            }
    return {"lists": lists, "sessions": sessions}


def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_streamed_text(client: httpx.Client, session_id: str) -> dict[str, Any]:
    """Wait until the session's streaming answer holds some text; returns that message."""

    def streaming_with_text() -> dict[str, Any] | None:
        messages = get_session(client, session_id)["messages"]
        last = messages[-1] if messages else None
        if last and last["role"] == "assistant" and last["status"] == "streaming":
            return last if last["content"] else None
        return None

    return wait_until(streaming_with_text, what="streamed text")


def cursor_of(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# -- create -------------------------------------------------------------------------------


def test_create_returns_the_session_shape(client):
    response = client.post("/api/sessions", json={})
    assert response.status_code == 201
    session = response.json()
    assert SESSION_KEYS <= set(session), set(session)
    assert isinstance(session["id"], str) and session["id"]
    assert isinstance(session["title"], str) and session["title"]
    assert session["model"] is None
    assert session["runtime"] == "builtin"
    assert session["workspace"] is None
    assert ISO_UTC.match(session["created_at"]) and ISO_UTC.match(session["updated_at"])
    assert session["created_at"] == session["updated_at"]
    assert session["pinned"] is False
    assert session["archived"] is False
    assert session["trashed"] is False
    assert session["message_count"] == 0
    assert session["active_run_id"] is None
    read = get_session(client, session["id"])
    assert read == {"session": session, "messages": [], "has_more": False}
    assert listing(client) == [session["id"]]


def test_create_with_title_model_and_workspace(client, tmp_path):
    workspace = tmp_path / "work"
    workspace.mkdir()
    session = new_session(
        client, title="  Trip   plans ", model="fake-model-large", workspace=str(workspace)
    )
    assert session["title"] == "Trip plans"
    assert session["model"] == "fake-model-large"
    assert session["workspace"] == str(workspace.resolve())
    assert get_session(client, session["id"])["session"] == session


def test_i9_create_refuses_bad_fields_and_creates_nothing(client):
    before = snapshot(client)
    for body, status in [
        ({"title": ""}, 400),
        ({"title": "   "}, 400),
        ({"title": "x" * 201}, 400),
        ({"runtime": "no-such-runtime"}, 400),
        ({"workspace": "relative/path"}, 400),
        ({"workspace": "/no/such/folder/anywhere"}, 400),
        ({"model": ""}, 400),
        ({"title": 5}, 422),
        ({"title": None, "colour": "red"}, 422),
    ]:
        assert_error(client.post("/api/sessions", json=body), status)
    assert snapshot(client) == before


# -- list ---------------------------------------------------------------------------------


def test_list_shows_pinned_first_then_newest_updated(client):
    a, b, c = (new_session(client, title=name)["id"] for name in "abc")
    assert listing(client) == [c, b, a]
    send_and_wait(client, a, "bring a back to the top")
    assert listing(client) == [a, c, b]
    patch(client, b, pinned=True)
    send_and_wait(client, c, "c is now the newest unpinned")
    assert listing(client) == [b, c, a]
    sessions = client.get("/api/sessions").json()["sessions"]
    assert all(SESSION_KEYS <= set(s) for s in sessions)
    unpinned = [s["updated_at"] for s in sessions if not s["pinned"]]
    assert unpinned == sorted(unpinned, reverse=True)


def test_list_cursor_pages_have_no_duplicates_or_gaps(client):
    ids = [new_session(client, title=f"s{i}")["id"] for i in range(7)]
    patch(client, ids[1], pinned=True)
    patch(client, ids[4], pinned=True)
    everything = listing(client)
    assert sorted(everything) == sorted(ids)
    assert set(everything[:2]) == {ids[1], ids[4]}

    pages, cursor = [], None
    while True:
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        response = client.get("/api/sessions", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"sessions", "next_cursor"}
        pages.append([s["id"] for s in body["sessions"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and len(pages) < 10
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [i for page in pages for i in page] == everything


def test_list_search_matches_titles_and_message_text(client, fake):
    by_title = new_session(client, title="Quarterly budget review")["id"]
    by_message = new_session(client, title="Untitled notes")["id"]
    other = new_session(client, title="Other things")["id"]
    fake.set_default(reply="Kilimanjaro overlooks Tanzania.")
    send_and_wait(client, by_message, "what about the zanzibar archipelago")
    fake.set_default(reply="Nothing to see.")
    send_and_wait(client, other, "an unremarkable question")

    def search(q: str, **params: Any) -> list[str]:
        return listing(client, q=q, **params)

    assert search("budget") == [by_title]
    assert search("BUDGET") == [by_title]
    assert search("zanzibar") == [by_message]  # only in the user message
    assert search("kilimanjaro") == [by_message]  # only in the assistant reply
    assert search("Kiliman") == [by_message]  # a prefix of a word
    assert search("archip") == [by_message]
    assert search("zanzibar archipelago") == [by_message]
    assert search("wordthatappearsnowhere") == []
    assert sorted(search("   ")) == sorted([by_title, by_message, other])
    for odd in ['"', "*", "NEAR(a b)", "a OR b", "%", "_", "'; DROP TABLE sessions; --"]:
        assert client.get("/api/sessions", params={"q": odd}).status_code == 200
    assert sorted(listing(client)) == sorted([by_title, by_message, other])
    client.delete(f"/api/sessions/{by_message}").raise_for_status()
    assert search("zanzibar") == []
    assert search("zanzibar", trashed="true") == [by_message]


def test_list_archived_and_trashed_filters(client):
    live = new_session(client, title="live")["id"]
    archived = new_session(client, title="archived")["id"]
    trashed = new_session(client, title="trashed")["id"]
    both = new_session(client, title="archived then trashed")["id"]
    patch(client, archived, archived=True)
    patch(client, both, archived=True)
    client.delete(f"/api/sessions/{trashed}").raise_for_status()
    client.delete(f"/api/sessions/{both}").raise_for_status()
    assert listing(client) == [live]
    assert listing(client, archived="false") == [live]
    assert listing(client, archived="true") == [archived]
    assert sorted(listing(client, trashed="true")) == sorted([trashed, both])
    shown = client.get("/api/sessions", params={"trashed": "true"}).json()["sessions"]
    assert all(s["trashed"] is True for s in shown)
    shown = client.get("/api/sessions", params={"archived": "true"}).json()["sessions"]
    assert all(s["archived"] is True and s["trashed"] is False for s in shown)


# -- read with message paging -------------------------------------------------------------


def test_get_pages_messages_newest_page_oldest_first(client):
    session_id = new_session(client)["id"]
    for i in range(3):
        send_and_wait(client, session_id, f"message {i}")
    whole = get_session(client, session_id)
    assert whole["has_more"] is False
    assert whole["session"]["message_count"] == 6
    assert [m["seq"] for m in whole["messages"]] == [1, 2, 3, 4, 5, 6]
    assert [m["role"] for m in whole["messages"]] == ["user", "assistant"] * 3
    assert [m["content"] for m in whole["messages"][::2]] == [f"message {i}" for i in range(3)]
    for message in whole["messages"]:
        assert MESSAGE_KEYS <= set(message), set(message)
        assert message["status"] == "complete" and message["superseded"] is False
        assert ISO_UTC.match(message["created_at"])
        assert message["parts"] == []

    def seqs(**params: Any) -> tuple[list[int], bool]:
        body = get_session(client, session_id, **params)
        return [m["seq"] for m in body["messages"]], body["has_more"]

    assert seqs(limit=4) == ([3, 4, 5, 6], True)
    assert seqs(limit=4, before_seq=3) == ([1, 2], False)
    assert seqs(limit=2, before_seq=5) == ([3, 4], True)
    assert seqs(limit=2, before_seq=3) == ([1, 2], False)
    assert seqs(limit=1) == ([6], True)
    assert seqs(limit=6) == ([1, 2, 3, 4, 5, 6], False)
    assert seqs(before_seq=1) == ([], False)
    assert seqs(before_seq=1000) == ([1, 2, 3, 4, 5, 6], False)


def test_i7_retry_supersedes_the_answer_and_keeps_it(client, fake):
    session_id = new_session(client)["id"]
    fake.set_default(reply="first answer")
    first = send_and_wait(client, session_id, "a question")
    fake.set_default(reply="second answer")
    fake.clear()
    response = client.post(f"/api/sessions/{session_id}/retry")
    assert response.status_code == 202, response.text
    retry = response.json()["run"]
    assert RUN_KEYS <= set(retry)
    assert retry["input"] == {"content": "a question"}
    assert wait_for_run(client, retry["id"])["status"] == "completed"

    current = get_session(client, session_id)
    assert current["session"]["message_count"] == 2
    assert [(m["seq"], m["role"], m["content"]) for m in current["messages"]] == [
        (1, "user", "a question"),
        (3, "assistant", "second answer"),
    ]
    assert current["messages"][0]["run_id"] == first["id"]
    assert current["messages"][1]["run_id"] == retry["id"]
    everything = get_session(client, session_id, include_superseded="true")
    assert [(m["seq"], m["content"], m["superseded"]) for m in everything["messages"]] == [
        (1, "a question", False),
        (2, "first answer", True),
        (3, "second answer", False),
    ]
    # The provider was asked once more with the question alone, not the superseded answer.
    sent = fake.last_request["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["a question"]
    assert all(m["content"] != "first answer" for m in sent)


def test_i7_edit_supersedes_from_the_edited_message_and_keeps_it(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "first")
    send_and_wait(client, session_id, "second")
    response = client.post(f"/api/sessions/{session_id}/messages/3/edit", json={"content": "2nd"})
    assert response.status_code == 202, response.text
    assert wait_for_run(client, response.json()["run"]["id"])["status"] == "completed"
    current = get_session(client, session_id)
    assert [(m["seq"], m["content"]) for m in current["messages"]] == [
        (1, "first"),
        (2, "Echo: first"),
        (5, "2nd"),
        (6, "Echo: 2nd"),
    ]
    assert current["session"]["message_count"] == 4
    everything = get_session(client, session_id, include_superseded="true")["messages"]
    assert [(m["seq"], m["superseded"]) for m in everything] == [
        (1, False),
        (2, False),
        (3, True),
        (4, True),
        (5, False),
        (6, False),
    ]
    assert everything[2]["content"] == "second"


# -- change -------------------------------------------------------------------------------


def test_patch_rename_sticks_after_later_messages(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "an automatic title")
    assert get_session(client, session_id)["session"]["title"] == "an automatic title"
    renamed = patch(client, session_id, title="My   own  name")
    assert renamed["title"] == "My own name"
    send_and_wait(client, session_id, "a later message")
    assert get_session(client, session_id)["session"]["title"] == "My own name"


def test_patch_pin_archive_and_model(client, fake):
    a = new_session(client)["id"]
    b = new_session(client)["id"]
    assert listing(client) == [b, a]

    pinned = patch(client, a, pinned=True)
    assert pinned["pinned"] is True
    assert listing(client) == [a, b]
    assert patch(client, a, pinned=False)["pinned"] is False

    archived = patch(client, b, archived=True)
    assert archived["archived"] is True
    assert listing(client) == [a]
    assert listing(client, archived="true") == [b]
    assert patch(client, b, archived=False)["archived"] is False
    assert sorted(listing(client)) == sorted([a, b])

    assert patch(client, a, model="fake-model-large")["model"] == "fake-model-large"
    run = send_and_wait(client, a, "which model?")
    assert run["model"] == "fake-model-large"
    assert fake.last_request["model"] == "fake-model-large"
    assert patch(client, a, model=None)["model"] is None
    run = send_and_wait(client, a, "and now?")
    assert run["model"] == "fake-model"
    assert fake.last_request["model"] == "fake-model"

    unchanged = get_session(client, a)["session"]
    assert patch(client, a) == unchanged


def test_first_message_sets_the_title(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "  Plan a   trip to Lisbon\nin May, with details")
    assert get_session(client, session_id)["session"]["title"] == "Plan a trip to Lisbon"
    send_and_wait(client, session_id, "a second message does not retitle")
    assert get_session(client, session_id)["session"]["title"] == "Plan a trip to Lisbon"

    long_one = new_session(client)["id"]
    send(client, long_one, "word " * 40)
    title = get_session(client, long_one)["session"]["title"]
    assert title.startswith("word word") and title.endswith("…") and len(title) <= 61


def test_first_message_keeps_a_title_given_at_create_or_by_rename(client):
    given = new_session(client, title="Given at create")["id"]
    send_and_wait(client, given, "first message")
    assert get_session(client, given)["session"]["title"] == "Given at create"

    renamed = new_session(client)["id"]
    patch(client, renamed, title="Renamed before sending")
    send_and_wait(client, renamed, "first message")
    assert get_session(client, renamed)["session"]["title"] == "Renamed before sending"


def test_editing_the_first_message_retitles_an_automatic_title(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "original wording")
    response = client.post(
        f"/api/sessions/{session_id}/messages/1/edit", json={"content": "better wording"}
    )
    assert response.status_code == 202, response.text
    wait_for_run(client, response.json()["run"]["id"])
    assert get_session(client, session_id)["session"]["title"] == "better wording"

    patch(client, session_id, title="Mine")
    response = client.post(
        f"/api/sessions/{session_id}/messages/3/edit", json={"content": "third wording"}
    )
    assert response.status_code == 202, response.text
    wait_for_run(client, response.json()["run"]["id"])
    assert get_session(client, session_id)["session"]["title"] == "Mine"


# -- trash, restore, purge (I7) -----------------------------------------------------------


def test_i7_trash_restore_purge(client):
    session_id = new_session(client, title="Keep me")["id"]
    run = send_and_wait(client, session_id, "remember this")
    kept = get_session(client, session_id)

    response = client.delete(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    trashed = response.json()
    assert SESSION_KEYS <= set(trashed) and trashed["trashed"] is True
    assert listing(client) == []
    assert listing(client, trashed="true") == [session_id]
    read = get_session(client, session_id)
    assert read["session"]["trashed"] is True
    assert read["messages"] == kept["messages"]
    assert_error(
        client.post(f"/api/sessions/{session_id}/messages", json={"content": "x"}),
        409,
        "session_trashed",
    )
    assert client.delete(f"/api/sessions/{session_id}").status_code == 200  # already there

    response = client.post(f"/api/sessions/{session_id}/restore")
    assert response.status_code == 200, response.text
    restored = response.json()
    assert SESSION_KEYS <= set(restored) and restored["trashed"] is False
    assert listing(client) == [session_id]
    assert listing(client, trashed="true") == []
    assert get_session(client, session_id)["messages"] == kept["messages"]

    client.delete(f"/api/sessions/{session_id}").raise_for_status()
    response = client.delete(f"/api/sessions/{session_id}", params={"purge": "true"})
    assert response.status_code == 200, response.text
    assert_error(client.get(f"/api/sessions/{session_id}"), 404, "session_not_found")
    assert_error(client.get(f"/api/runs/{run['id']}"), 404, "run_not_found")
    assert_error(client.post(f"/api/sessions/{session_id}/restore"), 404, "session_not_found")
    assert listing(client) == [] and listing(client, trashed="true") == []
    assert listing(client, q="remember") == []
    assert listing(client, q="remember", trashed="true") == []


def test_i7_purge_refuses_a_session_not_in_the_trash(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "still here")
    before = snapshot(client)
    response = client.delete(f"/api/sessions/{session_id}", params={"purge": "true"})
    assert_error(response, 409, "session_not_trashed")
    assert snapshot(client) == before


def test_i7_trash_cancels_the_active_and_queued_runs(client):
    session_id = new_session(client)["id"]
    running = send(client, session_id, f"slow {SLOW}")
    wait_for_streamed_text(client, session_id)
    queued = send(client, session_id, "waiting behind")
    assert queued["status"] == "queued"

    response = client.delete(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    assert response.json()["trashed"] is True

    assert wait_for_run(client, running["id"])["status"] == "cancelled"
    assert wait_for_run(client, queued["id"])["status"] == "cancelled"
    read = get_session(client, session_id)
    assert read["session"]["active_run_id"] is None
    assert read["session"]["trashed"] is True
    assert [m["role"] for m in read["messages"]] == ["user", "assistant"]
    answer = read["messages"][1]
    assert answer["status"] == "cancelled"
    assert answer["content"] and SLOW_TEXT.startswith(answer["content"])
    assert answer["content"] != SLOW_TEXT
    runs = client.get(f"/api/sessions/{session_id}/runs", params={"active": "true"}).json()
    assert runs == {"runs": []}


# -- I9: errors ---------------------------------------------------------------------------


def test_i9_unknown_ids_are_404(client):
    session_id = new_session(client)["id"]
    run = send_and_wait(client, session_id, "hello")
    before = snapshot(client)
    s = f"/api/sessions/{BOGUS_ID}"
    for method, url, body in [
        ("GET", s, None),
        ("PATCH", s, {"title": "x"}),
        ("DELETE", s, None),
        ("DELETE", f"{s}?purge=true", None),
        ("POST", f"{s}/restore", None),
        ("POST", f"{s}/messages", {"content": "x"}),
        ("POST", f"{s}/messages/1/edit", {"content": "x"}),
        ("POST", f"{s}/retry", None),
        ("GET", f"{s}/runs", None),
    ]:
        assert_error(client.request(method, url, json=body), 404, "session_not_found")
    for method, url in [
        ("GET", f"/api/runs/{BOGUS_ID}"),
        ("GET", f"/api/runs/{BOGUS_ID}/events"),
        ("POST", f"/api/runs/{BOGUS_ID}/cancel"),
        ("GET", f"/api/runs/{session_id}"),  # a session id is not a run id
    ]:
        assert_error(client.request(method, url), 404, "run_not_found")
    assert_error(client.get(f"/api/sessions/{run['id']}"), 404, "session_not_found")
    for seq in (99, MAX_SEQ):
        response = client.post(
            f"/api/sessions/{session_id}/messages/{seq}/edit", json={"content": "x"}
        )
        assert_error(response, 404, "message_not_found")
    assert snapshot(client) == before


def test_i9_bad_cursor_is_400(client):
    for i in range(4):
        new_session(client, title=f"s{i}")
    before = snapshot(client)
    for cursor in [
        "garbage!",
        "~~~",
        "é",
        base64.urlsafe_b64encode(b"hello world").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe\x00\x01").decode(),
        cursor_of([1, 2]),
        cursor_of({"a": 1, "b": 2, "c": 3}),
        cursor_of(["yes", "2024-01-01T00:00:00+00:00", "x"]),
        cursor_of([True, 5, "x"]),
        cursor_of([True, "2024-01-01T00:00:00", "x"]),  # no time zone
        cursor_of([True, "not a date", "x"]),
        cursor_of([True, "2024-01-01T00:00:00+00:00", 7]),
        cursor_of([False, "9999-12-31T23:59:59-12:00", "x"]),  # out of range in UTC
        cursor_of([False, "0001-01-01T00:00:00+14:00", "x"]),
    ]:
        response = client.get("/api/sessions", params={"cursor": cursor, "limit": 2})
        assert_error(response, 400, "invalid_cursor")
    assert snapshot(client) == before


def test_i9_out_of_range_query_values_are_422(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "hello")
    before = snapshot(client)
    for params in [
        {"limit": "0"},
        {"limit": "201"},
        {"limit": "abc"},
        {"limit": "-1"},
        {"limit": "1.5"},
        {"archived": "maybe"},
        {"trashed": "2"},
        {"q": "x" * 501},
    ]:
        assert_error(client.get("/api/sessions", params=params), 422, "invalid_request")
    for params in [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "abc"},
        {"before_seq": "0"},
        {"before_seq": "abc"},
        {"before_seq": str(MAX_SEQ + 1)},
        {"before_seq": str(10**20)},
        {"include_superseded": "perhaps"},
    ]:
        response = client.get(f"/api/sessions/{session_id}", params=params)
        assert_error(response, 422, "invalid_request")
    for seq in ("abc", "1.5", "0", "-1", str(MAX_SEQ + 1), str(10**20), str(-(10**20))):
        response = client.post(
            f"/api/sessions/{session_id}/messages/{seq}/edit", json={"content": "x"}
        )
        assert_error(response, 422, "invalid_request")
    response = client.delete(f"/api/sessions/{session_id}", params={"purge": "sure"})
    assert_error(response, 422, "invalid_request")
    assert snapshot(client) == before


def test_i9_malformed_json_is_400(client):
    session_id = new_session(client)["id"]
    before = snapshot(client)
    for method, url in [
        ("POST", "/api/sessions"),
        ("PATCH", f"/api/sessions/{session_id}"),
        ("POST", f"/api/sessions/{session_id}/messages"),
        ("POST", f"/api/sessions/{session_id}/messages/1/edit"),
    ]:
        for raw in [b"{bad", b'{"content": "x"', b"{'content': 'x'}", b'{"content": "x"} tail']:
            response = client.request(method, url, content=raw, headers=JSON_HEADERS)
            assert_error(response, 400, "invalid_json")
    assert snapshot(client) == before


def test_i9_wrong_types_unknown_fields_and_non_objects_are_422(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "hello")
    before = snapshot(client)
    messages = f"/api/sessions/{session_id}/messages"
    cases = [
        ("POST", messages, {"content": 5}),
        ("POST", messages, {"content": None}),
        ("POST", messages, {"content": ["a"]}),
        ("POST", messages, {"content": "x", "client_message_id": 7}),
        ("POST", messages, {"content": "x", "client_message_id": ""}),
        ("POST", messages, {"content": "x", "model": ""}),
        ("POST", messages, {"content": "x", "unknown": 1}),
        ("POST", messages, {}),
        ("POST", messages, ["content", "x"]),
        ("POST", messages, "x"),
        ("POST", messages, None),
        ("POST", f"{messages}/1/edit", {"content": 5}),
        ("POST", f"{messages}/1/edit", {"content": "x", "seq": 1}),
        ("POST", f"{messages}/1/edit", [{"content": "x"}]),
        ("PATCH", f"/api/sessions/{session_id}", {"pinned": "yes"}),
        ("PATCH", f"/api/sessions/{session_id}", {"archived": 1}),
        ("PATCH", f"/api/sessions/{session_id}", {"title": 5}),
        ("PATCH", f"/api/sessions/{session_id}", {"model": False}),
        ("PATCH", f"/api/sessions/{session_id}", {"trashed": True}),
        ("PATCH", f"/api/sessions/{session_id}", {"message_count": 0}),
        ("PATCH", f"/api/sessions/{session_id}", [{"title": "x"}]),
        ("PATCH", f"/api/sessions/{session_id}", 3),
        ("POST", "/api/sessions", {"pinned": True}),
        ("POST", "/api/sessions", {"title": ["x"]}),
        ("POST", "/api/sessions", []),
    ]
    for method, url, body in cases:
        response = client.request(method, url, content=json.dumps(body), headers=JSON_HEADERS)
        assert_error(response, 422, "invalid_request")
    assert snapshot(client) == before


def test_i9_patch_refuses_bad_values_and_changes_nothing(client):
    session_id = new_session(client, title="Stays")["id"]
    before = snapshot(client)
    for body in [
        {"title": None},
        {"title": ""},
        {"title": "x" * 201},
        {"pinned": None},
        {"archived": None},
        {"runtime": "no-such-runtime"},
        {"workspace": "relative"},
        {"model": "   "},
        {"title": "valid", "pinned": None},  # one bad field refuses the whole change
    ]:
        assert_error(client.patch(f"/api/sessions/{session_id}", json=body), 400)
    assert snapshot(client) == before


def test_i9_message_over_the_size_limit_is_413(make_server):
    server = make_server(HESTIA_MAX_MESSAGE_BYTES="1000")
    with server.client() as client:
        session_id = new_session(client)["id"]
        send_and_wait(client, session_id, "hello")
        before = snapshot(client)
        url = f"/api/sessions/{session_id}/messages"
        for content in ["x" * 1001, "é" * 501]:  # 501 characters are 1,002 bytes
            response = client.post(url, json={"content": content})
            assert_error(response, 413, "message_too_large")
            response = client.post(f"{url}/1/edit", json={"content": content})
            assert_error(response, 413, "message_too_large")
        huge = json.dumps({"content": "x" * 200_000}).encode()
        assert_error(client.post(url, content=huge, headers=JSON_HEADERS), 413)

        def chunks():
            for _ in range(200):
                yield b"x" * 1000

        # Without a Content-Length, the limit holds while the body streams in.
        response = client.post(url, content=chunks(), headers=JSON_HEADERS)
        assert_error(response, 413)
        response = client.post("/api/sessions", content=huge, headers=JSON_HEADERS)
        assert_error(response, 413)
        assert snapshot(client) == before
        # Exactly at the limit is fine.
        send_and_wait(client, session_id, "x" * 1000)


def test_i9_empty_content_is_400(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "hello")
    before = snapshot(client)
    for content in ["", " ", "\n\t  \r\n"]:
        response = client.post(f"/api/sessions/{session_id}/messages", json={"content": content})
        assert_error(response, 400, "empty_message")
        response = client.post(
            f"/api/sessions/{session_id}/messages/1/edit", json={"content": content}
        )
        assert_error(response, 400, "empty_message")
    assert snapshot(client) == before


def test_i9_text_no_database_can_store_is_refused(client):
    """Lone surrogates and NUL are refused everywhere (PostgreSQL cannot hold or compare NUL)."""
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "hello")
    before = snapshot(client)
    messages = f"/api/sessions/{session_id}/messages"
    for method, url, raw in [
        ("POST", messages, b'{"content": "a\\ud800b"}'),
        ("POST", messages, b'{"content": "a\\u0000b"}'),
        ("POST", messages, b'{"content": "x", "client_message_id": "\\u0000"}'),
        ("POST", messages, b'{"content": "x", "model": "m\\u0000"}'),
        ("POST", f"{messages}/1/edit", b'{"content": "\\udfff"}'),
        ("POST", f"{messages}/1/edit", b'{"content": "\\u0000"}'),
        ("POST", "/api/sessions", b'{"title": "\\ud800"}'),
        ("POST", "/api/sessions", b'{"title": "a\\u0000"}'),
        ("PATCH", f"/api/sessions/{session_id}", b'{"title": "\\ud800"}'),
        ("PATCH", f"/api/sessions/{session_id}", b'{"model": "\\ud800"}'),
        ("PATCH", f"/api/sessions/{session_id}", b'{"model": "\\u0000"}'),
    ]:
        response = client.request(method, url, content=raw, headers=JSON_HEADERS)
        assert_error(response, 422, "invalid_request")
    for url in [
        f"/api/sessions/{session_id}%00",
        "/api/runs/%00/cancel",
        "/api/sessions?q=a%00b",
        f"/api/sessions/{session_id}?limit=%00",
    ]:
        assert_error(client.get(url), 400, "invalid_url")
    assert_error(client.post("/api/runs/%00/cancel"), 400, "invalid_url")
    cursor = cursor_of([False, "2024-01-01T00:00:00+00:00", "a\x00"])
    assert_error(client.get("/api/sessions", params={"cursor": cursor}), 400, "invalid_cursor")
    assert snapshot(client) == before


def test_i9_unknown_route_is_404_and_wrong_method_405(client):
    session_id = new_session(client)["id"]
    before = snapshot(client)
    for url in ["/nope", "/api/nope", f"/api/sessions/{session_id}/nope", "/api/runs"]:
        assert_error(client.get(url), 404)
        assert_error(client.post(url, json={}), 404)
    for method, url in [
        ("PUT", "/api/sessions"),
        ("DELETE", "/api/sessions"),
        ("PUT", f"/api/sessions/{session_id}"),
        ("GET", f"/api/sessions/{session_id}/retry"),
        ("GET", f"/api/sessions/{session_id}/restore"),
        ("DELETE", f"/api/runs/{BOGUS_ID}"),
        ("GET", f"/api/runs/{BOGUS_ID}/cancel"),
        ("POST", "/health"),
    ]:
        assert_error(client.request(method, url), 405, "method_not_allowed")
    assert snapshot(client) == before


def test_i9_edit_of_a_non_user_message_is_400(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "hello")
    send_and_wait(client, session_id, "again")
    response = client.post(f"/api/sessions/{session_id}/retry")
    wait_for_run(client, response.json()["run"]["id"])  # seq 4 is now superseded
    before = snapshot(client)
    for seq in (2, 5):
        response = client.post(
            f"/api/sessions/{session_id}/messages/{seq}/edit", json={"content": "x"}
        )
        assert_error(response, 400, "not_user_message")
    response = client.post(f"/api/sessions/{session_id}/messages/4/edit", json={"content": "x"})
    assert_error(response, 404, "message_not_found")
    assert snapshot(client) == before


def test_i9_retry_with_nothing_to_answer_is_409(client):
    session_id = new_session(client)["id"]
    before = snapshot(client)
    assert_error(client.post(f"/api/sessions/{session_id}/retry"), 409, "nothing_to_retry")
    assert snapshot(client) == before


def test_i9_edit_and_retry_while_a_run_is_active_are_409(client):
    session_id = new_session(client)["id"]
    send_and_wait(client, session_id, "hello")
    run = send(client, session_id, f"slow {SLOW}")
    wait_for_streamed_text(client, session_id)

    def shape() -> tuple[Any, ...]:
        read = get_session(client, session_id, include_superseded="true", limit=1000)
        runs = client.get(f"/api/sessions/{session_id}/runs").json()["runs"]
        session = read["session"]
        return (
            [(m["id"], m["seq"], m["role"], m["superseded"]) for m in read["messages"]],
            [(r["id"], r["kind"]) for r in runs],
            session["title"],
            session["message_count"],
            session["active_run_id"],
        )

    before = shape()
    assert before[-1] == run["id"]
    for seq in (1, 3):
        response = client.post(
            f"/api/sessions/{session_id}/messages/{seq}/edit", json={"content": "changed"}
        )
        assert_error(response, 409, "run_active")
    assert_error(client.post(f"/api/sessions/{session_id}/retry"), 409, "run_active")
    assert shape() == before
    response = client.post(f"/api/runs/{run['id']}/cancel")
    assert response.status_code == 202, response.text
    assert wait_for_run(client, run["id"])["status"] == "cancelled"
