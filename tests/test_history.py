"""The history sent to a model stays valid whatever state a run was cut off in."""

from hestia.core.history import UNFINISHED_TOOL, build_history


def row(role, content="", parts=None):
    return {"role": role, "content": content, "parts": parts}


def call(call_id, name="shell"):
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": "{}"}


def result(call_id, name="shell"):
    return {"type": "tool_result", "call_id": call_id, "name": name, "is_error": False}


def test_complete_tool_steps_pass_through_unchanged():
    rows = [
        row("user", "hi"),
        row("assistant", "", [call("a")]),
        row("tool", "out", [result("a")]),
        row("assistant", "done"),
    ]
    history = build_history(rows)
    assert [(m.role, m.content) for m in history] == [
        ("user", "hi"),
        ("assistant", ""),
        ("tool", "out"),
        ("assistant", "done"),
    ]


def test_a_call_without_result_gets_one_before_the_next_turn():
    rows = [
        row("user", "hi"),
        row("assistant", "", [call("a"), call("b")]),
        row("tool", "out", [result("a")]),
        row("user", "again"),
    ]
    history = build_history(rows)
    assert [m.role for m in history] == ["user", "assistant", "tool", "tool", "user"]
    assert history[3].content == UNFINISHED_TOOL
    assert history[3].parts[0]["call_id"] == "b" and history[3].parts[0]["is_error"]


def test_a_trailing_call_without_result_is_closed_too():
    history = build_history([row("user", "hi"), row("assistant", "", [call("a")])])
    assert [m.role for m in history] == ["user", "assistant", "tool"]


def test_orphan_results_and_empty_answers_are_left_out():
    rows = [
        row("user", "hi"),
        row("assistant", ""),  # failed before any text
        row("tool", "stray", [result("zzz")]),
        row("user", "again"),
    ]
    assert [m.role for m in build_history(rows)] == ["user", "user"]
