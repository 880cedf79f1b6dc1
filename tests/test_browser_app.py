"""In a real browser: CSRF and login contracts, failed runs, the workspace panel, the phone
layout and the theme switch."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import answers, open_page, send

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_every_change_sends_the_csrf_cookie_as_a_header(chromium, proxy, fake):
    changes: list[tuple[str, str, str | None]] = []
    with open_page(chromium, proxy.url) as page:
        page.context.add_cookies([{"name": "hestia_csrf", "value": "tok-123", "url": proxy.url}])
        page.on(
            "request",
            lambda r: (
                changes.append((r.method, r.url, r.headers.get("x-csrf-token")))
                if r.method not in ("GET", "HEAD")
                else None
            ),
        )
        send(page, "hello")
        expect(answers(page)).to_have_text(["Echo: hello"])
        page.get_by_role("button", name="Retry answer").click()
        expect(page.locator("#toggle-superseded")).to_be_visible()
    methods = {(m, u.split("/api/")[1].split("/")[0]) for m, u, _ in changes}
    assert {("POST", "sessions"), ("POST", "render")} <= methods
    assert changes and all(token == "tok-123" for _, _, token in changes)


def test_a_401_goes_to_the_login_page(page, server):
    with server.client() as client:
        sid = client.post("/api/sessions", json={"title": "Mine"}).json()["id"]
    page.evaluate(f"location.hash = '#/s/{sid}'")
    expect(page.locator("#session-title")).to_have_text("Mine")
    page.route(
        "**/api/sessions?*",
        lambda route: route.fulfill(
            status=401,
            content_type="application/json",
            body='{"error": {"code": "not_authenticated", "message": "Log in first."}}',
        ),
    )
    page.route("**/login?*", lambda route: route.fulfill(status=200, body="login page"))
    page.locator("#search").fill("x")  # any API call now answers 401
    page.wait_for_url("**/login?next=*")
    assert page.url.endswith(f"/login?next=%2F%23%2Fs%2F{sid}")


def test_a_failed_run_says_so_and_retries(page, fake):
    fake.set_default(fail="500")
    send(page, "this will fail")
    notice = page.locator(".notice[data-run-status=failed]")
    expect(notice).to_contain_text("The answer failed.")
    expect(notice).to_have_class("notice error")
    fake.set_default(reply="Better now.")
    notice.get_by_role("button", name="Retry").click()
    expect(answers(page)).to_have_text(["Better now."])
    expect(page.locator(".notice")).to_have_count(0)


def test_workspace_panel_lists_previews_and_uploads(page, server, fake, tmp_path):
    send(page, "hello")
    expect(answers(page)).to_have_text(["Echo: hello"])
    sid = page.evaluate("location.hash").split("/")[-1]
    with server.client() as client:
        client.put(
            f"/api/sessions/{sid}/files/content",
            params={"path": "notes/todo.md"},
            content="- <b>buy</b> milk\n",
        ).raise_for_status()
    page.locator("#toggle-files").click()
    panel = page.locator("#files")
    expect(panel.locator(".file-row")).to_have_text(["notes"])
    panel.locator(".file-row", has_text="notes").click()
    panel.locator(".file-row", has_text="todo.md").click()
    expect(panel.locator("#file-preview pre")).to_have_text("- <b>buy</b> milk\n")
    upload = tmp_path / "data.csv"
    upload.write_text("a,b\n1,2\n")
    panel.locator("input[type=file]").set_input_files(upload)
    expect(panel.locator(".file-row", has_text="data.csv")).to_be_visible()
    with server.client() as client:
        stored = client.get(
            f"/api/sessions/{sid}/files/content", params={"path": "notes/data.csv"}
        ).json()
    assert stored["content"] == "a,b\n1,2\n"
    panel.get_by_role("button", name="Close files").click()
    expect(panel).to_be_hidden()


def test_phone_layout_uses_a_drawer(chromium, proxy, fake):
    with open_page(chromium, proxy.url, viewport={"width": 390, "height": 844}) as page:
        send(page, "from my phone")
        expect(answers(page)).to_have_text(["Echo: from my phone"])
        sidebar = page.locator("#sidebar")
        expect(sidebar).not_to_be_in_viewport()
        page.get_by_role("button", name="Open sessions").click()
        expect(sidebar).to_be_in_viewport()
        page.locator("#new-session").click()
        expect(sidebar).not_to_be_in_viewport()
        expect(page.locator("#empty")).to_be_visible()
        page.get_by_role("button", name="Open sessions").click()
        page.locator(".session-link", has_text="from my phone").click()
        expect(sidebar).not_to_be_in_viewport()
        expect(answers(page)).to_have_text(["Echo: from my phone"])


def test_theme_follows_the_system_and_can_be_switched(chromium, proxy, fake, server):
    with open_page(chromium, proxy.url, color_scheme="dark") as page:
        html = page.locator("html")
        expect(html).to_have_attribute("data-theme", "dark")
        page.locator("#open-settings").click()
        page.get_by_role("radio", name="Light").click()
        expect(html).to_have_attribute("data-theme", "light")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#settings-dialog")).to_be_hidden()
        with server.client() as client:
            assert client.get("/api/settings").json()["theme"] == "light"
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-theme", "light")


def test_with_a_password_the_app_asks_for_it_then_works(chromium, make_server, fake):
    server = make_server(HESTIA_PASSWORD="correct horse battery")
    from playwright.sync_api import expect as _expect

    context = chromium.new_context(base_url=server.url)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/")
        page.wait_for_url(lambda url: "/login?next=" in url)
        page.locator("#password").fill("wrong password")
        page.locator("#password").press("Enter")
        _expect(page.locator("#message")).not_to_be_empty()
        assert "/login" in page.url
        page.locator("#password").fill("correct horse battery")
        page.locator("#password").press("Enter")
        page.wait_for_selector("body[data-ready]")
        # Logged in with the cookie: a change needs (and gets) the CSRF header.
        send(page, "through the login")
        _expect(answers(page)).to_have_text(["Echo: through the login"])
        cookies = {c["name"]: c for c in context.cookies()}
        assert (
            cookies["hestia_session"]["httpOnly"] and cookies["hestia_session"]["sameSite"] == "Lax"
        )
        assert errors == []
    finally:
        context.close()


def test_a_session_and_the_default_switch_runtime_where_hermes_is_installed(page, server):
    from hestia.core.runtimes import hermes_status

    if not hermes_status().available:
        pytest.skip(hermes_status().reason)
    with server.client() as client:
        sid = client.post("/api/sessions", json={"title": "On Hermes"}).json()["id"]
    page.evaluate(f"location.hash = '#/s/{sid}'")
    expect(page.locator("#session-title")).to_have_text("On Hermes")
    picker = page.locator("#session-runtime")
    expect(picker).to_be_visible()
    expect(picker).to_have_value("builtin")
    picker.select_option("hermes")
    expect(page.locator(".toast")).to_contain_text("Hermes Agent")
    with server.client() as client:
        assert client.get(f"/api/sessions/{sid}").json()["session"]["runtime"] == "hermes"
    page.locator("#open-settings").click()
    dialog = page.locator("#settings-dialog")
    dialog.get_by_label("Runtime of new sessions").select_option("hermes")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    with server.client() as client:
        assert client.get("/api/settings").json()["runtime"] == "hermes"
        assert client.post("/api/sessions", json={}).json()["runtime"] == "hermes"
