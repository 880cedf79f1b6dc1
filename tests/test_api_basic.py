"""Smoke test of the whole path: create a session, send, stream, read back."""

from tests.server import read_events, wait_for_run


def test_send_streams_and_stores_the_answer(client, fake):
    session = client.post("/api/sessions", json={}).json()
    response = client.post(
        f"/api/sessions/{session['id']}/messages", json={"content": 'hello #fake {"tokens": 20}'}
    )
    assert response.status_code == 202
    run = response.json()["run"]
    events = read_events(client, run["id"])
    assert [e.type for e in events][0] == "run.started"
    assert events[-1].type == "run.completed"
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    text = "".join(e.data["text"] for e in events if e.type == "message.delta")
    assert text == "".join(f"w{i} " for i in range(20))
    assert wait_for_run(client, run["id"])["status"] == "completed"
    body = client.get(f"/api/sessions/{session['id']}").json()
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert body["messages"][1]["content"] == text
    assert body["messages"][1]["status"] == "complete"
    assert body["session"]["title"].startswith("hello")
