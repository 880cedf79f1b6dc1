"""Storage: SQLAlchemy Core tables, Alembic migrations and the data-access functions."""
