"""What the server loads at start-up: modules that only some requests use wait for the first.

Each check runs in a fresh interpreter, since this test process has long loaded everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.api_helpers import directive
from tests.fake_provider import FakeProvider

ROOT = Path(__file__).parents[1]

# Loaded by the requests that need them: rendering, passwords, fetch_url, .gitignore rules, the
# provider SDKs (in the background or by the first run), migrations; the last two are modules
# `hestia serve` keeps out (see `cli.UNUSED_BY_THE_SERVER`).
DEFERRED = (
    "markdown_it",
    "pygments",
    "nh3",
    "argon2",
    "httpx",
    "pathspec",
    "openai",
    "anthropic",
    "alembic",
    "rich",
    "pydantic.v1",
)


def modules_after(code: str) -> set[str]:
    """The modules loaded once `code` has run in a new interpreter (not those kept out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    listing = "sorted(n for n, m in sys.modules.items() if m is not None)"
    script = f"{code}\nimport json, sys\nprint(json.dumps({listing}))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_the_app_is_built_without_what_only_some_requests_use(tmp_path):
    modules = modules_after(
        "import hestia.cli\n"
        "hestia.cli._leave_out_unused_modules()\n"
        "import uvicorn\n"
        "from hestia.api.app import create_app\n"
        "from hestia.config import Settings\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}))"
    )
    assert loaded(modules, DEFERRED) == []


def test_the_first_render_loads_the_renderer():
    modules = modules_after(
        "from hestia.core.render import render_markdown\n"
        "assert 'highlight' in render_markdown('```python\\nx = 1\\n```')"
    )
    assert loaded(modules, ("markdown_it", "pygments", "nh3")) == ["markdown_it", "pygments", "nh3"]


def test_the_openai_provider_does_not_load_the_sdks_resources(fake: FakeProvider):
    # `client.chat` and `client.models` would import every resource of the SDK (~10 MB).
    modules = modules_after(
        "import asyncio\n"
        "from hestia.providers.base import ChatMessage, TextDelta\n"
        "from hestia.providers.openai_compat import OpenAICompatProvider\n"
        "async def main():\n"
        f"    p = OpenAICompatProvider(base_url={fake.base_url!r}, api_key='k', timeout=30)\n"
        f"    message = ChatMessage('user', {directive('hi', reply='hello there')!r})\n"
        "    events = [e async for e in p.stream([message], model='fake-model')]\n"
        "    text = ''.join(e.text for e in events if isinstance(e, TextDelta))\n"
        "    assert text == 'hello there', events\n"
        "    status = await p.list_models()\n"
        "    assert status.error is None and status.models, status\n"
        "    await p.aclose()\n"
        "asyncio.run(main())"
    )
    assert "openai" in modules
    assert loaded(modules, ("openai.resources",)) == []
