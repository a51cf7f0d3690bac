"""The gateway's HTTP edge: JSON in and out, one mapping from errors to status codes, and a
correlation id that follows the request through every RPC and event it causes.

The edge also keeps out what no service should see (issue 11): bodies over 1 MiB (413, before
the body is read), JSON nested deeper than 32 (400), clients that keep presenting wrong tokens
(429 with Retry-After), and unsafe correlation ids (replaced). Every answer carries the usual
security headers; 401s say how to authenticate (WWW-Authenticate: Bearer).

And it keeps the gateway answering when what is behind it is not (issue 16): every 503 says
when to try again (Retry-After); a request that needs a service is refused at once (503) while
the broker is known to be away, or when no worker frees up for it within a few seconds,
instead of queueing past its client's patience; `/health` is answered from the readiness
monitor's last look (gateway/health.py) before any route runs, so it needs no worker.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol

import eventlet
from eventlet.event import Event
from nameko.exceptions import ContainerBeingKilled
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import parse_set_header
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response

from congress.errors import (
    Conflict,
    CongressError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from congress.rpc import RETRY_LATER, RETRY_SOON, ServiceUnavailable, is_transient_remote
from gateway.auth import FailureLimiter, client_address, parse_proxies
from gateway.routes import Handler, Route, guarded

log = logging.getLogger(__name__)

STATUS: dict[type[CongressError], int] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}

MAX_BODY = 1 << 20  # 1 MiB: the largest body any route takes (a motion's text is 100 000 characters)
# A body announced over the limit but under this is read and dropped after the 413 (eventlet
# does it, a buffer at a time), so the client, still sending, reads the answer; a bigger one,
# or a chunked one past the limit, has its connection closed instead.
DRAIN_AT_MOST = 8 << 20
LINGER_SECONDS = 2.0  # after such an answer, how long what the client still sends is dropped
MAX_DEPTH = 32
CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")  # what logs and a String(100) column take

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    # JSON only; a page that needs more sets its own Content-Security-Policy, which is kept.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also takes "²", which int() does not
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in no id or code; PostgreSQL refuses NUL outright

CLOSE_CONNECTION = "congress.close_connection"  # environ key: a callable that ends keep-alive

HEALTH_PATH = "/health"
# A hall's delegates at once: a gateway worker is a greenthread that mostly waits on an RPC, so 500
# cost little, and the backlog waits in voting's queue (worked in order) rather than as 503s that
# every delegate's phone retries. MAX_WORKERS or GATEWAY_MAX_WORKERS set it.
DEFAULT_WORKERS = 500
QUEUE_SECONDS = 3.0  # how long a request may wait for a free worker before a 503
QUEUE_LIMIT = 1000  # requests waiting for a worker at most; beyond, a 503 at once


class Readiness(Protocol):
    """What the edge asks of the gateway's readiness monitor (gateway/health.py)."""

    def health(self) -> tuple[int, dict[str, Any]]:
        """The /health answer (status, body), from the monitor's last look."""
        ...

    def broker_down(self) -> bool:
        """Whether the broker is known to be away now."""
        ...


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "fields": fields or {}}}, status)


def unavailable(message: str, retry_after: int = RETRY_LATER) -> Response:
    """503, saying when to try again."""
    response = error_response(503, "unavailable", message)
    response.headers["Retry-After"] = str(max(1, int(retry_after)))
    return response


def nested_deeper_than(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, without parsing (or recursing).

    Strings go first (brackets inside them do not count), then each pass of a C-speed regex
    removes the innermost level. A pair still left after `limit` passes was deeper; unbalanced
    brackets alone are not depth but invalid JSON, which the parser reports."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        brackets, removed = _INNERMOST.subn("", brackets)
        if not removed:
            return False
    return _INNERMOST.search(brackets) is not None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json(request: Request) -> Any:
    text = request.get_data(as_text=True) or "null"
    if nested_deeper_than(text):
        raise InvalidInput(
            f"the request body nests deeper than {MAX_DEPTH} levels", {"_body": [f"deeper than {MAX_DEPTH} levels"]}
        )
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # cannot happen after the depth check; never a 500 if it did
        raise InvalidInput("the request body nests too deep", {"_body": ["nested too deep"]}) from None
    except ValueError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}", {"_body": ["not valid JSON"]}) from None


