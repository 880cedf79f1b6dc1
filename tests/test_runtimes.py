"""Runtime availability and the history handed to Hermes (no Hermes process needed)."""

from __future__ import annotations

import importlib.metadata

import pytest

from hestia.core import hermes, runtimes, sessions
from hestia.core.history import UNFINISHED_TOOL, build_history
from hestia.errors import BadRequest


def _not_installed(name: str) -> str:
    raise importlib.metadata.PackageNotFoundError(name)


def test_hermes_missing_is_reported_with_the_way_to_install_it(monkeypatch):
    monkeypatch.setattr(runtimes.importlib.metadata, "version", _not_installed)
    status = runtimes.hermes_status()
    assert (status.name, status.available, status.version) == ("hermes", False, None)
    assert "pip install 'hestia[hermes]'" in status.reason
    assert [s.name for s in runtimes.statuses()] == ["builtin", "hermes"]
    assert runtimes.statuses()[0].available


def test_choosing_a_missing_runtime_is_a_clear_400(monkeypatch):
    monkeypatch.setattr(runtimes.importlib.metadata, "version", _not_installed)
    with pytest.raises(BadRequest) as caught:
        sessions._runtime("hermes")
    assert caught.value.code == "runtime_unavailable"
    assert "hermes-agent is not installed" in caught.value.message
    assert sessions._runtime("builtin") == "builtin"
    for bad in ("", "HERMES", None, 3):
        with pytest.raises(BadRequest):
            sessions._runtime(bad)


def row(role, content, parts=None):
    return {"role": role, "content": content, "parts": parts}


def test_history_becomes_openai_messages_with_every_call_answered():
    call = {"type": "tool_call", "id": "c1", "name": "terminal", "arguments": '{"command":"ls"}'}
    cut = {"type": "tool_call", "id": "c2", "name": "terminal", "arguments": "{}"}
    result = {"type": "tool_result", "call_id": "c1", "name": "terminal", "is_error": False}
    rows = [
        row("user", "one"),
        row("assistant", "looking", [call]),
        row("tool", "a.txt", [result]),
        row("assistant", "done"),
        row("user", "two"),
        row("assistant", "", [cut]),  # a run stopped before this call had a result
        row("assistant", ""),  # an empty answer is left out
        row("user", "three"),
    ]
    assert hermes.to_openai_messages(build_history(rows)) == [
        {"role": "user", "content": "one"},
        {
            "role": "assistant",
            "content": "looking",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "terminal", "arguments": '{"command":"ls"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "a.txt"},
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "two"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "terminal", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c2", "content": UNFINISHED_TOOL},
        {"role": "user", "content": "three"},
    ]
