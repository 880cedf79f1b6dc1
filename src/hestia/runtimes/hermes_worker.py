"""One Hermes Agent run, in its own process: `python -m hestia.runtimes.hermes_worker`.

Hermes keeps per-run state in process-global places (environment variables such as
`HERMES_HOME`, `TERMINAL_CWD` and the session key, module-level approval queues), so every run
gets a fresh process. The protocol is JSON lines:

- stdin, first line: the request `{model, provider: {mode, base_url, api_key}, session_key,
  history, user_message, workspace, hermes_home, task_id, max_iterations}`; later lines:
  `{"type": "approval", "decision": "once|session|deny"}` and `{"type": "interrupt"}`.
- stdout: `{"type": ...}` lines — `ready`, `delta`, `reasoning`, `step` (the assistant's tool
  calls, before they run), `tool.started`, `tool.finished`, `results` (the tool messages Hermes
  appended), `approval` (Hermes' dangerous-command guard asks), and last `done` or `error`.

The worker leaves when its owner does: end of stdin (the owner closed the pipe or died, even
by `kill -9`) or a new parent pid kills the worker's whole process group at once. `--probe`
prints what doctor needs (version, home, resolved provider) and exits.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import sys
import threading
import time
from typing import Any

# Hestia's approvals wait until answered or until the run ends; Hermes' own timeout must not
# turn a slow human into a silent deny.
APPROVAL_WAIT_SECONDS = 7 * 24 * 3600
PARENT_POLL_SECONDS = 0.5


class Channel:
    """The protocol stream to the owner: a private copy of stdout, one JSON object a line."""

    def __init__(self) -> None:
        # Hermes and its tools print; fd 1 goes to stderr so only protocol lines reach the owner.
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def send(self, type_: str, **data: Any) -> None:
        line = json.dumps({"type": type_, **data}, ensure_ascii=False, default=str)
        with self._lock:
            try:
                self._out.write(line + "\n")
                self._out.flush()
            except (BrokenPipeError, ValueError):
                _die()


def _die() -> None:
    """End this process and everything it started (the worker leads its process group)."""
    try:
        os.killpg(os.getpid(), signal.SIGKILL)
    finally:
        os._exit(137)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            _die()


class Control:
    """Reads the owner's later lines: approval decisions and the interrupt."""

    def __init__(self, session_key: str) -> None:
        self.session_key = session_key
        self.agent: Any = None
        self.interrupted = threading.Event()

    def run(self) -> None:
        for line in sys.stdin:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("type") == "approval":
                from tools import approval

                approval.resolve_gateway_approval(self.session_key, message["decision"])
            elif message.get("type") == "interrupt":
                self.interrupted.set()
                if self.agent is not None:
                    self.agent.interrupt()
        _die()  # the owner is gone: nobody will read what this run does


