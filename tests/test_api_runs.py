"""Runs over real HTTP against a real `hestia serve`: events (I3, I4), queueing (I5),
idempotent sends (I8), cancel, edit and retry (I7), run listings and the models route.

Most tests share one server process (each test works in its own session); tests that need
other settings start their own with `make_server`.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api_helpers import (
    as_tuples,
    assert_clean_log,
    assert_error,
    deltas,
    directive,
    get_run,
    new_session,
    parse_time,
    send,
    shared_server_fixtures,
    transcript,
    wait_until,
)
from tests.conftest import server_env
from tests.fake_provider import FakeProvider
from tests.server import Event, HestiaServer, free_port, parse_sse, read_events, wait_for_run

server, _clean_server_log = shared_server_fixtures("api-runs")


def post_together(
    server: HestiaServer, requests: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    """POST every (path, body) from its own thread and connection, released at once."""
    barrier = threading.Barrier(len(requests))

    def post(path: str, body: dict[str, Any]) -> httpx.Response:
        with server.client() as http:
            http.get("/health")  # connect before the barrier
            barrier.wait(timeout=10)
            return http.post(path, json=body)

    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(post, path, body) for path, body in requests]
        return [f.result(timeout=30) for f in futures]


def user_assistant_pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs of a transcript that alternates user, assistant."""
    assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
    return [
        (messages[i]["content"], messages[i + 1]["content"]) for i in range(0, len(messages), 2)
    ]


def assert_seqs_increase(messages: list[dict[str, Any]]) -> None:
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(set(seqs)), seqs


# -- I3: gapless, replayable events ----------------------------------------------------------


