"""A congress on PostgreSQL stores with three voting replicas, every service's broker connection
through a proxy the test controls, an outside subscriber straight on the broker, and the fault
injectors (kill -9, restart, relay leader lookup, pg_terminate_backend, broker cut).

One `FaultStack` per module; each test opens its own ballot in the module's congress, runs a
`VoteLoad`, injects one fault, closes, then `collect()`s the evidence the invariant checker
judges. `heal()` between tests restarts what died, so one test's casualty is not the next's.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from congress.devstack import BIN, LocalStack
from congress.messaging.nameko_edge import heartbeat_path
from tests.faults.invariants import Committed, Evidence
from tests.faults.load import LoadResult
from tests.faults.subscriber import PRODUCERS, OutsideSubscriber
from tests.support import infra
from tests.support.mailbox import Mailbox
from tests.support.processes import RELAY_LOCK_HOLDER, owner_of_local_port, relay_lock_key
from tests.support.proxy import TcpProxy

STORES = ("sections", "voting", "secretariat")
HARNESS_APP = "faults-harness"  # our own PostgreSQL sessions: never terminated by the DB fault


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


class SlowMailbox(Mailbox):
    """The in-process SMTP server of tests/support/mailbox.py, answering each message `delay` s
    after it kept it, so deliveries are in flight (some sent, none recorded) when the test
    kills the secretariat."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        inner = self._controller.handler

        class Slow:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                # Kept first, answered later: a kill in between is a mail sent but not recorded.
                answer = await inner.handle_DATA(server, session, envelope)
                if mailbox.delay:
                    await asyncio.sleep(mailbox.delay)
                return answer

        mailbox = self
        self._controller.handler = Slow()


@dataclass
class Death:
    key: str
    returncode: int | None
    at: float


@dataclass
class HealthSample:
    at: float
    status: int | None  # None: no answer within the timeout
    latency: float
    body: dict[str, Any] = field(default_factory=dict)


class HealthSampler:
    """GET /health once a second (5 s timeout) in the background: does it answer, and what it says."""

    def __init__(self, url: str, interval: float = 1.0, timeout: float = 5.0) -> None:
        self.url = url + "/health"
        self.interval, self.timeout = interval, timeout
        self.samples: list[HealthSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-sampler", daemon=True)

    def start(self) -> HealthSampler:
        self._thread.start()
        return self

    def stop(self) -> list[HealthSample]:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)
        return self.samples

    def between(self, start: float, end: float) -> list[HealthSample]:
        return [s for s in self.samples if start <= s.at <= end]

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                answer = requests.get(self.url, timeout=self.timeout)
                try:
                    body = answer.json()
                except ValueError:
                    body = {}
                self.samples.append(HealthSample(started, answer.status_code, time.monotonic() - started, body))
            except requests.RequestException:
                self.samples.append(HealthSample(started, None, time.monotonic() - started))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


