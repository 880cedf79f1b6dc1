"""`hestia import hermes-webui|hermes-cli` and `hestia export`: the database, directly."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from .config import Settings
from .core import importers
from .core.export import Exporter
from .core.importers import hermes_cli, hermes_webui
from .errors import HestiaError
from .services import prepare_data_dir
from .store import migrate
from .store.db import Database

import_app = typer.Typer(
    help="Bring conversations over from Hermes (the source is only read, never changed).",
    no_args_is_help=True,
)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where Hestia keeps its data.")]


def _settings(data_dir: Path | None) -> Settings:
    from .cli import _settings as settings_from_cli

    return settings_from_cli(data_dir=data_dir)


def _fail(message: str) -> typer.Exit:
    from .cli import _fail as fail

    return fail(message)


@import_app.command("hermes-webui")
def import_hermes_webui(
    state_dir: Annotated[
        Path,
        typer.Argument(
            help="hermes-webui's state folder (holding sessions/).",
            envvar="HERMES_WEBUI_STATE_DIR",
        ),
    ] = hermes_webui.DEFAULT_STATE_DIR,
    data_dir: DataDir = None,
) -> None:
    """Import hermes-webui's sessions (`STATE_DIR/sessions/<id>.json`)."""
    try:
        found = hermes_webui.items(state_dir.expanduser())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _run_import(_settings(data_dir), found, f"hermes-webui sessions in {state_dir}")


@import_app.command("hermes-cli")
def import_hermes_cli(
    hermes_home: Annotated[
        Path,
        typer.Argument(
            help="HERMES_HOME (holding state.db), or the state.db itself.", envvar="HERMES_HOME"
        ),
    ] = hermes_cli.DEFAULT_HOME,
    data_dir: DataDir = None,
) -> None:
    """Import the Hermes Agent's sessions from `HERMES_HOME/state.db` (opened read-only)."""
    try:
        state, found = hermes_cli.items(hermes_home.expanduser())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    try:
        _run_import(_settings(data_dir), found, f"Hermes sessions in {state.path}")
    finally:
        state.close()


def _run_import(settings: Settings, found: list[importers.ImportItem], what: str) -> None:
    # Here, not at the top: `hestia serve` imports this module too and has no use for rich.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=False, highlight=False, soft_wrap=True)
    console.print(f"{len(found)} {what}")
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("import", total=len(found))

        def done(outcome: importers.Outcome) -> None:
            progress.advance(task)
            if outcome.result != "imported" or outcome.reason:
                why = f": {outcome.reason}" if outcome.reason else ""
                progress.console.print(f"{outcome.result:8} {outcome.name}{why}")

        summary = asyncio.run(
            _with_database(settings, lambda db: importers.run(db, found, on_done=done))
        )
    console.print(summary.line())
    if summary.count("failed"):
        raise typer.Exit(code=1)


async def _with_database(settings: Settings, work: Callable[[Database], object]) -> object:
    prepare_data_dir(settings)
    db = Database(settings.effective_database_url)
    try:
        await migrate.upgrade(db)
        return await work(db)  # type: ignore[misc]
    finally:
        await db.dispose()


def export(
    session_id: Annotated[str, typer.Argument(help="The session to export.")],
    format: Annotated[str, typer.Option("--format", "-f", help="json or markdown.")] = "json",  # noqa: A002
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of to stdout.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Export a session as JSON (to import again) or Markdown (to read)."""
    settings = _settings(data_dir)

    async def work(db: Database) -> None:
        exporter = Exporter(db)
        session = await exporter.session(session_id, format)
        chunks = (
            exporter.json_chunks(session)
            if format == "json"
            else _encoded(exporter.markdown_chunks(session))
        )
        target = _open(output)
        try:
            async for chunk in chunks:
                _write(target, chunk, output)
        finally:
            if output:
                target.close()
            else:
                target.flush()

    try:
        asyncio.run(_with_database(settings, work))
    except HestiaError as exc:
        raise _fail(exc.message) from None
    if output:
        typer.echo(f"wrote {output}", err=True)


def _open(output: Path | None) -> BinaryIO:
    if output is None:
        return sys.stdout.buffer
    try:
        return output.open("wb")
    except OSError as exc:
        raise HestiaError(f"cannot write {output}: {exc.strerror or exc}") from None


def _write(target: BinaryIO, chunk: bytes, output: Path | None) -> None:
    try:
        target.write(chunk)
    except OSError as exc:
        raise HestiaError(f"cannot write {output or 'stdout'}: {exc.strerror or exc}") from None


async def _encoded(chunks: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk.encode()