def test_i3_reconnect_with_last_event_id_is_gapless(client):
    session_id = new_session(client)
    run = send(client, session_id, directive("slow", tokens=80, delay=0.02))

    first = read_events(client, run["id"], stop_after=3)
    second = read_events(client, run["id"], last_event_id=first[-1].id, stop_after=10)
    # The reconnect happened while the run was live.
    assert get_run(client, run["id"])["status"] == "running"
    third = read_events(client, run["id"], after=second[-1].id, stop_after=10)
    rest = read_events(client, run["id"], last_event_id=third[-1].id)

    received = first + second + third + rest
    assert [e.id for e in received] == list(range(1, len(received) + 1))
    assert received[0].type == "run.started"
    assert received[-1].type == "run.completed"
    assert [e.type for e in received].count("run.completed") == 1

    full = read_events(client, run["id"], after=0)
    assert as_tuples(full) == as_tuples(received)
    assert as_tuples(read_events(client, run["id"])) == as_tuples(full)
    assert get_run(client, run["id"])["last_event_id"] == full[-1].id

    # A finished run replays the same events, by header or by query, as often as asked.
    for n in (1, 2, len(full) // 2, len(full) - 1):
        by_header = read_events(client, run["id"], last_event_id=n)
        by_query = read_events(client, run["id"], after=n)
        assert as_tuples(by_header) == as_tuples(by_query) == as_tuples(full[n:])
    assert as_tuples(read_events(client, run["id"], after=0)) == as_tuples(full)


def test_i3_header_wins_over_query(client):
    session_id = new_session(client)
    run = send(client, session_id, directive("q", tokens=8))
    full = read_events(client, run["id"])
    response_events = []
    with client.stream(
        "GET",
        f"/api/runs/{run['id']}/events",
        params={"after": "6"},
        headers={"Last-Event-ID": "2"},
    ) as response:
        assert response.status_code == 200
        response_events = [e for e in parse_sse(response.iter_lines()) if isinstance(e, Event)]
    assert as_tuples(response_events) == as_tuples(full[2:])


def test_i3_another_server_process_replays_and_tails_the_same_events(server, client, fake):
    """Two processes on one database: the one that does not own the run tails it by polling."""
    other = HestiaServer(data_dir=server.data_dir, env=server_env(fake)).start()
    try:
        session_id = new_session(client)
        run = send(client, session_id, directive("slow", tokens=40, delay=0.02))
        with other.client() as elsewhere:
            start = read_events(client, run["id"], stop_after=4)
            assert get_run(elsewhere, run["id"])["status"] == "running"
            tail = read_events(elsewhere, run["id"], last_event_id=start[-1].id)
            received = start + tail
            assert [e.id for e in received] == list(range(1, len(received) + 1))
            assert received[-1].type == "run.completed"
            assert as_tuples(read_events(elsewhere, run["id"])) == as_tuples(
                read_events(client, run["id"])
            )
            assert as_tuples(received) == as_tuples(read_events(client, run["id"]))
        assert_clean_log(other.log())
    finally:
        other.stop()


BAD_EVENT_IDS = ["-1", "abc", "1.5", "", " ", "1e3", "0x10", "+1", str(2**31), "9" * 40]


@pytest.mark.parametrize("value", BAD_EVENT_IDS)
def test_bad_last_event_id_is_a_400(client, value):
    session_id = new_session(client)
    run = send(client, session_id, directive("q", tokens=2))
    path = f"/api/runs/{run['id']}/events"
    if value == value.strip():  # HTTP clients refuse to send header values with outer spaces
        response = client.get(path, headers={"Last-Event-ID": value})
        assert_error(response, 400, "invalid_last_event_id")
    assert_error(client.get(path, params={"after": value}), 400, "invalid_last_event_id")
    wait_for_run(client, run["id"])


@pytest.mark.parametrize("value", ["²", "١٢", "1٢"])
def test_non_ascii_digits_in_after_are_a_400(client, value):
    """`str.isdigit` accepts '²' (and int('²') then raises): these must be a 400, not a 500."""
    session_id = new_session(client)
    run = send(client, session_id, directive("q", tokens=2))
    wait_for_run(client, run["id"])
    response = client.get(f"/api/runs/{run['id']}/events", params={"after": value})
    assert_error(response, 400, "invalid_last_event_id")
    response = client.get(
        f"/api/runs/{run['id']}/events", headers={"Last-Event-ID": value.encode("utf-8")}
    )
    assert_error(response, 400, "invalid_last_event_id")


def test_reconnecting_after_the_end_closes_promptly(client):
    session_id = new_session(client)
    run = send(client, session_id, directive("q", tokens=3))
    full = read_events(client, run["id"])
    for after in (full[-1].id, full[-1].id + 5):
        started = time.monotonic()
        events = read_events(client, run["id"], after=after, timeout=5)
        assert time.monotonic() - started < 3
        # Nothing new; at most the terminal event again, so a client learns the run is over.
        assert all(as_tuples([e]) == as_tuples(full[-1:]) for e in events), events


def test_events_of_an_unknown_run_are_a_404(client):
    assert_error(client.get("/api/runs/nope/events"), 404, "run_not_found")
    assert_error(
        client.get("/api/runs/nope/events", headers={"Last-Event-ID": "3"}), 404, "run_not_found"
    )
    assert_error(client.get("/api/runs/nope"), 404, "run_not_found")
    assert_error(client.post("/api/runs/nope/cancel"), 404, "run_not_found")


def test_keep_alive_comments_before_the_first_token_and_close_after_the_end(make_server):
    server = make_server(HESTIA_SSE_PING_SECONDS="0.2")
    with server.client() as client:
        session_id = new_session(client)
        run = send(client, session_id, directive("wait", tokens=3, first_delay=1.0))
        items: list[Event | str] = []
        with client.stream("GET", f"/api/runs/{run['id']}/events", timeout=10) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            items = list(parse_sse(response.iter_lines()))  # ends only when the server closes
        events = [i for i in items if isinstance(i, Event)]
        first_delta = next(
            n for n, i in enumerate(items) if isinstance(i, Event) and i.type == "message.delta"
        )
        comments = [i for i in items[:first_delta] if isinstance(i, str)]
        assert len(comments) >= 2, items
        assert all(c.startswith(":") for c in comments)
        assert events[-1].type == "run.completed"
        assert not any(isinstance(i, Event) for i in items[items.index(events[-1]) + 1 :])
        assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert_clean_log(server.log())


# -- I4: deltas add up -----------------------------------------------------------------------

TRICKY_REPLY = "Grüße,  世界!\n\n  tabs\tand 🎉 emoji  \r\n```py\nprint('x')\n```\n  "


@pytest.mark.parametrize(
    "script",
    [
        {"reply": TRICKY_REPLY, "reasoning": "thinking about it", "delay": 0.002},
        {"tokens": 150, "delay": 0.005},  # several 250 ms flushes
    ],
    ids=["tricky-text", "many-flushes"],
)
def test_i4_deltas_add_up_to_the_final_message(client, script):
    session_id = new_session(client)
    run = send(client, session_id, directive("say it", **script))
    live = read_events(client, run["id"])
    expected = script.get("reply") or "".join(f"w{i} " for i in range(script.get("tokens", 0)))

    assert deltas(live) == expected
    completed = next(e for e in live if e.type == "message.completed")
    assert completed.data["message"]["content"] == expected
    assert completed.data["message"]["status"] == "complete"
    messages = transcript(client, session_id)
    assert messages[1]["content"] == expected
    assert messages[1]["id"] == completed.data["message"]["id"]
    assert deltas(read_events(client, run["id"], after=0)) == expected
    if "reasoning" in script:
        reasoning = "".join(e.data["text"] for e in live if e.type == "reasoning.delta")
        assert reasoning == script["reasoning"]
        assert script["reasoning"] not in messages[1]["content"]


@pytest.mark.parametrize(
    ("script", "status"),
    [({"tokens": 12}, "completed"), ({"tokens": 12, "fail": "break", "fail_after": 7}, "failed")],
)
def test_a_run_is_stored_finished_before_its_terminal_event_is_sent(server, client, script, status):
    """A client that reacts to the terminal event by reading the run finds it finished.

    (The race this guards against is narrow, so it is tried a few times.)
    """
    for _ in range(5):
        session_id = new_session(client)
        run = send(client, session_id, directive("go", **script))
        path = f"/api/runs/{run['id']}/events"
        with server.client() as reader, reader.stream("GET", path) as live:
            events: list[Event] = []
            for item in parse_sse(live.iter_lines()):
                if not isinstance(item, Event):
                    continue
                events.append(item)
                if item.type.startswith("run.") and item.type != "run.started":
                    # Still connected: look at the stored state right now.
                    assert item.type == f"run.{status}"
                    assistant = transcript(client, session_id)[1]
                    assert assistant["content"] == deltas(events)
                    assert assistant["status"] == ("complete" if status == "completed" else "error")
                    stored = get_run(client, run["id"])
                    assert stored["status"] == status
                    assert stored["last_event_id"] == item.id
                    break
            else:
                raise AssertionError(f"no terminal event: {events}")


def test_i2_a_streaming_answer_shows_its_stored_text_while_it_streams(client):
    """While it streams, the answer's row holds no text; reads rebuild it from the stored
    deltas, so the session and its export show what was streamed so far."""
    session_id = new_session(client)
    run = send(client, session_id, directive("slow", tokens=400, delay=0.02))

    def streaming_answer() -> dict[str, Any] | None:
        answer = transcript(client, session_id)[1]
        return answer if answer["status"] == "streaming" and answer["content"] else None

    seen = wait_until(streaming_answer, what="the streaming answer's stored text")
    live_run = get_run(client, run["id"])
    export = client.get(f"/api/sessions/{session_id}/export", params={"format": "json"})
    exported = export.json()["messages"][1]
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 202
    assert wait_for_run(client, run["id"])["status"] == "cancelled"

    events = read_events(client, run["id"])
    streamed = deltas(events)
    final = transcript(client, session_id)[1]
    # A running run's last_event_id is its newest stored event (run.started, then deltas).
    assert live_run["status"] != "running" or 2 <= live_run["last_event_id"] < events[-1].id
    assert final["content"] == streamed and final["status"] == "cancelled"
    assert streamed.startswith(seen["content"]) and seen["content"].startswith("w0 w1 ")
    if exported["status"] == "streaming":
        assert streamed.startswith(exported["content"]) and exported["content"]
    else:  # it ended in between
        assert exported["content"] == streamed


# -- I5: one run at a time per session --------------------------------------------------------


def test_i5_concurrent_sends_queue_in_order(server, client, fake):
    session_id = new_session(client)
    path = f"/api/sessions/{session_id}/messages"
    questions = {
        "A": directive("question A", reply="answer A one two", first_delay=0.5),
        "B": directive("question B", reply="answer B three four", first_delay=0.5),
    }
    responses = post_together(server, [(path, {"content": q}) for q in questions.values()])
    assert [r.status_code for r in responses] == [202, 202], [r.text for r in responses]
    runs = [r.json()["run"] for r in responses]
    assert sorted(r["status"] for r in runs) == ["queued", "running"]
    queued = next(r for r in runs if r["status"] == "queued")
    assert queued["started_at"] is None
    # Following a run that has not started yet gives all of its events once it runs (I3).
    queued_events = read_events(client, queued["id"])
    assert [e.id for e in queued_events] == list(range(1, len(queued_events) + 1))
    assert queued_events[0].type == "run.started"
    assert queued_events[-1].type == "run.completed"

    finished = [wait_for_run(client, r["id"]) for r in runs]
    assert [r["status"] for r in finished] == ["completed", "completed"]
    first, second = sorted(finished, key=lambda r: r["started_at"])
    assert second["id"] == queued["id"]
    assert parse_time(second["started_at"]) >= parse_time(first["finished_at"])

    messages = transcript(client, session_id)
    assert_seqs_increase(messages)
    answers = {
        q: f"answer {k} " + ("one two" if k == "A" else "three four") for k, q in questions.items()
    }
    pairs = user_assistant_pairs(messages)
    assert len(pairs) == 2
    for question, answer in pairs:
        assert answers[question] == answer
    assert messages[0]["run_id"] == messages[1]["run_id"] == first["id"]
    assert messages[2]["run_id"] == messages[3]["run_id"] == second["id"]
    # The second answer was asked with the whole first turn as history.
    sent = [(m["role"], m["content"]) for m in fake.requests[-1]["messages"]]
    assert sent == [("user", pairs[0][0]), ("assistant", pairs[0][1]), ("user", pairs[1][0])]


def test_i5_a_burst_of_sends_runs_one_at_a_time_in_order(server, client):
    session_id = new_session(client)
    path = f"/api/sessions/{session_id}/messages"
    contents = [directive(f"question {n}", reply=f"answer {n}", first_delay=0.3) for n in range(5)]
    responses = post_together(server, [(path, {"content": c}) for c in contents])
    assert all(r.status_code == 202 for r in responses), [r.text for r in responses]
    runs = [r.json()["run"] for r in responses]
    assert sorted(r["status"] for r in runs) == ["queued"] * 4 + ["running"]

    finished = [wait_for_run(client, r["id"]) for r in runs]
    assert all(r["status"] == "completed" for r in finished)
    listed = client.get(f"/api/sessions/{session_id}/runs").json()["runs"]
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in runs)
    # Queued runs start in the order they were created, and never overlap.
    by_start = sorted(finished, key=lambda r: r["started_at"])
    assert [r["id"] for r in by_start] == [r["id"] for r in listed]
    for earlier, later in zip(by_start, by_start[1:], strict=False):
        assert parse_time(later["started_at"]) >= parse_time(earlier["finished_at"])

    messages = transcript(client, session_id)
    assert_seqs_increase(messages)
    pairs = user_assistant_pairs(messages)
    assert len(pairs) == 5
    for question, answer in pairs:
        n = question.split()[1]
        assert answer == f"answer {n}", (question, answer)
    assert [p[0] for p in pairs] == [r["input"]["content"] for r in by_start]
    session = client.get(f"/api/sessions/{session_id}").json()["session"]
    assert session["message_count"] == 10
    assert session["active_run_id"] is None


