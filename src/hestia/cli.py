"""The `hestia` command: `serve`, `doctor`, `import` and `export`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from . import __version__
from .config import Settings

if TYPE_CHECKING:
    import uvicorn

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

app = typer.Typer(
    help="Hestia: a self-hosted web app for working with an AI agent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"hestia: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "HESTIA_" + "_".join(str(p) for p in first["loc"]).upper()
        raise _fail(f"{name}: {first['msg']}") from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where Hestia keeps its data.")
    ] = None,
) -> None:
    """Start the web app (default http://127.0.0.1:8787)."""
    _leave_out_unused_modules()
    gc.disable()  # while the app loads, as in `hestia.__main__`
    try:
        server = _server(_settings(host=host, port=port, data_dir=data_dir))
        # Everything loaded so far lives as long as the process: out of the collector's sight,
        # a full collection (the first came with the first request: 50-70 ms) walks only what
        # is newer.
        gc.freeze()
    finally:
        gc.enable()
    server.run()
    if not server.started:
        where = f"{server.config.host}:{server.config.port}"
        raise _fail(f"could not start on {where} (see the lines above).")


def _server(settings: Settings) -> uvicorn.Server:
    """The server for the app, once the checks that fail with one line have passed."""
    import uvicorn

    from .api.app import create_app

    _check_password_for(settings)
    _check_can_listen(settings.host, settings.port)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    typer.echo(f"Hestia {__version__} on http://{settings.host}:{settings.port}")
    typer.echo(f"data: {settings.data_dir}  database: {_redact(settings.effective_database_url)}")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        # X-Forwarded-For/-Proto are believed only from proxies named in HESTIA_TRUSTED_PROXIES.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )
    return uvicorn.Server(config)


# Modules that libraries import on the way but the server never runs; each library catches the
# ImportError and carries on without it. httpx's command-line client: httpx imports it, and with
# it rich and Pygments, whenever rich is installed (~5 MB). pydantic.v1: FastAPI imports it only
# to check that no route uses a v1 model (~1.5 MB, 20-70 ms of the start). Mako's Pygments
# plugin: Alembic imports Mako, whose error pages would highlight templates (~5 MB once the
# server has migrated a database; the server renders no template).
UNUSED_BY_THE_SERVER = ("httpx._main", "pydantic.v1", "mako.ext.pygmentplugin")


def _leave_out_unused_modules() -> None:
    for name in UNUSED_BY_THE_SERVER:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "do not import"


def _check_password_for(settings: Settings) -> None:
    """Anyone who reaches Hestia can run commands on this machine: no password, no network."""
    from .core.auth import saved_password_exists

    if settings.binds_loopback or settings.password:
        return
    if asyncio.run(saved_password_exists(settings)):
        return
    raise _fail(
        f"refusing to listen on {settings.host} without a password: set HESTIA_PASSWORD=... "
        "(or set one in the app, served on 127.0.0.1 first)."
    )


def _check_can_listen(host: str, port: int) -> None:
    """Fail with one line now, rather than with a server log later, if the port is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise _fail(f"cannot listen on {host}: no such address.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise _fail(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                "is Hestia already running? Pick another with --port."
            ) from None


@app.command()
def doctor(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where Hestia keeps its data.")
    ] = None,
) -> None:
    """Check the data dir, the database and its migrations, and the model provider."""
    from .doctor import run_checks

    settings = _settings(data_dir=data_dir)
    ok = asyncio.run(run_checks(settings, typer.echo))
    if not ok:
        raise typer.Exit(code=1)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _add_transfer_commands() -> None:
    # In their own module (transfer_cli.py) to keep this one small.
    from .transfer_cli import export, import_app

    app.add_typer(import_app, name="import")
    app.command()(export)


_add_transfer_commands()


def main() -> None:
    """Entry point of the `hestia` script."""
    os.umask(0o077)  # data files are the owner's alone
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
