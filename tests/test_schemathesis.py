"""Schemathesis against the app's own OpenAPI schema on a real server, with a Bearer token:
no 5xx, and every status, media type and body as the schema documents."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.api_helpers import assert_error
from tests.security_helpers import PASSWORD, csrf, login
from tests.server import free_port

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,"
CHECKS += "response_schema_conformance"
# Cases per operation: enough to find shape mismatches, few enough for CI (about a minute).
MAX_EXAMPLES = os.environ.get("HESTIA_FUZZ_EXAMPLES", "25")


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(make_server, tmp_path):
    server = make_server(HESTIA_PASSWORD=PASSWORD)
    with server.client() as client:
        assert login(client).status_code == 200
        token = client.post("/api/tokens", json={"name": "fuzz"}, headers=csrf(client)).json()
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{server.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token['token']}",
        "--checks",
        CHECKS,
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        os.environ.get("HESTIA_FUZZ_SEED", "1"),
        "--workers",
        "1",
        # Revoking tokens would revoke the fuzzer's own (tested in test_auth.py).
        "--exclude-path-regex",
        "^/api/tokens/",
        "--request-timeout",
        "30",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=280, env=_env()
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "Traceback" not in server.log(), server.log()[-4000:]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    env["NO_COLOR"] = "1"
    return env


# --------------------------------------------------------------------------- what it found


def test_models_with_an_unreachable_provider_match_the_schema(make_server):
    """Found by schemathesis: a provider's `error` is an object, and the response model said
    string, so GET /api/models answered 500 while a provider was down."""
    server = make_server(HESTIA_OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    with server.client() as client:
        response = client.get("/api/models")
        assert response.status_code == 200, response.text
        provider = response.json()["providers"][0]
        assert provider["ok"] is False
        assert provider["error"]["code"] and provider["error"]["message"]


def test_fuzzed_logins_are_clean_errors(make_server):
    """The fuzzer's login bodies: wrong types and NUL are 422, never a 500."""
    server = make_server(HESTIA_PASSWORD=PASSWORD)
    with server.client() as client:
        for body in ({"password": None}, {"password": "\u0000"}, {"password": "x" * 2000}, []):
            assert_error(client.post("/api/auth/login", json=body), 422, "invalid_request")
