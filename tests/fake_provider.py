"""A fake OpenAI-compatible (and Anthropic) model provider for tests and benchmarks.

The server speaks enough of the OpenAI Chat Completions API for the official ``openai``
SDK to consume it unchanged: ``POST /v1/chat/completions`` (streaming SSE chunks or a
plain ``chat.completion``) and ``GET /v1/models``. It also speaks Anthropic's Messages API
for the ``anthropic`` SDK (``base_url`` is the server root): ``POST /v1/messages``
(streaming Anthropic SSE events, or a plain ``message``), and ``GET /v1/models`` in
Anthropic's shape when the request carries an ``anthropic-version`` header. The same
directives drive both; see "Anthropic" below.

What a reply looks like is scripted per request by a directive at the end of the LAST
user message: the text ``#fake`` followed by a space and a JSON object up to the end of
the message, e.g. ``hello #fake {"tokens": 50, "delay": 0.02}``. Without a directive
(and without a default set through :meth:`FakeProvider.set_default`) the reply is
``"Echo: " + <last user message text>``, streamed one word per chunk.

Directive keys (all optional):

``reply`` (str)
    The exact text to stream, one word (with its trailing whitespace) per chunk.
``tokens`` (int)
    Instead of ``reply``: N chunks ``"w0 "``, ``"w1 "``, ... ``"w{N-1} "``.
``delay`` (float, seconds)
    Sleep between streamed delta chunks (reasoning, content and tool-call pieces).
``first_delay`` (float, seconds)
    Sleep after the initial ``role`` chunk, before the first delta ("time to first token").
``reasoning`` (str)
    Streamed word by word as ``delta.reasoning_content`` before the content.
``tool_calls`` (list of ``{"name": str, "arguments": obj | str, "id"?: str}``)
    Streamed after any content as OpenAI tool-call deltas; ``finish_reason`` becomes
    ``"tool_calls"``. When ``tool_calls`` is given, there is no echo content unless
    ``reply``/``tokens`` is also given.
``steps`` (list of directive objects)
    Step ``i`` (0-based) is used when the request holds ``i`` messages with role
    ``"tool"`` after the last user message; a missing step replies ``"done"``.
    ``delay``/``first_delay`` given next to ``steps`` apply to every step that does not
    set its own. Note that a step with two tool calls produces two tool messages, so it
    advances the step index by two.
``fail`` (str)
    ``"401"``, ``"403"``, ``"404"``, ``"429"``, ``"500"``, ``"503"``: an immediate HTTP error
    with an OpenAI-style body. ``"break"``: stream ``fail_after`` deltas and then drop the
    connection mid-body. ``"malformed"``: stream ``fail_after`` deltas, then
    ``data: {not json`` and end. ``"hang"``: stream ``fail_after`` deltas, then send nothing
    until the client goes away (at most 10 minutes). ``"no_finish"``: stream every delta,
    then end cleanly without a ``finish_reason`` and without ``[DONE]``. ``"529"``: an
    "overloaded" HTTP error. ``"stream_error"``: stream ``fail_after`` deltas, then an
    error inside the 200 stream (``data: {"error": {...}}``; Anthropic: ``event: error`` with
    an ``overloaded_error``), as providers report failures after the response has begun.
``fail_after`` (int, default 3)
    How many deltas ``break``/``malformed``/``hang``/``stream_error`` send before failing.
``stamp`` (bool, default false; OpenAI only)
    For benchmarks: each content delta's text becomes ``"<i>@<ns> "``, its index and the
    ``time.monotonic_ns()`` at which it was sent, so a reader on the same machine can tell how
    late it arrived.

Independently of directives: ``Authorization: Bearer bad-key`` gets a 401 and the model
``"missing-model"`` a 404, as OpenAI would answer.

Anthropic (``POST /v1/messages``): ``reply``/``tokens`` stream as a ``text`` block,
``reasoning`` as a ``thinking`` block (before the text) signed with
:func:`fake_signature`, ``tool_calls`` as ``tool_use`` blocks (``stop_reason``
``"tool_use"``, else ``"end_turn"``). The directive is read from the last user ``text``
block, and step ``i`` is chosen by the number of ``tool_result`` blocks after it. HTTP
``fail`` modes answer with Anthropic error bodies (``{"type": "error", "error": {...}}``),
including ``"529"`` (overloaded); ``break``/``malformed``/``hang``/``stream_error`` count
``content_block_delta`` events; ``no_finish`` omits ``message_delta`` and
``message_stop``; ``stream_error`` ends with an ``event: error``. ``x-api-key: bad-key``
gets a 401, ``missing-model`` a 404, and, like the real API, a request whose turns do not
alternate (starting with ``user``), whose ``tool_use`` blocks lack a ``tool_result`` in the
next turn, or whose thinking blocks carry a wrong signature gets a 400.

Test-control endpoints: ``GET``/``DELETE /_fake/requests`` (recorded chat requests),
``POST /_fake/default`` (default directive, ``{}`` clears it), ``POST /_fake/reset`` and
``GET /_fake/stats``.

Usage from tests::

    with FakeProvider() as fp:
        client = AsyncOpenAI(base_url=fp.base_url, api_key="test")
        ...

Standalone: ``python tests/fake_provider.py --port 9999`` (binds 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

DIRECTIVE_MARKER = "#fake "
MODEL_IDS = ("fake-model", "fake-model-large")
BAD_KEY = "bad-key"
MISSING_MODEL = "missing-model"
STREAM_FAILURES = ("break", "malformed", "hang", "no_finish", "stream_error")
_CUT_SHORT = ("break", "malformed", "hang", "stream_error")
HANG_LIMIT = 600.0
POLL_INTERVAL = 0.05
DEFAULT_FAIL_AFTER = 3
_CREATED = 1_700_000_000
_ALLOWED_KEYS = frozenset(
    {
        "reply",
        "tokens",
        "delay",
        "first_delay",
        "reasoning",
        "tool_calls",
        "steps",
        "fail",
        "fail_after",
        "stamp",
    }
)
_INHERITED_STEP_KEYS = ("delay", "first_delay")
_WORD_RE = re.compile(r"\s*\S+\s*|\s+")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- scripts


class DirectiveError(ValueError):
    """A ``#fake`` directive that cannot be understood."""


