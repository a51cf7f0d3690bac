"""Every database URL form a user would write works, or is refused with one line naming the driver."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from congress.messaging.store import UnsupportedDatabase, make_engine, normalise_url
from tests.support import infra


@pytest.mark.parametrize(
    ("written", "used"),
    [
        ("postgres://u:p@db.example/congress", "postgresql+psycopg2://u:p@db.example/congress"),
        ("postgresql://u:p@db.example:5432/congress", "postgresql+psycopg2://u:p@db.example:5432/congress"),
        ("postgresql+psycopg2://u@db.example/congress", "postgresql+psycopg2://u@db.example/congress"),
        ("sqlite:///var/voting.sqlite", "sqlite+pysqlite:///var/voting.sqlite"),
    ],
)
def test_the_forms_people_write_use_the_installed_driver(written: str, used: str) -> None:
    assert normalise_url(written) == used


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("mysql://u@h/db", "database 'mysql' is not supported"),
        ("postgresql+psycopg://u@h/db", "driver 'psycopg' is not installed"),
        ("postgresql+asyncpg://u@h/db", "driver 'asyncpg' is not installed"),
        ("not a url", "not a database URL"),
    ],
)
def test_other_forms_are_refused_in_one_line_naming_the_driver(written: str, said: str) -> None:
    with pytest.raises(UnsupportedDatabase) as refused:
        normalise_url(written)
    assert said in str(refused.value) and "\n" not in str(refused.value)


def test_a_plain_postgresql_url_connects_to_the_real_server() -> None:
    url = infra.create_database("congress_url")
    try:
        plain = url.replace("postgresql+psycopg2://", "postgresql://")
        engine = make_engine(plain)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT 1")) == 1
        engine.dispose()
    finally:
        infra.drop_database(url)
