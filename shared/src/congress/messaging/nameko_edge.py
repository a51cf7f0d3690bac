"""The only place the messaging kit meets nameko: the Store dependency (which also runs the
outbox relay), the signed `rpc` entrypoint and `RpcProxy`, the `subscribe` entrypoint and the
`idempotent` handler decorator."""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import eventlet
import jwt
import sqlalchemy as sa
from eventlet.queue import Empty, LightQueue
from kombu import Connection, Producer
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    DEFAULT_TRANSPORT_OPTIONS,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.containers import WorkerContext
from nameko.events import SERVICE_POOL, EventHandler
from nameko.exceptions import MalformedRequest
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from nameko.rpc import MethodProxy, ReplyListener, Responder, Rpc, RpcConsumer, ServiceProxy, get_rpc_exchange
from nameko.rpc import RpcProxy as NamekoRpcProxy
from sqlalchemy.orm import sessionmaker

from congress.contract import EnvelopeSchema
from congress.errors import CongressError
from congress.logs import set_correlation_id
from congress.messaging import relay_process, topology
from congress.messaging.relay import RELAY_RETRY_MAX, EventPublisher, OutboxRelay, RelayReport, relay_forever
from congress.messaging.store import UnitOfWork, database_url, is_postgres, make_engine, read_outbox
from congress.metrics import EVENTS_HANDLED, RELAY_RESTARTS, serve_if_configured
from congress.proof import CALL_PROOF, EVENT_PROOF, InvalidProof, sign_call, verify_call, verify_event
from congress.rpc import call_deadline  # (importing it also lets domain errors cross RPC intact)

log = logging.getLogger(__name__)
_ENVELOPE = EnvelopeSchema()  # one instance: marshmallow schemas keep no state between loads


def heartbeat_path(service: str) -> Path:
    return Path(os.environ.get("CONGRESS_HEARTBEAT_DIR", "/tmp")) / f"congress-{service}.heartbeat"