@dataclass(frozen=True)
class ToolCallSpec:
    """One scripted tool call."""

    name: str
    arguments: str
    id: str


@dataclass(frozen=True)
class Script:
    """The fully resolved behaviour for one chat completion request."""

    content: str
    reasoning: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    delay: float = 0.0
    first_delay: float = 0.0
    fail: str | None = None
    fail_after: int = DEFAULT_FAIL_AFTER
    stamp: bool = False

    @property
    def finish_reason(self) -> str:
        """The ``finish_reason`` a successful reply ends with."""
        return "tool_calls" if self.tool_calls else "stop"

    @property
    def anthropic_stop_reason(self) -> str:
        """The ``stop_reason`` a successful Anthropic reply ends with."""
        return "tool_use" if self.tool_calls else "end_turn"


def split_words(text: str) -> list[str]:
    """Split *text* into roughly one-word pieces whose concatenation is exactly *text*."""
    return _WORD_RE.findall(text)


def token_words(n: int) -> list[str]:
    """The deterministic chunks ``"w0 "`` ... ``"w{n-1} "``."""
    return [f"w{i} " for i in range(n)]


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def split_directive(text: str) -> tuple[str, dict[str, Any] | None]:
    """Split a user message into its plain text and its ``#fake`` directive (if any)."""
    pos = text.find(DIRECTIVE_MARKER)
    if pos < 0:
        return text, None
    raw = text[pos + len(DIRECTIVE_MARKER) :]
    try:
        directive = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DirectiveError(f"directive is not valid JSON: {exc}") from exc
    if not isinstance(directive, dict):
        raise DirectiveError("directive must be a JSON object")
    return text[:pos].rstrip(), directive


