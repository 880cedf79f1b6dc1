"""Alembic environment: Hestia always hands in an open connection (see store/migrate.py)."""

from alembic import context

from hestia.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Hestia applies its migrations itself at start-up: run `hestia serve`.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