# -- I8: idempotent sends ---------------------------------------------------------------------


def test_i8_repeated_client_message_id_creates_nothing(server, client, fake):
    session_id = new_session(client)
    content = directive("once", reply="only once")
    run = send(client, session_id, content, client_message_id="msg-1")
    wait_for_run(client, run["id"])
    before = transcript(client, session_id)
    requests_before = fake.total_requests

    again = send(client, session_id, content, client_message_id="msg-1")
    assert again["id"] == run["id"]
    assert again["status"] == "completed"
    different = send(client, session_id, "other text", client_message_id="msg-1")
    assert different["id"] == run["id"]
    assert transcript(client, session_id) == before
    assert len(before) == 2
    assert client.get(f"/api/sessions/{session_id}").json()["session"]["message_count"] == 2
    assert len(client.get(f"/api/sessions/{session_id}/runs").json()["runs"]) == 1
    assert fake.total_requests == requests_before

    # The id is scoped to its session.
    elsewhere = new_session(client)
    other = send(client, elsewhere, content, client_message_id="msg-1")
    assert other["id"] != run["id"]
    wait_for_run(client, other["id"])

    # Sent by several tabs at once: one run, one user message.
    racing = new_session(client)
    path = f"/api/sessions/{racing}/messages"
    body = {"content": directive("race", reply="raced", first_delay=0.2), "client_message_id": "m"}
    responses = post_together(server, [(path, body)] * 4)
    assert [r.status_code for r in responses] == [202] * 4, [r.text for r in responses]
    run_ids = {r.json()["run"]["id"] for r in responses}
    assert len(run_ids) == 1
    wait_for_run(client, run_ids.pop())
    messages = transcript(client, racing)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", body["content"]),
        ("assistant", "raced"),
    ]
    assert len(client.get(f"/api/sessions/{racing}/runs").json()["runs"]) == 1


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_a_running_run_keeps_the_partial_answer(server, client, fake):
    session_id = new_session(client)
    full_reply = "".join(f"w{i} " for i in range(300))
    run = send(client, session_id, directive("long", tokens=300, delay=0.01))
    seen = read_events(client, run["id"], stop_after=6)
    assert [e.type for e in seen[1:]] == ["message.delta"] * 5
    assert fake.active_streams == 1

    with ThreadPoolExecutor(1) as pool:
        follower = pool.submit(read_events, client, run["id"], last_event_id=seen[-1].id)
        response = client.post(f"/api/runs/{run['id']}/cancel")
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["id"] == run["id"]
        assert body["status"] == "cancelled" or body["cancel_requested"] is True
        rest = follower.result(timeout=15)

    final = wait_for_run(client, run["id"])
    assert final["status"] == "cancelled"
    assert final["error"] is None
    received = seen + rest
    assert [e.id for e in received] == list(range(1, len(received) + 1))
    assert [e.type for e in received[-2:]] == ["message.completed", "run.cancelled"]
    assert as_tuples(received) == as_tuples(read_events(client, run["id"]))

    messages = transcript(client, session_id)
    assistant = messages[1]
    assert assistant["status"] == "cancelled"
    assert assistant["content"] == deltas(received)
    assert assistant["content"] and full_reply.startswith(assistant["content"])
    assert len(assistant["content"]) < len(full_reply)
    assert received[-2].data["message"]["content"] == assistant["content"]
    assert fake.wait_idle(), "the provider stream was not closed"

    # Cancelling again, or a finished run, changes nothing.
    again = client.post(f"/api/runs/{run['id']}/cancel")
    assert again.status_code == 202
    assert again.json()["status"] == "cancelled"
    assert as_tuples(read_events(client, run["id"])) == as_tuples(received)

    # The session goes on.
    after = send(client, session_id, directive("next", reply="fine"))
    assert wait_for_run(client, after["id"])["status"] == "completed"
    assert transcript(client, session_id)[-1]["content"] == "fine"


