"""`password_set` is asked on every request, so it is remembered; these prove it stays safe."""

from __future__ import annotations

from hestia.core import auth as auth_module
from hestia.core.auth import AuthService
from tests.conftest import both_backends
from tests.core_harness import running_services, settings_for


@both_backends
async def test_a_password_saved_by_another_process_is_enforced_within_the_recheck(
    database_url, tmp_path, fake, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr(auth_module.time, "monotonic", lambda: clock[0])
    async with running_services(settings_for(database_url, tmp_path, fake)) as services:
        here = services.auth
        other = AuthService(db=services.db, settings=services.settings)  # another process
        assert await here.password_set() is False

        await other.change_password(
            current=None, new="a long password", client="x", keep_login=False
        )
        assert await other.password_set() is True  # the process that saved it knows at once
        # Here the absence is remembered for less than UNSET_RECHECK_SECONDS, then re-read.
        clock[0] += auth_module.UNSET_RECHECK_SECONDS / 2
        assert await here.password_set() is False
        clock[0] += auth_module.UNSET_RECHECK_SECONDS
        assert await here.password_set() is True
        # Once seen, a password is not read again (it can be changed, never removed).
        clock[0] += 3600
        assert await here.password_set() is True
