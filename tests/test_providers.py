"""The OpenAI-compatible provider in-process against the fake: tool calls, history, reasoning.

The Anthropic provider and the registry are covered in `test_anthropic.py`; errors sent
inside a 200 stream are checked here for both.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hestia.config import Settings
from hestia.errors import ProviderError
from hestia.providers.anthropic import AnthropicProvider
from hestia.providers.base import (
    ChatMessage,
    Finished,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolSpec,
)
from hestia.providers.openai_compat import OpenAICompatProvider
from tests.api_helpers import directive
from tests.fake_provider import FakeProvider

SHELL = ToolSpec(
    name="shell",
    description="Run a command.",
    parameters={
        "type": "object",
        "properties": {"command": {"type": "string"}, "timeout": {"type": "integer"}},
        "required": ["command"],
    },
)
READ = ToolSpec(
    name="read_file",
    description="Read a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)


@pytest.fixture
async def provider(fake: FakeProvider) -> AsyncIterator[OpenAICompatProvider]:
    p = OpenAICompatProvider(base_url=fake.base_url, api_key="test-key", timeout=5.0)
    yield p
    await p.aclose()


async def run(
    provider: OpenAICompatProvider, messages: list[ChatMessage], **kw: Any
) -> tuple[list[StreamEvent], Finished]:
    """Every event of one step: the deltas, and the `Finished` that must come last."""
    events = [e async for e in provider.stream(messages, model="fake-model", **kw)]
    assert events and isinstance(events[-1], Finished)
    assert not any(isinstance(e, Finished) for e in events[:-1])
    return events[:-1], events[-1]


def user(text: str, **script: Any) -> ChatMessage:
    return ChatMessage("user", directive(text, **script) if script else text)


async def test_text_only_step_sends_no_tools(
    provider: OpenAICompatProvider, fake: FakeProvider
) -> None:
    deltas, finished = await run(provider, [user("hi", reply="Hello there, you.")])
    assert [d.text for d in deltas if isinstance(d, TextDelta)] == ["Hello ", "there, ", "you."]
    assert finished == Finished("stop")
    body = fake.last_request
    assert body is not None and body["stream"] is True and "tools" not in body


async def test_two_tool_calls_are_assembled_from_pieces(
    provider: OpenAICompatProvider, fake: FakeProvider
) -> None:
    # Long arguments so each arrives in three fragments; one given as exact text.
    long_args = {"command": "grep -rn 'needle' src/ | head -50", "timeout": 30}
    calls = [
        {"name": "shell", "id": "call_a", "arguments": long_args},
        {"name": "read_file", "id": "call_b", "arguments": '{"path":  "notes/todo.md"}'},
    ]
    deltas, finished = await run(
        provider, [user("go", reply="Checking.", tool_calls=calls)], tools=[SHELL, READ]
    )
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Checking."
    assert finished.reason == "tool_calls"
    # The arguments are the model's text exactly, not re-encoded.
    assert finished.tool_calls == (
        ToolCall("call_a", "shell", json.dumps(long_args)),
        ToolCall("call_b", "read_file", '{"path":  "notes/todo.md"}'),
    )
    assert finished.parts == ()
    assert fake.last_request is not None
    assert fake.last_request["tools"] == [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in (SHELL, READ)
    ]


async def test_tool_call_without_arguments_gets_an_empty_object(
    provider: OpenAICompatProvider,
) -> None:
    calls = [{"name": "list_files", "id": "call_x", "arguments": ""}]
    _, finished = await run(provider, [user("ls", tool_calls=calls)])
    assert finished.tool_calls == (ToolCall("call_x", "list_files", "{}"),)


async def test_reasoning_streams_before_the_answer(provider: OpenAICompatProvider) -> None:
    deltas, finished = await run(
        provider, [user("q", reasoning="Let me think it over.", reply="42")]
    )
    assert [type(d) for d in deltas] == [ReasoningDelta] * 5 + [TextDelta]
    assert "".join(d.text for d in deltas if isinstance(d, ReasoningDelta)) == (
        "Let me think it over."
    )
    assert finished == Finished("stop")


async def test_history_with_tool_calls_and_results_is_sent_exactly(
    provider: OpenAICompatProvider, fake: FakeProvider
) -> None:
    script = {"steps": [{"reply": "unused"}] * 3 + [{"reply": "All done."}]}
    question = directive("fix it", **script)
    history = [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "earlier question"),
        ChatMessage("assistant", "earlier answer"),
        ChatMessage("user", question),
        ChatMessage(
            "assistant",
            "Looking.",
            [
                # Another provider's signed thinking: never sent to an OpenAI endpoint.
                {"type": "thinking", "text": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_call", "id": "c1", "name": "shell", "arguments": '{"command":"ls"}'},
                {"type": "tool_call", "id": "c2", "name": "read_file", "arguments": "not json"},
            ],
        ),
        ChatMessage("tool", "a.txt\n", [{"type": "tool_result", "call_id": "c1", "name": "shell"}]),
        ChatMessage(
            "tool",
            "no such file",
            [{"type": "tool_result", "call_id": "c2", "name": "read_file", "is_error": True}],
        ),
        ChatMessage(
            "assistant",
            "",
            [{"type": "tool_call", "id": "c3", "name": "shell", "arguments": "{}"}],
        ),
        ChatMessage("tool", "", [{"type": "tool_result", "call_id": "c3", "name": "shell"}]),
    ]
    deltas, finished = await run(provider, history, tools=[SHELL, READ])
    # Three tool messages after the last user message: the fake answers with step 3.
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "All done."
    assert finished == Finished("stop")
    assert fake.last_request is not None
    assert fake.last_request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": "Looking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "shell", "arguments": '{"command":"ls"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": "not json"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "a.txt\n"},
        {"role": "tool", "tool_call_id": "c2", "content": "no such file"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "shell", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c3", "content": ""},
    ]


async def test_a_step_round_trips_into_the_next_request(
    provider: OpenAICompatProvider, fake: FakeProvider
) -> None:
    """What one step returns, stored as the engine stores it, is what the next request sends."""
    script = {
        "steps": [
            {
                "reply": "Let me look.",
                "tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}],
            },
            {"reply": "There is one file."},
        ]
    }
    history = [user("what is here?", **script)]
    _, first = await run(provider, history, tools=[SHELL])
    (call,) = first.tool_calls
    history += [
        ChatMessage(
            "assistant",
            "Let me look.",
            [
                *first.parts,
                {
                    "type": "tool_call",
                    "id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                },
            ],
        ),
        ChatMessage(
            "tool", "a.txt", [{"type": "tool_result", "call_id": call.id, "name": "shell"}]
        ),
    ]
    deltas, second = await run(provider, history, tools=[SHELL])
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "There is one file."
    assert second == Finished("stop")
    sent = fake.last_request["messages"] if fake.last_request else []
    assert sent[1:] == [
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "shell", "arguments": '{"command": "ls"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "a.txt"},
    ]


@pytest.mark.parametrize(
    ("fail", "code"),
    [
        ("no_finish", "provider_stream_incomplete"),
        ("break", "provider_stream_broken"),
        ("malformed", "provider_bad_response"),
    ],
)
async def test_a_tool_call_cut_off_mid_arguments_fails_clearly(
    provider: OpenAICompatProvider, fail: str, code: str
) -> None:
    # Deltas: the call's start, then three argument pieces; fail after the first piece.
    calls = [{"name": "shell", "id": "c", "arguments": {"command": "echo a long command"}}]
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(
            [user("x", tool_calls=calls, fail=fail, fail_after=2)], model="fake-model"
        ):
            events.append(event)
    assert info.value.code == code
    assert not any(isinstance(e, Finished) for e in events)


async def test_an_error_inside_the_stream_is_explained(provider: OpenAICompatProvider) -> None:
    events: list[StreamEvent] = []
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(
            [user("x", tokens=6, fail="stream_error", fail_after=2)], model="fake-model"
        ):
            events.append(event)
    assert events == [TextDelta("w0 "), TextDelta("w1 ")]
    assert info.value.code == "provider_rate_limited"
    assert "overloaded" in info.value.message and provider.base_url in info.value.message


async def test_anthropic_overload_inside_the_stream(fake: FakeProvider) -> None:
    """Anthropic's `event: error` in a 200 stream: the error type decides, not the 200."""
    p = AnthropicProvider(api_key="k", base_url=fake.url, timeout=5.0)
    events: list[StreamEvent] = []
    try:
        with pytest.raises(ProviderError) as info:
            async for event in p.stream(
                [user("x", tokens=6, fail="stream_error", fail_after=3)], model="claude-x"
            ):
                events.append(event)
    finally:
        await p.aclose()
    assert events == [TextDelta("w0 "), TextDelta("w1 "), TextDelta("w2 ")]
    assert info.value.code == "provider_rate_limited"
    assert info.value.message.startswith(f"The Anthropic API at {fake.url} is overloaded.")


def test_a_thinking_budget_below_anthropics_minimum_is_refused_at_start() -> None:
    assert Settings(anthropic_thinking_budget=0).anthropic_thinking_budget == 0
    assert Settings(anthropic_thinking_budget=1024).anthropic_thinking_budget == 1024
    with pytest.raises(ValueError, match="at least 1024"):
        Settings(anthropic_thinking_budget=500)
