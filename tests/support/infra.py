"""The real RabbitMQ and PostgreSQL on this machine, partitioned per test run."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from kombu import Connection, Queue

from congress import broker_accounts

RABBIT_HOST = os.environ.get("TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("TEST_RABBIT_PORT", "5672"))
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def create_vhost() -> str | None:
    """A private vhost so a test run meets neither `make run` nor another run; None if we can't."""
    if not shutil.which("rabbitmqctl"):
        return None
    name = f"congress-test-{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return name


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)
    # Users outlive their vhost: the run's service accounts go with it, and those a `make run`
    # under test made in it.
    _service_uris.pop(name, None)
    try:
        admin = broker_accounts.connect_admin()
        for label in (LABEL, ""):
            broker_accounts.remove_service_accounts(admin, name, label=label)
    except broker_accounts.BrokerAdminError:
        pass  # nothing was made without an admin either


# The test stacks' accounts, apart from those a `make run` under test makes in the same vhost
# (which would otherwise change the passwords the running stacks reconnect with).
LABEL = "e2e"
_service_uris: dict[str, dict[str, str]] = {}


def service_uris(vhost: str | None) -> dict[str, str] | None:
    """Each service's own account in the run's vhost (made once per vhost); None without a
    vhost of our own, where the services share guest rather than touch `make run`'s accounts."""
    if vhost is None:
        return None
    if vhost not in _service_uris:
        admin = broker_accounts.connect_admin()
        _service_uris[vhost] = broker_accounts.apply_service_accounts(
            admin, vhost, RABBIT_HOST, RABBIT_PORT, label=LABEL
        )
    return _service_uris[vhost]


def with_port(uri: str, port: int) -> str:
    """The same account through another port (the tests' TCP proxy)."""
    head, rest = uri.rsplit("@", 1)
    host_port, path = rest.split("/", 1)
    return f"{head}@{host_port.rsplit(':', 1)[0]}:{port}/{path}"


def amqp_uri(vhost: str | None, port: int = RABBIT_PORT) -> str:
    return f"amqp://guest:guest@{RABBIT_HOST}:{port}/{vhost or ''}"


def create_database(prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2, what: str = "") -> Any:
    """Poll until `check()` returns something truthy; fail with the last answer."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or check}; last: {last!r}")


class EventTap:
    """A plain kombu subscriber (no nameko), as an outside system would bind one."""

    def __init__(self, uri: str, exchange: str, routing_key: str) -> None:
        from kombu import Exchange

        self.connection = Connection(uri)
        self.queue = Queue(
            f"test-tap-{uuid.uuid4().hex[:8]}",
            exchange=Exchange(exchange, type="topic", durable=True),
            routing_key=routing_key,
            durable=True,
            auto_delete=False,
        )
        self.queue(self.connection.default_channel).declare()

    def drain(self, seconds: float = 1.0) -> list[Any]:
        """Every message that arrives within `seconds` (bodies decoded from JSON)."""
        messages: list[Any] = []
        deadline = time.monotonic() + seconds
        channel = self.connection.default_channel
        bound = self.queue(channel)
        while time.monotonic() < deadline:
            message = bound.get(no_ack=False)
            if message is None:
                time.sleep(0.05)
                continue
            messages.append(message.decode())
            message.ack()
        return messages

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 20.0) -> list[Any]:
        seen: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen += self.drain(0.3)
            if any(predicate(m) for m in seen):
                return seen
        raise AssertionError(f"no matching event within {timeout:.0f}s; saw {seen!r}")

    def close(self) -> None:
        try:
            self.queue(self.connection.default_channel).delete()
        finally:
            self.connection.release()

    def __enter__(self) -> EventTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def own_vhost() -> Iterator[str]:
    """The AMQP URI of a vhost for one stack alone: two stacks in one vhost would share RPC queues,
    each answering the other's requests from its own database."""
    vhost = create_vhost()
    if vhost is None:
        raise RuntimeError("rabbitmqctl is needed to give a stack a vhost of its own")
    try:
        yield amqp_uri(vhost)
    finally:
        delete_vhost(vhost)
