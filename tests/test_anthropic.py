"""The Anthropic provider against the fake's Messages API, and the registry's choice of provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hestia.config import Settings
from hestia.errors import ProviderError
from hestia.providers.anthropic import AnthropicProvider, to_anthropic
from hestia.providers.base import ChatMessage, Finished, ReasoningDelta, TextDelta, ToolSpec
from hestia.providers.registry import ProviderRegistry
from tests.api_helpers import directive, new_session, send, transcript
from tests.fake_provider import FakeProvider, fake_signature
from tests.server import HestiaServer, read_events, wait_for_run

WRITE = ToolSpec(
    name="write_file",
    description="Write a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)


@pytest.fixture
async def provider(fake: FakeProvider) -> AsyncIterator[AnthropicProvider]:
    p = AnthropicProvider(api_key="k", base_url=fake.url, timeout=5.0)
    yield p
    await p.aclose()


async def collect(
    provider: AnthropicProvider, messages: list[ChatMessage], **kw: Any
) -> tuple[list[Any], Finished]:
    events = [e async for e in provider.stream(messages, model=kw.pop("model", "claude-x"), **kw)]
    assert isinstance(events[-1], Finished)
    return events[:-1], events[-1]


def user(text: str, **script: Any) -> ChatMessage:
    return ChatMessage("user", directive(text, **script) if script else text)


def sent_messages(fake: FakeProvider) -> list[dict[str, Any]]:
    record = fake.records[-1]
    assert record["path"] == "/v1/messages"
    return record["body"]["messages"]


async def test_text_streams_in_pieces(provider: AnthropicProvider, fake: FakeProvider) -> None:
    deltas, finished = await collect(
        provider, [ChatMessage("system", "Be brief."), user("hi", reply="Hello there, you.")]
    )
    assert all(isinstance(d, TextDelta) for d in deltas) and len(deltas) == 3
    assert "".join(d.text for d in deltas) == "Hello there, you."
    assert finished == Finished("end_turn")
    body = fake.records[-1]["body"]
    assert body["system"] == "Be brief." and body["max_tokens"] == 8192 and body["stream"]
    assert "thinking" not in body and "tools" not in body
    # The key travels as x-api-key or, in newer SDKs, as a bearer token.
    headers = fake.records[-1]["headers"]
    assert headers.get("x-api-key") == "k" or headers.get("authorization") == "Bearer k"
    assert "anthropic-version" in headers


async def test_thinking_streams_and_comes_back_signed(fake: FakeProvider) -> None:
    p = AnthropicProvider(api_key="k", base_url=fake.url, timeout=5.0, thinking_budget=2048)
    try:
        deltas, finished = await collect(p, [user("q", reasoning="Let me think.", reply="42")])
    finally:
        await p.aclose()
    assert [type(d) for d in deltas] == [ReasoningDelta] * 3 + [TextDelta]
    assert "".join(d.text for d in deltas if isinstance(d, ReasoningDelta)) == "Let me think."
    assert finished.parts == (
        {"type": "thinking", "text": "Let me think.", "signature": fake_signature("Let me think.")},
    )
    body = fake.records[-1]["body"]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] > 2048


async def test_two_tool_calls_are_assembled(
    provider: AnthropicProvider, fake: FakeProvider
) -> None:
    calls = [
        {"name": "write_file", "id": "toolu_1", "arguments": {"path": "a.txt", "content": "x"}},
        {"name": "shell", "id": "toolu_2", "arguments": {"command": "ls -la"}},
    ]
    deltas, finished = await collect(
        provider, [user("go", reply="On it.", tool_calls=calls)], tools=[WRITE]
    )
    assert "".join(d.text for d in deltas) == "On it."
    assert finished.reason == "tool_use"
    assert [(c.id, c.name, json.loads(c.arguments)) for c in finished.tool_calls] == [
        ("toolu_1", "write_file", {"path": "a.txt", "content": "x"}),
        ("toolu_2", "shell", {"command": "ls -la"}),
    ]
    assert fake.records[-1]["body"]["tools"] == [
        {"name": "write_file", "description": "Write a file.", "input_schema": WRITE.parameters}
    ]


async def test_history_alternates_and_carries_results_and_thinking(
    provider: AnthropicProvider, fake: FakeProvider
) -> None:
    signed = {"type": "thinking", "text": "hmm", "signature": fake_signature("hmm")}
    script = {"steps": [{"reply": "unused"}, {"reply": "unused"}, {"reply": "All done."}]}
    history = [
        ChatMessage("system", "sys one"),
        ChatMessage("user", "first"),
        ChatMessage("assistant", "", None),  # an empty answer is left out
        ChatMessage("user", directive("second", **script)),
        ChatMessage(
            "assistant",
            "Writing.",
            [
                signed,
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_call", "id": "t1", "name": "write_file", "arguments": '{"path": 1}'},
                {"type": "tool_call", "id": "t2", "name": "shell", "arguments": "not json"},
                {"type": "openai_only", "x": 1},
            ],
        ),
        ChatMessage("tool", "wrote", [{"type": "tool_result", "call_id": "t1", "name": "w"}]),
        ChatMessage(
            "tool",
            "boom",
            [{"type": "tool_result", "call_id": "t2", "name": "shell", "is_error": True}],
        ),
    ]
    deltas, finished = await collect(provider, history)
    assert "".join(d.text for d in deltas) == "All done."  # step 2: two tool results seen
    assert fake.records[-1]["body"]["system"] == "sys one"
    assert sent_messages(fake) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "first"},
                {"type": "text", "text": directive("second", **script)},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": fake_signature("hmm")},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "text", "text": "Writing."},
                {"type": "tool_use", "id": "t1", "name": "write_file", "input": {"path": 1}},
                {"type": "tool_use", "id": "t2", "name": "shell", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "wrote", "is_error": False},
                {"type": "tool_result", "tool_use_id": "t2", "content": "boom", "is_error": True},
            ],
        },
    ]


def test_tool_results_and_a_new_user_message_share_one_turn() -> None:
    system, turns = to_anthropic(
        [
            ChatMessage("user", "a"),
            ChatMessage("assistant", "  ", [{"type": "tool_call", "id": "c", "name": "n"}]),
            ChatMessage("tool", "out", [{"type": "tool_result", "call_id": "c", "name": "n"}]),
            ChatMessage("user", "b"),
        ]
    )
    assert system == ""
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"] == [{"type": "tool_use", "id": "c", "name": "n", "input": {}}]
    assert [b["type"] for b in turns[2]["content"]] == ["tool_result", "text"]


@pytest.mark.parametrize(
    ("fail", "code"),
    [
        ("401", "provider_auth_failed"),
        ("403", "provider_forbidden"),
        ("404", "model_not_found"),
        ("429", "provider_rate_limited"),
        ("529", "provider_rate_limited"),
        ("500", "provider_server_error"),
        ("503", "provider_server_error"),
        ("break", "provider_stream_broken"),
        ("malformed", "provider_bad_response"),
        ("no_finish", "provider_stream_incomplete"),
    ],
)
async def test_error_mapping(provider: AnthropicProvider, fail: str, code: str) -> None:
    with pytest.raises(ProviderError) as info:
        await collect(provider, [user("x", tokens=5, fail=fail)])
    assert info.value.code == code
    if code == "provider_auth_failed":
        assert "ANTHROPIC_API_KEY" in info.value.message


async def test_bad_request_timeout_and_unreachable(
    provider: AnthropicProvider, fake: FakeProvider
) -> None:
    # Consecutive assistant turns can never be sent, so force a 400 with an empty history.
    with pytest.raises(ProviderError) as info:
        await collect(provider, [])
    assert info.value.code == "provider_bad_request" and "first message" in info.value.message

    slow = AnthropicProvider(api_key="k", base_url=fake.url, timeout=0.5)
    try:
        with pytest.raises(ProviderError) as info:
            await collect(slow, [user("x", tokens=5, fail="hang", fail_after=1)])
        assert info.value.code == "provider_timeout"
    finally:
        await slow.aclose()

    gone = AnthropicProvider(api_key="k", base_url="http://127.0.0.1:9", timeout=2.0)
    try:
        with pytest.raises(ProviderError) as info:
            await collect(gone, [user("x")])
        assert info.value.code == "provider_unreachable"
        status = await gone.list_models()
        assert status.error is not None and status.error["code"] == "provider_unreachable"
    finally:
        await gone.aclose()


async def test_list_models(provider: AnthropicProvider, fake: FakeProvider) -> None:
    status = await provider.list_models()
    assert status.error is None and status.name == "anthropic"
    assert [m.id for m in status.models] == ["claude-fake", "claude-fake-large"]
    bad = AnthropicProvider(api_key="bad-key", base_url=fake.url, timeout=2.0)
    try:
        status = await bad.list_models()
        assert status.error is not None and status.error["code"] == "provider_auth_failed"
    finally:
        await bad.aclose()


async def test_registry_selection() -> None:
    def names(**env: Any) -> tuple[list[str], Callable[[str], str]]:
        registry = ProviderRegistry.from_settings(Settings(**env))
        return [p.name for p in registry._providers], lambda m: registry.for_model(m).name

    providers, pick = names(anthropic_api_key=None)
    assert providers == ["openai"] and pick("claude-3") == "openai"
    providers, pick = names(anthropic_api_key="k")
    assert providers == ["openai", "anthropic"]
    assert pick("claude-sonnet-4") == "anthropic" and pick("gpt-4o") == "openai"
    _, pick = names(anthropic_base_url="http://127.0.0.1:1")
    assert pick("claude-x") == "anthropic"
    _, pick = names(provider="anthropic")
    assert pick("gpt-4o") == "anthropic"
    _, pick = names(provider="openai", anthropic_api_key="k")
    assert pick("claude-x") == "openai"
    with pytest.raises(ValueError):
        Settings(provider="gemini")
    with pytest.raises(ValueError):
        Settings(anthropic_thinking_budget=-1)


async def test_registry_statuses_cover_both(fake: FakeProvider) -> None:
    registry = ProviderRegistry.from_settings(
        Settings(openai_base_url=fake.base_url, anthropic_base_url=fake.url, anthropic_api_key="k")
    )
    try:
        statuses = {s.name: s for s in await registry.statuses()}
    finally:
        await registry.aclose()
    assert [m.id for m in statuses["openai"].models] == ["fake-model", "fake-model-large"]
    assert [m.id for m in statuses["anthropic"].models] == ["claude-fake", "claude-fake-large"]


def test_two_step_tool_run_end_to_end(
    make_server: Callable[..., HestiaServer], fake: FakeProvider
) -> None:
    server = make_server(
        HESTIA_PROVIDER="anthropic",
        HESTIA_ANTHROPIC_BASE_URL=fake.url,
        ANTHROPIC_API_KEY="k",
        HESTIA_MODEL="claude-test",
        HESTIA_ANTHROPIC_THINKING_BUDGET="1024",
    )
    script = [
        {
            "reasoning": "I should write it.",
            "tool_calls": [
                {
                    "name": "write_file",
                    "id": "toolu_w",
                    "arguments": {"path": "a.txt", "content": "hi\n"},
                }
            ],
        },
        {"reasoning": "Now answer.", "reply": "Wrote a.txt."},
    ]
    with server.client() as client:
        session = new_session(client, approval_policy="never")
        run = send(client, session, directive("write it", steps=script))
        events = read_events(client, run["id"])
        assert wait_for_run(client, run["id"])["status"] == "completed", events[-1].data
        kinds = [e.type for e in events]
        assert kinds.count("tool.started") == 1 and kinds.count("tool.finished") == 1
        assert kinds.index("tool.started") < kinds.index("tool.finished")
        reasoning = "".join(e.data["text"] for e in events if e.type == "reasoning.delta")
        assert "I should write it." in reasoning and "Now answer." in reasoning
        finished = next(e.data for e in events if e.type == "tool.finished")
        assert finished["call_id"] == "toolu_w" and not finished["is_error"]
        assert (server.data_dir / "workspaces" / session / "a.txt").read_text() == "hi\n"
        messages = transcript(client, session)
        assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
        assert messages[-1]["content"] == "Wrote a.txt."
    assert all(r["path"] == "/v1/messages" for r in fake.records)
    sent = sent_messages(fake)
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"][0] == {
        "type": "thinking",
        "thinking": "I should write it.",
        "signature": fake_signature("I should write it."),
    }
    assert sent[1]["content"][-1]["type"] == "tool_use"
    assert sent[2]["content"][0]["tool_use_id"] == "toolu_w"