def optional_json(request: Request) -> dict[str, Any]:
    """The body when there is one, which must be an object; an empty object when there is none."""
    if not request.get_data():
        return {}
    body = read_json(request)
    if not isinstance(body, dict):  # `false` or `[]` once passed for "no options"
        raise InvalidInput("the request body must be a JSON object", {"_schema": ["expected an object"]})
    return body


def correlation_id_from(presented: str | None) -> str:
    """The caller's correlation id when it is short and plain, else a fresh one (never a 500)."""
    if presented and CORRELATION_ID.fullmatch(presented):
        return presented
    return str(uuid.uuid4())


def _close_connection(environ: dict) -> None:
    environ.get(CLOSE_CONNECTION, lambda: None)()


def _leave_unread_body(environ: dict) -> None:
    """Answering without reading the body: have the server drop it, or hang up if it is big."""
    length = environ.get("CONTENT_LENGTH") or "0"
    if _chunked(environ) or not _DIGITS.fullmatch(length) or _as_int(length) > DRAIN_AT_MOST:
        _close_connection(environ)


def _as_int(digits: str) -> int:
    return int(digits) if len(digits) < 19 else 10**18  # past any limit (and int() refuses 4300 digits)


def _chunked(environ: dict) -> bool:
    return "chunked" in parse_set_header(environ.get("HTTP_TRANSFER_ENCODING", ""))


def _too_large() -> Response:
    return error_response(413, "payload_too_large", f"the request body is over {MAX_BODY} bytes (1 MiB)")


def limit_body(environ: dict) -> Response | None:
    """413 for a body over MAX_BODY, decided before it is read; a chunked body is read up to the
    limit and no further, then handed on as an ordinary one."""
    length = environ.get("CONTENT_LENGTH")
    if length and not _chunked(environ):
        if not _DIGITS.fullmatch(length):
            _close_connection(environ)
            return error_response(400, "invalid_input", "the Content-Length header is not a number")
        if _as_int(length) > MAX_BODY:
            _leave_unread_body(environ)
            return _too_large()
        return None
    if not _chunked(environ):
        return None
    stream, parts, size = environ["wsgi.input"], [], 0
    try:
        while size <= MAX_BODY:
            part = stream.read(min(64 << 10, MAX_BODY + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
    except (OSError, ValueError):  # a malformed chunk, or the client went away
        _close_connection(environ)
        return error_response(400, "invalid_input", "the chunked request body could not be read")
    if size > MAX_BODY:
        _close_connection(environ)  # the rest may never end: do not drain it
        return _too_large()
    environ["wsgi.input"] = io.BytesIO(b"".join(parts))
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return None


def secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, but a path or method with no route answers in the API's error shape,
    and every request passes the edge's checks first."""

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") == HEALTH_PATH and self.server.readiness is not None:
            return secure(self.health(environ))(environ, start_response)
        presented = bool(environ.get("HTTP_AUTHORIZATION"))
        client = client_address(
            environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"), self.server.trusted_proxies
        )
        response = self.refuse_early(environ, client, presented) or self.dispatch(environ)
        if response.status_code == 401:
            # RFC 6750: say which scheme; "invalid_token" only when a token was presented.
            response.headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"' if presented else "Bearer")
            if presented:
                self.server.limiter.failed(client)
        if response.status_code == 503:
            response.headers.setdefault("Retry-After", str(RETRY_LATER))
        return secure(response)(environ, start_response)

    def health(self, environ: dict) -> Response:
        """GET /health from the monitor's cache: in the connection's own greenthread, no worker."""
        assert self.server.readiness is not None
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            response = error_response(405, "method_not_allowed", "GET /health only")
            response.headers["Allow"] = "GET, HEAD"
            _leave_unread_body(environ)
            return response
        status, body = self.server.readiness.health()
        response = json_response(body, status)
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_SOON)
        return response

    def refuse_early(self, environ: dict, client: str, presented: bool) -> Response | None:
        """429 and 413 come before any route runs, so before any service is called."""
        if presented:
            wait = self.server.limiter.retry_after(client)
            if wait is not None:
                _leave_unread_body(environ)
                response = error_response(
                    429,
                    "too_many_requests",
                    f"too many failed authentications from your address; try again in {wait} s",
                )
                response.headers["Retry-After"] = str(wait)
                return response
        return limit_body(environ)

    def dispatch(self, environ: dict) -> Response:
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            return provider.handle_request(request)
        except HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code or 500, "http_error")
            response = error_response(exc.code or 500, code, exc.description or exc.name)
            if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response