class FaultStack:
    def __init__(
        self,
        workdir: Path,
        voting_replicas: int = 3,
        service_env: dict[str, dict[str, str]] | None = None,
        mail_delay: float = 0.0,
    ) -> None:
        self.workdir = workdir
        self.voting_replicas = voting_replicas
        self.extra_service_env = service_env or {}
        self.mailbox = SlowMailbox(mail_delay)
        self.vhost: str | None = None
        self.urls: dict[str, str] = {}
        self.engines: dict[str, sa.Engine] = {}
        self.deaths: list[Death] = []
        self._expected_exits: set[int] = set()
        self._monitor_stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.admin_token = secrets.token_urlsafe(16)
        self.direct_uri = ""
        self.mailbox_started = False
        # Made by start(); close() copes with a start that failed half way.
        self.proxy: TcpProxy
        self.subscriber: OutsideSubscriber
        self.processes: LocalStack
        self.admin_engine: sa.Engine

    # Life

    def start(self) -> FaultStack:
        self.vhost = infra.create_vhost()
        if self.vhost is None:
            raise RuntimeError("the fault tests need rabbitmqctl to give their stack a vhost of its own")
        self.direct_uri = infra.amqp_uri(self.vhost)
        self.proxy = TcpProxy(infra.RABBIT_PORT, infra.RABBIT_HOST)
        # Bound before any service starts: it hears every event ever published.
        self.subscriber = OutsideSubscriber(self.direct_uri)
        self.mailbox.start()
        self.mailbox_started = True
        self.urls = {s: infra.create_database(f"congress_faults_{s}") for s in STORES}
        service_env = {s: dict(e) for s, e in self.extra_service_env.items()}
        self.processes = LocalStack(
            env={
                # Every service, relay included, reaches RabbitMQ only through the proxy.
                "AMQP_URI": self.proxy.uri(self.direct_uri),
                "EVENTS_AMQP_URI": "",
                "AMQP_URI_FILE": "",
                "GATEWAY_PORT": str(free_port()),
                "ADMIN_TOKEN": self.admin_token,
                "OBSERVER_TOKEN": secrets.token_urlsafe(16),
                "SMTP_HOST": self.mailbox.host,
                "SMTP_PORT": str(self.mailbox.port),
                "METRICS_PORT": "",
                **{f"{s.upper()}_DATABASE_URL": url for s, url in self.urls.items()},
            },
            log_dir=self.workdir / "log",
            service_env=service_env,
            replicas={"voting": self.voting_replicas},
        )
        self.processes.start()
        self.engines = {
            s: sa.create_engine(url, connect_args={"application_name": HARNESS_APP}, pool_pre_ping=True)
            for s, url in self.urls.items()
        }
        self.admin_engine = sa.create_engine(
            infra.PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"application_name": HARNESS_APP}
        )
        self._monitor = threading.Thread(target=self._watch_processes, name="process-monitor", daemon=True)
        self._monitor.start()
        self.processes.wait_healthy(timeout=120)
        return self

    def close(self) -> None:
        self._monitor_stop.set()
        if self._monitor is not None:
            self._monitor.join(timeout=5)
        try:
            if hasattr(self, "processes"):
                self.processes.stop()
        finally:
            if hasattr(self, "proxy"):
                self.proxy.close()
            if hasattr(self, "subscriber"):
                self.subscriber.stop()
            if self.mailbox_started:
                self.mailbox.stop()
            for engine in self.engines.values():
                engine.dispose()
            if hasattr(self, "admin_engine"):
                self.admin_engine.dispose()
            for url in self.urls.values():
                infra.drop_database(url)
            if self.vhost:
                infra.delete_vhost(self.vhost)

    @property
    def url(self) -> str:
        return self.processes.gateway_url

    @property
    def log_dir(self) -> Path:
        return self.processes.log_dir

    def replicas(self, service: str = "voting") -> list[str]:
        return sorted(k for k in self.processes.processes if k == service or k.startswith(f"{service}-"))

    # What tests/support/congress.py needs

    def api(self, method: str, path: str, token: str | None = "admin", **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token == "admin":
            headers["Authorization"] = f"Bearer {self.admin_token}"
        elif token is not None:
            headers["Authorization"] = token
        kwargs.setdefault("timeout", 60)
        return requests.request(method, self.url + path, headers=headers, **kwargs)

    def rows(self, service: str, query: str, **params: Any) -> list[dict[str, Any]]:
        with self.engines[service].connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(query), params)]

    # Processes

    def pid(self, key: str) -> int:
        return self.processes.processes[key].pid

    def kill(self, key: str, sig: int = signal.SIGKILL) -> None:
        """kill -9 (by default) one process of the stack; the monitor does not count it as a death."""
        process = self.processes.processes[key]
        self._expected_exits.add(process.pid)
        os.kill(process.pid, sig)
        process.wait(timeout=15)

    def restart(self, key: str) -> float:
        """Start one replica again (`voting-2` is a `voting`); returns when it was started."""
        service = key.split("-", 1)[0]
        old = self.processes.processes.get(key)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{key} is still running")
        env = self.processes.env
        started = time.time()
        log = open(self.log_dir / f"{key}.log", "ab")
        self.processes.processes[key] = subprocess.Popen(
            [str(BIN / "congress-service"), "run", service],
            env={
                **env,
                **self.processes.service_env.get(service, {}),
                "CONGRESS_HEARTBEAT_DIR": str(self.log_dir / key),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return started

    def wait_replica_ready(self, key: str, since: float, timeout: float = 60.0) -> float:
        """Seconds until the restarted replica's store wrote its first heartbeat (after `since`,
        wall clock): its container has started."""
        service = key.split("-", 1)[0]
        beat = Path(self.log_dir / key) / heartbeat_path(service).name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.processes[key]
            if process.poll() is not None:
                raise RuntimeError(f"{key} exited with {process.returncode} while starting")
            try:
                if float(beat.read_text()) >= since:
                    return time.time() - since
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{key} wrote no heartbeat within {timeout:.0f}s")

    def unexpected_deaths(self, since: float = 0.0) -> list[Death]:
        return [d for d in self.deaths if d.at >= since]

    def heal(self, timeout: float = 90.0) -> list[str]:
        """Restart every process that is not running; the stack healthy again (bounded)."""
        restarted = []
        for key, process in list(self.processes.processes.items()):
            if process.poll() is not None:
                self.restart(key)
                restarted.append(key)
        if self.proxy.is_cut:
            self.proxy.restore()
        self.wait_healthy(timeout)
        return restarted

    def wait_healthy(self, timeout: float = 60.0) -> float:
        started = time.monotonic()
        deadline = started + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                answer = requests.get(self.url + "/health", timeout=5)
                if answer.status_code == 200:
                    return time.monotonic() - started
                last = answer.text
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.3)
        raise TimeoutError(f"the stack was not healthy within {timeout:.0f}s: {last}")

    def _watch_processes(self) -> None:
        seen: set[int] = set()
        while not self._monitor_stop.is_set():
            for key, process in list(self.processes.processes.items()):
                if process.pid in seen or process.poll() is None:
                    continue
                seen.add(process.pid)
                if process.pid not in self._expected_exits:
                    self.deaths.append(Death(key, process.returncode, time.monotonic()))
            self._monitor_stop.wait(0.1)

    # PostgreSQL

    def terminate_connections(self, service: str = "voting") -> int:
        """pg_terminate_backend of every session of the service on its own database (ours spared)."""
        database = self.urls[service].rsplit("/", 1)[1]
        with self.admin_engine.connect() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db "
                        "AND pid <> pg_backend_pid() AND coalesce(application_name, '') <> :us"
                    ),
                    {"db": database, "us": HARNESS_APP},
                ).all()
            )

    def relay_leader(self) -> tuple[str, int] | None:
        """The voting replica whose relay holds the advisory lock now, and the outbox rows
        pending at that moment; None when no relay holds it."""
        database = self.urls["voting"].rsplit("/", 1)[1]
        with self.admin_engine.connect() as conn:
            row = conn.execute(sa.text(RELAY_LOCK_HOLDER), {"key": relay_lock_key("voting"), "db": database}).first()
        if row is None or row.client_port is None:
            return None
        owner = self._process_with_local_port(int(row.client_port))
        if owner is None:
            return None
        pending = self.undrained()["voting"]
        return owner, pending

    def _process_with_local_port(self, port: int) -> str | None:
        return owner_of_local_port(port, {key: self.pid(key) for key in self.replicas("voting")})

    def outbox_heads(self) -> dict[str, int]:
        return {s: self.rows(s, "SELECT coalesce(max(position), 0) AS p FROM outbox")[0]["p"] for s in PRODUCERS}

    def undrained(self) -> dict[str, int]:
        return {
            s: self.rows(s, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")[0]["n"] for s in PRODUCERS
        }

    def wait_published(self, service: str, upto: int, timeout: float) -> float | None:
        """Seconds until every outbox row of `service` up to position `upto` is published; None
        if some still are not after `timeout`."""
        started = time.monotonic()
        query = "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL AND position <= :p"
        while self.rows(service, query, p=upto)[0]["n"]:
            if time.monotonic() - started > timeout:
                return None
            time.sleep(0.1)
        return time.monotonic() - started

    def reconnected(self, since: float) -> dict[str, float | None]:
        """For each process: seconds from `since` (wall clock) to the first "Connected to" its
        consumers logged after it (nameko's reconnection), None if none yet."""
        found: dict[str, float | None] = {}
        for key in self.processes.processes:
            found[key] = None
            for line in self.log_lines(key, "Connected to"):
                try:
                    at = datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
                except (ValueError, KeyError):
                    continue
                if at >= since:
                    found[key] = round(at - since, 1)
                    break
        return found

    def wait_drained(self, timeout: float) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        left = self.undrained()
        while any(left.values()) and time.monotonic() < deadline:
            time.sleep(0.3)
            left = self.undrained()
        return left

    # The close and the evidence

    def alive(self, service: str) -> list[str]:
        return [k for k in self.replicas(service) if self.processes.processes[k].poll() is None]

    def close_ballot(self, ballot_id: str, within: float = 90.0) -> tuple[int, dict[str, Any]]:
        """Close, retried like a client (5xx or no answer) for at most `within` s; (status, answer)."""
        deadline = time.monotonic() + within
        last: tuple[int, dict[str, Any]] = (0, {})
        pause = 1.0
        while True:
            try:
                answer = self.api(
                    "POST",
                    f"/api/v1/ballots/{ballot_id}/close",
                    timeout=max(1.0, min(60.0, deadline - time.monotonic())),
                )
                last = (answer.status_code, answer.json())
                if answer.status_code < 500:
                    return last
            except (requests.RequestException, ValueError) as exc:
                last = (0, {"error": str(exc)})
            if time.monotonic() + pause >= deadline:
                return last
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def replay(self, producer: str, after: int) -> list[Committed]:
        """The producer's event log after `after`, through the gateway's replay API (read from its
        outbox table instead when the API cannot answer, e.g. the producer is dead)."""
        committed: list[Committed] = []
        start = after
        for _ in range(1000):
            try:
                answer = self.api(
                    "GET", f"/api/v1/events/{producer}", params={"after": after, "limit": 1000}, timeout=20
                )
            except requests.RequestException:
                answer = None
            if answer is None or answer.status_code != 200:
                rows = self.rows(
                    producer,
                    "SELECT position, event_id, type FROM outbox WHERE position > :p ORDER BY position",
                    p=start,
                )
                return [Committed(r["position"], r["event_id"], r["type"]) for r in rows]
            page = answer.json()
            committed += [Committed(e["position"], e["event"]["event_id"], e["event"]["type"]) for e in page["events"]]
            if not page["events"]:
                return committed
            after = page["next_after"]
        raise AssertionError("the event log did not end within 1000 pages")

    def collect(
        self,
        fault: str,
        seed: int,
        load: LoadResult,
        ballot_id: str,
        heads: dict[str, int],
        close_answer: dict[str, Any] | None,
        recovery_s: float | None = None,
        allow_503: bool = False,
        drain_timeout: float = 60.0,
    ) -> Evidence:
        everyone = all(self.alive(s) for s in PRODUCERS)  # a dead producer publishes nothing more
        undrained = self.wait_drained(drain_timeout if everyone else 5.0)
        committed = {p: self.replay(p, heads[p]) for p in PRODUCERS}
        deadline = time.monotonic() + (30 if everyone else 5)
        for producer, events in committed.items():
            self.subscriber.wait_for(producer, {c.event_id for c in events}, timeout=deadline - time.monotonic())
        try:
            answer = self.api("GET", f"/api/v1/ballots/{ballot_id}/record", timeout=20)
            record = answer.json() if answer.status_code == 200 else None
        except requests.RequestException:
            record = None
        status = self.rows("voting", "SELECT status FROM ballots WHERE id = :b", b=ballot_id)
        return Evidence(
            fault=fault,
            seed=seed,
            load=load,
            close_answer=close_answer,
            record=record,
            ballot_status=status[0]["status"] if status else None,
            committed=committed,
            arrivals={p: self.subscriber.arrivals(p) for p in PRODUCERS},
            undrained=undrained,
            allow_503_with_retry_after=allow_503,
            recovery_s=recovery_s,
        )

    def log_lines(self, key: str, needle: str) -> list[str]:
        try:
            text = (self.log_dir / f"{key}.log").read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if needle in line]


@contextmanager
def fault_stack(workdir: Path, **kwargs: Any) -> Iterator[FaultStack]:
    stack = FaultStack(workdir, **kwargs)
    try:
        yield stack.start()
    finally:
        stack.close()
