"""In a real browser: answers stream and render as markdown, survive a reload mid-stream and a
network cut mid-stream, without duplicated or missing text."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser import answers, send

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def words(n: int) -> list[str]:
    return [f"w{i}" for i in range(n)]


def live_words(page) -> list[str]:
    return page.locator(".msg.live .answer").inner_text().split()


def test_send_streams_and_renders_markdown(page, fake):
    fake.set_default(
        reply="Hello **world**, here is code:\n\n```python\nprint('hi')\n```\n\n- one\n- two\n",
        delay=0.25,  # slow enough to see it stream, even on a loaded machine
    )
    send(page, "hi there")
    expect(page.locator(".msg.user .bubble")).to_have_text("hi there")
    # While it streams, the live answer is on the page with the first words.
    expect(page.locator(".msg.live .answer")).to_contain_text("Hello")
    final = answers(page)
    expect(final.locator("strong")).to_have_text("world")
    expect(final.locator(".code-block .code-head")).to_contain_text("python")
    expect(final.locator(".code-block pre")).to_have_text("print('hi')\n")
    assert final.locator(".code-block pre span").count() > 0  # Pygments classes
    expect(final.locator("li")).to_have_count(2)
    expect(page.locator(".msg.live")).to_have_count(0)
    # The session appears in the sidebar with its automatic title.
    expect(page.locator(".session-item .name")).to_have_text("hi there")


def test_reload_mid_stream_resumes_without_duplication(page, fake):
    n = 150  # long enough to still be streaming when the reloaded page is back, under load
    fake.set_default(tokens=n, delay=0.05)
    send(page, "count for me")
    expect(page.locator(".msg.live .answer")).to_contain_text("w8 ")
    page.reload()
    page.wait_for_selector("body[data-ready]")
    # After the reload the same answer continues live, rebuilt from the run's event log.
    expect(page.locator(".msg.live .answer")).to_contain_text("w30 ")
    seen = live_words(page)
    assert seen == words(len(seen))
    expect(answers(page)).to_have_count(1)
    expect(answers(page)).to_contain_text(f"w{n - 1}")
    assert answers(page).inner_text().split() == words(n)
    expect(page.locator(".msg.user")).to_have_count(1)


def test_network_cut_mid_stream_reconnects_and_resumes(page, fake, proxy):
    n = 120
    fake.set_default(tokens=n, delay=0.04)
    resumed_from: list[int] = []
    page.on(
        "request",
        lambda r: (
            resumed_from.append(int(r.headers.get("last-event-id", "0")))
            if "/events" in r.url
            else None
        ),
    )
    send(page, "a long one")
    expect(page.locator(".msg.live .answer")).to_contain_text("w5 ")
    # The network goes away: the open stream is cut and reconnecting fails for a while.
    page.route("**/api/runs/*/events", lambda route: route.abort())
    with page.expect_request(lambda r: "/events" in r.url):
        proxy.cut()
    expect(page.locator("#conn-state")).to_be_visible()
    expect(page.locator("#conn-state")).to_have_text("Reconnecting…")
    page.unroute("**/api/runs/*/events")
    expect(answers(page)).to_contain_text(f"w{n - 1}")
    assert answers(page).inner_text().split() == words(n)
    expect(page.locator("#conn-state")).to_be_hidden()
    assert max(resumed_from) > 0  # it asked for the events after the last one it had


def test_server_killed_mid_stream_shows_interrupted_and_retries(page, fake, server):
    fake.set_default(tokens=400, delay=0.05)
    send(page, "keep going")
    expect(page.locator(".msg.live .answer")).to_contain_text("w10 ")
    server.kill9()
    expect(page.locator("#conn-state")).to_be_visible()
    server.restart()
    # The page reconnects to the new process, learns the run was interrupted, and keeps the
    # text that was stored before the crash (a prefix of what streamed).
    notice = page.locator(".notice[data-run-status=interrupted]")
    expect(notice).to_contain_text("Interrupted")
    kept = answers(page).first.inner_text().split()
    assert len(kept) >= 5 and kept == words(len(kept))
    fake.set_default(reply="Picked up again.")
    notice.get_by_role("button", name="Retry").click()
    expect(answers(page)).to_have_text(["Picked up again."])


def test_a_stream_that_closes_without_its_end_still_learns_the_run_ended(page, fake, server):
    # After a crash the sweep may store `run.interrupted` under an id the page already saw live;
    # the server then closes the page's stream with nothing new. Made exact here: every
    # reconnect gets an empty stream, and the page must ask the run itself.
    fake.set_default(tokens=400, delay=0.05)
    send(page, "keep going")
    expect(page.locator(".msg.live .answer")).to_contain_text("w10 ")
    page.route(
        "**/api/runs/*/events",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=": hi\n\n"),
    )
    server.kill9()
    server.restart()
    notice = page.locator(".notice[data-run-status=interrupted]")
    expect(notice).to_contain_text("Interrupted")
    expect(page.locator("#conn-state")).to_be_hidden()


def test_a_run_that_ends_between_the_pages_two_reads_is_still_shown(page, fake, server):
    # The page reads the transcript and the runs in two requests. Here the transcript is read
    # while the answer streams and the runs only once the run has ended, so no run is left to
    # follow for the message read as `streaming`: the page must read both again.
    fake.set_default(tokens=3, first_delay=1.5)
    with server.client() as client:
        session = client.post("/api/sessions", json={}).json()
        run = client.post(
            f"/api/sessions/{session['id']}/messages", json={"content": "a slow start"}
        ).json()["run"]

        def runs_after_the_end(route) -> None:
            for _ in range(200):
                if client.get(f"/api/runs/{run['id']}").json()["status"] == "completed":
                    break
                time.sleep(0.05)
            route.continue_()

        page.route("**/api/sessions/*/runs", runs_after_the_end)
        page.goto(f"/#/s/{session['id']}")
        expect(answers(page)).to_have_text(["w0 w1 w2"])
