"""Make docs/screenshot.png: a real `hestia serve`, the fake provider, Chromium, one session with
markdown, a code block, a tool card and the workspace panel.

    python -m tests.screenshot [--out docs/screenshot.png] [--extra DIR]

`--extra DIR` also writes the dark theme, a phone-sized screen, the setup screen and the
settings dialog there, for looking the UI over.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import server_env
from tests.fake_provider import FakeProvider
from tests.server import HestiaServer

UTILS = """import time


def retry(fn, attempts=3, delay=0.5):
    for attempt in range(attempts):
        try:
            return fn()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(delay * 2**attempt)
"""

ANSWER = """`utils.py` already has a small **retry helper** with exponential back-off. Two things \
are worth changing:

1. It catches *every* exception, including `KeyboardInterrupt`-adjacent bugs you want to see.
2. The delay grows without a cap.

Here is a tighter version:

```python
def retry(fn, *, attempts=3, delay=0.5, cap=8.0, on=(OSError, TimeoutError)):
    \"\"\"Call fn until it succeeds, waiting longer after each failure.\"\"\"
    for attempt in range(attempts):
        try:
            return fn()
        except on:
            if attempt == attempts - 1:
                raise
            time.sleep(min(cap, delay * 2**attempt))
```

| argument | default | meaning |
|---|---|---|
| `attempts` | 3 | calls before giving up |
| `cap` | 8.0 | longest wait, in seconds |

Want me to apply it and add a test?"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/screenshot.png")
    parser.add_argument("--extra", default=None)
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    with FakeProvider() as fake, tempfile.TemporaryDirectory() as tmp:
        server = HestiaServer(data_dir=Path(tmp) / "data", env=server_env(fake)).start()
        try:
            with server.client() as client:
                for title in ("Plan the Q3 data migration", "Why is CI flaky on Fridays?"):
                    client.post("/api/sessions", json={"title": title}).raise_for_status()
                pinned = client.post("/api/sessions", json={"title": "Release checklist"}).json()
                client.patch(f"/api/sessions/{pinned['id']}", json={"pinned": True})
                sid = client.post("/api/sessions", json={}).json()["id"]
                client.put(
                    f"/api/sessions/{sid}/files/content", params={"path": "utils.py"}, content=UTILS
                ).raise_for_status()
                client.put(
                    f"/api/sessions/{sid}/files/content",
                    params={"path": "README.md"},
                    content="# tools\n",
                ).raise_for_status()
            fake.set_default(
                steps=[
                    {
                        "reply": "Let me look at the workspace first.",
                        "tool_calls": [
                            {"name": "shell", "arguments": {"command": "ls && wc -l utils.py"}}
                        ],
                    },
                    {"reply": ANSWER, "delay": 0.002},
                ]
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(
                    viewport={"width": 1440, "height": 900},
                    device_scale_factor=2,
                    base_url=server.url,
                )
                page = context.new_page()
                page.goto(f"/#/s/{sid}")
                page.wait_for_selector("body[data-ready]")
                page.locator("#prompt").fill("Can you review the retry helper in utils.py?")
                page.locator("#prompt").press("Enter")
                expect(page.locator(".msg.assistant:not(.live) table")).to_be_visible(timeout=30000)
                page.locator(".tool summary").first.click()
                page.locator("#toggle-files").click()
                page.locator(".file-row", has_text="utils.py").click()
                expect(page.locator("#file-preview pre")).to_contain_text("def retry")
                page.locator("#prompt").focus()
                page.locator("#prompt").blur()
                page.evaluate("document.querySelector('#conversation').scrollTop = 0")
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out)
                print(f"wrote {args.out}")
                if args.extra:
                    extra(page, browser, server, Path(args.extra))
                browser.close()
        finally:
            server.stop()


def extra(page, browser, server: HestiaServer, out: Path) -> None:
    """More screens, for review."""
    from playwright.sync_api import expect

    out.mkdir(parents=True, exist_ok=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=out / "dark.png")
    page.evaluate("document.querySelector('#conversation').scrollTop = 1e6")
    page.screenshot(path=out / "dark-bottom.png")
    page.emulate_media(color_scheme="light")
    page.locator("#open-settings").click()
    page.wait_for_selector("#settings-dialog[open] input")
    page.screenshot(path=out / "settings.png")
    page.keyboard.press("Escape")
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, base_url=server.url
    )
    mobile = phone.new_page()
    mobile.goto(page.url.replace(server.url, ""))
    mobile.wait_for_selector(".msg.assistant .answer")
    mobile.screenshot(path=out / "phone.png")
    mobile.locator("#open-sidebar").click()
    expect(mobile.locator("#sidebar")).to_be_in_viewport(ratio=1)
    mobile.screenshot(path=out / "phone-drawer.png")
    phone.close()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = HestiaServer(data_dir=Path(tmp) / "fresh").start()
        try:
            first = browser.new_page(viewport={"width": 1280, "height": 800})
            first.goto(fresh.url)
            first.wait_for_selector("#setup:not([hidden])")
            first.screenshot(path=out / "setup.png")
        finally:
            fresh.stop()
    print(f"wrote review screens to {out}")


if __name__ == "__main__":
    main()
