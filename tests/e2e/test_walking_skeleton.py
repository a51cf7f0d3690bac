"""Issue 3 acceptance, run once with SQLite stores and once with PostgreSQL stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from kombu import Connection, Exchange, Producer

from congress.contract import EnvelopeSchema, new_envelope
from congress.messaging import topology
from tests.e2e.conftest import Stack, new_section
from tests.support.infra import EventTap, eventually
from tests.support.signing import event_headers

pytestmark = pytest.mark.e2e


def known_to_voting(stack: Stack, code: str) -> list[dict]:
    return stack.rows("voting", "SELECT * FROM known_sections WHERE code = :code", code=code)


def centre_notices_for(stack: Stack, code: str) -> list[dict]:
    notices = stack.api("GET", "/api/v1/notifications").json()["notifications"]
    return [n for n in notices if f"code {code!r}" in n["body"]]


def test_registered_section_is_readable_and_reaches_every_service(stack: Stack, tap: EventTap) -> None:
    section = new_section(webhook_url="https://example.org/hooks/congress")

    created = stack.api("POST", "/api/v1/sections", json=section)

    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/api/v1/sections/{section['code']}"
    assert stack.api("GET", f"/api/v1/sections/{section['code']}").json()["name"] == section["name"]
    listed = stack.api("GET", "/api/v1/sections", token="observer").json()["sections"]
    assert section["code"] in [s["code"] for s in listed]

    voting_row = eventually(lambda: known_to_voting(stack, section["code"]), what="voting's read model")
    assert voting_row[0]["status"] == "section"
    notice = eventually(lambda: centre_notices_for(stack, section["code"]), what="a Centre notification")
    assert notice[0]["event_type"] == "section.registered"

    messages = tap.wait_for(lambda m: m["data"]["code"] == section["code"])
    event = next(m for m in messages if m["data"]["code"] == section["code"])
    envelope = EnvelopeSchema().load(event)  # raises if the envelope breaks the contract
    assert envelope.type == "section.registered"
    assert envelope.version == 1
    assert envelope.producer == "sections"
    assert envelope.data["email"] == section["email"]
    assert envelope.correlation_id == created.headers["X-Correlation-Id"]
    assert set(event) == {"event_id", "type", "version", "occurred_at", "producer", "correlation_id", "data"}

    # One request, followed through every service's structured log by its correlation id.
    for service in ("sections", "voting", "secretariat"):
        lines = (stack.processes.log_dir / f"{service}.log").read_text().splitlines()
        traced = [json.loads(line) for line in lines if envelope.correlation_id in line]
        assert traced and all(entry["correlation_id"] == envelope.correlation_id for entry in traced), service


def test_the_gateway_publishes_the_event_contract(stack: Stack) -> None:
    document = stack.api("GET", "/api/asyncapi.json", token=None).json()

    assert "section.registered.v1" in document["components"]["messages"]


def test_a_late_subscriber_replays_the_event_log_by_position(stack: Stack) -> None:
    codes = [new_section()["code"] for _ in range(3)]
    for code in codes:
        assert stack.api("POST", "/api/v1/sections", json=new_section(code)).status_code == 201

    seen, after = [], 0
    while True:
        page = stack.api("GET", f"/api/v1/events/sections?after={after}&limit=2").json()
        if not page["events"]:
            break
        seen += [entry["event"] for entry in page["events"]]
        after = page["next_after"]

    registered = [event["data"]["code"] for event in seen if event["type"] == "section.registered"]
    replayed = [code for code in registered if code in codes]
    assert replayed == codes
    assert all(EnvelopeSchema().load(event) for event in seen)
    only = stack.api("GET", "/api/v1/events/sections?types=section.registered&limit=1000").json()["events"]
    public = stack.api("GET", "/api/v1/events/sections?limit=1000", token="observer").json()["events"]
    assert {entry["event"]["type"] for entry in public} <= {"apportionment.calculated"}  # no emails for observers
    assert only and {entry["event"]["type"] for entry in only} == {"section.registered"}
    assert stack.api("GET", "/api/v1/events/nowhere").status_code == 404
    assert stack.api("GET", "/api/v1/events/sections?after=-1").status_code == 400


def test_unknown_section_is_404_with_the_error_shape(stack: Stack) -> None:
    answer = stack.api("GET", "/api/v1/sections/nowhere")

    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_unknown_routes_and_methods_answer_in_the_error_shape_too(stack: Stack) -> None:
    missing = stack.api("GET", "/api/v1/nothing-here")
    wrong_method = stack.api("PUT", "/api/v1/sections")

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["Allow"]


BAD_REQUESTS = [
    # (what, body, token, expected status, field named in the error)
    ("missing fields", {"code": "bad1"}, "admin", 400, "name"),
    ("bad email", new_section("bad2", email="not-an-email"), "admin", 400, "email"),
    ("bad code", new_section("Bad Code!"), "admin", 400, "code"),
    ("unknown status", new_section("bad3", status="faction"), "admin", 400, "status"),
    ("unknown field", {**new_section("bad4"), "members": 5}, "admin", 400, "members"),
    ("not an object", ["bad5"], "admin", 400, "_schema"),
    ("no token", new_section("bad6"), None, 401, None),
    ("wrong token", new_section("bad7"), "Bearer not-a-token", 401, None),
    ("not a bearer token", new_section("bad8"), "Basic Zm9vOmJhcg==", 401, None),
    ("observer may not register", new_section("bad9"), "observer", 403, None),
]


def test_bad_input_is_refused_with_clear_errors_and_nothing_is_written(stack: Stack) -> None:
    existing = new_section()
    assert stack.api("POST", "/api/v1/sections", json=existing).status_code == 201
    before = {
        "sections": stack.count("sections", "sections"),
        "outbox": stack.count("sections", "outbox"),
    }

    for what, body, token, status, field in BAD_REQUESTS:
        answer = stack.api("POST", "/api/v1/sections", token=token, json=body)
        assert answer.status_code == status, f"{what}: {answer.status_code} {answer.text}"
        error = answer.json()["error"]
        assert error["message"], what
        if field:
            assert field in error["fields"], f"{what}: {error}"
    malformed = stack.api("POST", "/api/v1/sections", data="{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    duplicate = stack.api("POST", "/api/v1/sections", json={**existing, "name": "Another name"})
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["fields"] == {"code": ["already registered"]}

    assert stack.count("sections", "sections") == before["sections"]
    assert stack.count("sections", "outbox") == before["outbox"]
    assert stack.api("GET", f"/api/v1/sections/{existing['code']}").json()["name"] == existing["name"]
    # A section registered after the bad requests is a barrier: once it has reached voting and the
    # secretariat, anything the bad requests had emitted would have arrived before it.
    barrier = new_section()
    assert stack.api("POST", "/api/v1/sections", json=barrier).status_code == 201
    eventually(lambda: known_to_voting(stack, barrier["code"]), what="the barrier in voting")
    eventually(lambda: centre_notices_for(stack, barrier["code"]), what="the barrier in secretariat")
    bad_codes = [body["code"] for _, body, *_ in BAD_REQUESTS if isinstance(body, dict) and "code" in body]
    voting_codes = {r["code"] for r in stack.rows("voting", "SELECT code FROM known_sections")}
    assert not voting_codes & set(bad_codes)
    notices = stack.api("GET", "/api/v1/notifications").json()["notifications"]
    assert [n for n in notices if f"code {existing['code']!r}" in n["body"]] and len(
        [n for n in notices if f"code {existing['code']!r}" in n["body"]]
    ) == 1
    assert not [n for n in notices for code in bad_codes if f"code {code!r}" in n["body"]]


def test_registration_commits_while_the_broker_is_cut_and_the_event_follows_once(stack: Stack, tap: EventTap) -> None:
    section = new_section()
    stack.sections_broker.cut()
    try:
        created = stack.api("POST", "/api/v1/sections", json=section)
        assert created.status_code == 201, created.text
        assert stack.api("GET", f"/api/v1/sections/{section['code']}").status_code == 200
        pending = stack.rows(
            "sections",
            "SELECT event_id, published_at FROM outbox WHERE type = 'section.registered' "
            "ORDER BY position DESC LIMIT 1",
        )
        assert pending[0]["published_at"] is None
        time.sleep(2)  # give a wrong implementation every chance to leak the event
        assert not [m for m in tap.drain(0.5) if m["data"]["code"] == section["code"]]
        assert not known_to_voting(stack, section["code"])
    finally:
        stack.sections_broker.restore()

    messages = tap.wait_for(lambda m: m["data"]["code"] == section["code"], timeout=30)
    notice = eventually(lambda: centre_notices_for(stack, section["code"]), what="the notice after the outage")
    eventually(lambda: known_to_voting(stack, section["code"]), what="voting after the outage")
    messages += tap.drain(2.0)
    delivered = [m for m in messages if m["data"]["code"] == section["code"]]
    assert len(delivered) == 1
    assert delivered[0]["event_id"] == pending[0]["event_id"]
    assert len(notice) == 1
    published = stack.rows("sections", "SELECT published_at FROM outbox WHERE event_id = :e", e=pending[0]["event_id"])
    assert published[0]["published_at"] is not None


def publish_raw(stack: Stack, body: dict, times: int = 1) -> None:
    with Connection(stack.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel)
        for _ in range(times):
            producer.publish(
                json.dumps(body),
                exchange=Exchange("sections.events", type="topic", durable=True),
                routing_key=body.get("type", "section.registered"),
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                headers=event_headers(stack, "sections", body),  # as the sections service would sign it
            )


def test_the_same_event_delivered_twice_has_one_effect(stack: Stack) -> None:
    section = new_section()
    event = new_envelope(
        "section.registered",
        {**section, "webhook_url": None, "registered_at": "2026-11-24T10:00:00+00:00"},
        producer="sections",
    ).to_wire()

    publish_raw(stack, event, times=2)

    eventually(lambda: centre_notices_for(stack, section["code"]), what="the notice")
    eventually(lambda: known_to_voting(stack, section["code"]), what="voting's row")
    barrier = new_section()
    stack.api("POST", "/api/v1/sections", json=barrier)
    eventually(lambda: centre_notices_for(stack, barrier["code"]), what="the barrier")
    assert len(centre_notices_for(stack, section["code"])) == 1
    assert len(known_to_voting(stack, section["code"])) == 1
    for service in ("voting", "secretariat"):
        claims = stack.rows(service, "SELECT consumer FROM processed_events WHERE event_id = :e", e=event["event_id"])
        assert len(claims) == 1, service


def test_an_event_that_cannot_be_handled_goes_to_the_dead_letter_queue_with_its_error(stack: Stack) -> None:
    broken = new_envelope(
        "section.registered",
        {**new_section(), "webhook_url": None, "registered_at": "2026-11-24T10:00:00+00:00"},
        producer="sections",
    ).to_wire()
    broken["data"].pop("country")  # breaks the contract: the handlers must refuse it, not drop it

    with Connection(stack.amqp_uri) as conn:
        dead_letters = topology.dead_letter_queue()(conn.default_channel)
        dead_letters.declare()
        publish_raw(stack, broken)

        def find() -> list:
            found = []
            while (message := dead_letters.get(no_ack=False)) is not None:
                message.ack()
                if json.loads(message.body)["event_id"] == broken["event_id"]:
                    found.append(message)
            return found

        arrived: list = []
        eventually(lambda: arrived.extend(find()) or len(arrived) >= 2, what="two dead letters")
    assert sorted(m.headers["x-consumer"] for m in arrived) == [
        "secretariat.on_section_registered",
        "voting.on_section_registered",
    ]
    assert all("country" in m.headers["x-error"] for m in arrived)


def test_every_service_exposes_prometheus_metrics(stack: Stack) -> None:
    section = new_section()
    assert stack.api("POST", "/api/v1/sections", json=section).status_code == 201
    eventually(lambda: known_to_voting(stack, section["code"]), what="voting's read model")

    gateway = requests.get(stack.url + "/metrics", timeout=10)
    sections = eventually(
        lambda: (
            (m := requests.get(stack.sections_metrics, timeout=10).text)
            and 'congress_events_published_total{type="section.registered"}' in m
            and m
        ),
        what="the sections service's published-events counter",
    )

    assert gateway.status_code == 200 and "text/plain" in gateway.headers["Content-Type"]
    assert "congress_outbox_pending " in sections


def test_an_operator_lists_dead_letters_and_replays_them_once_the_cause_is_fixed(stack: Stack) -> None:
    section = new_section()
    event = new_envelope(
        "section.registered",
        {**section, "webhook_url": None, "registered_at": "2026-11-24T10:00:00+00:00"},
        producer="sections",
    ).to_wire()
    queue = topology.Subscription("voting", "sections", "section.registered").queue_name
    with Connection(stack.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        dead_letters = topology.dead_letter_queue()
        dead_letters(conn.default_channel).declare()
        Producer(conn.default_channel).publish(  # as a consumer leaves it when its database was down
            json.dumps(event),
            exchange=dead_letters.exchange,
            routing_key=queue,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers={
                **event_headers(stack, "sections", event),  # the producer's proof travels with it
                "x-error": "OperationalError: the database was down",
                "x-consumer": "voting.on_section_registered",
                "x-queue": queue,
            },
        )
    tool = [str(Path(sys.executable).with_name("congress-service")), "dead-letters"]
    env = {**os.environ, "AMQP_URI": stack.amqp_uri}

    listed = subprocess.run(tool, capture_output=True, text=True, env=env, check=True)
    again = subprocess.run(tool, capture_output=True, text=True, env=env, check=True)

    assert event["event_id"] in listed.stdout and "the database was down" in listed.stdout
    assert event["event_id"] in again.stdout  # listing takes nothing away
    assert not known_to_voting(stack, section["code"])

    replayed = subprocess.run([*tool, "--replay"], capture_output=True, text=True, env=env, check=True)

    assert event["event_id"] in replayed.stdout
    eventually(lambda: known_to_voting(stack, section["code"]), what="the replayed event applied by voting")
    after = subprocess.run(tool, capture_output=True, text=True, env=env, check=True)
    assert event["event_id"] not in after.stdout