def test_cancel_while_waiting_for_the_first_token(client, fake):
    session_id = new_session(client)
    run = send(client, session_id, directive("slow start", tokens=3, first_delay=30))
    wait_until(lambda: fake.active_streams == 1, what="the provider request")
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 202
    assert wait_for_run(client, run["id"], timeout=10)["status"] == "cancelled"
    events = read_events(client, run["id"])
    assert [e.type for e in events] == ["run.started", "message.completed", "run.cancelled"]
    messages = transcript(client, session_id)
    assert [(m["role"], m["status"], m["content"]) for m in messages[1:]] == [
        ("assistant", "cancelled", "")
    ]
    assert fake.wait_idle()


def test_cancel_a_queued_run_it_never_starts_and_the_next_one_runs(client, fake):
    session_id = new_session(client)
    a = send(client, session_id, directive("question A", reply="answer A", first_delay=0.6))
    b = send(client, session_id, directive("question B", reply="answer B"))
    c = send(client, session_id, directive("question C", reply="answer C"))
    assert [r["status"] for r in (a, b, c)] == ["running", "queued", "queued"]

    response = client.post(f"/api/runs/{b['id']}/cancel")
    assert response.status_code == 202
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["started_at"] is None
    assert cancelled["finished_at"] is not None

    active = client.get(f"/api/sessions/{session_id}/runs", params={"active": "true"}).json()
    assert [r["id"] for r in active["runs"]] == [a["id"], c["id"]]
    assert wait_for_run(client, a["id"])["status"] == "completed"
    assert wait_for_run(client, c["id"])["status"] == "completed"
    b_after = get_run(client, b["id"])
    assert b_after["status"] == "cancelled" and b_after["started_at"] is None

    events = read_events(client, b["id"])
    assert [(e.id, e.type) for e in events] == [(1, "run.cancelled")]
    messages = transcript(client, session_id, include_superseded=True)
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", a["input"]["content"]),
        ("assistant", "answer A"),
        ("user", c["input"]["content"]),
        ("assistant", "answer C"),
    ]
    sent = json.dumps(fake.requests)
    assert "question B" not in sent
    assert len(fake.requests) == 2

    # Cancelling it again, or cancelling a finished run, is harmless.
    snapshot = (get_run(client, a["id"]), as_tuples(read_events(client, a["id"])))
    for run_id in (a["id"], b["id"]):
        response = client.post(f"/api/runs/{run_id}/cancel")
        assert response.status_code == 202
    assert (get_run(client, a["id"]), as_tuples(read_events(client, a["id"]))) == snapshot
    assert get_run(client, b["id"])["status"] == "cancelled"
    assert transcript(client, session_id, include_superseded=True) == messages