def _supported(func: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments `func` accepts (Hermes versions differ)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return wanted
    return {k: v for k, v in wanted.items() if k in params}


def _prepare_environment(request: dict[str, Any]) -> None:
    os.environ["HERMES_HOME"] = request["hermes_home"]
    os.environ["TERMINAL_CWD"] = request["workspace"]
    os.environ["HERMES_SESSION_KEY"] = request["session_key"]
    # Ask, through the gateway queue, instead of running dangerous commands unasked.
    os.environ["HERMES_EXEC_ASK"] = "1"
    # A web run must never pip-install packages into Hestia's environment on its own.
    os.environ.setdefault("HERMES_DISABLE_LAZY_INSTALLS", "1")
    os.chdir(request["workspace"])


def _resolve_provider(request: dict[str, Any]) -> dict[str, Any]:
    """model, provider, base_url, api_key (and api_mode) for AIAgent."""
    provider = request["provider"]
    if provider["mode"] == "hestia":
        return {
            "model": request["model"],
            "provider": "custom",
            "base_url": provider["base_url"],
            "api_key": provider.get("api_key") or "no-key",
        }
    from hermes_cli.config import load_config
    from hermes_cli.runtime_provider import resolve_runtime_provider

    model = request.get("model")
    if not model:
        model_cfg = load_config().get("model") or {}
        if isinstance(model_cfg, str):
            model = model_cfg
        else:
            model = model_cfg.get("default") or model_cfg.get("model") or ""
    runtime = resolve_runtime_provider(requested=None, target_model=model or None)
    return {
        "model": model,
        "provider": runtime.get("provider"),
        "base_url": runtime.get("base_url"),
        "api_key": runtime.get("api_key"),
        "api_mode": runtime.get("api_mode"),
        "credential_pool": runtime.get("credential_pool"),
        **_user_choices(load_config()),
    }


def _user_choices(config: dict[str, Any]) -> dict[str, Any]:
    """The toolsets and fallback models the user chose for the Hermes CLI, where readable."""
    choices: dict[str, Any] = {}
    try:
        from hermes_cli.tools_config import _get_platform_tools

        choices["enabled_toolsets"] = sorted(_get_platform_tools(config, "cli"))
    except Exception:  # another Hermes version: its defaults apply
        pass
    try:
        from hermes_cli.fallback_config import get_fallback_chain

        choices["fallback_model"] = get_fallback_chain(config) or None
    except Exception:
        pass
    return choices


def _clarify(question: str, choices: Any = None) -> str:
    # Hestia has no clarify prompt yet: the agent decides, as in Hermes' one-shot mode.
    return (
        "[The user cannot answer clarifying questions in this interface. Make the most "
        "reasonable choice"
        + (f" among {choices}" if choices else "")
        + ", say which one you made, and continue.]"
    )


def _tool_calls(assistant_message: Any) -> list[dict[str, str]]:
    calls = []
    for call in getattr(assistant_message, "tool_calls", None) or []:
        function = getattr(call, "function", None)
        if isinstance(call, dict):
            function = call.get("function") or {}
            calls.append(
                {
                    "id": call.get("id", ""),
                    "name": function.get("name", ""),
                    "arguments": function.get("arguments") or "{}",
                }
            )
            continue
        arguments = getattr(function, "arguments", None) or "{}"
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        calls.append({"id": call.id, "name": getattr(function, "name", ""), "arguments": arguments})
    return calls


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # multimodal parts
        return "".join(p.get("text", "") for p in value if isinstance(p, dict))
    return "" if value is None else json.dumps(value, default=str)


def _observe_tool_batches(agent: Any, channel: Channel) -> None:
    """Report each batch of tool calls before it runs and the tool messages after.

    The tool callbacks give the live events; the batch gives the exact assistant message and
    tool results Hermes sends back to the model, which Hestia stores as its history.
    """
    execute = getattr(agent, "_execute_tool_calls", None)
    if execute is None:
        return

    def observed(assistant_message: Any, messages: list, *args: Any, **kwargs: Any) -> Any:
        channel.send(
            "step",
            content=_content(getattr(assistant_message, "content", None)),
            tool_calls=_tool_calls(assistant_message),
        )
        start = len(messages)
        try:
            return execute(assistant_message, messages, *args, **kwargs)
        finally:
            channel.send(
                "results",
                results=[
                    {
                        "call_id": m.get("tool_call_id", ""),
                        "name": m.get("name") or m.get("tool_name") or "",
                        "content": _content(m.get("content")),
                    }
                    for m in messages[start:]
                    if isinstance(m, dict) and m.get("role") == "tool"
                ],
            )

    agent._execute_tool_calls = observed


def _register_approvals(request: dict[str, Any], channel: Channel) -> None:
    from tools import approval

    if hasattr(approval, "_get_approval_timeout"):
        approval._get_approval_timeout = lambda: APPROVAL_WAIT_SECONDS

    def notify(data: dict[str, Any]) -> None:
        channel.send(
            "approval",
            command=data.get("command", ""),
            description=data.get("description", ""),
            pattern_key=data.get("pattern_key", ""),
            pattern_keys=data.get("pattern_keys") or [],
        )

    approval.register_gateway_notify(request["session_key"], notify)


def _is_error(result: Any) -> bool:
    try:
        value = json.loads(result) if isinstance(result, str) else result
    except ValueError:
        return False
    return isinstance(value, dict) and bool(value.get("error"))


def run(request: dict[str, Any], channel: Channel, control: Control) -> None:
    """Build the agent, run one conversation turn, report as it goes."""
    _prepare_environment(request)
    from run_agent import AIAgent

    try:  # subagents run inline: nothing here would deliver a detached one's result
        from gateway.session_context import declare_stateless_channel

        declare_stateless_channel()
    except Exception:
        pass
    _register_approvals(request, channel)

    def on_delta(text: str | None) -> None:
        if text:
            channel.send("delta", text=text)

    def on_reasoning(text: str | None) -> None:
        if text:
            channel.send("reasoning", text=text)

    def on_tool_start(call_id: str, name: str, args: Any) -> None:
        channel.send("tool.started", call_id=call_id, name=name, arguments=args)

    def on_tool_complete(call_id: str, name: str, args: Any, result: Any) -> None:
        output = _content(result)
        channel.send(
            "tool.finished", call_id=call_id, name=name, output=output, is_error=_is_error(result)
        )

    wanted = {
        **{k: v for k, v in _resolve_provider(request).items() if v is not None},
        "session_id": request["session_key"],
        "quiet_mode": True,
        "platform": "hestia",
        "max_iterations": request.get("max_iterations", 90),
        "stream_delta_callback": on_delta,
        "reasoning_callback": on_reasoning,
        "tool_start_callback": on_tool_start,
        "tool_complete_callback": on_tool_complete,
        "clarify_callback": _clarify,
    }
    agent = AIAgent(**_supported(AIAgent.__init__, wanted))
    control.agent = agent
    _observe_tool_batches(agent, channel)
    channel.send("ready", model=getattr(agent, "model", wanted.get("model")))
    if control.interrupted.is_set():
        agent.interrupt()
    call = {
        "user_message": request["user_message"],
        "conversation_history": request["history"],
        "task_id": request["task_id"],
    }
    try:
        result = agent.run_conversation(**_supported(agent.run_conversation, call))
    finally:
        try:
            agent.close()
        except Exception:
            pass
    channel.send(
        "done",
        final_response=_content(result.get("final_response")),
        failed=bool(result.get("failed")),
        interrupted=bool(result.get("interrupted")) or control.interrupted.is_set(),
        error=_content(result.get("error")) or None,
        model=result.get("model"),
    )


def probe() -> dict[str, Any]:
    """What doctor reports: the version, the home, and the provider config.yaml resolves to."""
    import importlib.metadata

    import run_agent  # noqa: F401  (loads HERMES_HOME/.env, where provider keys often are)

    info: dict[str, Any] = {
        "version": importlib.metadata.version("hermes-agent"),
        "hermes_home": os.environ.get("HERMES_HOME") or os.path.expanduser("~/.hermes"),
    }
    try:
        resolved = _resolve_provider({"provider": {"mode": "hermes"}, "model": None})
    except Exception as exc:
        info["error"] = f"{type(exc).__name__}: {exc}"
        return info
    info.update(
        model=resolved.get("model"),
        provider=resolved.get("provider"),
        base_url=resolved.get("base_url"),
        api_key=resolved.get("api_key") or None,
    )
    return info


def main() -> None:
    """Entry point: read the request, run it, and leave with the owner."""
    if "--probe" in sys.argv:
        channel = Channel()
        channel.send("probe", **probe())
        return
    parent = os.getppid()
    channel = Channel()
    line = sys.stdin.readline()
    if not line:
        _die()
    request = json.loads(line)
    control = Control(request["session_key"])
    threading.Thread(target=control.run, name="hestia-control", daemon=True).start()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        run(request, channel, control)
    except BaseException as exc:  # the owner ends the run failed with this line
        channel.send("error", message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        sys.stderr.flush()
    os._exit(0)  # Hermes may leave non-daemon threads behind; the run is over


if __name__ == "__main__":
    main()
