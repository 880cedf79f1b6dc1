"""The `hestia` command as a person runs it: one line per problem, non-zero exit on failure."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import server_env
from tests.server import free_port


def hestia(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    base = {k: v for k, v in os.environ.items() if not k.startswith("HESTIA_")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hestia", *args],
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_doctor_passes_against_a_working_provider(tmp_path, fake):
    result = hestia("doctor", "--data-dir", str(tmp_path / "data"), env=server_env(fake))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    # data dir, database, provider; then the optional Hermes runtime, when installed.
    assert len(lines) in (3, 4, 5) and all(line.startswith("ok") for line in lines)
    assert "fake-model" in lines[2]


def test_doctor_fails_with_one_line_when_the_provider_is_down(tmp_path, fake):
    env = server_env(fake, HESTIA_OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    result = hestia("doctor", "--data-dir", str(tmp_path / "data"), env=env)
    assert result.returncode == 1
    failing = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "Could not connect" in failing[0]


def test_doctor_reports_the_schema_after_serve(server, fake):
    result = hestia("doctor", "--data-dir", str(server.data_dir), env=server_env(fake))
    assert "schema is current" in result.stdout


def test_serve_refuses_a_taken_port_with_one_line(tmp_path, fake):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hestia(
            "serve", "--port", str(port), "--data-dir", str(tmp_path), env=server_env(fake)
        )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "cannot listen" in result.stderr


def test_bad_setting_is_one_clear_line(tmp_path):
    result = hestia("doctor", "--data-dir", str(tmp_path), env={"HESTIA_PROVIDER_TIMEOUT": "soon"})
    assert result.returncode == 1
    assert result.stderr.startswith("hestia: HESTIA_PROVIDER_TIMEOUT")
    assert result.stderr.strip().count("\n") == 0