# -- I7: edit and retry -----------------------------------------------------------------------


def live_pairs(client: httpx.Client, session_id: str) -> list[tuple[str, str, str]]:
    return [(m["role"], m["content"], m["status"]) for m in transcript(client, session_id)]


def sent_history(fake: FakeProvider) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in fake.requests[-1]["messages"]]


def test_i7_edit_supersedes_and_answers_again(client, fake):
    session_id = new_session(client)
    q1 = directive("first question", reply="first answer")
    q2 = directive("second question", reply="second answer")
    wait_for_run(client, send(client, session_id, q1)["id"])
    wait_for_run(client, send(client, session_id, q2)["id"])
    original = transcript(client, session_id)
    assert [m["seq"] for m in original] == [1, 2, 3, 4]

    q2_edited = directive("second question, edited", reply="edited answer")
    response = client.post(
        f"/api/sessions/{session_id}/messages/3/edit", json={"content": q2_edited}
    )
    assert response.status_code == 202, response.text
    run = response.json()["run"]
    assert run["input"]["content"] == q2_edited
    assert wait_for_run(client, run["id"])["status"] == "completed"

    assert live_pairs(client, session_id) == [
        ("user", q1, "complete"),
        ("assistant", "first answer", "complete"),
        ("user", q2_edited, "complete"),
        ("assistant", "edited answer", "complete"),
    ]
    everything = transcript(client, session_id, include_superseded=True)
    assert [(m["content"], m["superseded"]) for m in everything] == [
        (q1, False),
        ("first answer", False),
        (q2, True),
        ("second answer", True),
        (q2_edited, False),
        ("edited answer", False),
    ]
    assert [m["id"] for m in everything[:4]] == [m["id"] for m in original]
    assert_seqs_increase(everything)
    assert sent_history(fake) == [("user", q1), ("assistant", "first answer"), ("user", q2_edited)]
    session = client.get(f"/api/sessions/{session_id}").json()["session"]
    assert session["message_count"] == 4

    # Editing the first message replaces the whole conversation (and the automatic title).
    q1_edited = directive("a new start", reply="new answer")
    response = client.post(
        f"/api/sessions/{session_id}/messages/1/edit", json={"content": q1_edited}
    )
    assert response.status_code == 202, response.text
    wait_for_run(client, response.json()["run"]["id"])
    assert live_pairs(client, session_id) == [
        ("user", q1_edited, "complete"),
        ("assistant", "new answer", "complete"),
    ]
    assert sent_history(fake) == [("user", q1_edited)]
    assert len(transcript(client, session_id, include_superseded=True)) == 8
    session = client.get(f"/api/sessions/{session_id}").json()["session"]
    assert session["message_count"] == 2
    assert session["title"].startswith("a new start")

    # Superseded or foreign messages cannot be edited; nothing changes.
    before = transcript(client, session_id, include_superseded=True)
    edit = f"/api/sessions/{session_id}/messages/{{}}/edit"
    assert_error(client.post(edit.format(3), json={"content": "x"}), 404, "message_not_found")
    assert_error(client.post(edit.format(99), json={"content": "x"}), 404, "message_not_found")
    assert_error(client.post(edit.format(8), json={"content": "x"}), 400, "not_user_message")
    assert_error(client.post(edit.format(7), json={"content": "  "}), 400, "empty_message")
    assert transcript(client, session_id, include_superseded=True) == before


