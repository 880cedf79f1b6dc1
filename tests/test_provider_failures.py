"""Every way a model provider fails, over real HTTP against a real `hestia serve`.

Each failure ends the run `failed` with a stable `error.code` and a sentence a person can act
on; the SSE stream ends with `run.failed` carrying that error; text already streamed stays in
the assistant message (status `error`); and the session stays usable: the next send completes
and still sends the failed question as history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api_helpers import (
    assert_clean_log,
    deltas,
    directive,
    new_session,
    send,
    shared_server_fixtures,
    transcript,
)
from tests.fake_provider import FakeProvider
from tests.server import HestiaServer, free_port, read_events, wait_for_run

server, _clean_server_log = shared_server_fixtures("provider-failures")


def words(n: int) -> str:
    return "".join(f"w{i} " for i in range(n))


@dataclass(frozen=True)
class Failure:
    script: dict[str, Any]
    code: str
    says: str  # a fragment of error.message
    partial: str = ""  # the text streamed before the failure
    model: str | None = None


FAILURES = {
    "401": Failure({"fail": "401"}, "provider_auth_failed", "rejected the API key (401)"),
    "403": Failure({"fail": "403"}, "provider_forbidden", "refused access (403)"),
    "404": Failure({"fail": "404"}, "model_not_found", "The model 'fake-model' was not found"),
    "404-missing-model": Failure(
        {"reply": "never"},
        "model_not_found",
        "The model 'missing-model' was not found",
        model="missing-model",
    ),
    "429": Failure({"fail": "429"}, "provider_rate_limited", "rate-limiting requests (429)"),
    "500": Failure({"fail": "500"}, "provider_server_error", "internal error (500)"),
    "503": Failure({"fail": "503"}, "provider_server_error", "internal error (503)"),
    "break": Failure(
        {"tokens": 20, "delay": 0.01, "fail": "break", "fail_after": 5},
        "provider_stream_broken",
        "broke off in the middle of the answer",
        partial=words(5),
    ),
    "malformed": Failure(
        {"tokens": 20, "delay": 0.01, "fail": "malformed", "fail_after": 4},
        "provider_bad_response",
        "could not read",
        partial=words(4),
    ),
    "no_finish": Failure(
        {"tokens": 6, "delay": 0.01, "fail": "no_finish"},
        "provider_stream_incomplete",
        "ended before the answer was finished",
        partial=words(6),
    ),
}


def check_failed_run(
    client: httpx.Client, session_id: str, run: dict[str, Any], question: str, failure: Failure
) -> dict[str, Any]:
    """The run failed as `failure` says, on the stream, on the run and in the transcript."""
    events = read_events(client, run["id"])
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events[-2:]] == ["message.completed", "run.failed"], events
    assert not any(e.type == "run.completed" for e in events)

    final = wait_for_run(client, run["id"])
    assert final["status"] == "failed"
    error = final["error"]
    assert error["code"] == failure.code, error
    message = error["message"]
    assert failure.says in message, message
    # A sentence for people (it may end quoting the provider's own words).
    assert message[0].isupper() and len(message.split()) >= 5, message
    assert "Traceback" not in message and "Error:" not in message, message
    assert events[-1].data["error"] == error
    assert final["last_event_id"] == events[-1].id

    messages = transcript(client, session_id)
    assert [(m["role"], m["content"], m["status"]) for m in messages[-2:]] == [
        ("user", question, "complete"),
        ("assistant", failure.partial, "error"),
    ]
    assert deltas(events) == failure.partial
    assert events[-2].data["message"] == messages[-1]
    session = client.get(f"/api/sessions/{session_id}").json()["session"]
    assert session["active_run_id"] is None
    return error


def check_session_goes_on(
    client: httpx.Client, session_id: str, fake: FakeProvider, failed_question: str
) -> None:
    """A normal send after the failure completes, with the failed question in its history."""
    follow_up = directive("are you there?", reply="yes, I am")
    run = send(client, session_id, follow_up)
    assert run["status"] == "running"
    assert wait_for_run(client, run["id"])["status"] == "completed"
    messages = transcript(client, session_id)
    assert [(m["role"], m["content"]) for m in messages[-2:]] == [
        ("user", follow_up),
        ("assistant", "yes, I am"),
    ]
    history = [(m["role"], m["content"]) for m in fake.requests[-1]["messages"]]
    assert ("user", failed_question) in history
    assert history[-1] == ("user", follow_up)
    # Empty answers of failed runs are not sent (providers refuse empty assistant messages).
    assert all(content for role, content in history if role == "assistant"), history


@pytest.mark.parametrize("name", list(FAILURES))
def test_provider_failure_fails_the_run_and_the_session_goes_on(client, fake, name):
    failure = FAILURES[name]
    session_id = new_session(client)
    wait_for_run(client, send(client, session_id, directive("warm up", reply="hello"))["id"])
    question = directive(f"make it fail ({name})", **failure.script)
    extra = {"model": failure.model} if failure.model else {}
    run = send(client, session_id, question, **extra)

    check_failed_run(client, session_id, run, question, failure)
    assert fake.wait_idle(), "the provider stream was left open"
    history = [(m["role"], m["content"]) for m in fake.requests[-1]["messages"]]
    assert history == [("user", directive("warm up", reply="hello")), ("assistant", "hello")] + [
        ("user", question)
    ]
    check_session_goes_on(client, session_id, fake, question)


def test_provider_timeout_fails_the_run_and_the_session_goes_on(make_server, fake):
    server = make_server(HESTIA_PROVIDER_TIMEOUT="1")
    failure = Failure(
        {"tokens": 20, "fail": "hang", "fail_after": 3},
        "provider_timeout",
        "within 1 second.",
        partial=words(3),
    )
    with server.client() as client:
        session_id = new_session(client)
        question = directive("hang", **failure.script)
        run = send(client, session_id, question)
        check_failed_run(client, session_id, run, question, failure)
        assert fake.wait_idle(), "the hanging provider stream was not closed"
        check_session_goes_on(client, session_id, fake, question)
    assert_clean_log(server.log())


def test_provider_unreachable_fails_the_run_and_the_session_goes_on(make_server):
    port = free_port()
    server: HestiaServer = make_server(HESTIA_OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1")
    failure = Failure(
        {"reply": "never"}, "provider_unreachable", "Could not connect to the model provider at"
    )
    with server.client() as client:
        session_id = new_session(client)
        question = directive("anyone?", **failure.script)
        run = send(client, session_id, question)
        error = check_failed_run(client, session_id, run, question, failure)
        assert f"127.0.0.1:{port}" in error["message"]
        assert "HESTIA_OPENAI_BASE_URL" in error["message"]

        # The provider comes up on that port; the same session carries on.
        with FakeProvider(port=port) as revived:
            check_session_goes_on(client, session_id, revived, question)
    assert_clean_log(server.log())
