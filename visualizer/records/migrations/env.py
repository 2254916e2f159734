"""Alembic environment: runs on the connection :func:`visualizer.records.db.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from visualizer.records import accounts, audit  # noqa: F401 (users and audit_log join Base.metadata)
from visualizer.records.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic` command line during development (autogenerate)
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _run(conn)