def test_i7_retry_keeps_the_old_answer(client, fake):
    session_id = new_session(client)
    assert_error(client.post(f"/api/sessions/{session_id}/retry"), 409, "nothing_to_retry")
    fake.set_default(reply="the first answer")
    wait_for_run(client, send(client, session_id, "a plain question")["id"])
    original = transcript(client, session_id)

    fake.set_default(reply="the second answer")
    response = client.post(f"/api/sessions/{session_id}/retry")
    assert response.status_code == 202, response.text
    run = response.json()["run"]
    assert run["input"]["content"] == "a plain question"
    assert wait_for_run(client, run["id"])["status"] == "completed"

    assert live_pairs(client, session_id) == [
        ("user", "a plain question", "complete"),
        ("assistant", "the second answer", "complete"),
    ]
    everything = transcript(client, session_id, include_superseded=True)
    assert [(m["role"], m["content"], m["superseded"]) for m in everything] == [
        ("user", "a plain question", False),
        ("assistant", "the first answer", True),
        ("assistant", "the second answer", False),
    ]
    assert everything[0]["id"] == original[0]["id"]  # the question is not copied
    assert everything[1]["id"] == original[1]["id"]
    assert_seqs_increase(everything)
    assert sent_history(fake) == [("user", "a plain question")]
    assert client.get(f"/api/sessions/{session_id}").json()["session"]["message_count"] == 2


