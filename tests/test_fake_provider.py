"""Prove the fake provider against the real ``openai`` and ``anthropic`` SDKs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import pytest

# A stream cut mid-body: openai 3.x (on httpx2) wraps the transport error in APIConnectionError;
# openai 2.x, which hermes-agent 0.19 pins, lets httpx's own error through. Either is correct.
try:
    import httpx2

    TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
        httpx.TransportError,
        httpx2.TransportError,
    )
except ImportError:  # pragma: no cover
    TRANSPORT_ERRORS = (httpx.TransportError,)
CUT_STREAM = (openai.APIConnectionError, *TRANSPORT_ERRORS)

try:  # importable both with and without a tests/__init__.py
    from tests.fake_provider import FakeProvider, fake_signature, split_words
except ImportError:
    from fake_provider import FakeProvider, fake_signature, split_words  # type: ignore[no-redef]

# A connection that breaks or stalls mid-stream: openai 3 wraps the transport error in
# APIConnectionError; openai 2 (pinned by hermes-agent, which the test extra installs) raises
# httpx's error as it is. Hestia's adapter handles both (test_provider_failures.py).
STREAM_CONNECTION_ERRORS = (openai.APIConnectionError, httpx.TransportError)


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fp:
        yield fp


@pytest.fixture
def fp(provider: FakeProvider) -> FakeProvider:
    provider.reset()
    return provider


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=fp.base_url, api_key="test-key", max_retries=0, timeout=5.0
    ) as c:
        yield c


@dataclass
class Collected:
    """Everything a streamed completion delivered, reassembled."""

    pieces: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    arg_pieces: dict[int, int] = field(default_factory=dict)
    finish_reason: str | None = None
    roles: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


async def collect(
    client: openai.AsyncOpenAI, messages: list[dict[str, Any]], model: str = "fake-model"
) -> Collected:
    out = Collected()
    start = time.monotonic()
    stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
    async with stream:
        async for chunk in stream:
            assert chunk.object == "chat.completion.chunk"
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            delta = choice.delta
            if delta.role:
                out.roles.append(delta.role)
            if delta.content:
                out.pieces.append(delta.content)
                out.times.append(time.monotonic() - start)
            reasoning = getattr(delta, "reasoning_content", None)
            if reasoning:
                out.reasoning.append(reasoning)
            for tc in delta.tool_calls or []:
                call = out.tool_calls.setdefault(tc.index, {"id": None, "name": "", "args": ""})
                if tc.id:
                    call["id"] = tc.id
                if tc.function and tc.function.name:
                    call["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    call["args"] += tc.function.arguments
                    out.arg_pieces[tc.index] = out.arg_pieces.get(tc.index, 0) + 1
            if choice.finish_reason:
                out.finish_reason = choice.finish_reason
    return out


async def wait_for(predicate: Callable[[], bool], within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# --------------------------------------------------------------------------- content


async def test_echo_without_directive(client: openai.AsyncOpenAI) -> None:
    got = await collect(client, user("hello big world"))
    assert got.roles == ["assistant"]
    assert got.text == "Echo: hello big world"
    assert got.pieces == ["Echo: ", "hello ", "big ", "world"]
    assert got.finish_reason == "stop"


async def test_reply_preserves_whitespace(client: openai.AsyncOpenAI) -> None:
    reply = "  Hello,  world!\n\nSecond para.\tTab "
    got = await collect(client, user("hi #fake " + json.dumps({"reply": reply})))
    assert got.text == reply
    assert got.pieces == split_words(reply)
    assert len(got.pieces) == 5


async def test_tokens_and_delays(client: openai.AsyncOpenAI) -> None:
    directive = {"tokens": 10, "delay": 0.02, "first_delay": 0.2}
    got = await collect(client, user(f"go #fake {json.dumps(directive)}"))
    assert got.pieces == [f"w{i} " for i in range(10)]
    assert got.times[0] >= 0.19
    assert got.times[-1] - got.times[0] >= 9 * 0.02 * 0.9


async def test_reasoning_before_content(client: openai.AsyncOpenAI) -> None:
    got = await collect(client, user('q #fake {"reasoning": "let me think", "reply": "42"}'))
    assert got.reasoning == ["let ", "me ", "think"]
    assert got.text == "42"


async def test_content_parts_message(client: openai.AsyncOpenAI) -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": 'x #fake {"reply": "parts ok"}'}]}
    ]
    got = await collect(client, messages)
    assert got.text == "parts ok"


# --------------------------------------------------------------------------- tool calls


async def test_tool_calls_stream_and_reassemble(client: openai.AsyncOpenAI) -> None:
    directive = {
        "reply": "Let me check.",
        "tool_calls": [
            {"name": "read_file", "arguments": {"path": "/tmp/a.txt", "lines": [1, 2]}},
            {"name": "shell", "arguments": '{"cmd": "ls -la"}', "id": "call_fixed"},
        ],
    }
    got = await collect(client, user("do it #fake " + json.dumps(directive)))
    assert got.text == "Let me check."
    assert got.finish_reason == "tool_calls"
    assert sorted(got.tool_calls) == [0, 1]
    first, second = got.tool_calls[0], got.tool_calls[1]
    assert first["name"] == "read_file"
    assert json.loads(first["args"]) == {"path": "/tmp/a.txt", "lines": [1, 2]}
    assert first["id"].startswith("call_")
    assert second == {"id": "call_fixed", "name": "shell", "args": '{"cmd": "ls -la"}'}
    assert all(2 <= n <= 3 for n in got.arg_pieces.values())


async def test_steps_pick_by_tool_result_count(client: openai.AsyncOpenAI) -> None:
    script = {
        "steps": [
            {"tool_calls": [{"name": "search", "arguments": {"q": "cats"}, "id": "c1"}]},
            {"reply": "found cats"},
        ]
    }
    history = user("find #fake " + json.dumps(script))
    step0 = await collect(client, history)
    assert step0.finish_reason == "tool_calls"
    assert step0.text == ""
    assert step0.tool_calls[0]["name"] == "search"

    assistant = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
        ],
    }
    history = [*history, assistant, {"role": "tool", "tool_call_id": "c1", "content": "3 cats"}]
    step1 = await collect(client, history)
    assert (step1.text, step1.finish_reason) == ("found cats", "stop")

    history = [*history, {"role": "tool", "tool_call_id": "c2", "content": "extra"}]
    step2 = await collect(client, history)
    assert step2.text == "done"

    # a new user message restarts the count (and has no directive: echo)
    history = [*history, {"role": "assistant", "content": "done"}, {"role": "user", "content": "k"}]
    assert (await collect(client, history)).text == "Echo: k"


async def test_non_streaming(client: openai.AsyncOpenAI) -> None:
    resp = await client.chat.completions.create(
        model="fake-model", messages=user('x #fake {"reply": "whole text"}')
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == "whole text"
    assert resp.choices[0].finish_reason == "stop"

    directive = {"tool_calls": [{"name": "f", "arguments": {"a": 1}}]}
    resp = await client.chat.completions.create(
        model="fake-model", messages=user("x #fake " + json.dumps(directive))
    )
    call = resp.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("f", {"a": 1})
    assert resp.choices[0].finish_reason == "tool_calls"


async def test_usage_chunk_when_requested(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model="fake-model",
        messages=user('x #fake {"tokens": 4}'),
        stream=True,
        stream_options={"include_usage": True},
    )
    async with stream:
        chunks = [c async for c in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("status", "exc_type", "code"),
    [
        ("401", openai.AuthenticationError, "invalid_api_key"),
        ("403", openai.PermissionDeniedError, "unsupported_country_region_territory"),
        ("404", openai.NotFoundError, "model_not_found"),
        ("429", openai.RateLimitError, "rate_limit_exceeded"),
        ("500", openai.InternalServerError, None),
        ("503", openai.InternalServerError, None),
    ],
)
async def test_http_failures(
    client: openai.AsyncOpenAI, status: str, exc_type: type[openai.APIStatusError], code: str | None
) -> None:
    with pytest.raises(exc_type) as info:
        await collect(client, user(f'x #fake {{"fail": "{status}"}}'))
    assert info.value.status_code == int(status)
    assert isinstance(info.value.body, dict) and info.value.body["code"] == code


async def test_bad_key_and_missing_model(fp: FakeProvider) -> None:
    async with openai.AsyncOpenAI(base_url=fp.base_url, api_key="bad-key", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError, match="Incorrect API key provided"):
            await collect(bad, user("hi"))
        with pytest.raises(openai.AuthenticationError):
            await bad.models.list()
    async with openai.AsyncOpenAI(base_url=fp.base_url, api_key="ok", max_retries=0) as good:
        with pytest.raises(openai.NotFoundError, match="The model `missing-model` does not exist"):
            await collect(good, user("hi"), model="missing-model")


async def test_break_raises_connection_error(client: openai.AsyncOpenAI) -> None:
    got: list[str] = []
    stream = await client.chat.completions.create(
        model="fake-model", messages=user('x #fake {"tokens": 10, "fail": "break"}'), stream=True
    )
    with pytest.raises(CUT_STREAM) as info:
        async with stream:
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    # the SDK wraps (or passes on) the "incomplete chunked read" RemoteProtocolError
    cause = info.value.__cause__ if isinstance(info.value, openai.APIError) else info.value
    assert type(cause).__name__ == "RemoteProtocolError"
    assert "".join(got) == "w0 w1 w2 "


async def test_malformed_raises_json_error(client: openai.AsyncOpenAI) -> None:
    got: list[str] = []
    stream = await client.chat.completions.create(
        model="fake-model",
        messages=user('x #fake {"tokens": 10, "fail": "malformed", "fail_after": 2}'),
        stream=True,
    )
    with pytest.raises(json.JSONDecodeError):
        async with stream:
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "w0 w1 "


async def test_no_finish_ends_cleanly(client: openai.AsyncOpenAI) -> None:
    got = await collect(client, user('x #fake {"tokens": 5, "fail": "no_finish"}'))
    assert got.text == "w0 w1 w2 w3 w4 "
    assert got.finish_reason is None


async def test_hang_times_out_and_stream_is_released(fp: FakeProvider) -> None:
    async with openai.AsyncOpenAI(
        base_url=fp.base_url, api_key="k", max_retries=0, timeout=0.5
    ) as c:
        start = time.monotonic()
        with pytest.raises(CUT_STREAM):  # APITimeoutError is an APIConnectionError
            await collect(c, user('x #fake {"fail": "hang", "fail_after": 1}'))
        assert time.monotonic() - start < 3
    assert await wait_for(lambda: fp.active_streams == 0)


async def test_non_streaming_failures(fp: FakeProvider) -> None:
    async with openai.AsyncOpenAI(
        base_url=fp.base_url, api_key="k", max_retries=0, timeout=0.5
    ) as c:

        async def ask(mode: str) -> Any:
            messages = user(f'x #fake {{"fail": "{mode}"}}')
            return await c.chat.completions.create(model="fake-model", messages=messages)

        with pytest.raises(openai.APIConnectionError):
            await ask("break")
        with pytest.raises(openai.APITimeoutError):
            await ask("hang")
        assert (await ask("no_finish")).choices[0].finish_reason is None


async def test_bad_directive_is_a_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown directive keys"):
        await collect(client, user('x #fake {"tokns": 3}'))
    with pytest.raises(openai.BadRequestError, match="not valid JSON"):
        await collect(client, user("x #fake {nope"))


# --------------------------------------------------------------------------- control


async def test_active_streams_track_client_close(
    fp: FakeProvider, client: openai.AsyncOpenAI
) -> None:
    stream = await client.chat.completions.create(
        model="fake-model", messages=user('x #fake {"tokens": 500, "delay": 0.05}'), stream=True
    )
    async with stream:
        await stream.__anext__()
        await stream.__anext__()
        assert fp.active_streams == 1
        async with httpx.AsyncClient() as http:
            stats = (await http.get(f"{fp.url}/_fake/stats")).json()
        assert stats == {"active_streams": 1, "total_requests": 1}
    assert await wait_for(lambda: fp.active_streams == 0)


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == ["fake-model", "fake-model-large"]
    assert all(m.owned_by == "fake" and m.object == "model" for m in models.data)


async def test_request_recording(fp: FakeProvider, client: openai.AsyncOpenAI) -> None:
    await collect(client, user("first"))
    await client.chat.completions.create(model="fake-model-large", messages=user("second"))
    assert [r["messages"][-1]["content"] for r in fp.requests] == ["first", "second"]
    assert fp.requests[0]["stream"] is True and fp.last_request["model"] == "fake-model-large"
    assert fp.records[0]["headers"]["authorization"] == "Bearer test-key"
    async with httpx.AsyncClient(base_url=fp.url) as http:
        recorded = (await http.get("/_fake/requests")).json()
        assert [r["body"]["messages"][-1]["content"] for r in recorded] == ["first", "second"]
        assert (await http.delete("/_fake/requests")).status_code == 200
        assert (await http.get("/_fake/requests")).json() == []
    assert fp.requests == [] and fp.total_requests == 2
    fp.clear()
    fp.reset()
    assert fp.total_requests == 0


async def test_default_directive(fp: FakeProvider, client: openai.AsyncOpenAI) -> None:
    fp.set_default(reply="slow reply", first_delay=0.1)
    got = await collect(client, user("anything"))
    assert got.text == "slow reply" and got.times[0] >= 0.09
    # an explicit directive wins over the default
    assert (await collect(client, user('x #fake {"reply": "mine"}'))).text == "mine"
    async with httpx.AsyncClient(base_url=fp.url) as http:
        assert (await http.post("/_fake/default", json={"tokens": 2})).status_code == 200
        assert (await collect(client, user("anything"))).text == "w0 w1 "
        assert (await http.post("/_fake/default", json={"bogus": 1})).status_code == 400
        assert (await http.post("/_fake/reset")).status_code == 200
    assert (await collect(client, user("anything"))).text == "Echo: anything"
    with pytest.raises(ValueError):
        fp.set_default(fail="teapot")


def test_sync_client_and_shutdown_with_hanging_stream() -> None:
    with FakeProvider() as fp:
        with openai.OpenAI(base_url=fp.base_url, api_key="k", max_retries=0) as c:
            text = "".join(
                ch.choices[0].delta.content or ""
                for ch in c.chat.completions.create(
                    model="fake-model", messages=user("sync"), stream=True
                )
            )
            assert text == "Echo: sync"
            stream = c.chat.completions.create(
                model="fake-model", messages=user('x #fake {"fail": "hang"}'), stream=True
            )
            with stream:
                next(iter(stream))
                assert fp.active_streams == 1
                start = time.monotonic()
                fp.stop()
                assert time.monotonic() - start < 3
                with pytest.raises(CUT_STREAM):
                    list(stream)


def test_only_loopback() -> None:
    with pytest.raises(ValueError):
        FakeProvider(host="0.0.0.0")


async def test_stream_error_inside_a_200_stream(client: openai.AsyncOpenAI) -> None:
    got: list[str] = []
    stream = await client.chat.completions.create(
        model="fake-model",
        messages=user('x #fake {"tokens": 10, "fail": "stream_error", "fail_after": 2}'),
        stream=True,
    )
    with pytest.raises(openai.APIError, match="Overloaded") as info:
        async with stream:
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert not isinstance(info.value, openai.APIStatusError)
    assert "".join(got) == "w0 w1 "


# --------------------------------------------------------------------------- anthropic


@pytest.fixture
async def claude(fp: FakeProvider) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        api_key="test-key", base_url=fp.url, max_retries=0, timeout=5.0
    ) as c:
        yield c


def turn(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def claude_events(
    client: anthropic.AsyncAnthropic, messages: list[dict[str, Any]], **kw: Any
) -> list[Any]:
    kw.setdefault("model", "claude-fake")
    kw.setdefault("max_tokens", 1024)
    stream = await client.messages.create(messages=messages, stream=True, **kw)
    async with stream:
        return [event async for event in stream]


def block_deltas(events: list[Any], kind: str) -> list[str]:
    field_of = {"text_delta": "text", "thinking_delta": "thinking"}
    field_of |= {"input_json_delta": "partial_json", "signature_delta": "signature"}
    return [
        getattr(e.delta, field_of[kind])
        for e in events
        if e.type == "content_block_delta" and e.delta.type == kind
    ]


async def test_anthropic_stream_shape(fp: FakeProvider, claude: anthropic.AsyncAnthropic) -> None:
    script = {
        "reasoning": "think hard",
        "reply": "On it.",
        "tool_calls": [{"name": "shell", "id": "toolu_1", "arguments": {"command": "ls -la"}}],
    }
    events = await claude_events(claude, turn("go #fake " + json.dumps(script)))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    starts = [e.content_block for e in events if e.type == "content_block_start"]
    assert [b.type for b in starts] == ["thinking", "text", "tool_use"]
    assert (starts[2].id, starts[2].name, starts[2].input) == ("toolu_1", "shell", {})
    assert [e.index for e in events if e.type == "content_block_stop"] == [0, 1, 2]
    assert block_deltas(events, "thinking_delta") == ["think ", "hard"]
    assert block_deltas(events, "signature_delta") == [fake_signature("think hard")]
    assert block_deltas(events, "text_delta") == ["On ", "it."]
    pieces = block_deltas(events, "input_json_delta")
    assert len(pieces) == 3 and json.loads("".join(pieces)) == {"command": "ls -la"}
    end = events[-2]
    assert end.delta.stop_reason == "tool_use" and end.usage.output_tokens > 0
    assert events[0].message.role == "assistant" and events[0].message.model == "claude-fake"
    # The real API sends pings; the SDK skips them, so look at the wire.
    async with httpx.AsyncClient(base_url=fp.url) as http:
        body = {"model": "m", "max_tokens": 10, "stream": True, "messages": turn("hi")}
        wire = (await http.post("/v1/messages", json=body)).text
    assert "event: ping\n" in wire and wire.startswith("event: message_start\n")
    assert "Echo: " in wire and "end_turn" in wire


async def test_anthropic_steps_count_tool_results_after_the_user_text(
    claude: anthropic.AsyncAnthropic,
) -> None:
    script = {
        "steps": [
            {"tool_calls": [{"name": "a", "id": "t1"}, {"name": "b", "id": "t2"}]},
            {"reply": "unused"},
            {"reply": "both seen"},
        ]
    }
    text = {"type": "text", "text": "q #fake " + json.dumps(script)}
    first = [{"role": "user", "content": [text]}]
    events = await claude_events(claude, first)
    assert [e.content_block.id for e in events if e.type == "content_block_start"] == ["t1", "t2"]
    history = [
        *first,
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "a", "input": {}},
                {"type": "tool_use", "id": "t2", "name": "b", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "two", "is_error": True},
            ],
        },
    ]
    assert block_deltas(await claude_events(claude, history), "text_delta") == ["both ", "seen"]
    # A new user text restarts the count (and, without a directive, echoes).
    history += [
        {"role": "assistant", "content": "both seen"},
        {"role": "user", "content": [{"type": "text", "text": "next"}]},
    ]
    assert "".join(block_deltas(await claude_events(claude, history), "text_delta")) == (
        "Echo: next"
    )


async def test_anthropic_non_streaming(claude: anthropic.AsyncAnthropic) -> None:
    calls = [{"name": "f", "arguments": {"a": 1}}]
    script = {"reasoning": "hm", "reply": "yes", "tool_calls": calls}
    message = await claude.messages.create(
        model="claude-fake", max_tokens=100, messages=turn("x #fake " + json.dumps(script))
    )
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, call = message.content
    assert (thinking.thinking, thinking.signature) == ("hm", fake_signature("hm"))
    assert text.text == "yes" and (call.name, call.input) == ("f", {"a": 1})
    assert message.stop_reason == "tool_use"
    plain = await claude.messages.create(model="claude-fake", max_tokens=10, messages=turn("hi"))
    assert plain.content[0].text == "Echo: hi" and plain.stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("fail", "exc_type", "error_type"),
    [
        ("401", anthropic.AuthenticationError, "authentication_error"),
        ("403", anthropic.PermissionDeniedError, "permission_error"),
        ("404", anthropic.NotFoundError, "not_found_error"),
        ("429", anthropic.RateLimitError, "rate_limit_error"),
        ("500", anthropic.InternalServerError, "api_error"),
        ("529", anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_anthropic_http_failures(
    claude: anthropic.AsyncAnthropic,
    fail: str,
    exc_type: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    with pytest.raises(exc_type) as info:
        await claude_events(claude, turn(f'x #fake {{"fail": "{fail}"}}'))
    assert info.value.status_code == int(fail)
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == error_type


async def test_anthropic_stream_failures(claude: anthropic.AsyncAnthropic) -> None:
    def script(fail: str) -> list[dict[str, Any]]:
        return turn("x #fake " + json.dumps({"tokens": 8, "fail": fail, "fail_after": 2}))

    with pytest.raises(anthropic.APIStatusError) as info:
        await claude_events(claude, script("stream_error"))
    # An error event inside the 200 stream: the kind is in the body only.
    assert info.value.status_code == 200 and info.value.type == "overloaded_error"
    with pytest.raises(json.JSONDecodeError):
        await claude_events(claude, script("malformed"))
    with pytest.raises(Exception) as broke:
        await claude_events(claude, script("break"))
    assert type(broke.value).__name__ in ("RemoteProtocolError", "APIConnectionError")
    events = await claude_events(claude, script("no_finish"))
    assert "message_delta" not in [e.type for e in events]
    assert "message_stop" not in [e.type for e in events]
    assert block_deltas(events, "text_delta") == [f"w{i} " for i in range(8)]


async def test_anthropic_refuses_what_the_real_api_refuses(
    claude: anthropic.AsyncAnthropic,
) -> None:
    async def refused(messages: list[dict[str, Any]]) -> str:
        with pytest.raises(anthropic.BadRequestError) as info:
            await claude_events(claude, messages)
        return str(info.value.api_message)

    call = {"type": "tool_use", "id": "t1", "name": "a", "input": {}}
    assert "alternate" in await refused([*turn("a"), *turn("b")])
    assert "tool_result" in await refused(
        [*turn("a"), {"role": "assistant", "content": [call]}, *turn("b")]
    )
    forged = {"type": "thinking", "thinking": "hm", "signature": "forged"}
    assert "signature" in await refused(
        [*turn("a"), {"role": "assistant", "content": [forged]}, *turn("b")]
    )
    signed = {**forged, "signature": fake_signature("hm")}
    ok = [*turn("a"), {"role": "assistant", "content": [signed, call]}]
    ok.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]})
    assert block_deltas(await claude_events(claude, ok), "text_delta")


async def test_anthropic_keys_models_and_recording(
    fp: FakeProvider, claude: anthropic.AsyncAnthropic
) -> None:
    page = await claude.models.list()
    assert [m.id for m in page.data] == ["claude-fake", "claude-fake-large"]
    assert all(m.type == "model" and m.display_name for m in page.data)
    async with anthropic.AsyncAnthropic(api_key="bad-key", base_url=fp.url, max_retries=0) as bad:
        with pytest.raises(anthropic.AuthenticationError):
            await claude_events(bad, turn("hi"))
        with pytest.raises(anthropic.AuthenticationError):
            await bad.models.list()
    with pytest.raises(anthropic.NotFoundError, match="missing-model"):
        await claude_events(claude, turn("hi"), model="missing-model")
    fp.clear()
    await claude_events(claude, turn("first"), system="be brief")
    (record,) = fp.records
    assert record["path"] == "/v1/messages" and "anthropic-version" in record["headers"]
    assert record["body"]["system"] == "be brief" and record["body"]["messages"] == turn("first")
