"""The whole stack as four processes against the real RabbitMQ and each kind of store."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from congress.devstack import LocalStack
from tests.support import infra
from tests.support.proxy import TcpProxy

SERVICES_WITH_STORES = ("sections", "voting", "secretariat")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    store: str
    processes: LocalStack
    amqp_uri: str
    admin_token: str
    observer_token: str
    sections_broker: TcpProxy
    # Each service's own broker account (None where the run has no vhost of its own).
    service_uris: dict[str, str] | None = None
    engines: dict[str, sa.Engine] = field(default_factory=dict)
    sections_metrics: str = ""

    @property
    def url(self) -> str:
        return self.processes.gateway_url

    def api(self, method: str, path: str, token: str | None = "admin", **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token == "admin":
            headers["Authorization"] = f"Bearer {self.admin_token}"
        elif token == "observer":
            headers["Authorization"] = f"Bearer {self.observer_token}"
        elif token is not None:
            headers["Authorization"] = token
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def rows(self, service: str, query: str, **params: Any) -> list[dict[str, Any]]:
        with self.engines[service].connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(query), params)]

    def count(self, service: str, table: str) -> int:
        return self.rows(service, f"SELECT count(*) AS n FROM {table}")[0]["n"]


@contextmanager
def running_stack(
    store: str,
    amqp_uri: str,
    workdir: Path,
    replicas: dict[str, int] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """The four services as processes on `store`, the sections relay behind a proxy tests can cut."""
    if store == "sqlite":
        urls = {s: f"sqlite:///{workdir / (s + '.sqlite')}" for s in SERVICES_WITH_STORES}
    else:
        urls = {s: infra.create_database(f"congress_e2e_{s}") for s in SERVICES_WITH_STORES}
    proxy = TcpProxy(infra.RABBIT_PORT, infra.RABBIT_HOST)
    vhost = amqp_uri.rsplit("/", 1)[1]
    accounts = infra.service_uris(vhost or None)
    own = {s: {"AMQP_URI": uri} for s, uri in accounts.items()} if accounts else {}
    relay_uri = accounts["sections"] if accounts else amqp_uri
    admin, observer = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    metrics_port = free_port()
    processes = LocalStack(
        env={
            "AMQP_URI": amqp_uri,
            "GATEWAY_PORT": str(free_port()),
            "ADMIN_TOKEN": admin,
            "OBSERVER_TOKEN": observer,
            # The tests' webhook receiver listens on loopback: allowed here on purpose.
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",
            **{f"{s.upper()}_DATABASE_URL": url for s, url in urls.items()},
            **(extra_env or {}),
        },
        log_dir=workdir / "log",
        # Each service as its own broker account; the sections relay publishes (as sections)
        # through a proxy the tests can cut, RPC stays direct.
        service_env={
            **own,
            "sections": {
                **own.get("sections", {}),
                "EVENTS_AMQP_URI": infra.with_port(relay_uri, proxy.port),
                "METRICS_PORT": str(metrics_port),
            },
        },
        replicas=replicas,
    )
    processes.start()
    engines = {s: sa.create_engine(url) for s, url in urls.items()}
    try:
        processes.wait_healthy(timeout=90)
        yield Stack(
            store=store,
            processes=processes,
            amqp_uri=amqp_uri,
            admin_token=admin,
            observer_token=observer,
            sections_broker=proxy,
            service_uris=accounts,
            engines=engines,
            sections_metrics=f"http://127.0.0.1:{metrics_port}/metrics",
        )
    finally:
        processes.stop()
        proxy.close()
        for engine in engines.values():
            engine.dispose()
        if store == "postgres":
            for url in urls.values():
                infra.drop_database(url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def stack(request: pytest.FixtureRequest, amqp_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(request.param, amqp_uri, tmp_path_factory.mktemp(f"stack-{request.param}")) as running:
        yield running


@pytest.fixture
def tap(stack: Stack) -> Iterator[infra.EventTap]:
    listener = infra.EventTap(stack.amqp_uri, "sections.events", "section.registered")
    yield listener
    listener.close()


def new_section(code: str | None = None, **overrides: Any) -> dict[str, Any]:
    code = code or "s" + secrets.token_hex(4)
    return {
        "code": code,
        "name": f"Section {code}",
        "country": "Testland",
        "status": "section",
        "email": f"{code}@example.org",
        **overrides,
    }