@pytest.mark.parametrize("action", ["edit", "retry"])
def test_i7_edit_or_retry_while_a_run_is_active_is_a_409(client, fake, action):
    session_id = new_session(client)
    wait_for_run(client, send(client, session_id, directive("q", reply="a"))["id"])
    running = send(client, session_id, directive("slow", tokens=3, first_delay=30))
    queued = send(client, session_id, directive("later", tokens=3, first_delay=30))
    assert queued["status"] == "queued"

    def attempt() -> httpx.Response:
        if action == "edit":
            return client.post(
                f"/api/sessions/{session_id}/messages/1/edit", json={"content": "changed"}
            )
        return client.post(f"/api/sessions/{session_id}/retry")

    before = transcript(client, session_id, include_superseded=True)
    assert_error(attempt(), 409, "run_active")
    assert transcript(client, session_id, include_superseded=True) == before
    client.post(f"/api/runs/{running['id']}/cancel")
    wait_for_run(client, running["id"])
    # Still refused while the queued one runs; allowed once nothing is active.
    wait_until(lambda: get_run(client, queued["id"])["status"] == "running", what="the next run")
    assert_error(attempt(), 409, "run_active")
    client.post(f"/api/runs/{queued['id']}/cancel")
    wait_for_run(client, queued["id"])
    response = attempt()
    assert response.status_code == 202, response.text
    wait_for_run(client, response.json()["run"]["id"])
    assert len(client.get(f"/api/sessions/{session_id}/runs").json()["runs"]) == 4


