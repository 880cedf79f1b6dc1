"""Password login, sessions and API tokens over real HTTP."""

from __future__ import annotations

import pytest

from tests.api_helpers import assert_error
from tests.security_helpers import PASSWORD, csrf, login, set_cookies
from tests.server import HestiaServer

pytestmark = pytest.mark.slow


@pytest.fixture
def locked(make_server) -> HestiaServer:
    """A server with HESTIA_PASSWORD set and a small failed-login budget."""
    return make_server(HESTIA_PASSWORD=PASSWORD, HESTIA_LOGIN_ATTEMPTS="3")


def test_login_sets_a_session_cookie_with_safe_flags(locked):
    with locked.client() as client:
        assert_error(client.get("/api/sessions"), 401, "not_authenticated")
        response = login(client)
        assert response.status_code == 200, response.text
        assert response.json()["logged_in"] is True
        cookies = set_cookies(response)
        session = cookies["hestia_session"].lower()
        assert "httponly" in session and "samesite=lax" in session and "path=/" in session
        assert "max-age=2592000" in session  # 30 days
        assert "secure" not in session  # plain http on 127.0.0.1: a Secure cookie would be lost
        # The CSRF cookie is for the page's script: not HttpOnly.
        assert "httponly" not in cookies["hestia_csrf"].lower()
        assert client.get("/api/sessions").status_code == 200
        assert client.get("/api/auth/status").json()["via"] == "session"


def test_wrong_password_is_401_and_logs_no_one_in(locked):
    with locked.client() as client:
        assert_error(login(client, "wrong password"), 401, "wrong_password")
        assert "hestia_session" not in client.cookies
        assert_error(client.get("/api/sessions"), 401, "not_authenticated")


def test_failed_logins_are_rate_limited_per_client(locked):
    with locked.client() as client:
        for _ in range(3):
            assert_error(login(client, "guess"), 401, "wrong_password")
        limited = login(client, "guess")
        assert_error(limited, 429, "too_many_logins")
        assert 1 <= int(limited.headers["retry-after"]) <= 300
        # Even the right password waits: the attacker learns nothing from a blocked attempt.
        assert_error(login(client, PASSWORD), 429, "too_many_logins")


def test_logout_ends_the_session(locked):
    with locked.client() as client:
        login(client)
        stolen = client.cookies["hestia_session"]
        response = client.post("/api/auth/logout", headers=csrf(client))
        assert response.status_code == 200
        assert "hestia_session" not in client.cookies
    with locked.client(cookies={"hestia_session": stolen}) as replay:
        assert_error(replay.get("/api/sessions"), 401, "not_authenticated")


def test_a_forged_or_expired_cookie_is_not_a_login(locked):
    with locked.client(cookies={"hestia_session": "x" * 43}) as client:
        assert_error(client.get("/api/sessions"), 401, "not_authenticated")


def test_the_environment_password_cannot_be_changed_from_the_app(locked):
    with locked.client() as client:
        login(client)
        response = client.post(
            "/api/auth/password",
            json={"current": PASSWORD, "new": "another one"},
            headers=csrf(client),
        )
        assert_error(response, 409, "password_locked")


def test_setting_then_changing_the_password_logs_out_every_other_session(server):
    with server.client() as first:
        # No password yet: this machine needs no login, and sets one (no `current`).
        assert first.get("/api/auth/status").json()["password_set"] is False
        response = first.post("/api/auth/password", json={"new": PASSWORD})
        assert response.status_code == 200, response.text
        assert "hestia_session" in first.cookies  # the one who set it stays logged in
        assert first.get("/api/sessions").status_code == 200
    with server.client() as anonymous:
        assert_error(anonymous.get("/api/sessions"), 401, "not_authenticated")
    with server.client() as first, server.client() as second:
        assert login(first).status_code == 200
        assert login(second).status_code == 200
        old_first = first.cookies["hestia_session"]
        short = first.post(
            "/api/auth/password", json={"current": PASSWORD, "new": "short"}, headers=csrf(first)
        )
        assert_error(short, 400, "password_too_short")
        wrong = first.post(
            "/api/auth/password",
            json={"current": "nope", "new": "new password 2"},
            headers=csrf(first),
        )
        assert_error(wrong, 403, "wrong_password")
        changed = first.post(
            "/api/auth/password",
            json={"current": PASSWORD, "new": "new password 2"},
            headers=csrf(first),
        )
        assert changed.status_code == 200, changed.text
        assert first.cookies["hestia_session"] != old_first
        assert first.get("/api/sessions").status_code == 200
        assert_error(second.get("/api/sessions"), 401, "not_authenticated")
    with server.client(cookies={"hestia_session": old_first}) as replay:
        assert_error(replay.get("/api/sessions"), 401, "not_authenticated")
    with server.client() as client:
        assert_error(login(client, PASSWORD), 401, "wrong_password")
        assert login(client, "new password 2").status_code == 200
    # The saved password survives a restart (and logins with it too).
    server.stop()
    server.restart()
    with server.client() as client:
        assert_error(client.get("/api/sessions"), 401, "not_authenticated")
        assert login(client, "new password 2").status_code == 200


