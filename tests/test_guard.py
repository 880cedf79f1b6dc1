"""The guard in front of every route: nothing without a login when a password is set, only this
machine without one, and no other site's page may use the browser's access."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hestia.config import Settings
from tests.api_helpers import assert_error
from tests.security_helpers import CSP, PASSWORD, csrf, in_process, login, routes, set_cookies
from tests.server import HestiaServer

# The only things served without a login. Growing this list is a security decision.
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/login"),
    ("GET", "/static/login.js"),
    ("GET", "/static/login.css"),
    ("GET", "/api/auth/status"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
}
STATIC = Path(__file__).parents[1] / "src" / "hestia" / "web" / "static"


@pytest.fixture
def locked(make_server) -> HestiaServer:
    return make_server(HESTIA_PASSWORD=PASSWORD)


def test_every_route_needs_a_login_when_a_password_is_set(locked):
    table = sorted(set(routes()))
    assert len(table) > 25  # the walk found the routers' routes, not just FastAPI's own
    with locked.client(headers={"Accept": "application/json"}) as client:
        for method, path in table:
            if (method, path) in PUBLIC or (method == "GET" and path.startswith("/static/")):
                continue
            response = client.request(method, path)
            assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
            assert response.json()["error"]["code"] == "not_authenticated"
        # Unknown addresses too: the guard allows by list, so nothing new slips through.
        for method, path in [("GET", "/api/new-thing"), ("POST", "/api/x/y"), ("GET", "/docs")]:
            assert client.request(method, path).status_code == 401, path
    assert PUBLIC <= set(table)  # the list names real routes


def test_a_browser_without_a_login_is_sent_to_the_login_page(locked):
    with locked.client(headers={"Accept": "text/html,*/*"}) as client:
        response = client.get("/")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/"
        deep = client.get("/docs", params={"a": "b"})
        assert deep.headers["location"] == "/login?next=/docs%3Fa%3Db"
        # The API itself answers 401 even to a browser (the UI goes to /login on it).
        assert client.get("/api/sessions").status_code == 401
        page = client.get("/login")
        assert page.status_code == 200 and "login.js" in page.text


def test_security_headers_on_every_response_and_csrf_cookie_on_html(locked):
    with locked.client() as client:
        responses = [client.get(path) for path in ("/login", "/health", "/static/login.js")]
        responses += [client.get("/api/sessions"), client.get("/", headers={"Accept": "text/html"})]
        login(client)
        responses += [client.get("/api/sessions"), client.get("/openapi.json"), client.get("/docs")]
        for response in responses:
            headers = response.headers
            assert headers.get_list("content-security-policy") == [CSP], response.url
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"
            assert headers["x-frame-options"] == "DENY"
    with locked.client() as fresh:
        page = fresh.get("/login")
        csrf_cookie = set_cookies(page)["hestia_csrf"].lower()
        assert "samesite=lax" in csrf_cookie and "httponly" not in csrf_cookie


def test_login_page_has_no_inline_script_or_style():
    html = (STATIC / "login.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\sstyle\s*=|<style|\son[a-z]+\s*=", html, re.I)
    script = (STATIC / "login.js").read_text()
    assert "eval(" not in script and "innerHTML" not in script


def test_cookie_requests_need_the_csrf_token_and_bearer_requests_do_not(locked):
    with locked.client() as client:
        login(client)
        assert_error(client.post("/api/sessions", json={}), 403, "csrf_failed")
        wrong = client.post("/api/sessions", json={}, headers={"X-CSRF-Token": "forged" * 5})
        assert_error(wrong, 403, "csrf_failed")
        assert client.post("/api/sessions", json={}, headers=csrf(client)).status_code == 201
        token = client.post("/api/tokens", json={"name": "t"}, headers=csrf(client)).json()
    with locked.client(headers={"Authorization": f"Bearer {token['token']}"}) as script:
        assert script.post("/api/sessions", json={}).status_code == 201


def test_a_foreign_origin_is_refused_even_with_the_token(locked):
    with locked.client() as client:
        login(client)
        headers = {**csrf(client), "Origin": "http://evil.example"}
        assert_error(client.post("/api/sessions", json={}, headers=headers), 403, "origin_refused")
        null = {**csrf(client), "Origin": "null"}
        assert_error(client.post("/api/sessions", json={}, headers=null), 403, "origin_refused")
        own = {**csrf(client), "Origin": locked.url}
        assert client.post("/api/sessions", json={}, headers=own).status_code == 201


def test_without_a_password_another_site_cannot_drive_the_local_server(server):
    """The no-password mode: any page the user visits could POST to 127.0.0.1."""
    with server.client() as client:
        # curl from the shell: no Origin, no cookie — works, as in the README.
        assert client.post("/api/sessions", json={}).status_code == 201
        evil = {"Origin": "http://evil.example"}
        assert_error(client.post("/api/sessions", json={}, headers=evil), 403, "origin_refused")
        fetch = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
        assert_error(client.post("/api/sessions", json={}, headers=fetch), 403, "origin_refused")
        assert_error(client.get("/api/sessions", headers=fetch), 403, "origin_refused")
        # A same-origin page must still send the CSRF token (it has the cookie from the page).
        client.get("/login")
        same = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
        assert_error(client.post("/api/sessions", json={}, headers=same), 403, "csrf_failed")
        ok = client.post("/api/sessions", json={}, headers={**same, **csrf(client)})
        assert ok.status_code == 201
        # Following a link from another site to a page is fine.
        link = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
        assert client.get("/login", headers=link).status_code == 200


def test_dns_rebinding_is_refused_by_host(make_server):
    server = make_server(HESTIA_ALLOWED_HOSTS="hestia.lan")
    with server.client() as client:
        response = client.get("/api/sessions", headers={"Host": "evil.example"})
        assert_error(response, 403, "host_refused")
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "hestia.lan"):
            assert client.get("/api/sessions", headers={"Host": host}).status_code == 200, host


def test_a_request_through_a_proxy_is_not_local(server):
    with server.client() as client:
        response = client.get("/api/sessions", headers={"X-Forwarded-For": "203.0.113.9"})
        assert_error(response, 403, "loopback_only")


async def test_without_a_password_only_this_machine_is_served(tmp_path):
    settings = Settings(data_dir=tmp_path / "data")
    async with in_process(settings, client=("192.168.1.20", 50000)) as remote:
        error = assert_error(await remote.get("/api/sessions"), 403, "loopback_only")
        assert "HESTIA_PASSWORD" in error["message"]
        assert (await remote.get("/login")).status_code == 403
        assert (await remote.get("/health")).status_code == 200
    async with in_process(settings, client=("::ffff:127.0.0.1", 50000)) as local:
        assert (await local.get("/api/sessions")).status_code == 200


async def test_with_a_password_other_machines_may_log_in(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", password=PASSWORD)
    async with in_process(settings, client=("192.168.1.20", 50000)) as remote:
        assert_error(await remote.get("/api/sessions"), 401, "not_authenticated")
        assert (
            await remote.post("/api/auth/login", json={"password": PASSWORD})
        ).status_code == 200
        assert (await remote.get("/api/sessions")).status_code == 200


def test_serving_the_network_without_a_password_is_refused_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hestia",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "HESTIA_PASSWORD" in lines[0], result.stderr
    assert result.stdout == ""


def test_a_downloaded_html_file_is_sandboxed_and_sets_no_csrf_cookie(client):
    session = client.post("/api/sessions", json={}).json()["id"]
    url = f"/api/sessions/{session}/files/content"
    assert client.put(url, params={"path": "x.html"}, content=b"<script>1</script>").is_success
    response = client.get(url, params={"path": "x.html", "raw": "true"})
    assert response.headers["content-type"].startswith("text/html")
    assert "hestia_csrf" not in response.headers.get("set-cookie", "")
    assert response.headers.get_list("content-security-policy") == ["sandbox", CSP]
    # So the script-like client stays a script: no cookie, no CSRF token needed.
    assert client.put(url, params={"path": "y.txt"}, content=b"y").is_success