def last_user_turn(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The last user message's text and the number of tool messages that follow it."""
    for idx in range(len(messages) - 1, -1, -1):
        if messages[idx].get("role") == "user":
            tools = sum(1 for m in messages[idx + 1 :] if m.get("role") == "tool")
            return message_text(messages[idx]), tools
    return "", sum(1 for m in messages if m.get("role") == "tool")


def select_step(directive: dict[str, Any], tool_results: int) -> dict[str, Any]:
    """Resolve ``steps``: pick the step for the number of tool results seen so far."""
    if "steps" not in directive:
        return directive
    steps = directive["steps"]
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise DirectiveError("'steps' must be a list of objects")
    if tool_results >= len(steps):
        step: dict[str, Any] = {"reply": "done"}
    else:
        step = dict(steps[tool_results])
    if "steps" in step:
        raise DirectiveError("steps cannot be nested")
    for key in _INHERITED_STEP_KEYS:
        if key in directive and key not in step:
            step[key] = directive[key]
    return step


def _number(directive: dict[str, Any], key: str, default: float) -> float:
    value = directive.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise DirectiveError(f"'{key}' must be a non-negative number")
    return float(value)


def _count(directive: dict[str, Any], key: str, default: int | None) -> int | None:
    value = directive.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DirectiveError(f"'{key}' must be a non-negative integer")
    return value


def _optional_str(directive: dict[str, Any], key: str) -> str | None:
    value = directive.get(key)
    if value is not None and not isinstance(value, str):
        raise DirectiveError(f"'{key}' must be a string")
    return value


def parse_tool_calls(raw: Any) -> tuple[ToolCallSpec, ...]:
    """Validate the ``tool_calls`` directive value and normalise the arguments to JSON text."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise DirectiveError("'tool_calls' must be a list")
    calls = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DirectiveError("each tool call needs a string 'name'")
        args = item.get("arguments", {})
        args_text = args if isinstance(args, str) else json.dumps(args)
        call_id = item.get("id") or f"call_{uuid.uuid4().hex[:24]}"
        calls.append(ToolCallSpec(name=item["name"], arguments=args_text, id=str(call_id)))
    return tuple(calls)


def parse_script(directive: dict[str, Any], user_text: str) -> Script:
    """Turn one (step-resolved) directive into a :class:`Script`."""
    unknown = set(directive) - _ALLOWED_KEYS
    if unknown:
        raise DirectiveError(f"unknown directive keys: {sorted(unknown)}")
    reply = _optional_str(directive, "reply")
    tokens = _count(directive, "tokens", None)
    tool_calls = parse_tool_calls(directive.get("tool_calls"))
    fail = directive.get("fail")
    if fail is not None:
        fail = str(fail)
        if fail not in (*_HTTP_ERRORS, *STREAM_FAILURES):
            raise DirectiveError(f"unknown fail mode {fail!r}")
    if reply is not None:
        content = reply
    elif tokens is not None:
        content = "".join(token_words(tokens))
    elif tool_calls:
        content = ""
    else:
        content = "Echo: " + user_text
    return Script(
        content=content,
        reasoning=_optional_str(directive, "reasoning"),
        tool_calls=tool_calls,
        delay=_number(directive, "delay", 0.0),
        first_delay=_number(directive, "first_delay", 0.0),
        fail=fail,
        fail_after=_count(directive, "fail_after", DEFAULT_FAIL_AFTER) or 0,
        stamp=bool(directive.get("stamp", False)),
    )


def validate_directive(directive: dict[str, Any]) -> None:
    """Raise :class:`DirectiveError` if *directive* (including every step) is invalid."""
    if "steps" in directive:
        steps = directive["steps"]
        count = len(steps) if isinstance(steps, list) else 0
        for i in range(count + 1):
            parse_script(select_step(directive, i), "")
    else:
        parse_script(directive, "")


def script_for_request(body: dict[str, Any], default: dict[str, Any] | None) -> Script:
    """Resolve the script of a chat request from its last user message (or *default*)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise DirectiveError("'messages' must be a list of objects")
    text, tool_results = last_user_turn(messages)
    user_text, directive = split_directive(text)
    if directive is None:
        user_text, directive = text, default or {}
    return parse_script(select_step(directive, tool_results), user_text)


def plan_deltas(script: Script) -> list[dict[str, Any]]:
    """Every ``delta`` object after the initial role chunk, in streaming order."""
    deltas: list[dict[str, Any]] = []
    if script.reasoning:
        deltas += [{"reasoning_content": w} for w in split_words(script.reasoning)]
    deltas += [{"content": w} for w in split_words(script.content)]
    for index, call in enumerate(script.tool_calls):
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in split_arguments(call.arguments):
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas


def split_arguments(text: str, pieces: int = 3) -> list[str]:
    """Split a tool-call argument string into up to *pieces* non-empty parts."""
    if not text:
        return []
    size = max(1, -(-len(text) // pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


# --------------------------------------------------------------------------- errors


def error_response(
    status: int, message: str, err_type: str, code: str | None, param: str | None = None
) -> JSONResponse:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": err_type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


# status -> (message template, error type, error code), worded like OpenAI's own errors
_HTTP_ERRORS: dict[str, tuple[str, str, str | None]] = {
    "401": (
        "Incorrect API key provided: {key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    "403": (
        "Country, region, or territory not supported",
        "request_forbidden",
        "unsupported_country_region_territory",
    ),
    "404": (
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    "429": (
        "Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again in 20s.",
        "requests",
        "rate_limit_exceeded",
    ),
    "500": (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    "503": (
        "The engine is currently overloaded, please try again later.",
        "server_error",
        None,
    ),
    "529": ("The server is overloaded, please try again later.", "server_error", None),
}

# status -> (error type, message), worded like Anthropic's own errors
_ANTHROPIC_ERRORS: dict[str, tuple[str, str]] = {
    "400": ("invalid_request_error", "{detail}"),
    "401": ("authentication_error", "invalid x-api-key"),
    "403": (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    "404": ("not_found_error", "model: {model}"),
    "429": ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    "500": ("api_error", "Internal server error"),
    "503": ("api_error", "Service unavailable"),
    "529": ("overloaded_error", "Overloaded"),
}


def anthropic_error(status: str, model: str = "", detail: str = "") -> JSONResponse:
    """An error response with Anthropic's body shape."""
    err_type, template = _ANTHROPIC_ERRORS[status]
    body = {
        "type": "error",
        "error": {"type": err_type, "message": template.format(model=model, detail=detail)},
    }
    return JSONResponse(body, status_code=int(status), headers={"request-id": "req_fake"})


def http_failure(status: str, model: str, key: str = BAD_KEY) -> JSONResponse:
    """The canned error response for one of the HTTP ``fail`` modes."""
    template, err_type, code = _HTTP_ERRORS[status]
    return error_response(int(status), template.format(model=model, key=key), err_type, code)


def bad_request(message: str) -> JSONResponse:
    """A 400 ``invalid_request_error``."""
    return error_response(400, message, "invalid_request_error", None)


# --------------------------------------------------------------------------- state


class _AbortStream(Exception):
    """Raised inside a response body to make uvicorn drop the connection."""


class _QuietAbortFilter(logging.Filter):
    """Drop uvicorn's traceback for a deliberately aborted stream."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BaseExceptionGroup):
            return not any(isinstance(e, _AbortStream) for e in exc.exceptions)
        return not isinstance(exc, _AbortStream)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietAbortFilter) for f in logger.filters):
        logger.addFilter(_QuietAbortFilter())


@dataclass
class ProviderState:
    """Mutable state shared between the server thread and the test thread."""

    records: list[dict[str, Any]] = field(default_factory=list)
    default_directive: dict[str, Any] = field(default_factory=dict)
    total_requests: int = 0
    active_streams: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request, body: Any) -> int:
        """Remember one chat request; return its sequence number."""
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
        entry = {"method": request.method, "path": request.url.path, "headers": headers}
        with self.lock:
            self.total_requests += 1
            self.records.append({**entry, "body": body})
            return self.total_requests

    def snapshot(self) -> list[dict[str, Any]]:
        """A copy of the recorded requests."""
        with self.lock:
            return list(self.records)

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self.lock:
            self.records.clear()

    def reset(self) -> None:
        """Forget recorded requests, counters and the default directive."""
        with self.lock:
            self.records.clear()
            self.total_requests = 0
            self.default_directive = {}

    async def sleep(self, seconds: float) -> None:
        """Sleep, but abort the response promptly when the server is shutting down."""
        deadline = time.monotonic() + seconds
        while True:
            if self.stopping.is_set():
                raise _AbortStream("fake provider is shutting down")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(POLL_INTERVAL, remaining))


class TrackedStreamingResponse(StreamingResponse):
    """A streaming response counted in ``ProviderState.active_streams`` while it runs."""

    def __init__(self, content: AsyncIterator[str], state: ProviderState, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with self.state.lock:
            self.state.active_streams += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            with self.state.lock:
                self.state.active_streams -= 1
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()


# --------------------------------------------------------------------------- responses


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


def _usage(body: dict[str, Any], script: Script) -> dict[str, int]:
    prompt = sum(len(message_text(m).split()) + 3 for m in body.get("messages", []))
    completion = len(plan_deltas(script))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@dataclass
class ChunkFactory:
    """Builds ``chat.completion.chunk`` objects sharing one id, timestamp and model."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        """One chunk with a single choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._base(choices=[choice])

    def usage_chunk(self, usage: dict[str, int]) -> dict[str, Any]:
        """The trailing usage chunk sent when ``stream_options.include_usage`` is set."""
        return self._base(choices=[], usage=usage)

    def _base(self, **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            **extra,
        }


async def stream_events(
    body: dict[str, Any], script: Script, state: ProviderState
) -> AsyncIterator[str]:
    """The SSE body for a streaming request, including the scripted failure modes."""
    factory = ChunkFactory(model=str(body.get("model", "")))
    deltas = plan_deltas(script)
    if script.fail in _CUT_SHORT:
        deltas = deltas[: script.fail_after]
    yield _sse(factory.chunk({"role": "assistant", "content": ""}))
    for i, delta in enumerate(deltas):
        await state.sleep(script.first_delay if i == 0 else script.delay)
        if script.stamp and "content" in delta:
            delta = {"content": f"{i}@{time.monotonic_ns()} "}
        yield _sse(factory.chunk(delta))
    if script.fail == "break":
        raise _AbortStream("scripted connection break")
    if script.fail == "malformed":
        yield "data: {not json\n\n"
        return
    if script.fail == "hang":
        await state.sleep(HANG_LIMIT)
        return
    if script.fail == "no_finish":
        return
    if script.fail == "stream_error":
        # How OpenRouter and others report a failure once the 200 response has begun.
        yield _sse({"error": {"message": "Overloaded", "type": "overloaded_error", "code": 529}})
        return
    yield _sse(factory.chunk({}, finish_reason=script.finish_reason))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        yield _sse(factory.usage_chunk(_usage(body, script)))
    yield _sse("[DONE]")


def completion_body(body: dict[str, Any], script: Script) -> dict[str, Any]:
    """The ``chat.completion`` object for a non-streaming request."""
    message: dict[str, Any] = {"role": "assistant", "content": script.content or None}
    if script.reasoning:
        message["reasoning_content"] = script.reasoning
    if script.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in script.tool_calls
        ]
    finish = None if script.fail == "no_finish" else script.finish_reason
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model", "")),
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _usage(body, script),
    }


async def broken_json_body(text: str) -> AsyncIterator[str]:
    """Half of a JSON document, then an aborted connection."""
    yield text[: len(text) // 2]
    raise _AbortStream("scripted connection break")


async def hang_until_gone(request: Request, state: ProviderState) -> None:
    """Wait (at most ``HANG_LIMIT``) until the client disconnects or the server stops."""
    deadline = time.monotonic() + HANG_LIMIT
    while time.monotonic() < deadline and not await request.is_disconnected():
        await state.sleep(POLL_INTERVAL)


async def complete_once(
    request: Request, body: dict[str, Any], script: Script, state: ProviderState
) -> Response:
    """Answer a non-streaming request (with delays and the stream-style failure modes)."""
    pieces = len(plan_deltas(script))
    await state.sleep(script.first_delay + script.delay * max(0, pieces - 1))
    if script.fail == "hang":
        await hang_until_gone(request, state)
        return bad_request("fake provider: hang ended")
    if script.fail == "malformed":
        return Response("{not json", media_type="application/json")
    if script.fail == "stream_error":
        return http_failure("529", str(body.get("model", "")))
    payload = json.dumps(completion_body(body, script))
    if script.fail == "break":
        return StreamingResponse(broken_json_body(payload), media_type="application/json")
    return Response(payload, media_type="application/json")


# --------------------------------------------------------------------------- anthropic


ANTHROPIC_MODEL_IDS = ("claude-fake", "claude-fake-large")


def fake_signature(thinking: str) -> str:
    """The signature the fake gives a thinking block (and expects back unchanged)."""
    return "fakesig-" + hashlib.sha256(thinking.encode()).hexdigest()[:32]


def _anthropic_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def anthropic_last_user_turn(messages: list[dict[str, Any]]) -> tuple[str, int]:
    """The last user text block and the number of ``tool_result`` blocks after it."""
    user_blocks = [b for m in messages if m.get("role") == "user" for b in _anthropic_blocks(m)]
    for idx in range(len(user_blocks) - 1, -1, -1):
        if user_blocks[idx].get("type") == "text":
            after = user_blocks[idx + 1 :]
            return str(user_blocks[idx].get("text", "")), sum(
                1 for b in after if b.get("type") == "tool_result"
            )
    return "", sum(1 for b in user_blocks if b.get("type") == "tool_result")


def check_anthropic_messages(messages: Any) -> str | None:
    """What the real API would refuse in *messages* (``None`` when they are acceptable)."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return "messages: must be a list of objects"
    if not messages or messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in ("user", "assistant"):
            return f'messages.{i}.role: must be "user" or "assistant"'
        if i and messages[i - 1].get("role") == role:
            return f'messages.{i}: roles must alternate between "user" and "assistant"'
        blocks = _anthropic_blocks(message)
        if not blocks:
            return f"messages.{i}: all messages must have non-empty content"
        for block in blocks:
            if block.get("type") == "thinking" and block.get("signature") != fake_signature(
                str(block.get("thinking", ""))
            ):
                return f"messages.{i}.content: Invalid `signature` in `thinking` block"
        uses = [b.get("id") for b in blocks if b.get("type") == "tool_use"]
        if uses:
            following = _anthropic_blocks(messages[i + 1]) if i + 1 < len(messages) else []
            results = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
            missing = [u for u in uses if u not in results]
            if missing:
                return (
                    f"messages.{i + 1}: `tool_use` ids were found without `tool_result` "
                    f"blocks immediately after: {', '.join(map(str, missing))}"
                )
    return None


def anthropic_script(body: dict[str, Any], default: dict[str, Any] | None) -> Script:
    """Resolve the script of a Messages API request from its last user text (or *default*)."""
    text, tool_results = anthropic_last_user_turn(body["messages"])
    user_text, directive = split_directive(text)
    if directive is None:
        user_text, directive = text, default or {}
    return parse_script(select_step(directive, tool_results), user_text)


def plan_anthropic_events(script: Script) -> list[tuple[str, dict[str, Any]]]:
    """The ``(event, data)`` pairs between ``message_start`` and ``message_delta``."""
    events: list[tuple[str, dict[str, Any]]] = []
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if script.reasoning:
        deltas: list[dict[str, Any]] = [
            {"type": "thinking_delta", "thinking": w} for w in split_words(script.reasoning)
        ]
        deltas.append({"type": "signature_delta", "signature": fake_signature(script.reasoning)})
        blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if script.content:
        deltas = [{"type": "text_delta", "text": w} for w in split_words(script.content)]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for call in script.tool_calls:
        pieces = split_arguments(call.arguments, 3)
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        blocks.append(({"type": "tool_use", "id": call.id, "name": call.name, "input": {}}, deltas))
    for index, (start, deltas) in enumerate(blocks):
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        if index == 0:
            events.append(("ping", {"type": "ping"}))
        for delta in deltas:
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def _event(name: str, data: dict[str, Any] | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n"


async def stream_anthropic_events(
    body: dict[str, Any], script: Script, state: ProviderState
) -> AsyncIterator[str]:
    """The SSE body of a streaming Messages request, including the scripted failure modes."""
    events = plan_anthropic_events(script)
    input_tokens = sum(
        len(str(b.get("text", "")).split()) + 3
        for m in body["messages"]
        for b in _anthropic_blocks(m)
    )
    yield _event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": f"msg_fake{uuid.uuid4().hex[:20]}",
                "type": "message",
                "role": "assistant",
                "model": str(body.get("model", "")),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": 1},
            },
        },
    )
    sent = 0
    for name, data in events:
        if name == "content_block_delta":
            if script.fail in _CUT_SHORT and sent >= script.fail_after:
                break
            await state.sleep(script.first_delay if sent == 0 else script.delay)
            sent += 1
        yield _event(name, data)
    if script.fail == "break":
        raise _AbortStream("scripted connection break")
    if script.fail == "malformed":
        yield "event: content_block_delta\ndata: {not json\n\n"
        return
    if script.fail == "hang":
        await state.sleep(HANG_LIMIT)
        return
    if script.fail == "no_finish":
        return
    if script.fail == "stream_error":
        # Anthropic reports overload during a stream as an `error` event in the 200 response.
        error = {"type": "overloaded_error", "message": "Overloaded"}
        yield _event("error", {"type": "error", "error": error})
        return
    stop_reason = script.anthropic_stop_reason
    yield _event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": sent},
        },
    )
    yield _event("message_stop", {"type": "message_stop"})


def anthropic_message_body(body: dict[str, Any], script: Script) -> dict[str, Any]:
    """The ``message`` object of a non-streaming Messages request."""
    content: list[dict[str, Any]] = []
    if script.reasoning:
        signature = fake_signature(script.reasoning)
        content.append({"type": "thinking", "thinking": script.reasoning, "signature": signature})
    if script.content:
        content.append({"type": "text", "text": script.content})
    for call in script.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {}
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    stop_reason = None if script.fail == "no_finish" else script.anthropic_stop_reason
    return {
        "id": f"msg_fake{uuid.uuid4().hex[:20]}",
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model", "")),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": len(plan_anthropic_events(script))},
    }


async def complete_anthropic_once(
    request: Request, body: dict[str, Any], script: Script, state: ProviderState
) -> Response:
    """Answer a non-streaming Messages request (with delays and the failure modes)."""
    await state.sleep(script.first_delay)
    if script.fail == "hang":
        await hang_until_gone(request, state)
        return anthropic_error("400", detail="fake provider: hang ended")
    if script.fail == "malformed":
        return Response("{not json", media_type="application/json")
    if script.fail == "stream_error":
        return anthropic_error("529")
    payload = json.dumps(anthropic_message_body(body, script))
    if script.fail == "break":
        return StreamingResponse(broken_json_body(payload), media_type="application/json")
    return Response(payload, media_type="application/json", headers={"request-id": "req_fake"})


def _anthropic_model_object(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id.replace("-", " ").title(),
        "created_at": "2025-01-01T00:00:00Z",
    }


# --------------------------------------------------------------------------- routes


def _is_bad_key(request: Request) -> bool:
    return request.headers.get("authorization", "").strip() == f"Bearer {BAD_KEY}"


def _is_bad_anthropic_key(request: Request) -> bool:
    return request.headers.get("x-api-key", "").strip() == BAD_KEY or _is_bad_key(request)


def _model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _CREATED, "owned_by": "fake"}


def create_app(state: ProviderState) -> Starlette:
    """The Starlette application serving the fake provider on top of *state*."""

    async def chat_completions(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            state.record(request, None)
            return bad_request("We could not parse the JSON body of your request.")
        seq = state.record(request, body)
        if not isinstance(body, dict):
            return bad_request("The request body must be a JSON object.")
        model = str(body.get("model", ""))
        if _is_bad_key(request):
            return http_failure("401", model)
        if model == MISSING_MODEL:
            return http_failure("404", model)
        try:
            script = script_for_request(body, state.default_directive)
        except DirectiveError as exc:
            return bad_request(f"fake provider: bad #fake directive: {exc}")
        if script.fail in _HTTP_ERRORS:
            return http_failure(script.fail, model)
        if not body.get("stream"):
            return await complete_once(request, body, script, state)
        headers = {"cache-control": "no-cache", "x-request-id": f"req_fake_{seq}"}
        return TrackedStreamingResponse(
            stream_events(body, script, state),
            state,
            headers=headers,
            media_type="text/event-stream; charset=utf-8",
        )

    async def messages(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            state.record(request, None)
            return anthropic_error("400", detail="The request body is not valid JSON.")
        state.record(request, body)
        if not isinstance(body, dict):
            return anthropic_error("400", detail="The request body must be a JSON object.")
        model = str(body.get("model", ""))
        if _is_bad_anthropic_key(request):
            return anthropic_error("401")
        if model == MISSING_MODEL:
            return anthropic_error("404", model)
        problem = check_anthropic_messages(body.get("messages"))
        if problem is not None:
            return anthropic_error("400", detail=problem)
        try:
            script = anthropic_script(body, state.default_directive)
        except DirectiveError as exc:
            return anthropic_error("400", detail=f"fake provider: bad #fake directive: {exc}")
        if script.fail in _HTTP_ERRORS:
            return anthropic_error(script.fail, model)
        if not body.get("stream"):
            return await complete_anthropic_once(request, body, script, state)
        return TrackedStreamingResponse(
            stream_anthropic_events(body, script, state),
            state,
            headers={"cache-control": "no-cache", "request-id": "req_fake"},
            media_type="text/event-stream; charset=utf-8",
        )

    async def list_models(request: Request) -> Response:
        if "anthropic-version" in request.headers:
            if _is_bad_anthropic_key(request):
                return anthropic_error("401")
            data = [_anthropic_model_object(m) for m in ANTHROPIC_MODEL_IDS]
            return JSONResponse(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": data[0]["id"],
                    "last_id": data[-1]["id"],
                }
            )
        if _is_bad_key(request):
            return http_failure("401", "")
        return JSONResponse({"object": "list", "data": [_model_object(m) for m in MODEL_IDS]})

    async def get_model(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        if _is_bad_key(request):
            return http_failure("401", model_id)
        if model_id not in MODEL_IDS:
            return http_failure("404", model_id)
        return JSONResponse(_model_object(model_id))

    async def requests_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear()
            return JSONResponse({"cleared": True})
        return JSONResponse(state.snapshot())

    async def default_endpoint(request: Request) -> Response:
        try:
            directive = json.loads(await request.body() or b"{}")
            if not isinstance(directive, dict):
                raise DirectiveError("directive must be a JSON object")
            validate_directive(directive)
        except (json.JSONDecodeError, DirectiveError) as exc:
            return bad_request(f"fake provider: bad default directive: {exc}")
        state.default_directive = directive
        return JSONResponse({"default": directive})

    async def reset_endpoint(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def stats_endpoint(request: Request) -> Response:
        return JSONResponse(
            {"active_streams": state.active_streams, "total_requests": state.total_requests}
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/_fake/requests", requests_endpoint, methods=["GET", "DELETE"]),
            Route("/_fake/default", default_endpoint, methods=["POST"]),
            Route("/_fake/reset", reset_endpoint, methods=["POST"]),
            Route("/_fake/stats", stats_endpoint, methods=["GET"]),
        ]
    )


# --------------------------------------------------------------------------- server


def _check_host(host: str) -> None:
    if host != "127.0.0.1":
        raise ValueError("the fake provider only binds 127.0.0.1")


def make_config(state: ProviderState, host: str, port: int, quiet: bool) -> uvicorn.Config:
    """The uvicorn configuration; *quiet* leaves the process's logging setup untouched."""
    _install_log_filter()
    return uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        lifespan="off",
        ws="none",
        access_log=not quiet,
        log_config=None if quiet else uvicorn.config.LOGGING_CONFIG,
        timeout_graceful_shutdown=2,
    )


class FakeProvider:
    """A fake OpenAI-compatible provider running uvicorn in a background thread.

    Use as a context manager (or call :meth:`start` / :meth:`stop`)::

        with FakeProvider() as fp:
            client = AsyncOpenAI(base_url=fp.base_url, api_key="test")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        _check_host(host)
        self.host = host
        self._requested_port = port
        self.port = 0
        self.state = ProviderState()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self, timeout: float = 10.0) -> FakeProvider:
        """Start the server and wait until it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("FakeProvider already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        self.state.stopping.clear()
        config = make_config(self.state, self.host, self.port, quiet=True)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-provider", daemon=True
        )
        self._thread.start()
        self._wait_started(sock, timeout)
        return self

    def _wait_started(self, sock: socket.socket, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self._server is not None and self._thread is not None
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("fake provider failed to start")
            time.sleep(0.01)
        with socket.create_connection((self.host, self.port), timeout=timeout):
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server, aborting hanging or slow streams, and join its thread."""
        if self._server is None or self._thread is None:
            return
        self.state.stopping.set()
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- recording and control

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The parsed JSON bodies of the chat requests received, oldest first."""
        return [r["body"] for r in self.state.snapshot()]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Full records (method, path, headers, body) of the chat requests received."""
        return self.state.snapshot()

    @property
    def last_request(self) -> dict[str, Any] | None:
        """The body of the most recent chat request, if any."""
        bodies = self.requests
        return bodies[-1] if bodies else None

    @property
    def active_streams(self) -> int:
        """Streaming responses currently in flight."""
        return self.state.active_streams

    @property
    def total_requests(self) -> int:
        """Chat requests received since start or the last :meth:`reset`."""
        return self.state.total_requests

    def clear(self) -> None:
        """Forget the recorded requests."""
        self.state.clear()

    def set_default(self, **directive: Any) -> None:
        """Apply *directive* to requests whose last user message has no directive."""
        validate_directive(directive)
        self.state.default_directive = directive

    def reset(self) -> None:
        """Forget recorded requests and counters and clear the default directive."""
        self.state.reset()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no stream is in flight; return whether that happened in time."""
        deadline = time.monotonic() + timeout
        while self.state.active_streams:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def main(argv: list[str] | None = None) -> None:
    """Run the fake provider in the foreground."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible provider")
    parser.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=9999)
    args = parser.parse_args(argv)
    try:
        _check_host(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    state = ProviderState()
    print(f"fake provider: base_url http://{args.host}:{args.port}/v1", flush=True)
    uvicorn.Server(make_config(state, args.host, args.port, quiet=False)).run()


if __name__ == "__main__":
    main()
