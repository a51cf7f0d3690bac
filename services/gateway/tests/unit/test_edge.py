"""The gateway's edge (issue 11): body size and depth, correlation ids, 401/429 answers and
security headers, checked on the WSGI app with a stand-in for nameko's container that records
every worker it is asked to spawn (so "no service was called" is a fact, not a wait)."""

from __future__ import annotations

import io
import json
import sys
import time
import uuid
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from congress.contract import api as bodies
from congress.errors import InvalidInput, NotAuthenticated
from gateway.auth import FailureLimiter, client_address, client_key, parse_proxies
from gateway.http import (
    CLOSE_CONNECTION,
    DRAIN_AT_MOST,
    MAX_BODY,
    ApiEntrypoint,
    JsonWebServer,
    JsonWsgiApp,
    correlation_id_from,
    json_response,
    nested_deeper_than,
    optional_json,
    read_json,
)

GOOD = "Bearer good-token"


class Service:
    """The routes the tests call, as a gateway service would have them."""

    def echo(self, request: Request) -> Response:
        return json_response({"body": read_json(request)})

    def optional(self, request: Request) -> Response:
        return json_response({"body": optional_json(request)})

    def secured(self, request: Request) -> Response:
        if request.headers.get("Authorization") != GOOD:
            raise NotAuthenticated("the bearer token is not valid (unknown or revoked)")
        return json_response({"ok": True})

    def page(self, request: Request) -> Response:
        return Response("<p>hi</p>", mimetype="text/html", headers={"Content-Security-Policy": "default-src 'self'"})


ROUTES = [("POST", "/echo", "echo"), ("POST", "/optional", "optional"), ("GET", "/secured", "secured")]
ROUTES += [("GET", "/page", "page")]


class Container:
    """What ApiEntrypoint needs of nameko's container: spawn a worker, hand back its result."""

    def __init__(self) -> None:
        self.service_cls = Service
        self.config: dict[str, Any] = {}
        self.workers: list[tuple[str, dict[str, Any]]] = []

    def spawn_worker(self, provider: Any, args: Any, kwargs: Any, context_data: Any, handle_result: Any) -> None:
        self.workers.append((provider.method_name, context_data))
        try:
            result, exc_info = getattr(Service(), provider.method_name)(*args, **kwargs), None
        except Exception:
            result, exc_info = None, sys.exc_info()
        handle_result(None, result, exc_info)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Edge:
    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.container = Container()
        self.server = JsonWebServer()
        self.server.configure(config or {}, environ={})
        for method, url, name in ROUTES:
            entrypoint = ApiEntrypoint(method, url)
            entrypoint.container = self.container  # type: ignore[assignment]
            entrypoint.method_name = name
            self.server.register_provider(entrypoint)
        self.app = JsonWsgiApp(self.server)
        self.client = Client(self.app)
        self.closed: list[bool] = []

    def call(self, environ: dict[str, Any]) -> Response:
        environ[CLOSE_CONNECTION] = lambda: self.closed.append(True)
        answered: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.update(status=int(status.split()[0]), headers=headers)

        body = b"".join(self.app(environ, start_response))
        return Response(body, status=answered["status"], headers=answered["headers"])

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        remote = kwargs.pop("remote", "192.0.2.10")
        environ = EnvironBuilder(method=method, path=path, **kwargs).get_environ()
        environ["REMOTE_ADDR"] = remote
        return self.call(environ)


class Stream(io.RawIOBase):
    """A request body that counts what was read of it (and never ends, if asked)."""

    def __init__(self, size: int | None) -> None:
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = len(buffer) if self.size is None else min(len(buffer), self.size - self.read_bytes)
        buffer[:left] = b" " * left
        self.read_bytes += left
        return left


def streamed(stream: Any, length: int | None = None) -> dict[str, Any]:
    """A POST /echo whose body is `stream`: announced as `length` bytes, or chunked."""
    environ = EnvironBuilder(method="POST", path="/echo").get_environ()
    environ["wsgi.input"] = stream
    environ.pop("CONTENT_LENGTH", None)
    if length is None:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return environ


@pytest.fixture
def edge() -> Edge:
    return Edge()


def error(response: Response) -> dict[str, Any]:
    payload = json.loads(response.get_data())
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message", "fields"}
    return payload["error"]


# Bodies


def test_a_body_announced_over_a_mebibyte_is_refused_unread_and_no_service_is_called(edge: Edge) -> None:
    stream = Stream(MAX_BODY + 1)

    answer = edge.call(streamed(stream, MAX_BODY + 1))

    assert answer.status_code == 413 and error(answer)["code"] == "payload_too_large"
    assert stream.read_bytes == 0 and edge.container.workers == []
    assert edge.closed == []  # small enough to drop after the answer: the client, still sending, reads it


