"""Alembic migrations of the records database (run programmatically by :func:`visualizer.records.db.migrate`)."""
