"""Each service's migrations build exactly the schema its tables describe, on both stores."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from congress.messaging.migrations import upgrade

SERVICES = ("sections", "voting", "secretariat")


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_tables_and_can_run_twice(service: str, database_url: str) -> None:
    package = importlib.import_module(service)
    metadata = importlib.import_module(f"{service}.adapters.orm").metadata
    migrations = Path(package.__file__).parent / "migrations"

    upgrade(migrations, database_url, service)
    upgrade(migrations, database_url, service)  # a restart migrates again: nothing to do

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []
