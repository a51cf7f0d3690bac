"""Issue 11, acceptance 1: broker accounts, against the running stack's own vhost.

A subscriber account made by `congress-service subscriber add` may declare, bind and consume
only its own queues (`NAME.*`) on the `*.events` exchanges and publish nowhere; a service
account may do only what its service does. Every refusal comes from the broker itself, and a
refusal closes the channel, so each attempt gets a connection of its own.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Producer, Queue

from tests.e2e.conftest import Stack
from tests.support import infra

pytestmark = pytest.mark.e2e

TOOL = str(Path(sys.executable).with_name("congress-service"))


def vhost_of(stack: Stack) -> str:
    vhost = urllib.parse.unquote(stack.amqp_uri.rsplit("/", 1)[1])
    if not vhost or not stack.service_uris:
        pytest.skip("needs a vhost of its own (rabbitmqctl) for per-run accounts")
    return vhost


def congress_service(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AMQP_URI": stack.amqp_uri}
    return subprocess.run([TOOL, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def subscriber(stack: Stack) -> Iterator[tuple[str, str]]:
    """(name, AMQP URI) of a subscriber account made as an operator makes one."""
    vhost = vhost_of(stack)
    name = "sub-" + secrets.token_hex(4)
    made = congress_service(stack, "subscriber", "add", name, "--vhost", vhost)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"amqp://{name}:"), "the URI, and only it, on stdout"
    try:
        yield name, lines[0]
    finally:
        removed = congress_service(stack, "subscriber", "remove", name, "--vhost", vhost)
        assert removed.returncode == 0, removed.stderr


def refused(uri: str, attempt: Callable[[Any], object]) -> str:
    """The broker's ACCESS_REFUSED for `attempt(channel)`, on a fresh connection."""
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        with pytest.raises(AccessRefused) as caught:
            attempt(channel)
            channel.basic_qos(0, 1, False)  # a round trip: an asynchronous refusal arrives by now
    assert "ACCESS_REFUSED" in str(caught.value)
    return str(caught.value)


def publish(exchange: str, routing_key: str) -> Callable[[Any], object]:
    def attempt(channel: Any) -> object:
        return Producer(channel).publish(
            {"forged": True}, exchange=exchange, routing_key=routing_key, serializer="json", retry=False
        )

    return attempt


def events(producer: str) -> Exchange:
    # Passive: a subscriber may bind to the events exchanges but not declare (or delete) them.
    return Exchange(f"{producer}.events", type="topic", durable=True, passive=True)


def test_a_subscriber_can_publish_nowhere(stack: Stack, subscriber: tuple[str, str]) -> None:
    name, uri = subscriber
    for exchange, key in (("nameko-rpc", "voting.close_ballot"), ("voting.events", "motion.decided")):
        assert f"exchange '{exchange}'" in refused(uri, publish(exchange, key))
    assert "exchange 'amq.default'" in refused(uri, publish("", "rpc-voting"))
    assert "exchange 'amq.default'" in refused(uri, publish("", f"{name}.mine"))


def test_a_subscriber_cannot_listen_to_rpc(stack: Stack, subscriber: tuple[str, str]) -> None:
    name, uri = subscriber
    rpc = Exchange("nameko-rpc", type="topic", durable=True, passive=True)
    spy = Queue(f"{name}.spy", exchange=rpc, routing_key="#", durable=False, auto_delete=True)
    assert "exchange 'nameko-rpc'" in refused(uri, lambda ch: spy(ch).declare())
    for service in ("sections", "voting", "secretariat"):
        assert f"queue 'rpc-{service}'" in refused(uri, lambda ch, s=service: ch.basic_consume(f"rpc-{s}"))
        assert f"queue 'rpc-{service}'" in refused(uri, lambda ch, s=service: ch.basic_get(f"rpc-{s}"))


def test_a_subscriber_declares_queues_under_its_own_prefix_only(stack: Stack, subscriber: tuple[str, str]) -> None:
    name, uri = subscriber
    for queue in ("other.sections", "rpc-evil", f"{name}x.sections", "evt-voting-motion.decided--secretariat"):
        assert f"queue '{queue}'" in refused(uri, lambda ch, q=queue: ch.queue_declare(q, durable=True))
    # Nor may it declare, and so delete, the exchanges everyone's events travel on.
    declare = Exchange("voting.events", type="topic", durable=True)
    assert "exchange 'voting.events'" in refused(uri, lambda ch: declare(ch).declare())
    assert "exchange 'voting.events'" in refused(uri, lambda ch: ch.exchange_delete("voting.events"))
    # Another consumer's queue is not its to read.
    queue = "evt-sections-section.registered--voting"
    assert f"queue '{queue}'" in refused(uri, lambda ch: ch.basic_get(queue))


