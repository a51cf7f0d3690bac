"""Alembic, run on start: each service's `migrations/` folder, one shared env."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from congress.messaging.store import is_postgres, make_engine


def alembic_config(migrations_dir: Path, connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["connection"] = connection
    return config


def upgrade(migrations_dir: Path, url: str, service: str) -> None:
    """Migrate to head. Replicas starting together take turns on PostgreSQL's advisory lock."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if is_postgres(engine):
                conn.execute(sa.select(sa.func.pg_advisory_lock(zlib.crc32(f"migrate:{service}".encode()))))
                conn.commit()
            command.upgrade(alembic_config(migrations_dir, conn), "head")
            conn.commit()
    finally:
        engine.dispose()  # the session-level lock goes with the connection


def run_env(context: Any, target_metadata: sa.MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `congress-service migrate <service>`")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
