"""In a real browser: tool cards, approvals, stop, queued sends, edit and retry, earlier
versions, and text from a model or a tool that tries to be HTML."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import answers, send

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_tool_card_and_approval_flow(page, fake):
    fake.set_default(
        steps=[
            {
                "reply": "Cleaning up first.",
                "tool_calls": [
                    {"name": "shell", "arguments": {"command": "rm -rf build; echo removed-it"}}
                ],
            },
            {"reply": "All **done**."},
        ]
    )
    send(page, "tidy the workspace")
    approval = page.locator(".approval")
    expect(approval).to_contain_text("Allow shell?")
    expect(approval.locator("pre")).to_have_text("rm -rf build; echo removed-it")
    for label in ("Allow once", "Allow for this session", "Always allow", "Deny"):
        expect(approval.get_by_role("button", name=label)).to_be_visible()
    card = page.locator(".tool").first
    expect(card.locator(".tool-status")).to_have_text("Waiting for you")
    approval.get_by_role("button", name="Allow once").click()
    expect(answers(page).last).to_contain_text("All done.")
    card = page.locator(".tool").first
    expect(card.locator(".tool-name")).to_have_text("shell")
    expect(card.locator(".tool-status")).to_have_text("Done")
    card.locator("summary").click()
    expect(card.locator(".tool-pre.output")).to_contain_text("removed-it")
    expect(card.locator(".tool-pre.args")).to_contain_text(
        '"command": "rm -rf build; echo removed-it"'
    )


def test_reasoning_is_a_collapsed_thinking_block(page, fake):
    fake.set_default(reasoning="First I weigh the options carefully.", reply="Pick the second.")
    send(page, "which one?")
    expect(answers(page)).to_have_text(["Pick the second."])
    thinking = page.locator(".thinking")
    expect(thinking).to_have_count(1)
    expect(thinking).not_to_have_attribute("open", "")
    expect(thinking.locator(".thinking-body")).to_be_hidden()
    thinking.locator("summary").click()
    expect(thinking.locator(".thinking-body")).to_have_text("First I weigh the options carefully.")


def test_denied_tool_shows_as_failed(page, fake):
    fake.set_default(
        steps=[
            {"tool_calls": [{"name": "shell", "arguments": {"command": "sudo reboot"}}]},
            {"reply": "Understood, I left it."},
        ]
    )
    send(page, "restart the machine")
    page.locator(".approval").get_by_role("button", name="Deny").click()
    expect(answers(page).last).to_contain_text("Understood, I left it.")
    expect(page.locator(".tool .tool-status")).to_have_text("Failed")


def test_stop_with_escape_then_retry(page, fake):
    fake.set_default(tokens=2000, delay=0.05)
    send(page, "go on forever")
    expect(page.locator(".msg.live .answer")).to_contain_text("w3 ")
    expect(page.locator("#stop")).to_be_visible()
    page.keyboard.press("Escape")
    notice = page.locator(".notice[data-run-status=cancelled]")
    expect(notice).to_contain_text("Stopped.")
    expect(page.locator("#stop")).to_be_hidden()
    assert answers(page).first.inner_text().startswith("w0 w1 w2 w3")  # the partial text stays
    fake.set_default(reply="A short answer this time.")
    notice.get_by_role("button", name="Retry").click()
    expect(answers(page)).to_have_text(["A short answer this time."])
    expect(page.locator(".notice")).to_have_count(0)


def test_sending_while_busy_is_queued(page, fake):
    fake.set_default(tokens=100, delay=0.05)
    send(page, "first question")
    expect(page.locator(".msg.live .answer")).to_contain_text("w2 ")
    send(page, "second question")
    queued = page.locator(".msg.user").filter(has_text="second question")
    expect(queued.locator(".badge.queued")).to_have_text("Queued")
    expect(answers(page)).to_have_count(2)
    expect(page.locator(".badge.queued")).to_have_count(0)
    expect(page.locator(".msg.user .bubble")).to_have_text(["first question", "second question"])


def test_edit_and_retry_and_earlier_versions(page, fake):
    send(page, "first version")
    expect(answers(page)).to_have_text(["Echo: first version"])
    user = page.locator(".msg.user").first
    user.hover()
    user.get_by_role("button", name="Edit message").click()
    editor = page.get_by_role("textbox", name="Edit message")
    editor.fill("second version")
    editor.press("Enter")
    expect(answers(page)).to_have_text(["Echo: second version"])
    expect(page.locator(".msg.user .bubble")).to_have_text(["second version"])
    page.get_by_role("button", name="Retry answer").click()
    expect(page.locator("#toggle-superseded")).to_be_visible()
    expect(answers(page)).to_have_text(["Echo: second version"])
    page.locator("#toggle-superseded").click()
    expect(page.locator(".msg.superseded")).not_to_have_count(0)
    expect(page.locator(".msg.superseded .bubble")).to_have_text(["first version"])
    expect(page.locator(".msg.assistant.superseded .answer")).to_have_text(
        ["Echo: first version", "Echo: second version"]
    )
    page.locator("#toggle-superseded").click()
    expect(page.locator(".msg.superseded")).to_have_count(0)


XSS = (
    '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    "[x](javascript:window.__xss=3)"
)


def test_html_in_messages_and_tool_output_is_text(page, fake):
    fake.set_default(
        steps=[
            {
                "tool_calls": [
                    {
                        "name": "shell",
                        "arguments": {
                            "command": "printf '%s' '<img src=x onerror=window.__xss=4>'"
                        },
                    }
                ]
            },
            {"reply": XSS},
        ]
    )
    send(page, XSS)
    expect(page.locator(".msg.user .bubble")).to_have_text(XSS)
    answer = answers(page).last
    expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(answer).to_contain_text("<script>window.__xss=2</script>")
    assert answer.locator("img, script").count() == 0
    assert answer.locator("a[href^=javascript]").count() == 0
    card = page.locator(".tool").first
    card.locator("summary").click()
    expect(card.locator(".tool-pre.output")).to_contain_text("<img src=x onerror=window.__xss=4>")
    assert page.locator(".thread img, .thread script").count() == 0
    assert page.evaluate("window.__xss") is None
