"""Provider settings over HTTP: saved in the database, keys masked, the environment locks what
it sets, and a saved change reaches the provider from the next run on, without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import HestiaServer, wait_for_run

pytestmark = pytest.mark.slow


@pytest.fixture
def bare(tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch) -> Iterator[HestiaServer]:
    """A server started with no provider configured at all (a first run)."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    server = HestiaServer(data_dir=tmp_path / "bare", env={"HESTIA_PROVIDER_TIMEOUT": "5"})
    server.start()
    yield server
    server.stop()


def ask(client: httpx.Client, sid: str, content: str) -> dict:
    run = client.post(f"/api/sessions/{sid}/messages", json={"content": content}).json()["run"]
    return wait_for_run(client, run["id"])


def bearer_of_last_request(fake) -> str:
    return fake.records[-1]["headers"].get("authorization", "")


def test_first_run_is_not_configured_and_a_local_server_is(bare):
    with bare.client() as client:
        view = client.get("/api/settings").json()
        assert view["provider_configured"] is False
        assert view["openai_base_url"] == "https://api.openai.com/v1"
        assert view["openai_api_key"] is None and view["openai_api_key_set"] is False
        assert not any(view[k] for k in view if k.endswith("_locked"))
        # A local server such as Ollama needs no key: an address of its own is enough.
        local = {"openai_base_url": "http://127.0.0.1:11434/v1"}
        assert client.patch("/api/settings", json=local).json()["provider_configured"] is True
        cleared = client.patch("/api/settings", json={"openai_base_url": None}).json()
        assert cleared["provider_configured"] is False
        assert cleared["openai_base_url"] == "https://api.openai.com/v1"


def test_keys_are_masked_and_never_returned_or_logged(bare):
    key = "sk-proj-very-secret-0123456789-wxyz"
    anthropic_key = "sk-ant-another-secret-9876-abcd"
    with bare.client() as client:
        patched = client.patch(
            "/api/settings", json={"openai_api_key": key, "anthropic_api_key": anthropic_key}
        )
        assert patched.status_code == 200
        for response in (patched, client.get("/api/settings")):
            view = response.json()
            assert key not in response.text and anthropic_key not in response.text
            assert view["openai_api_key"] == "sk-…wxyz"
            assert view["openai_api_key_set"] is True
            assert view["anthropic_api_key"] == "sk-…abcd"
            assert view["provider_configured"] is True
        client.get("/api/models")  # talks to the providers with the keys
    bare.stop()
    assert key not in bare.log() and anthropic_key not in bare.log()


def test_the_environment_locks_what_it_sets(client):
    view = client.get("/api/settings").json()
    assert view["openai_base_url_locked"] and view["openai_api_key_locked"]
    assert view["default_model_locked"] and view["default_model"] == "fake-model"
    assert view["openai_api_key"] == "…" and "test-key" not in str(view)  # short keys: no hint
    assert view["anthropic_api_key_locked"] is False
    for change in (
        {"openai_base_url": "http://127.0.0.1:1/v1"},
        {"openai_api_key": "sk-other"},
        {"default_model": "fake-model-large"},
    ):
        response = client.patch("/api/settings", json=change)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "setting_locked"
    assert client.get("/api/settings").json() == view
    assert client.patch("/api/settings", json={"theme": "dark"}).json()["theme"] == "dark"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"openai_base_url": "ftp://example.com"}, "invalid_base_url"),
        ({"openai_base_url": "not a url"}, "invalid_base_url"),
        ({"openai_api_key": "two words"}, "invalid_api_key"),
        ({"theme": "blue"}, "invalid_theme"),
        ({"approval_policy": "sometimes"}, "invalid_policy"),
        ({"default_model": "m" * 201}, "invalid_model"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(bare, change, code):
    with bare.client() as client:
        before = client.get("/api/settings").json()
        response = client.patch("/api/settings", json={"theme": "light", **change})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code
        assert client.get("/api/settings").json() == before


def test_saved_provider_is_used_without_a_restart(bare, fake):
    with bare.client() as client:
        sid = client.post("/api/sessions", json={}).json()["id"]
        client.patch(
            "/api/settings",
            json={
                "openai_base_url": fake.base_url,
                "openai_api_key": "key-one",
                "default_model": "fake-model",
            },
        ).raise_for_status()
        models = client.get("/api/models").json()
        assert models["default_model"] == "fake-model"
        assert {m["id"] for m in models["models"]} >= {"fake-model", "fake-model-large"}
        assert ask(client, sid, "hello")["status"] == "completed"
        assert bearer_of_last_request(fake) == "Bearer key-one"
        assert fake.last_request["model"] == "fake-model"

        client.patch("/api/settings", json={"openai_api_key": "bad-key"}).raise_for_status()
        failed = ask(client, sid, "again")
        assert failed["status"] == "failed"
        assert failed["error"]["code"] == "provider_auth_failed"

        client.patch(
            "/api/settings", json={"openai_api_key": "key-two", "default_model": "fake-model-large"}
        ).raise_for_status()
        assert ask(client, sid, "once more")["status"] == "completed"
        assert bearer_of_last_request(fake) == "Bearer key-two"
        assert fake.last_request["model"] == "fake-model-large"
        messages = client.get(f"/api/sessions/{sid}").json()["messages"]
        assert messages[-1]["content"] == "Echo: once more" and "html" not in messages[-1]
        rendered = client.get(f"/api/sessions/{sid}", params={"render": "true"}).json()
        assert rendered["messages"][-1]["html"] == "<p>Echo: once more</p>\n"
        assert "html" not in rendered["messages"][0]  # only answers are rendered


def test_a_saved_change_survives_a_restart(bare, fake):
    with bare.client() as client:
        client.patch(
            "/api/settings", json={"openai_base_url": fake.base_url, "default_model": "fake-model"}
        ).raise_for_status()
    bare.stop()
    bare.start()
    with bare.client() as client:
        assert client.get("/api/settings").json()["openai_base_url"] == fake.base_url
        sid = client.post("/api/sessions", json={}).json()["id"]
        assert ask(client, sid, "after restart")["status"] == "completed"


def test_render_endpoint_sanitises(client):
    response = client.post("/api/render", json={"text": "**hi** <script>x</script>"})
    assert response.json() == {
        "html": "<p><strong>hi</strong> &lt;script&gt;x&lt;/script&gt;</p>\n"
    }
    assert client.post("/api/render", json={"text": 3}).status_code == 422


def test_app_page_and_static_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'src="/static/js/app.js"' in page.text
    assert "<script>" not in page.text and " style=" not in page.text and "onclick" not in page.text
    assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert (
        client.get("/static/js/app.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    assert ".highlight .k" in client.get("/static/highlight.css").text
    missing = client.get("/static/nope.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