def test_a_new_environment_password_ends_old_logins(make_server):
    server = make_server(HESTIA_PASSWORD=PASSWORD)
    with server.client() as client:
        login(client)
        cookie = client.cookies["hestia_session"]
    server.stop()
    server.env["HESTIA_PASSWORD"] = "a different password"
    server.restart()
    with server.client(cookies={"hestia_session": cookie}) as client:
        assert_error(client.get("/api/sessions"), 401, "not_authenticated")


def test_tokens_create_use_list_and_revoke(locked):
    with locked.client() as client:
        login(client)
        created = client.post("/api/tokens", json={"name": "backup script"}, headers=csrf(client))
        assert created.status_code == 201, created.text
        token = created.json()
        assert token["token"].startswith("hestia_") and len(token["token"]) > 40
        assert token["read_only"] is False
        listed = client.get("/api/tokens").json()["tokens"]
        assert [t["id"] for t in listed] == [token["id"]]
        assert token["token"] not in client.get("/api/tokens").text  # shown once only
    bearer = {"Authorization": f"Bearer {token['token']}"}
    with locked.client(headers=bearer) as script:
        # A script needs no CSRF token: it sends no cookie.
        assert script.post("/api/sessions", json={}).status_code == 201
        assert script.get("/api/auth/status").json()["via"] == "token"
    with locked.client() as client:
        login(client)
        revoked = client.delete(f"/api/tokens/{token['id']}", headers=csrf(client))
        assert revoked.json() == {"id": token["id"], "revoked": True}
        assert_error(
            client.delete(f"/api/tokens/{token['id']}", headers=csrf(client)),
            404,
            "token_not_found",
        )
    with locked.client(headers=bearer) as script:
        response = script.get("/api/sessions")
        assert_error(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_read_only_token_reads_but_changes_nothing(locked):
    with locked.client() as client:
        login(client)
        token = client.post(
            "/api/tokens", json={"name": "dashboard", "read_only": True}, headers=csrf(client)
        ).json()["token"]
    with locked.client(headers={"Authorization": f"Bearer {token}"}) as script:
        assert script.get("/api/sessions").status_code == 200
        for method, path in [
            ("POST", "/api/sessions"),
            ("PATCH", "/api/settings"),
            ("DELETE", "/api/sessions/x"),
            ("PUT", "/api/sessions/x/files/content"),
            ("POST", "/api/tokens"),
        ]:
            assert_error(script.request(method, path, json={}), 403, "read_only_token")


def test_an_unknown_bearer_token_is_401_even_without_a_password(client):
    response = client.get("/api/sessions", headers={"Authorization": "Bearer hestia_nope"})
    assert_error(response, 401, "not_authenticated")


def test_login_without_a_password_set_says_none_is_needed(client):
    assert_error(client.post("/api/auth/login", json={"password": "x"}), 409, "no_password")


def test_bad_bodies_are_clean_errors(locked):
    with locked.client() as client:
        assert_error(client.post("/api/auth/login", json={"password": 5}), 422, "invalid_request")
        assert_error(client.post("/api/auth/login", json={}), 422, "invalid_request")
        login(client)
        long = client.post("/api/tokens", json={"name": ""}, headers=csrf(client))
        assert_error(long, 422, "invalid_request")


def test_cookies_are_secure_behind_a_trusted_https_proxy_only(make_server):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    trusted = make_server(HESTIA_PASSWORD=PASSWORD, HESTIA_TRUSTED_PROXIES="127.0.0.1")
    with trusted.client(headers=forwarded) as client:
        response = login(client)
        assert response.status_code == 200, response.text
        cookies = set_cookies(response)
        assert "secure" in cookies["hestia_session"].lower()
        assert "secure" in cookies["hestia_csrf"].lower()
        assert response.headers["strict-transport-security"].startswith("max-age=")
    untrusted = make_server(HESTIA_PASSWORD=PASSWORD)
    with untrusted.client(headers=forwarded) as client:
        response = login(client)
        assert response.status_code == 200, response.text
        assert "secure" not in set_cookies(response)["hestia_session"].lower()
        assert "strict-transport-security" not in response.headers
