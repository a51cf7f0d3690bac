from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest

from congress.keys import SERVICE_KEY, new_key
from tests.support import infra

# In-process relays and consumers sign and check like the services do (stacks get their own keys).
os.environ.setdefault(SERVICE_KEY, new_key(SERVICE_KEY))


@pytest.fixture(scope="session")
def vhost() -> Iterator[str | None]:
    name = infra.create_vhost()
    if name is None:
        warnings.warn("rabbitmqctl unavailable: tests share RabbitMQ's default vhost", stacklevel=1)
    yield name
    if name is not None:
        infra.delete_vhost(name)


@pytest.fixture(scope="session")
def amqp_uri(vhost: str | None) -> str:
    return infra.amqp_uri(vhost)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty store of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    url = infra.create_database("congress_unit")
    yield url
    infra.drop_database(url)
