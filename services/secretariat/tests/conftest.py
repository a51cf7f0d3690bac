"""A migrated secretariat store of each kind, a real SMTP server and a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

import secretariat
from congress.messaging.migrations import upgrade
from congress.messaging.store import OUTBOX, UnitOfWork, make_engine
from tests.support import infra
from tests.support.mailbox import Mailbox
from tests.support.webhooks import WebhookReceiver


class LocalStore:
    """What a nameko worker sees as `self.store`, over a real engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def unit_of_work(self, correlation_id: str | None = None) -> UnitOfWork:
        return UnitOfWork(self.sessions, producer="secretariat", correlation_id=correlation_id)

    def session(self) -> Any:
        return self.sessions()

    def rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(query), params)]

    def emitted(self, event_type: str) -> list[dict[str, Any]]:
        """The envelopes of this type in the outbox, in order."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(OUTBOX.c.envelope).where(OUTBOX.c.type == event_type).order_by(OUTBOX.c.position)
            )
            return [row.envelope for row in found]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'secretariat.sqlite'}"
    else:
        url = infra.create_database("congress_secretariat_unit")
    upgrade(Path(secretariat.__file__).parent / "migrations", url, "secretariat")
    engine = make_engine(url)
    yield LocalStore(engine)
    engine.dispose()
    if request.param == "postgres":
        infra.drop_database(url)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hooks:
        yield hooks