class SteadyQueueConsumer(QueueConsumer):
    """nameko's queue consumer, back within a second or two of the broker's return (kombu's
    default waits 2 s more after each failed try, up to 30 s between tries).

    `connected` says whether its consumers are on the broker now: False from the moment the
    connection is lost (or a try to make one fails) until they consume again. The gateway reads
    it to refuse at once what needs the broker while it is away, and for its /health."""

    def __init__(self) -> None:
        super().__init__()
        self.connected = False
        self.changed_at = time.monotonic()

    def _mark(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected, self.changed_at = connected, time.monotonic()

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self._mark(True)
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def on_connection_error(self, exc: Any, interval: Any) -> None:
        self._mark(False)
        super().on_connection_error(exc, interval)

    def consume(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from super().consume(*args, **kwargs)
        finally:  # the connection was lost (or the consumer stops): not consuming any more
            self._mark(False)

    @contextmanager
    def establish_connection(self) -> Iterator[Any]:
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=0.5,
                interval_step=0.5,
                interval_max=2,
            )
            yield conn


class _ReplyPublisher(Publisher):
    """Replies go without a publisher confirm: waiting for one costs a broker round trip per call,
    and a reply the broker loses is, for the caller, a timeout; it retries, and every call that
    changes anything is idempotent (a vote answers a repeat with the same receipt)."""

    use_confirms = False
    delivery_mode = 1  # to the caller's own reply queue, which does not outlive it anyway


class _Responder(Responder):
    publisher_cls = _ReplyPublisher


class SteadyRpcConsumer(RpcConsumer):
    """nameko's RPC consumer, but a reply that cannot be sent (the broker went away) does not kill
    the service: the request stays unacknowledged, the broker redelivers it when the consumer is
    back, and a retried call is idempotent or, by then, refused as expired."""

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> tuple[Any, Any]:
        config = self.container.config
        responder = _Responder(
            config[AMQP_URI_CONFIG_KEY],
            get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except Exception as exc:  # kombu, amqp and socket errors alike: the connection is gone
            log.warning("could not answer an RPC (%s); it stays unacknowledged for redelivery", exc)
            return result, exc_info
        self.queue_consumer.ack_message(message)
        return result, exc_info

    queue_consumer = SteadyQueueConsumer()


class SignedRpc(Rpc):
    """nameko's RPC entrypoint that acts only on a call signed by a service for this very call.

    `@rpc` for any service's call; `@rpc(callers=("voting",))` for one only that service may make.
    A refusal is answered to the caller as `InvalidProof` and the request is acked: it never runs.
    """

    def __init__(self, callers: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.callers = tuple(callers)
        kwargs.setdefault("expected_exceptions", (CongressError,))  # the caller's mistake, not ours
        super().__init__(**kwargs)

    rpc_consumer = SteadyRpcConsumer()

    def handle_message(self, body: Any, message: Any) -> None:
        try:
            args, kwargs = body["args"], body["kwargs"]
        except (KeyError, TypeError):
            raise MalformedRequest("Message missing `args` or `kwargs`") from None
        proof = (message.headers or {}).get(f"{self.header_prefix}.{CALL_PROOF}")
        service = self.container.service_name
        try:
            issuer = verify_call(proof, service, self.method_name, args, kwargs)
            if self.callers and issuer not in self.callers:
                raise InvalidProof(f"{service}.{self.method_name} takes calls from {', '.join(self.callers)} only")
            age, waited = _call_age(proof)
            if age > waited:
                # Its caller stopped waiting: nobody would get the answer (the broker was away).
                raise InvalidProof(f"{service}.{self.method_name}: the call's proof has expired (sent {age:.0f}s ago)")
        except InvalidProof as refused:
            log.warning("refused an RPC: %s", refused)  # stale, or someone on the broker without the key
            raise
        if age >= LATE_CALL:
            log.info("a late RPC: %s.%s sent %.0fs ago by %s", service, self.method_name, age, issuer)
        else:
            log.debug("%s.%s: a call signed by %s", service, self.method_name, issuer)
        super().handle_message(body, message)


LATE_CALL = 5.0  # seconds: a call worked this long after it was sent is logged (a backlog built up)


def _call_age(proof: str) -> tuple[float, float]:
    """(seconds since a verified proof was signed, seconds its caller waits): the proof's own
    expiry, without the leeway `verify_call` allows for clocks that disagree, once the caller
    has given up for sure (`exp` is one second past its timeout, `iat` rounded down)."""
    claims = jwt.decode(proof, options={"verify_signature": False})
    return time.time() - claims["iat"], float(claims["exp"]) - claims["iat"] + 1.0


rpc = SignedRpc.decorator


class _FailFastPublisher(Publisher):
    """A request to a broker that is away fails at once (the caller answers 503) instead of
    holding a worker through kombu's retries; one that waits in a queue longer than its caller
    does expires there, unworked."""

    retry = False
    # Transient: a request is worth nothing once its caller has given up (its proof expires with
    # the caller's timeout), so the broker need not write it to disk; a broker restart makes it a
    # timeout, and the caller retries an idempotent call.
    delivery_mode = 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # nameko writes into transport_options: each publisher its own copy.
        self.transport_options = {**DEFAULT_TRANSPORT_OPTIONS, "max_retries": 0}


class _SignedMethodProxy(MethodProxy):
    publisher_cls = _FailFastPublisher

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        waiting = call_deadline()
        self._proof = sign_call(
            self.container.service_name, self.service_name, self.method_name, args, kwargs, ttl=waiting
        )
        if waiting:
            self.publisher.expiration = waiting  # seconds: the broker drops it when nobody waits any more
        return super()._call(*args, **kwargs)

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers = super().get_message_headers(worker_ctx)
        headers[self._get_header_name(CALL_PROOF)] = self._proof  # this call's, not the caller's own
        return headers


class _SignedServiceProxy(ServiceProxy):
    def __getattr__(self, name: str) -> _SignedMethodProxy:
        return _SignedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, **self.options)


class SteadyReplyListener(ReplyListener):
    queue_consumer = SteadyQueueConsumer()


class _Probe:
    """The entrypoint a call made outside any worker names in its call id (`gateway.health.<id>`)."""

    def __init__(self, method_name: str) -> None:
        self.method_name = method_name


def standalone_proxy(container: Any, service: str, reply_listener: ReplyListener, purpose: str) -> ServiceProxy:
    """A signed proxy to `service` for a container's own managed thread (a health probe), which
    runs in no worker and so takes none from the pool; `reply_listener`: the container's."""
    worker_ctx = WorkerContext(container, None, _Probe(purpose), data={"correlation_id": purpose})
    return _SignedServiceProxy(worker_ctx, service, reply_listener)


class RpcProxy(NamekoRpcProxy):
    """nameko's RpcProxy, signing every call in this service's name (see `congress.proof`)."""

    rpc_reply_listener = SteadyReplyListener()

    def get_dependency(self, worker_ctx: Any) -> _SignedServiceProxy:
        return _SignedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **self.options)


class RequireKeys(DependencyProvider):
    """The keys a service cannot work without, read at start: a missing one stops it with one line."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def setup(self) -> None:
        from congress import keys

        readers = {keys.SERVICE_KEY: keys.service_key, keys.BALLOT_KEY: keys.ballot_key}
        for name in self.names:
            readers.get(name, keys.record_signing_key)()

    def get_dependency(self, worker_ctx: Any) -> None:
        return None


class StoreAccess:
    """What a worker sees as `self.store`."""

    def __init__(self, provider: Store, correlation_id: str | None) -> None:
        self._provider = provider
        self.correlation_id = correlation_id
        self.engine = provider.engine

    def unit_of_work(self, correlation_id: str | None = None) -> UnitOfWork:
        return UnitOfWork(
            self._provider.sessions,
            producer=self._provider.container.service_name,
            correlation_id=correlation_id or self.correlation_id,
            on_commit=self._provider.wake_relay,
        )

    def session(self) -> Any:
        """A read-only session for queries (rolled back on close)."""
        return self._provider.sessions()


class LogContext(DependencyProvider):
    """Puts the worker's correlation id on every log line it writes."""

    def worker_setup(self, worker_ctx: Any) -> None:
        set_correlation_id(worker_ctx.data.get("correlation_id"))

    def worker_teardown(self, worker_ctx: Any) -> None:
        set_correlation_id(None)


RELAY_STEADY = 30.0  # seconds: a relay process that ran this long and exited was not crash-looping

# os unpatched: eventlet's green read and write wait for the hub before every call, and two
# greenthreads committing at once would then both wait to write the same pipe (which it refuses).
_os = eventlet.patcher.original("os")


class RelayChild:
    """The service's side of a relay process (relay_process.py): starts it, rings its doorbell,
    adds its report to this process's metrics, and stops it."""

    def __init__(self, service: str, env: dict[str, str]) -> None:
        self.service = service
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._doorbell: int | None = None
        self._reports: int | None = None

    def start(self) -> None:
        wake_r, wake_w = os.pipe()
        report_r, report_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                relay_process.command(self.service, wake_r, report_w),
                pass_fds=(wake_r, report_w),
                env={**os.environ, **self.env},
            )
        except Exception:
            for fd in (wake_r, wake_w, report_r, report_w):
                os.close(fd)
            raise
        os.close(wake_r)
        os.close(report_w)
        os.set_blocking(wake_w, False)  # a commit never waits on the doorbell
        os.set_blocking(report_r, False)
        if self._doorbell is not None:
            os.close(self._doorbell)  # the last relay's, which exited
        self._doorbell, self._reports = wake_w, report_r

    def wake(self) -> None:
        if self._doorbell is None:
            return
        try:
            _os.write(self._doorbell, b"!")
        except OSError:
            pass  # full (it has wake-ups enough) or closed (it is stopping)

    def follow(self, report: RelayReport) -> int:
        """Add the relay's figures to ours until it exits; its exit code."""
        assert self._reports is not None and self.process is not None
        buffered = b""
        try:
            while True:
                try:
                    chunk = _os.read(self._reports, 65536)
                except BlockingIOError:
                    eventlet.hubs.trampoline(self._reports, read=True)
                    continue
                if not chunk:
                    break
                *lines, buffered = (buffered + chunk).split(b"\n")
                for line in lines:
                    relay_process.apply_report(line, report)
        finally:
            os.close(self._reports)
            self._reports = None
        return self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Close the doorbell: the relay ends its cycle in hand and exits; killed after `timeout`
        (0: at once)."""
        doorbell, self._doorbell = self._doorbell, None
        if doorbell is not None:
            os.close(doorbell)
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            if timeout:
                log.warning("relay process did not stop within %.0fs; killing it", timeout)
            self.process.kill()
            self.process.wait()


class Store(DependencyProvider):
    """The service's database, its outbox relay and a heartbeat for container health checks.

    On PostgreSQL the relay runs as a process of its own (relay_process.py) unless RELAY_PROCESS
    is 0; on SQLite, which has one writer, it is a greenthread of the service."""

    def __init__(self, poll_interval: float = 0.5, heartbeat_interval: float = 5.0) -> None:
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self._running = False
        self._wake: LightQueue = LightQueue(maxsize=1)
        self.relay: OutboxRelay | None = None
        self.relay_child: RelayChild | None = None

    def setup(self) -> None:
        service = self.container.service_name
        url = self.container.config.get("DATABASE_URL") or database_url(service)
        self.engine = make_engine(url)
        if is_postgres(self.engine):
            from psycogreen.eventlet import patch_psycopg

            patch_psycopg()  # psycopg2 waits cooperatively instead of blocking every greenthread
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        amqp_uri = self.container.config.get("EVENTS_AMQP_URI") or self.container.config["AMQP_URI"]
        if is_postgres(self.engine) and str(self.container.config.get("RELAY_PROCESS", "1")).strip() != "0":
            self.relay_child = RelayChild(
                service,
                {
                    relay_process.ENV_DATABASE_URL: url,
                    relay_process.ENV_AMQP_URI: amqp_uri,
                    relay_process.ENV_POLL_INTERVAL: str(self.poll_interval),
                },
            )
        else:
            self.relay = OutboxRelay(self.engine, EventPublisher(amqp_uri, service))

    def start(self) -> None:
        self._running = True
        serve_if_configured(self.container.service_name)
        if self.relay_child is not None:
            self.relay_child.start()
            self.container.spawn_managed_thread(self._follow_relay_child)
        else:
            self.container.spawn_managed_thread(self._relay_forever)
        self.container.spawn_managed_thread(self._heartbeat_forever)

    def stop(self) -> None:
        self._running = False
        self.wake_relay()
        if self.relay_child is not None:
            self.relay_child.stop()

    def kill(self) -> None:
        self._running = False
        if self.relay_child is not None:
            self.relay_child.stop(timeout=0)  # killed: no waiting for its cycle
        else:
            self.wake_relay()

    def get_dependency(self, worker_ctx: Any) -> StoreAccess:
        return StoreAccess(self, worker_ctx.data.get("correlation_id"))

    def wake_relay(self) -> None:
        if self.relay_child is not None:
            self.relay_child.wake()
            return
        try:
            self._wake.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending

    def _relay_forever(self) -> None:
        assert self.relay is not None

        def wait(seconds: float) -> None:
            try:
                self._wake.get(timeout=seconds)
            except Empty:
                pass

        relay_forever(self.relay, wait, eventlet.sleep, lambda: self._running, self.poll_interval)

    def _follow_relay_child(self) -> None:
        """Keep the relay process running while the service runs: another if it exits, after a
        pause that grows while they keep exiting soon after their start."""
        child = self.relay_child
        assert child is not None
        report, pause = RelayReport(), self.poll_interval
        while self._running:
            started = time.monotonic()
            code = child.follow(report)
            if not self._running:
                return
            RELAY_RESTARTS.inc()
            if time.monotonic() - started > RELAY_STEADY:
                pause = self.poll_interval  # it had been running well: not a crash loop
            log.warning("relay process exited with %s; starting another in %.1fs", code, pause)
            while True:
                eventlet.sleep(pause)
                pause = min(pause * 2, RELAY_RETRY_MAX)
                if not self._running:
                    return
                try:
                    child.start()
                    break
                except OSError as exc:  # no process to be had now (fork refused): events wait
                    log.warning("relay process could not start (%s); trying again in %.1fs", exc, pause)
            if not self._running:
                child.stop()  # the service stopped while it started: nobody else will stop it

    def _heartbeat_forever(self) -> None:
        path = heartbeat_path(self.container.service_name)
        while self._running:
            try:
                with self.engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                path.write_text(str(time.time()))
            except Exception as exc:
                log.warning("heartbeat: database unreachable (%s)", exc)
            eventlet.sleep(self.heartbeat_interval)


class EventLog:
    """Mixin for a producing service: its outbox, read by position, for subscribers catching up."""

    MAX_PAGE = 1000

    @rpc
    def replay_events(self, after: int = 0, limit: int = 100, types: list[str] | None = None) -> list[dict[str, Any]]:
        page = max(1, min(int(limit), self.MAX_PAGE))
        return read_outbox(self.store.engine, after=int(after), limit=page, types=types)

    @rpc
    def ping(self) -> str:
        return "pong"


TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)


class Subscriber(EventHandler):
    """nameko's event handler with the platform's rules.

    Its queue is the one `topology` lists (so producers pre-declare it), the method must be
    `@idempotent`, the message is acked only after the method returned (its unit of work has
    committed by then), a failure is retried once, and a second failure moves the message to
    the dead-letter queue with the error instead of dropping it.
    """

    transient_pause = 2.0
    queue_consumer = SteadyQueueConsumer()  # the same connection as the service's RPC consumer

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        super().__init__(source_service, event_type, handler_type=SERVICE_POOL, **kwargs)

    def setup(self) -> None:
        subscription = topology.find(self.container.service_name, self.source_service, self.event_type)
        method = getattr(self.container.service_cls, self.method_name)
        if not getattr(method, "__congress_idempotent__", False):
            raise TypeError(f"{self.method_name} subscribes to events but is not @idempotent")
        self.queue = topology.queue_for(subscription)
        Consumer.setup(self)

    def handle_message(self, body: Any, message: Any) -> None:
        try:
            verify_event((message.headers or {}).get(EVENT_PROOF), self.source_service, body)
        except InvalidProof as exc:
            # Someone with access to the broker but not to the key: nothing runs, the message is kept.
            try:
                self._dead_letter(message, (type(exc), exc, None))
            except Exception:
                log.exception("could not dead-letter an unsigned event; requeueing it")
                self.queue_consumer.requeue_message(message)
            else:
                self.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def handle_message_processed(self, message: Any, result: Any = None, exc_info: Any = None) -> None:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
        elif isinstance(exc_info[1], TRANSIENT):
            # The database went away (failover, restart): the event is fine, try it again shortly.
            eventlet.sleep(self.transient_pause)
            self.queue_consumer.requeue_message(message)
        elif not message.delivery_info.get("redelivered"):
            self.queue_consumer.requeue_message(message)
        else:
            try:
                self._dead_letter(message, exc_info)
            except Exception:
                log.exception("could not dead-letter a failed event; requeueing it")
                self.queue_consumer.requeue_message(message)
            else:
                self.queue_consumer.ack_message(message)

    def _dead_letter(self, message: Any, exc_info: Any) -> None:
        error = "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()
        with Connection(self.container.config["AMQP_URI"], transport_options={"confirm_publish": True}) as conn:
            queue = topology.dead_letter_queue()
            queue(conn.default_channel).declare()
            Producer(conn.default_channel).publish(
                message.body,
                exchange=queue.exchange,
                routing_key=self.queue.name,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                headers={
                    EVENT_PROOF: (message.headers or {}).get(EVENT_PROOF),
                    "x-error": error,
                    "x-consumer": f"{self.container.service_name}.{self.method_name}",
                    "x-queue": self.queue.name,
                    "x-failed-at": time.time(),
                },
                retry=False,
            )
        log.error("event dead-lettered from %s: %s", self.queue.name, error)
        EVENTS_HANDLED.labels(
            f"{self.container.service_name}.{self.method_name}", self.event_type, "dead_lettered"
        ).inc()


subscribe = Subscriber.decorator


def idempotent(handler: Callable[..., Any]) -> Callable[[Any, dict[str, Any]], Any]:
    """Run an event handler once per event: `handler(self, uow, event)`.

    The envelope is validated against the contract, the event id is claimed in the same unit
    of work as the handler's effect, and the unit of work commits before the message is acked.
    The service must have its Store as `self.store`.
    """

    @functools.wraps(handler)
    def run_once(self: Any, payload: dict[str, Any]) -> Any:
        event = _ENVELOPE.load(payload)
        set_correlation_id(event.correlation_id)
        consumer = f"{self.name}.{handler.__name__}"
        with self.store.unit_of_work(correlation_id=event.correlation_id) as uow:
            if not uow.claim(event.event_id, consumer):
                log.info("%s: event %s already processed; skipped", consumer, event.event_id)
                EVENTS_HANDLED.labels(consumer, event.type, "duplicate").inc()
                return None
            result = handler(self, uow, event)
            uow.commit()
        log.info("%s applied %s %s", consumer, event.type, event.event_id)
        EVENTS_HANDLED.labels(consumer, event.type, "applied").inc()
        return result

    run_once.__congress_idempotent__ = True  # type: ignore[attr-defined]
    return run_once
