"""The gateway when what is behind it is not there (issue 16): every 503 says when to try again,
a service's lost database is a 503 and never a 500, /health answers from the readiness monitor
without a worker, and a request is refused at once (no worker spawned) while the broker is away
or when no worker frees up for it in time."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import eventlet
import jwt
import pytest
from eventlet.event import Event
from nameko.exceptions import RemoteError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from congress.messaging.nameko_edge import _call_age
from congress.rpc import RETRY_SOON, BrokerUnavailable, ServiceUnavailable, call
from gateway.health import OK, UNREACHABLE, HealthMonitor, Look
from gateway.http import DEFAULT_WORKERS, ApiEntrypoint, JsonWebServer, JsonWsgiApp, json_response
from gateway.routes import Route

RAISES: dict[str, BaseException] = {
    "/db-lost": RemoteError("OperationalError", "server closed the connection unexpectedly"),
    "/db-gone": RemoteError("InterfaceError", "connection already closed"),
    "/callee-away": RemoteError("ServiceUnavailable", "secretariat did not answer within 10s"),
    "/bug": RemoteError("KeyError", "'choice'"),
    "/timeout": ServiceUnavailable("voting did not answer within 10s"),
}


class Service:
    def serve(self, request: Request) -> Response:
        if request.path in RAISES:
            raise RAISES[request.path]
        return json_response({"ok": True})


def declared(path: str, offline: bool = False) -> Route:
    return Route("GET", path, summary="a route", tag="test", roles=(), offline=offline)


class Container:
    """What ApiEntrypoint needs of nameko's container; `pool` is nameko's worker pool when given."""

    def __init__(self, pool: eventlet.GreenPool | None = None) -> None:
        self.service_cls = Service
        self.config: dict[str, Any] = {}
        self.workers: list[str] = []
        if pool is not None:
            self._worker_pool = pool

    def spawn_worker(self, provider: Any, args: Any, kwargs: Any, context_data: Any, handle_result: Any) -> None:
        if hasattr(self, "_worker_pool"):  # as nameko does: a worker from the pool, waiting for one if need be
            self._worker_pool.spawn(self._work, provider, args, kwargs, handle_result)
        else:
            self._work(provider, args, kwargs, handle_result)

    def _work(self, provider: Any, args: Any, kwargs: Any, handle_result: Any) -> None:
        self.workers.append(provider.url)
        try:
            result, exc_info = Service().serve(*args, **kwargs), None
        except Exception:
            result, exc_info = None, sys.exc_info()
        handle_result(None, result, exc_info)


class Readiness:
    def __init__(self, status: int = 200, broker_down: bool = False) -> None:
        self.status, self.down = status, broker_down
        self.asked = 0

    def health(self) -> tuple[int, dict[str, Any]]:
        self.asked += 1
        return self.status, {"status": "ok" if self.status == 200 else "degraded", "broker": "ok"}

    def broker_down(self) -> bool:
        return self.down


class Edge:
    def __init__(self, readiness: Readiness | None = None, pool: eventlet.GreenPool | None = None) -> None:
        self.container = Container(pool)
        self.server = JsonWebServer()
        self.server.configure({"HTTP_QUEUE_SECONDS": "0.2"}, environ={})
        self.server.readiness = readiness
        paths = [*RAISES, "/votes", "/health"]
        for path in paths:
            self._route(path, declared(path, offline=path == "/health"))
        self._route("/offline", declared("/offline", offline=True))
        self._route("/page", None)
        self.app = JsonWsgiApp(self.server)

    def _route(self, path: str, route: Route | None) -> None:
        entrypoint = ApiEntrypoint("GET", path, route=route)
        entrypoint.container = self.container  # type: ignore[assignment]
        entrypoint.server = self.server  # what binding to a container does
        entrypoint.method_name = "serve"
        self.server.register_provider(entrypoint)

    def request(self, path: str, method: str = "GET") -> Response:
        environ = EnvironBuilder(method=method, path=path).get_environ()
        environ["REMOTE_ADDR"] = "192.0.2.10"
        answered: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.update(status=int(status.split()[0]), headers=headers)

        body = b"".join(self.app(environ, start_response))
        return Response(body, status=answered["status"], headers=answered["headers"])


def error_code(response: Response) -> str:
    return json.loads(response.get_data())["error"]["code"]


# Every 503 says when to try again; a lost database is never a 500


@pytest.mark.parametrize("path", ["/db-lost", "/db-gone", "/callee-away", "/timeout"])
def test_a_service_that_cannot_answer_now_is_a_503_with_retry_after(path: str) -> None:
    answer = Edge().request(path)

    assert answer.status_code == 503
    assert error_code(answer) == "unavailable"
    assert int(answer.headers["Retry-After"]) >= 1


def test_a_remote_bug_stays_a_500() -> None:
    answer = Edge().request("/bug")

    assert answer.status_code == 500 and "Retry-After" not in answer.headers


def test_call_turns_a_callees_transient_failure_into_service_unavailable() -> None:
    def lost(*_: Any) -> None:
        raise RemoteError("OperationalError", "terminating connection due to administrator command")

    def bug(*_: Any) -> None:
        raise RemoteError("KeyError", "'choice'")

    lost.service_name = bug.service_name = "voting"  # type: ignore[attr-defined]

    with pytest.raises(ServiceUnavailable) as unavailable:
        call(lost)
    assert unavailable.value.retry_after == RETRY_SOON
    with pytest.raises(RemoteError):
        call(bug)


def test_a_broker_error_while_sending_is_a_broker_unavailable() -> None:
    def cut(*_: Any) -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    cut.service_name = "voting"  # type: ignore[attr-defined]

    with pytest.raises(BrokerUnavailable):
        call(cut)


# /health: answered by the edge from the monitor's last look, no worker


def test_health_is_answered_from_the_readiness_monitor_without_a_worker() -> None:
    readiness = Readiness(status=200)
    edge = Edge(readiness)

    answer = edge.request("/health")

    assert answer.status_code == 200 and json.loads(answer.get_data())["status"] == "ok"
    assert readiness.asked == 1 and edge.container.workers == []
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_degraded_health_is_a_503_with_retry_after() -> None:
    answer = Edge(Readiness(status=503, broker_down=True)).request("/health")

    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1


def test_health_takes_get_only() -> None:
    answer = Edge(Readiness()).request("/health", method="POST")

    assert answer.status_code == 405 and "GET" in answer.headers["Allow"]


# Refused at once while the broker is away


def test_a_route_that_needs_a_service_is_refused_at_once_while_the_broker_is_away() -> None:
    edge = Edge(Readiness(status=503, broker_down=True))

    answer = edge.request("/votes")

    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    assert "broker" in json.loads(answer.get_data())["error"]["message"]
    assert edge.container.workers == []  # no worker, so no service was called


def test_offline_routes_and_pages_are_served_while_the_broker_is_away() -> None:
    edge = Edge(Readiness(status=503, broker_down=True))

    assert edge.request("/offline").status_code == 200
    assert edge.request("/page").status_code == 200
    assert edge.container.workers == ["/offline", "/page"]


def test_with_the_broker_back_the_route_is_served() -> None:
    edge = Edge(Readiness(status=200, broker_down=False))

    assert edge.request("/votes").status_code == 200


# No free worker: a bounded wait, then a 503


def test_a_request_that_finds_no_free_worker_in_time_is_a_503_not_a_hang() -> None:
    pool = eventlet.GreenPool(1)
    release = Event()
    pool.spawn(release.wait)  # the only worker is busy
    edge = Edge(Readiness(), pool)

    started = time.monotonic()
    answer = edge.request("/votes")
    waited = time.monotonic() - started
    release.send(None)

    assert answer.status_code == 503 and answer.headers["Retry-After"] == str(RETRY_SOON)
    assert "busy" in json.loads(answer.get_data())["error"]["message"]
    assert waited < 2.0  # HTTP_QUEUE_SECONDS is 0.2 here
    assert edge.container.workers == [] and edge.server.waiting == 0


def test_beyond_the_queue_limit_the_refusal_is_immediate() -> None:
    pool = eventlet.GreenPool(1)
    release = Event()
    pool.spawn(release.wait)
    edge = Edge(Readiness(), pool)
    edge.server.queue_limit = 0
    edge.server.queue_seconds = 60.0

    answer = edge.request("/votes")
    release.send(None)

    assert answer.status_code == 503 and edge.container.workers == []


def test_a_free_worker_serves_at_once() -> None:
    edge = Edge(Readiness(), eventlet.GreenPool(2))

    assert edge.request("/votes").status_code == 200


def test_the_gateway_has_more_workers_than_a_backend_unless_told() -> None:
    server = JsonWebServer()

    server.configure({}, environ={})
    assert server.workers == DEFAULT_WORKERS
    server.configure({}, environ={"MAX_WORKERS": "12"})
    assert server.workers is None  # nameko's own max_workers, from MAX_WORKERS
    server.configure({}, environ={"MAX_WORKERS": "12", "GATEWAY_MAX_WORKERS": "80"})
    assert server.workers == 80


# The monitor's answer


class Consumer:
    connected = True


class Listener:
    def __init__(self) -> None:
        self.queue_consumer = Consumer()


def monitor(connected: bool, services: dict[str, str], age: float = 0.0) -> HealthMonitor:
    watching = HealthMonitor(tuple(services))
    watching.reply_listener = Listener()  # type: ignore[assignment]
    watching.reply_listener.queue_consumer.connected = connected
    watching.look = Look(at=time.monotonic() - age, services=services)
    return watching


def test_all_well_is_a_200() -> None:
    status, body = monitor(True, {"voting": OK, "sections": OK}).health()

    assert status == 200
    assert body["status"] == "ok" and body["broker"] == OK and body["services"] == {"voting": OK, "sections": OK}


def test_the_broker_away_is_said_at_once_whatever_the_last_look_said() -> None:
    status, body = monitor(False, {"voting": OK}).health()

    assert status == 503 and body["status"] == "degraded" and body["broker"] == UNREACHABLE


def test_a_service_that_did_not_answer_is_named() -> None:
    status, body = monitor(True, {"voting": "voting did not answer within 3s", "sections": OK}).health()

    assert status == 503 and body["services"]["voting"] == "voting did not answer within 3s"


def test_an_old_look_says_nothing_any_more() -> None:
    status, body = monitor(True, {"voting": OK}, age=60.0).health()

    assert status == 503 and body["services"]["voting"].startswith("not checked for")


def test_with_the_broker_away_the_look_calls_no_service() -> None:
    watching = monitor(False, {"voting": OK})

    look = watching.look_now()  # a call would need a container: there is none here

    assert look.services == {"voting": "unknown: the broker is unreachable"}


def test_the_health_answer_is_the_documented_one() -> None:
    from gateway.health import HealthView

    _, body = monitor(False, {"voting": "voting did not answer within 3s"}).health()

    assert HealthView().validate(body) == {}


# A request whose caller stopped waiting


def _proof(iat: float, ttl: float) -> str:
    return jwt.encode({"iat": int(iat), "exp": int(iat + ttl + 1)}, "k" * 32, algorithm="HS256")


def test_a_fresh_call_is_within_its_callers_patience() -> None:
    age, waited = _call_age(_proof(time.time(), 10))

    assert age < waited and waited <= 13


def test_a_call_older_than_its_callers_timeout_is_past_it() -> None:
    age, waited = _call_age(_proof(time.time() - 14, 10))

    assert age > waited
