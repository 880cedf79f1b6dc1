"""In a real browser: the sessions sidebar (search, rename, pin, delete and undo, the trash),
keyboard shortcuts, and the setup screen of a first run without a provider."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import answers, open_page, send
from tests.server import HestiaServer, wait_for_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def names(page):
    return page.locator("#session-list .session-item .name")


def menu_action(page, title: str, action: str) -> None:
    item = page.locator(".session-item", has_text=title)
    item.hover()
    item.get_by_role("button", name=f"Actions for {title}").click()
    page.get_by_role("menuitem", name=action).click()


def test_search_as_you_type(page, server, fake):
    with server.client() as client:
        for title in ("Alpha notes", "Beta plan", "Gamma"):
            client.post("/api/sessions", json={"title": title}).raise_for_status()
        sid = client.post("/api/sessions", json={"title": "Delta"}).json()["id"]
        run = client.post(f"/api/sessions/{sid}/messages", json={"content": "a zebra crossing"})
        wait_for_run(client, run.json()["run"]["id"])
    page.reload()
    expect(names(page)).to_have_count(4)
    page.keyboard.press("Control+k")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("pla")
    expect(names(page)).to_have_text(["Beta plan"])
    page.locator("#search").fill("zebra")  # message text, not the title
    expect(names(page)).to_have_text(["Delta"])
    page.locator("#search").fill("nothing-like-this")
    expect(page.locator(".list-empty")).to_have_text("No sessions match.")
    page.locator("#search").press("Escape")
    expect(names(page)).to_have_count(4)


def test_rename_pin_delete_and_undo(page, server, fake):
    with server.client() as client:
        for title in ("Older one", "Newer one"):
            client.post("/api/sessions", json={"title": title}).raise_for_status()
    page.reload()
    expect(names(page)).to_have_text(["Newer one", "Older one"])

    menu_action(page, "Older one", "Rename")
    field = page.get_by_role("textbox", name="Session title")
    field.fill("Renamed one")
    field.press("Enter")
    expect(names(page)).to_have_text(["Newer one", "Renamed one"])

    menu_action(page, "Renamed one", "Pin")
    expect(page.locator(".group-label").first).to_have_text("Pinned")
    expect(names(page)).to_have_text(["Renamed one", "Newer one"])
    expect(page.locator(".session-item", has_text="Renamed one").locator(".pin")).to_be_visible()

    menu_action(page, "Newer one", "Delete")
    expect(names(page)).to_have_text(["Renamed one"])
    page.locator(".view-switch").get_by_role("tab", name="Trash").click()
    expect(names(page)).to_have_text(["Newer one"])
    page.locator(".view-switch").get_by_role("tab", name="Sessions").click()
    page.locator(".toast").get_by_role("button", name="Undo").click()
    expect(names(page)).to_have_text(["Renamed one", "Newer one"])

    with server.client() as client:
        listed = client.get("/api/sessions").json()["sessions"]
    assert [(s["title"], s["pinned"], s["trashed"]) for s in listed] == [
        ("Renamed one", True, False),
        ("Newer one", False, False),
    ]


def test_open_a_session_from_the_sidebar(page, server, fake):
    send(page, "remember this")
    expect(answers(page)).to_have_text(["Echo: remember this"])
    page.locator("#new-session").click()
    expect(page.locator("#empty")).to_be_visible()
    page.locator(".session-link", has_text="remember this").click()
    expect(answers(page)).to_have_text(["Echo: remember this"])
    expect(page.locator("#session-title")).to_have_text("remember this")


def test_setup_screen_on_first_run(chromium, tmp_path, fake, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    server = HestiaServer(data_dir=tmp_path / "fresh", env={"HESTIA_PROVIDER_TIMEOUT": "5"})
    server.start()
    try:
        with open_page(chromium, server.url) as page:
            setup = page.locator("#setup")
            expect(setup).to_contain_text("Connect a model")
            expect(page.locator("#composer")).to_be_hidden()
            setup.get_by_label("Provider address").fill(fake.base_url)
            setup.get_by_label("API key").fill("sk-test-0123456789abcd")
            setup.get_by_label("Default model").fill("fake-model")
            setup.get_by_role("button", name="Save and start").click()
            expect(page.locator("#composer")).to_be_visible()
            expect(setup).to_be_hidden()
            send(page, "first words")  # the saved provider answers, no restart needed
            expect(answers(page)).to_have_text(["Echo: first words"])
            page.reload()
            page.wait_for_selector("body[data-ready]")
            expect(page.locator("#setup")).to_be_hidden()
            page.locator("#open-settings").click()
            dialog = page.locator("#settings-dialog")
            expect(dialog.get_by_label("API key", exact=True)).to_have_attribute(
                "placeholder", "Saved (sk-…abcd) — type to replace"
            )
            expect(dialog.get_by_label("API key", exact=True)).to_have_value("")
    finally:
        server.stop()
    assert "sk-test-0123456789abcd" not in server.log()