# -- run listings and the Run object ----------------------------------------------------------

RUN_FIELDS = {
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


def test_active_runs_and_run_fields(client):
    session_id = new_session(client)
    assert_error(client.get("/api/sessions/nope/runs"), 404, "session_not_found")

    def active() -> list[dict[str, Any]]:
        response = client.get(f"/api/sessions/{session_id}/runs", params={"active": "true"})
        assert response.status_code == 200, response.text
        return response.json()["runs"]

    assert active() == []
    content = directive("list me", tokens=5, first_delay=0.6)
    a = send(client, session_id, content)
    b = send(client, session_id, directive("then me", reply="ok"))
    assert [(r["id"], r["status"]) for r in active()] == [(a["id"], "running"), (b["id"], "queued")]
    assert client.get(f"/api/sessions/{session_id}").json()["session"]["active_run_id"] == a["id"]

    running = get_run(client, a["id"])
    assert RUN_FIELDS <= set(running)
    assert running["session_id"] == session_id
    assert running["input"] == {"content": content}
    assert running["finished_at"] is None and running["error"] is None
    assert parse_time(running["created_at"]) <= parse_time(running["started_at"])

    events = read_events(client, a["id"])
    wait_for_run(client, b["id"])
    assert active() == []
    assert client.get(f"/api/sessions/{session_id}").json()["session"]["active_run_id"] is None
    every = client.get(f"/api/sessions/{session_id}/runs").json()["runs"]
    assert [(r["id"], r["status"]) for r in every] == [
        (a["id"], "completed"),
        (b["id"], "completed"),
    ]

    done = get_run(client, a["id"])
    assert RUN_FIELDS <= set(done)
    assert done == every[0]
    assert done["status"] == "completed" and done["error"] is None
    assert done["last_event_id"] == events[-1].id
    assert (
        parse_time(done["created_at"])
        <= parse_time(done["started_at"])
        <= parse_time(done["finished_at"])
    )
    messages = transcript(client, session_id)
    assert messages[1]["run_id"] == a["id"]


# -- models -----------------------------------------------------------------------------------


def test_models_lists_the_providers_models(client):
    response = client.get("/api/models")
    assert response.status_code == 200
    body = response.json()
    assert {"fake-model", "fake-model-large"} <= {m["id"] for m in body["models"]}
    assert body["default_model"] == "fake-model"
    assert body["providers"][0]["ok"] is True
    assert body["providers"][0]["error"] is None


def test_models_with_an_unreachable_provider_says_why(make_server):
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    server = make_server(HESTIA_OPENAI_BASE_URL=base_url)
    with server.client() as client:
        response = client.get("/api/models")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["models"] == []
        provider = body["providers"][0]
        assert provider["ok"] is False
        assert provider["error"]["code"] == "provider_unreachable"
        assert "connect" in provider["error"]["message"].lower()
        assert base_url in provider["error"]["message"]