class EdgeProtocol(HttpOnlyProtocol):
    """eventlet's HTTP protocol, with a way for the app to end keep-alive after refusing a body it
    will not read (a chunked one may never end). The connection then closes as nginx's
    "lingering close" does: answer, stop writing, drop what the client still sends for a moment,
    close; closing at once with unread input would reset the connection, and the client,
    still sending, could lose the answer."""

    lingering = False

    def get_environ(self, *args: Any, **kwargs: Any) -> dict:
        environ = super().get_environ(*args, **kwargs)
        environ[CLOSE_CONNECTION] = self._close_after_answer
        return environ

    def _close_after_answer(self) -> None:
        self.close_connection = 1
        self.lingering = True

    def finish(self) -> None:
        if self.lingering:
            self._linger()
        super().finish()

    def _linger(self) -> None:
        deadline, dropped = time.monotonic() + LINGER_SECONDS, 0
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            while dropped < DRAIN_AT_MOST and time.monotonic() < deadline:
                self.connection.settimeout(max(0.01, deadline - time.monotonic()))
                data = self.connection.recv(64 << 10)
                if not data:
                    return
                dropped += len(data)
        except OSError:
            pass  # the client went away, or the time is up: close either way


class JsonWebServer(WebServer):
    def __init__(self) -> None:
        super().__init__()
        self.limiter = FailureLimiter()
        self.trusted_proxies: tuple = ()
        self.readiness: Readiness | None = None  # set by the gateway's monitor, when it has one
        self.workers: int | None = None
        self.queue_seconds = QUEUE_SECONDS
        self.queue_limit = QUEUE_LIMIT
        self.waiting = 0  # requests waiting for a free worker now

    def setup(self) -> None:
        super().setup()
        self.configure(self.container.config)
        pool = getattr(self.container, "_worker_pool", None)
        if self.workers and pool is not None and pool.size != self.workers:
            # nameko sizes the pool from max_workers for every service alike; the gateway's own.
            pool.resize(self.workers)
            self.container.max_workers = self.workers

    def configure(self, config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> None:
        """AUTH_FAILURES_PER_MINUTE (20), TRUSTED_PROXIES (none), GATEWAY_MAX_WORKERS (MAX_WORKERS
        when that is set, else 500), HTTP_QUEUE_SECONDS (3) and HTTP_QUEUE_LIMIT (1000): nameko
        config, then environment."""
        environ = os.environ if environ is None else environ

        def setting(key: str, default: str) -> str:
            value = config.get(key)
            if value in (None, ""):
                value = environ.get(key)
            return default if value in (None, "") else str(value)

        self.limiter = FailureLimiter(int(setting("AUTH_FAILURES_PER_MINUTE", "20")))
        self.trusted_proxies = parse_proxies(setting("TRUSTED_PROXIES", ""))
        workers = setting("GATEWAY_MAX_WORKERS", "") or ("" if environ.get("MAX_WORKERS") else str(DEFAULT_WORKERS))
        self.workers = int(workers) if workers else None
        self.queue_seconds = float(setting("HTTP_QUEUE_SECONDS", str(QUEUE_SECONDS)))
        self.queue_limit = int(setting("HTTP_QUEUE_LIMIT", str(QUEUE_LIMIT)))

    def broker_down(self) -> bool:
        return self.readiness is not None and self.readiness.broker_down()

    def admit(self, container: Any, spawn: Callable[[], Any]) -> Any:
        """Run `spawn` (which takes a worker) if a worker is free now or frees up within
        `queue_seconds`, with at most `queue_limit` requests waiting; else 503 at once or then,
        rather than a wait the client gives up on."""
        pool = getattr(container, "_worker_pool", None)
        if pool is None or (pool.free() > 0 and not pool.waiting()):
            return spawn()
        if self.waiting >= self.queue_limit:
            raise ServiceUnavailable("the gateway is busy; try again shortly", retry_after=RETRY_SOON)
        self.waiting += 1
        try:
            busy = ServiceUnavailable(
                f"the gateway is busy (no worker free within {self.queue_seconds:.0f}s); try again shortly",
                retry_after=RETRY_SOON,
            )
            with eventlet.Timeout(self.queue_seconds, busy):
                return spawn()
        finally:
            self.waiting -= 1

    def make_url_map(self) -> Map:
        # No merging of "//": werkzeug would answer a redirect (308) no route documents; an empty
        # path segment is no resource (404).
        url_map = Map(merge_slashes=False)
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map

    def get_wsgi_app(self) -> JsonWsgiApp:
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock: Any, wsgi_app: Callable, protocol: type = EdgeProtocol, debug: bool = False) -> Any:
        return super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)