def test_a_body_announced_far_over_the_limit_also_ends_the_connection(edge: Edge) -> None:
    assert edge.call(streamed(Stream(None), DRAIN_AT_MOST + 1)).status_code == 413
    assert edge.closed == [True]


def test_a_chunked_body_is_read_up_to_the_limit_and_no_further(edge: Edge) -> None:
    endless = Stream(None)

    answer = edge.call(streamed(endless))

    assert answer.status_code == 413 and error(answer)["code"] == "payload_too_large"
    assert endless.read_bytes == MAX_BODY + 1 and edge.container.workers == []
    assert edge.closed == [True]


def test_a_chunked_body_under_the_limit_reaches_the_route(edge: Edge) -> None:
    answer = edge.call(streamed(io.BytesIO(b'{"a": [1, 2]}')))

    assert answer.status_code == 200 and answer.json == {"body": {"a": [1, 2]}}


class Broken(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise ValueError("invalid chunk size")  # what eventlet's ChunkReadError is


def test_an_unreadable_chunked_body_or_a_strange_length_is_a_400_never_a_500(edge: Edge) -> None:
    assert error(edge.call(streamed(Broken())))["code"] == "invalid_input"
    for length in ("²", "12a", "-1"):
        environ = streamed(io.BytesIO(b"{}"), 2)
        environ["CONTENT_LENGTH"] = length
        assert edge.call(environ).status_code == 400
    assert edge.call(streamed(io.BytesIO(b"{}"), 10**10)).status_code == 413
    huge = streamed(io.BytesIO(b"{}"), 2)
    huge["CONTENT_LENGTH"] = "9" * 5000
    assert edge.call(huge).status_code == 413 and edge.container.workers == []


def test_a_body_of_exactly_the_limit_is_taken(edge: Edge) -> None:
    body = b'"' + b"x" * (MAX_BODY - 2) + b'"'
    assert edge.request("POST", "/echo", data=body).status_code == 200


# JSON


def test_json_nested_deeper_than_32_is_refused_without_parsing_it(edge: Edge) -> None:
    for depth in (33, 1000, 100_000):
        answer = edge.request("POST", "/echo", data="[" * depth + "]" * depth)
        assert answer.status_code == 400 and error(answer)["fields"] == {"_body": ["deeper than 32 levels"]}
    mixed = '{"a": ' * 20 + "[" * 13 + "]" * 13 + "}" * 20
    assert edge.request("POST", "/echo", data=mixed).status_code == 400
    assert edge.request("POST", "/echo", data="[" * 32 + "]" * 32).status_code == 200
    assert edge.request("POST", "/optional", data="{" * 5000).status_code == 400
    for unbalanced in ("[" * 100_000, '{"a":' * 100_000):  # the parser's own recursion limit: a 400 too
        assert edge.request("POST", "/echo", data=unbalanced).status_code == 400


def test_depth_counts_brackets_in_strings_as_text() -> None:
    assert not nested_deeper_than(json.dumps({"text": "[" * 100, "q": '"[[[' * 50}))
    assert not nested_deeper_than(json.dumps([["a\\"] * 3] * 3))
    assert nested_deeper_than("[" * 40 + json.dumps({"x": "]]]"}) + "]" * 40)
    assert not nested_deeper_than("[" * 40)  # unbalanced: not valid JSON, which the parser says


def test_depth_of_a_mebibyte_of_brackets_is_decided_quickly() -> None:
    started = time.perf_counter()
    assert nested_deeper_than("[" * (MAX_BODY // 2) + "]" * (MAX_BODY // 2))
    assert not nested_deeper_than("[" * MAX_BODY)  # unbalanced: the parser's to refuse
    assert not nested_deeper_than("[]" * (MAX_BODY // 2))
    assert not nested_deeper_than(("[" * 32 + "]" * 32) * (MAX_BODY // 64))
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "body",
    ["{", "NaN", '{"a": Infinity}', "[1, -Infinity]", "1" * 5000, '{"a": 1' + "0" * 5000 + "}", "\udcff"],
)
def test_bodies_that_are_not_json_are_a_400_never_a_500(edge: Edge, body: str) -> None:
    answer = edge.request("POST", "/echo", data=body.encode("utf-8", "surrogatepass"))
    assert answer.status_code == 400 and error(answer)["fields"] == {"_body": ["not valid JSON"]}


# Integers, booleans: the API schemas


@pytest.mark.parametrize(
    ("schema", "payload", "field"),
    [
        (bodies.MembershipReturnFiling, {"as_of": "2026-01-01", "members": 10**9 + 1}, "members"),
        (bodies.MembershipReturnFiling, {"as_of": "2026-01-01", "members": -1}, "members"),
        (bodies.MembershipReturnFiling, {"as_of": "2026-01-01", "members": 1, "supporters": 10**30}, "supporters"),
        (bodies.MembershipReturnFiling, {"as_of": "2026-01-01", "members": 1.5}, "members"),
        (bodies.MembershipReturnFiling, {"as_of": "2026-01-01", "members": "12"}, "members"),
        (bodies.MembershipReturnFiling, {"as_of": "2026-01-01", "members": True}, "members"),
        (bodies.ApportionmentRequest, {"seats": 0, "method": "dhondt"}, "seats"),
        (bodies.ApportionmentRequest, {"seats": 100_001, "method": "dhondt"}, "seats"),
        (bodies.ApportionmentRequest, {"seats": 10, "method": "dhondt", "minimum": 10**12}, "minimum"),
        (bodies.CongressConvening, {"quorum": 0}, "quorum"),
        (bodies.CongressConvening, {"quorum": 2**63}, "quorum"),
        (bodies.BodyCreation, {"kind": "iec", "name": "IEC", "quorum": 100_001}, "quorum"),
        (bodies.ElectionCreation, {"title": "IEC", "seats": 1001, "method": "meek"}, "seats"),
        (bodies.MemberAddition, {"name": "R", "email": "r@x.org", "deliberative": "yes"}, "deliberative"),
        (bodies.MemberAddition, {"name": "R", "email": "r@x.org", "deliberative": 1}, "deliberative"),
        (bodies.MemberAddition, {"name": "R", "email": "r@x.org", "section": "s" * 33}, "section"),
        (bodies.Accreditation, {"deliberative": "true"}, "deliberative"),
        (bodies.EventReplayQuery, {"after": str(2**63)}, "after"),
        (bodies.EventReplayQuery, {"after": "²"}, "after"),
        (bodies.EventReplayQuery, {"limit": "0"}, "limit"),
        (bodies.DeliveryFilter, {"limit": "1001"}, "limit"),
        (bodies.InboxFilter, {"limit": "-1"}, "limit"),
    ],
)
def test_out_of_range_or_loosely_typed_values_are_400s_naming_the_field(
    schema: type, payload: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        bodies.load(schema(), payload)
    assert list(refused.value.fields) == [field]


def test_every_integer_a_request_schema_takes_is_bounded() -> None:
    import marshmallow

    unbounded = []
    for name, schema in vars(bodies).items():
        if isinstance(schema, type) and issubclass(schema, bodies.Request) and schema is not bodies.Request:
            for field_name, field in schema._declared_fields.items():
                if isinstance(field, marshmallow.fields.Integer):
                    ranges = [v for v in field.validators if isinstance(v, marshmallow.validate.Range)]
                    if not (any(r.min is not None for r in ranges) and any(r.max is not None for r in ranges)):
                        unbounded.append(f"{name}.{field_name}")
    assert unbounded == []


def test_strict_booleans_take_true_and_false() -> None:
    assert bodies.load(bodies.Accreditation(), {"deliberative": False}) == {"deliberative": False}
    assert bodies.load(bodies.Accreditation(), {}) == {"deliberative": None}


# Correlation ids


@pytest.mark.parametrize("given", ["x" * 101, "a" * 200, "bad id", "tab\there", "<script>", "ünïcode", "-leading"])
def test_an_unsafe_or_over_long_correlation_id_is_replaced(edge: Edge, given: str) -> None:
    answer = edge.request("POST", "/echo", json={}, headers={"X-Correlation-Id": given})

    replaced = answer.headers["X-Correlation-Id"]
    assert answer.status_code == 200 and replaced != given and uuid.UUID(replaced)
    assert edge.container.workers == [("echo", {"correlation_id": replaced})]


def test_a_plain_correlation_id_is_kept() -> None:
    plain = "req-1." + "a" * 94
    assert correlation_id_from(plain) == plain and correlation_id_from("abc:DEF_1") == "abc:DEF_1"
    assert correlation_id_from(None) != correlation_id_from(None)


# 401, 429


def test_401_says_how_to_authenticate(edge: Edge) -> None:
    missing = edge.request("GET", "/secured")
    wrong = edge.request("GET", "/secured", headers={"Authorization": "Bearer nope"})

    assert (missing.status_code, missing.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert (wrong.status_code, wrong.headers["WWW-Authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert error(wrong)["code"] == "not_authenticated"


def test_failed_authentications_are_limited_per_address_until_the_window_frees() -> None:
    edge = Edge({"AUTH_FAILURES_PER_MINUTE": "3"})
    clock = Clock()
    edge.server.limiter = FailureLimiter(edge.server.limiter.limit, clock=clock)
    wrong = {"Authorization": "Bearer nope"}

    for _ in range(3):
        assert edge.request("GET", "/secured", headers=wrong).status_code == 401
        clock.now += 10
    spawned = len(edge.container.workers)
    refused = edge.request("GET", "/secured", headers={"Authorization": GOOD})

    assert refused.status_code == 429 and error(refused)["code"] == "too_many_requests"
    assert refused.headers["Retry-After"] == "30"  # the first failure leaves the window in 30 s
    assert refused.headers["X-Content-Type-Options"] == "nosniff"
    assert len(edge.container.workers) == spawned  # no service called
    assert edge.request("GET", "/secured", headers=wrong, remote="192.0.2.99").status_code == 401  # another address
    assert edge.request("GET", "/secured").status_code == 401  # no token presented: nothing to guess, not limited
    clock.now += 30
    assert edge.request("GET", "/secured", headers={"Authorization": GOOD}).status_code == 200


def test_the_limit_comes_from_the_setting_and_defaults_to_20() -> None:
    assert Edge().server.limiter.limit == 20
    assert Edge({"AUTH_FAILURES_PER_MINUTE": 5}).server.limiter.limit == 5


def test_the_limiter_slides_and_keeps_bounded_memory() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=2, window=60, max_clients=3, clock=clock)

    limiter.failed("192.0.2.1")
    clock.now += 59
    limiter.failed("192.0.2.1")
    assert limiter.retry_after("192.0.2.1") == 1
    clock.now += 1
    assert limiter.retry_after("192.0.2.1") is None  # the first failure slid out
    for n in range(2, 10):
        limiter.failed(f"192.0.2.{n}")
        limiter.failed(f"192.0.2.{n}")
    assert len(limiter) == 3 and limiter.retry_after("192.0.2.9") == 60
    assert limiter.retry_after("192.0.2.1") is None  # the oldest were forgotten first
    with pytest.raises(ValueError):
        FailureLimiter(limit=0)


def test_an_ipv6_client_is_counted_by_its_64_prefix() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1" and client_key("192.0.2.1") == "192.0.2.1"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    proxies = parse_proxies("10.0.0.0/8, 192.0.2.1")

    assert client_address("198.51.100.7", "203.0.113.5", proxies) == "198.51.100.7"  # not a proxy of ours
    assert client_address("10.0.0.2", "203.0.113.5", ()) == "10.0.0.2"  # no proxies set
    assert client_address("10.0.0.2", "1.1.1.1, 203.0.113.5", proxies) == "203.0.113.5"  # the hop our proxy saw
    assert client_address("10.0.0.2", "203.0.113.5, 192.0.2.1", proxies) == "203.0.113.5"
    assert client_address("10.0.0.2", None, proxies) == "10.0.0.2"
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        parse_proxies("proxy.local")


def test_behind_a_trusted_proxy_each_client_has_its_own_count() -> None:
    edge = Edge({"AUTH_FAILURES_PER_MINUTE": "2", "TRUSTED_PROXIES": "10.0.0.0/8"})
    wrong = {"Authorization": "Bearer nope"}

    for _ in range(2):
        edge.request("GET", "/secured", headers={**wrong, "X-Forwarded-For": "203.0.113.5"}, remote="10.0.0.2")
    blocked = edge.request("GET", "/secured", headers={**wrong, "X-Forwarded-For": "203.0.113.5"}, remote="10.0.0.2")
    other = edge.request("GET", "/secured", headers={**wrong, "X-Forwarded-For": "203.0.113.6"}, remote="10.0.0.2")

    assert (blocked.status_code, other.status_code) == (429, 401)


# Security headers


def test_every_answer_carries_the_security_headers(edge: Edge) -> None:
    answers = {
        "200": edge.request("POST", "/echo", json={}),
        "400": edge.request("POST", "/echo", data="{"),
        "401": edge.request("GET", "/secured"),
        "404": edge.request("GET", "/nowhere"),
        "405": edge.request("DELETE", "/echo"),
        "413": edge.request("POST", "/echo", data=b"x" * (MAX_BODY + 1)),
    }
    for status, answer in answers.items():
        assert str(answer.status_code) == status
        assert answer.headers["X-Content-Type-Options"] == "nosniff", status
        assert answer.headers["Referrer-Policy"] == "no-referrer", status
        assert answer.headers["X-Frame-Options"] == "DENY", status
        assert answer.headers["Cache-Control"] == "no-store", status
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", status
    assert "POST" in answers["405"].headers["Allow"]


def test_a_page_keeps_its_own_content_security_policy(edge: Edge) -> None:
    page = edge.request("GET", "/page")

    assert page.headers["Content-Security-Policy"] == "default-src 'self'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
