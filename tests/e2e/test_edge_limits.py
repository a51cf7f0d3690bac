"""Issue 11, acceptance 6, through the HTTP API of the real stack: webhook URLs to private or
metadata addresses, oversized and over-deep bodies, out-of-range integers and unsafe
correlation ids each get their stated answer, and nothing is written. Failed authentications
meet a 429 with Retry-After, 401s say how to authenticate, every answer carries the security
headers. No request ever goes to a refused address: they are refused at validation."""

from __future__ import annotations

import http.client
import json
import random
import secrets
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import Stack, new_section, running_stack
from tests.support import infra

pytestmark = pytest.mark.e2e

MIB = 1 << 20
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
REFUSED_URLS = [
    "http://127.0.0.1:9/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://10.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",  # 127.0.0.1, spelt as one decimal number
    "http://0x7f.1/hook",  # and in hex
    "http://[::ffff:169.254.169.254]/",
    "http://receiver:8080/hook",  # a single-label (compose) name that resolves to no allowed network
    "http://user:secret@example.org/hook",
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def unallowed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack as deployed by default: no private network allowed for webhooks (the test stacks
    allow the webhook receiver's loopback; this one must not, whatever the environment says)."""
    vhost = infra.create_vhost()
    if vhost is None:
        pytest.skip("needs rabbitmqctl to give this stack a vhost of its own")
    try:
        workdir = tmp_path_factory.mktemp(f"edge-{request.param}")
        env = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": ""}
        with running_stack(request.param, infra.amqp_uri(vhost), workdir, extra_env=env) as stack:
            yield stack
    finally:
        infra.delete_vhost(vhost)


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def refused(answer: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    payload = answer.json()
    assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message", "fields"}
    if field is not None:
        assert field in payload["error"]["fields"], payload
    return payload["error"]


# Webhook targets


def test_webhook_urls_to_private_or_metadata_addresses_are_refused_by_field_and_nothing_is_written(
    unallowed: Stack,
) -> None:
    stack = unallowed
    code = new_section()["code"]
    ok(stack.api("POST", "/api/v1/sections", json=new_section(code, webhook_url="https://example.org/hooks/ok")), 201)
    officer = ok(stack.api("POST", f"/api/v1/sections/{code}/officer-tokens", json={"label": "t"}), 201)

    for url in REFUSED_URLS:
        for token in ("admin", f"Bearer {officer['token']}"):
            patched = stack.api("PATCH", f"/api/v1/sections/{code}", token=token, json={"webhook_url": url})
            refused(patched, 400, "webhook_url")
        other = new_section(webhook_url=url)
        refused(stack.api("POST", "/api/v1/sections", json=other), 400, "webhook_url")
        assert stack.api("GET", f"/api/v1/sections/{other['code']}").status_code == 404
        subscription = {"url": url, "event_types": ["motion.decided"]}
        refused(stack.api("POST", "/api/v1/webhooks", json=subscription), 400, "url")

    assert ok(stack.api("GET", f"/api/v1/sections/{code}"))["webhook_url"] == "https://example.org/hooks/ok"
    listed = {w["url"] for w in ok(stack.api("GET", "/api/v1/webhooks"))["webhooks"]}
    assert not listed & set(REFUSED_URLS)
    # A public URL is still taken, and removing one is still possible.
    ok(stack.api("PATCH", f"/api/v1/sections/{code}", json={"webhook_url": None}))
    ok(
        stack.api(
            "POST", "/api/v1/webhooks", json={"url": "https://hooks.example.org/c", "event_types": ["motion.decided"]}
        ),
        201,
    )


# Bodies


def gateway_rss_kib(stack: Stack) -> int:
    status = Path(f"/proc/{stack.processes.processes['gateway'].pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def raw_exchange(stack: Stack, head: str, body_parts: Iterator[bytes]) -> bytes:
    """Send a request's head and as much of its body as given, then read the answer to the end."""
    url = urlsplit(stack.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_body_over_a_mebibyte_is_a_413_before_it_is_read_and_the_gateway_does_not_grow(stack: Stack) -> None:
    code = new_section()["code"]
    before = gateway_rss_kib(stack)

    for _ in range(5):
        big = json.dumps(new_section(code, name="x" * (2 * MIB))).encode()
        answer = stack.api("POST", "/api/v1/sections", data=big, headers={"Content-Type": "application/json"})
        assert refused(answer, 413)["code"] == "payload_too_large"
        assert answer.headers["Content-Security-Policy"] == SECURITY_HEADERS["content-security-policy"]

    # 20 MiB announced, 64 KiB sent: the answer comes without waiting for the rest.
    head = (
        "POST /api/v1/sections HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {stack.admin_token}\r\nContent-Length: {20 * MIB}\r\n\r\n"
    )
    answer = raw_exchange(stack, head, iter([b" " * 65536]))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"payload_too_large" in answer and b"Connection: close" in answer

    # Chunked, with no length announced: read up to the limit, no further.
    head = (
        "POST /api/v1/sections HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {stack.admin_token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunks = (b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(18))  # 1.125 MiB, never terminated
    answer = raw_exchange(stack, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]

    assert stack.api("GET", f"/api/v1/sections/{code}").status_code == 404
    assert gateway_rss_kib(stack) - before < 20 * 1024, "the gateway grew by more than 20 MiB"


def test_json_nested_1000_deep_is_a_400(stack: Stack) -> None:
    code = new_section()["code"]
    for body in ("[" * 1000 + "]" * 1000, json.dumps(new_section(code))[:-1] + ', "x": ' + "{" * 1000 + "}" * 1001):
        answer = stack.api("POST", "/api/v1/sections", data=body, headers={"Content-Type": "application/json"})
        assert refused(answer, 400, "_body")["fields"] == {"_body": ["deeper than 32 levels"]}
    assert stack.api("GET", f"/api/v1/sections/{code}").status_code == 404


# Integers and booleans


def test_out_of_range_or_loose_values_are_400s_naming_the_field_and_nothing_is_written(stack: Stack) -> None:
    code = new_section()["code"]
    ok(stack.api("POST", "/api/v1/sections", json=new_section(code)), 201)
    apportionments = ok(stack.api("GET", "/api/v1/apportionments"))["apportionments"]
    bodies_before = ok(stack.api("GET", "/api/v1/bodies"))["bodies"]

    for members in (10**12, -1, 2**64, "2000", 1.5, True):
        filing = {"as_of": "2026-01-31", "members": members}
        refused(stack.api("POST", f"/api/v1/sections/{code}/returns", json=filing), 400, "members")
    for seats in (0, 10**9, 2**63):
        apportion = {"seats": seats, "method": "dhondt"}
        refused(stack.api("POST", "/api/v1/apportionments", json=apportion), 400, "seats")
    refused(stack.api("POST", "/api/v1/bodies", json={"kind": "iec", "name": "IEC", "quorum": 10**6}), 400, "quorum")

    assert ok(stack.api("GET", f"/api/v1/sections/{code}/returns"))["returns"] == []
    assert ok(stack.api("GET", "/api/v1/apportionments"))["apportionments"] == apportionments
    assert ok(stack.api("GET", "/api/v1/bodies"))["bodies"] == bodies_before

    body = ok(stack.api("POST", "/api/v1/bodies", json={"kind": "iec", "name": f"IEC {code}"}), 201)
    for deliberative in ("yes", 1, "true"):
        member = {"name": "Rosa", "email": f"rosa.{code}@example.org", "deliberative": deliberative}
        refused(stack.api("POST", f"/api/v1/bodies/{body['id']}/members", json=member), 400, "deliberative")
    assert ok(stack.api("GET", f"/api/v1/bodies/{body['id']}/members"))["members"] == []

    refused(stack.api("GET", "/api/v1/deliveries?limit=100000"), 400, "limit")


def test_query_positions_out_of_range_are_400s_naming_the_parameter(stack: Stack) -> None:
    # SQLite cannot bind an integer over 2**63 - 1: once a 500 there.
    refused(stack.api("GET", f"/api/v1/events/sections?after={10**20}"), 400, "after")
    refused(stack.api("GET", "/api/v1/events/voting?limit=²"), 400, "limit")
    assert ok(stack.api("GET", "/api/v1/events/sections?after=0&limit=1"))["events"] is not None


# Correlation ids


def test_an_over_long_or_unsafe_correlation_id_on_a_write_is_replaced_never_a_500(stack: Stack) -> None:
    for given in ("c" * 200, "x" * 101, "not safe <id>", "ünïcode"):
        answer = stack.api(
            "POST",
            "/api/v1/sections",
            json=new_section(),
            headers={"X-Correlation-Id": given.encode().decode("latin-1")},
        )
        assert answer.status_code == 201, answer.text
        replaced = answer.headers["X-Correlation-Id"]
        assert replaced != given and uuid.UUID(replaced)
    refused_write = stack.api("POST", "/api/v1/sections", json={"code": "!"}, headers={"X-Correlation-Id": "c" * 200})
    assert refused_write.status_code == 400 and uuid.UUID(refused_write.headers["X-Correlation-Id"])
    plain = "e2e-" + secrets.token_hex(8)
    kept = stack.api("POST", "/api/v1/sections", json=new_section(), headers={"X-Correlation-Id": plain})
    assert (kept.status_code, kept.headers["X-Correlation-Id"]) == (201, plain)


# Failed authentications, 401s, security headers


def from_address(
    stack: Stack, source: str, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request from another loopback address: the limiter counts per client address, and this
    test's wrong tokens must not hold back other tests' (which come from 127.0.0.1)."""
    url = urlsplit(stack.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


def some_loopback_address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def test_25_wrong_tokens_meet_a_429_with_retry_after_and_other_clients_carry_on(stack: Stack) -> None:
    source = some_loopback_address()
    answers = [
        from_address(stack, source, "GET", "/api/v1/sections", {"Authorization": f"Bearer wrong-{i}"})
        for i in range(25)
    ]

    statuses = [status for status, _, _ in answers]
    assert 429 in statuses, statuses
    first = statuses.index(429)
    assert 1 <= first <= 20 and set(statuses[:first]) == {401} and set(statuses[first:]) == {429}, statuses
    _, headers, body = answers[-1]
    assert 1 <= int(headers["retry-after"]) <= 60
    assert json.loads(body)["error"]["code"] == "too_many_requests"
    assert all(headers[k] == v for k, v in SECURITY_HEADERS.items())
    # Even a good token waits at that address (nothing is checked until the window frees) …
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    assert from_address(stack, source, "GET", "/api/v1/sections", admin)[0] == 429
    # … while other addresses are served.
    assert from_address(stack, some_loopback_address(), "GET", "/api/v1/sections", admin)[0] == 200
    assert stack.api("GET", "/api/v1/sections").status_code == 200


def test_a_401_says_how_to_authenticate(stack: Stack) -> None:
    source = some_loopback_address()
    status, headers, body = from_address(stack, source, "GET", "/api/v1/sections")
    assert (status, headers["www-authenticate"]) == (401, "Bearer")
    status, headers, body = from_address(stack, source, "GET", "/api/v1/sections", {"Authorization": "Bearer nope"})
    assert (status, headers["www-authenticate"]) == (401, 'Bearer error="invalid_token"')
    assert json.loads(body)["error"]["code"] == "not_authenticated"


def test_every_answer_carries_the_security_headers(stack: Stack) -> None:
    answers = {
        "health": stack.api("GET", "/health", token=None),
        "list": stack.api("GET", "/api/v1/sections"),
        "openapi": stack.api("GET", "/api/openapi.json", token=None),
        "400": stack.api("POST", "/api/v1/sections", data="{", headers={"Content-Type": "application/json"}),
        "404 route": stack.api("GET", "/api/v1/nowhere"),
        "404 section": stack.api("GET", "/api/v1/sections/no-such-section"),
        "405": stack.api("PUT", "/api/v1/sections"),
        "413": stack.api("POST", "/api/v1/sections", data=b"x" * (MIB + 1)),
    }
    for name, answer in answers.items():
        missing = {k: answer.headers.get(k) for k, v in SECURITY_HEADERS.items() if answer.headers.get(k) != v}
        assert not missing, f"{name} ({answer.status_code}): {missing}"