def test_a_subscriber_consumes_its_own_queue_bound_to_voting_events(stack: Stack, subscriber: tuple[str, str]) -> None:
    name, uri = subscriber
    queue = Queue(f"{name}.voting", exchange=events("voting"), routing_key="congress.*", durable=True)
    title = f"Congress {secrets.token_hex(4)}"
    received: list[dict[str, Any]] = []
    with Connection(uri) as conn:
        queue(conn.default_channel).declare()
        answer = stack.api("POST", "/api/v1/congresses", json={"title": title, "opens_on": "2027-01-10"})
        assert answer.status_code == 201, answer.text

        def on_message(body: Any, message: Any) -> None:
            received.append(body if isinstance(body, dict) else json.loads(body))
            message.ack()

        def arrived() -> bool:
            try:
                conn.drain_events(timeout=0.5)
            except TimeoutError:
                pass
            return any(e["type"] == "congress.scheduled" and e["data"].get("title") == title for e in received)

        with conn.Consumer(queue, callbacks=[on_message]):
            infra.eventually(arrived, timeout=30, what="congress.scheduled through the subscriber's own queue")


def test_the_voting_account_cannot_publish_sections_events(stack: Stack) -> None:
    vhost_of(stack)
    voting = stack.service_uris["voting"]  # type: ignore[index]
    assert "exchange 'sections.events'" in refused(voting, publish("sections.events", "section.registered"))
    assert "exchange 'secretariat.events'" in refused(voting, publish("secretariat.events", "circular.issued"))


def test_the_voting_account_binds_nothing_but_its_own_queues_to_nameko_rpc(stack: Stack) -> None:
    vhost_of(stack)
    voting = stack.service_uris["voting"]  # type: ignore[index]
    spy = f"spy-{secrets.token_hex(4)}"
    with Connection(stack.amqp_uri) as admin:  # a queue that is not voting's (guest may make it)
        admin.default_channel.queue_declare(spy, auto_delete=False)
    try:
        assert f"queue '{spy}'" in refused(voting, lambda ch: ch.queue_bind(spy, "nameko-rpc", "#"))
        # Its own queues, but bound to what is not its own: other services' requests, or all of them.
        for key in ("#", "sections.*", "secretariat.deliver_credential"):
            answer = refused(voting, lambda ch, k=key: ch.queue_bind("rpc-voting", "nameko-rpc", k))
            assert f"topic '{key}'" in answer
        assert "queue 'rpc-sections'" in refused(voting, lambda ch: ch.queue_bind("rpc-sections", "nameko-rpc", "#"))
        assert "queue 'rpc-evil'" in refused(voting, lambda ch: ch.queue_declare("rpc-evil"))
    finally:
        with Connection(stack.amqp_uri) as admin:
            admin.default_channel.queue_delete(spy)


def test_subscriber_accounts_are_listed_refused_twice_and_removed_with_their_queues(stack: Stack) -> None:
    vhost = vhost_of(stack)
    name = "sub-" + secrets.token_hex(4)
    made = congress_service(stack, "subscriber", "add", name, "--vhost", vhost)
    assert made.returncode == 0, made.stderr
    with Connection(made.stdout.strip()) as conn:
        conn.default_channel.queue_declare(f"{name}.kept", durable=True, auto_delete=False)

    assert name in congress_service(stack, "subscriber", "list", "--vhost", vhost).stdout.split()
    again = congress_service(stack, "subscriber", "add", name, "--vhost", vhost)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1 and "already exists" in again.stderr
    reserved = congress_service(stack, "subscriber", "add", "voting", "--vhost", vhost)
    assert reserved.returncode == 1 and "reserved" in reserved.stderr

    removed = congress_service(stack, "subscriber", "remove", name, "--vhost", vhost)

    assert removed.returncode == 0, removed.stderr
    assert name not in congress_service(stack, "subscriber", "list", "--vhost", vhost).stdout.split()
    with Connection(stack.amqp_uri) as admin, pytest.raises(Exception, match="NOT_FOUND"):
        admin.default_channel.queue_declare(f"{name}.kept", passive=True)
    unknown = congress_service(stack, "subscriber", "remove", name, "--vhost", vhost)
    assert unknown.returncode == 1 and "no subscriber" in unknown.stderr