class ApiEntrypoint(HttpRequestHandler):
    server = JsonWebServer()

    def __init__(self, method: str, url: str, route: Route | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("expected_exceptions", (CongressError, ServiceUnavailable))
        self.route = route  # the declaration, when the route has one (gateway/routes.py)
        super().__init__(method, url, **kwargs)

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        correlation_id = correlation_id_from(request.headers.get("X-Correlation-Id"))
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            if any(isinstance(value, str) and _CONTROL.search(value) for value in kwargs.values()):
                raise NotFound("no resource has a control character in its name")
            self.check_signature(args, kwargs)
            if self.needs_services and self.server.broker_down():
                raise ServiceUnavailable("the message broker cannot be reached; try again shortly")
            done = Event()
            self.server.admit(
                self.container,
                partial(
                    self.container.spawn_worker,
                    self,
                    args,
                    kwargs,
                    context_data={"correlation_id": correlation_id},
                    handle_result=partial(self.handle_result, done),
                ),
            )
            response = self.response_from_result(done.wait())
        except Exception as exc:
            response = self.response_from_exception(exc)
        response.headers["X-Correlation-Id"] = correlation_id
        return response

    @property
    def needs_services(self) -> bool:
        """A declared route that calls a service (not `offline`): it cannot be served without the broker."""
        return self.route is not None and not self.route.offline

    def response_from_exception(self, exc: Exception) -> Response:
        for error_type, status in STATUS.items():
            if isinstance(exc, error_type):
                return error_response(status, exc.code, exc.message, exc.fields)
        if isinstance(exc, ServiceUnavailable):
            return unavailable(str(exc), exc.retry_after)
        if isinstance(exc, ContainerBeingKilled):  # this gateway is stopping: another one will answer
            return unavailable("the gateway is stopping; try again shortly", RETRY_SOON)
        if is_transient_remote(exc):  # a service's database or its own callee away: not our bug
            log.warning("a service could not answer now: %s", exc)
            return unavailable(f"a service cannot answer now ({exc.exc_type}); try again shortly", RETRY_SOON)
        log.error("unexpected error in the gateway", exc_info=exc)
        return error_response(500, "internal", "an unexpected error occurred; it has been logged")


def api(method: str, path: str, **declared: Any) -> Callable[[Handler], Handler]:
    """Register an HTTP route. With a declaration (gateway/routes.py: `summary`, `tag`, `roles`,
    and what it takes and answers) the gateway enforces its roles and query and documents it."""

    def register(fn: Handler) -> Handler:
        route = None
        if declared:
            description = inspect.cleandoc(fn.__doc__ or "")  # a docstring's indentation is no Markdown
            route = Route(method, path, operation_id=fn.__name__, description=description, **declared)
            fn = guarded(fn, route)
        return ApiEntrypoint.decorator(method, path, route=route)(fn)

    return register
