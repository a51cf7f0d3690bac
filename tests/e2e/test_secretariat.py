"""Issue 8 acceptance on the real stack, once per store: email through a real SMTP server,
signed webhooks to a receiver that verifies every signature, retries, duplicates, an outage
of the secretariat, and a credential that is delivered and kept nowhere."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Exchange, Producer
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

import congress.rpc  # noqa: F401  (domain errors arrive as their own classes)
from congress.contract import EnvelopeSchema, new_envelope
from congress.errors import InvalidInput
from tests.e2e.conftest import Stack, new_section, running_stack
from tests.support import infra
from tests.support.congress import congress_in_session, table_and_open
from tests.support.infra import eventually
from tests.support.mailbox import Mailbox, Received
from tests.support.signing import call_proof, event_headers
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

CENTRE = "centre@example.org"
# Small retry settings so a give-up takes seconds: 3 attempts, 0.2 s then 0.4 s apart (± jitter).
SETTINGS = {"WEBHOOK_MAX_ATTEMPTS": "3", "WEBHOOK_BACKOFF_BASE": "0.2", "DELIVERY_POLL_INTERVAL": "0.5"}


@dataclass
class Notified:
    stack: Stack
    mailbox: Mailbox
    hooks: WebhookReceiver
    amqp_uri: str


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def notified(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notified]:
    """A stack of its own (own vhost, so its secretariat can be stopped) wired to our SMTP server."""
    vhost = infra.create_vhost()
    if vhost is None:
        pytest.skip("needs rabbitmqctl to give this stack a vhost of its own")
    uri = infra.amqp_uri(vhost)
    try:
        with Mailbox() as mailbox, WebhookReceiver() as hooks:
            env = {"SMTP_HOST": mailbox.host, "SMTP_PORT": str(mailbox.port), "CENTRE_EMAIL": CENTRE, **SETTINGS}
            workdir = tmp_path_factory.mktemp(f"secretariat-{request.param}")
            with running_stack(request.param, uri, workdir, extra_env=env) as stack:
                yield Notified(stack, mailbox, hooks, uri)
    finally:
        infra.delete_vhost(vhost)


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text}"
    return answer.json()


def hooked_section(n: Notified) -> str:
    """A section whose contacts have a webhook_url at our receiver, and the secret to verify it."""
    code = "h" + secrets.token_hex(4)
    ok(n.stack.api("POST", "/api/v1/sections", json=new_section(code, webhook_url=n.hooks.url(code))), 201)

    def rotate() -> Any:
        answer = n.stack.api("POST", f"/api/v1/sections/{code}/webhook-secret")
        return answer.json() if answer.status_code == 200 else None

    rotated = eventually(rotate, what="the secretariat to know the section's webhook")
    assert rotated["secret"].startswith("whsec_") and rotated["origin"] == "contacts"
    n.hooks.endpoint(code, rotated["secret"])
    return code


def mails(n: Notified, address: str, subject: str) -> list[Received]:
    return n.mailbox.matching(lambda m: address in m.rcpt_tos and m.subject == subject)


def secretariat_events(stack: Stack) -> list[dict]:
    seen, after = [], 0
    while True:
        page = ok(stack.api("GET", f"/api/v1/events/secretariat?after={after}&limit=1000"))
        if not page["events"]:
            return seen
        seen += [entry["event"] for entry in page["events"]]
        after = page["next_after"]


def publish_raw(stack: Stack, producer: str, body: dict, times: int = 1) -> None:
    """As a broker redelivery would: the same message on the producer's exchange, `times` times."""
    with Connection(stack.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer_ = Producer(conn.default_channel)
        for _ in range(times):
            producer_.publish(
                json.dumps(body),
                exchange=Exchange(f"{producer}.events", type="topic", durable=True),
                routing_key=body["type"],
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                headers=event_headers(stack, producer, body),  # as the producer would sign it
            )


def decided(title: str) -> dict:
    data = {
        "motion_id": str(uuid.uuid4()),
        "ballot_id": str(uuid.uuid4()),
        "title": title,
        "outcome": "adopted",
        "adopted": True,
        "tally": {"yes": 2, "no": 1, "abstain": 0},
        "majority_rule": "simple",
        "majority_met": True,
        "quorum": 2,
        "quorum_met": True,
        "electorate": 3,
    }
    return new_envelope("motion.decided", data, producer="voting").to_wire()


def test_a_congress_and_its_decision_reach_every_section_by_email_and_signed_webhook(notified: Notified) -> None:
    n, stack = notified, notified.stack
    code = hooked_section(n)
    outside = ok(
        stack.api(
            "POST",
            "/api/v1/webhooks",
            json={"url": n.hooks.url(f"outside-{code}"), "event_types": ["congress.convened", "motion.decided"]},
        ),
        201,
    )
    n.hooks.endpoint(f"outside-{code}", outside["secret"])
    listed = ok(stack.api("GET", "/api/v1/webhooks"))["webhooks"]
    assert outside["id"] in [w["id"] for w in listed] and not any("secret" in w for w in listed)
    assert stack.api("GET", "/api/v1/webhooks", token="observer").status_code == 403

    congress = congress_in_session(stack, delegates=3)
    _, ballot = table_and_open(stack, congress.body_id)
    for delegate in congress.delegates:
        ok(stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=delegate.auth, json={"choice": "yes"}), 201)
    assert ok(stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close"))["result"]["outcome"] == "adopted"
    host = ok(stack.api("GET", f"/api/v1/bodies/{congress.body_id}/members"))["members"][0]["section"]

    # Email: the Centre heard of the registration; every section, of the congress and the decision.
    registered = n.mailbox.wait_for(lambda m: CENTRE in m.rcpt_tos and f"code {code!r}" in m.part("text/plain"))
    assert registered[0].message.get_content_type() == "multipart/alternative"
    convened, adopted = f"Congress convened: Congress {host}", "Motion adopted: Adopt the programme"
    for address in (f"{code}@example.org", f"{host}@example.org"):
        for subject in (convened, adopted):
            n.mailbox.wait_for(lambda m, a=address, s=subject: a in m.rcpt_tos and m.subject == s)
    body = mails(n, f"{code}@example.org", adopted)[0]
    assert "yes 3, no 0, abstain 0" in body.part("text/plain") and "<table" in body.part("text/html")

    # Webhooks: the section's contact webhook and the outside system's, each signature verified.
    for name in (code, f"outside-{code}"):
        got = n.hooks.wait_for(name, lambda d: d.body["data"].get("congress_id") == congress.id)
        got += n.hooks.wait_for(name, lambda d: d.body["data"].get("ballot_id") == ballot["id"])
        assert sorted(d.body["type"] for d in got) == ["congress.convened", "motion.decided"]
        for delivery in got:
            assert EnvelopeSchema().load(delivery.body).producer == "voting"
    time.sleep(1.5)  # anything sent twice would have arrived by now
    for name in (code, f"outside-{code}"):
        endpoint = n.hooks.endpoint(name)
        assert endpoint.rejected == [] and endpoint.duplicates == [] and endpoint.failed == []
        assert len(n.hooks.accepted(name)) == 2
    for subject in (convened, adopted):
        assert len(mails(n, f"{code}@example.org", subject)) == 1

    # The section's inbox, read by its own officer; another section's officer may not.
    officer = ok(stack.api("POST", f"/api/v1/sections/{code}/officer-tokens", json={"label": "sec"}), 201)["token"]
    stranger = ok(stack.api("POST", f"/api/v1/sections/{host}/officer-tokens", json={"label": "x"}), 201)["token"]
    unread = ok(stack.api("GET", f"/api/v1/sections/{code}/inbox?unread=true", token=f"Bearer {officer}"))
    types = [notice["event_type"] for notice in unread["notifications"]]
    assert types == ["motion.decided", "congress.convened"]  # newest first
    first = unread["notifications"][0]
    assert first["subject"] == adopted and not first["read"]
    marked = ok(stack.api("POST", f"/api/v1/sections/{code}/inbox/{first['id']}/read", token=f"Bearer {officer}"))
    assert marked["read"] and marked["read_at"]
    still = ok(stack.api("GET", f"/api/v1/sections/{code}/inbox?unread=true", token=f"Bearer {officer}"))
    assert [notice["event_type"] for notice in still["notifications"]] == ["congress.convened"]
    assert stack.api("GET", f"/api/v1/sections/{code}/inbox", token=f"Bearer {stranger}").status_code == 403

    # And every delivery is a notification.delivered event of the secretariat, without content.
    delivered = [e["data"] for e in secretariat_events(stack) if e["type"] == "notification.delivered"]
    mine = {(d["channel"], d["event_type"]) for d in delivered if d["recipient"] == f"section:{code}"}
    assert mine >= {("email", "congress.convened"), ("email", "motion.decided"), ("webhook", "motion.decided")}
    assert all(
        set(d) <= {"delivery_id", "notification_id", "channel", "recipient", "event_type", "event_id", "attempts"}
        for d in delivered
    )


def test_webhook_retries_back_off_give_up_visibly_and_an_admin_retry_delivers(notified: Notified) -> None:
    n, stack = notified, notified.stack
    code = new_section()["code"]
    ok(stack.api("POST", "/api/v1/sections", json=new_section(code)), 201)
    subscriptions = {}
    for name in ("flaky", "down"):
        registration = {"url": n.hooks.url(f"{name}-{code}"), "event_types": ["circular.issued"], "section": code}
        subscriptions[name] = ok(stack.api("POST", "/api/v1/webhooks", json=registration), 201)
        n.hooks.endpoint(f"{name}-{code}", subscriptions[name]["secret"])
    n.hooks.endpoint(f"flaky-{code}").fail_next = 2
    n.hooks.endpoint(f"down-{code}").always_fail = True

    circular = {"title": f"Dues {code}", "body": "Comrades,\n\nPlease pay.", "audience": "sections", "sections": [code]}
    issued = eventually(
        lambda: (answer := stack.api("POST", "/api/v1/circulars", json=circular)).status_code == 201 and answer.json(),
        what="the secretariat to know the section",
    )
    assert issued["recipients"] == 1 and issued["sections"] == [code]

    # Fails twice, then gets it on the third attempt.
    (got,) = n.hooks.wait_for(f"flaky-{code}", lambda d: d.body["data"].get("circular_id") == issued["id"])
    assert got.body["type"] == "circular.issued" and len(n.hooks.endpoint(f"flaky-{code}").failed) == 2
    to_flaky = f"/api/v1/deliveries?recipient=webhook:{subscriptions['flaky']['id']}"
    (delivery,) = eventually(
        lambda: [d for d in ok(stack.api("GET", to_flaky))["deliveries"] if d["status"] == "delivered"],
        what="the flaky delivery recorded",
    )
    log = ok(stack.api("GET", f"/api/v1/deliveries/{delivery['id']}"))["log"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in log] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]

    # Always fails: `failed` after the configured 3 attempts, visible in the API and as an event.
    to_down = f"/api/v1/deliveries?status=failed&recipient=webhook:{subscriptions['down']['id']}"
    (failed,) = eventually(lambda: ok(stack.api("GET", to_down))["deliveries"], what="the delivery to give up")
    assert failed["attempts"] == 3 and failed["last_status"] == 500 and failed["channel"] == "webhook"
    gave_up = eventually(
        lambda: [
            e
            for e in secretariat_events(stack)
            if e["type"] == "notification.failed" and e["data"]["delivery_id"] == failed["id"]
        ],
        what="notification.failed",
    )
    assert gave_up[0]["data"]["attempts"] == 3 and "500" in gave_up[0]["data"]["error"]
    assert stack.api("GET", "/api/v1/deliveries", token="observer").status_code == 403
    assert n.hooks.accepted(f"down-{code}") == []

    # The endpoint is back: an admin retries, and it is delivered once.
    n.hooks.endpoint(f"down-{code}").always_fail = False
    retried = ok(stack.api("POST", f"/api/v1/deliveries/{failed['id']}/retry"))
    assert retried["attempt_limit"] == 6
    n.hooks.wait_for(f"down-{code}", lambda d: d.body["data"].get("circular_id") == issued["id"])
    eventually(
        lambda: ok(stack.api("GET", f"/api/v1/deliveries/{failed['id']}"))["status"] == "delivered",
        what="the retried delivery recorded",
    )
    assert stack.api("POST", f"/api/v1/deliveries/{failed['id']}/retry").status_code == 409
    assert len(n.hooks.accepted(f"down-{code}")) == 1 and n.hooks.endpoint(f"down-{code}").duplicates == []
    assert [c["id"] for c in ok(stack.api("GET", "/api/v1/circulars"))["circulars"]].count(issued["id"]) == 1
    (email,) = n.mailbox.wait_for(lambda m: f"{code}@example.org" in m.rcpt_tos and m.subject == circular["title"])
    assert "Please pay." in email.part("text/plain")

    for subscription in subscriptions.values():
        assert ok(stack.api("DELETE", f"/api/v1/webhooks/{subscription['id']}"))["deleted"]
    remaining = [w["id"] for w in ok(stack.api("GET", "/api/v1/webhooks"))["webhooks"]]
    assert not {s["id"] for s in subscriptions.values()} & set(remaining)


def test_the_same_event_delivered_twice_by_the_broker_sends_one_email_and_one_webhook(notified: Notified) -> None:
    n, stack = notified, notified.stack
    code = hooked_section(n)
    twice, barrier = decided(f"Twice {code}"), decided(f"Barrier {code}")

    publish_raw(n.stack, "voting", twice, times=2)
    publish_raw(n.stack, "voting", barrier)

    n.mailbox.wait_for(lambda m: f"{code}@example.org" in m.rcpt_tos and m.subject == f"Motion adopted: Barrier {code}")
    n.hooks.wait_for(code, lambda d: d.body["event_id"] == barrier["event_id"])
    n.mailbox.wait_for(lambda m: f"{code}@example.org" in m.rcpt_tos and m.subject == f"Motion adopted: Twice {code}")
    time.sleep(1.5)
    assert len(mails(n, f"{code}@example.org", f"Motion adopted: Twice {code}")) == 1
    assert len(n.hooks.accepted(code, lambda d: d.body["event_id"] == twice["event_id"])) == 1
    assert n.hooks.endpoint(code).duplicates == []
    rows = stack.rows(
        "secretariat", "SELECT recipient, channel FROM deliveries WHERE event_id = :e", e=twice["event_id"]
    )
    assert len(rows) == len({(r["recipient"], r["channel"]) for r in rows}) > 0
    claims = stack.rows("secretariat", "SELECT consumer FROM processed_events WHERE event_id = :e", e=twice["event_id"])
    assert len(claims) == 1


def test_notifications_missed_while_the_secretariat_was_down_are_all_delivered_once_it_is_back(
    notified: Notified,
) -> None:
    n, stack = notified, notified.stack
    code = hooked_section(n)
    missed = decided(f"Missed {code}")
    late = new_section()
    stack.processes.stop("secretariat")
    try:
        ok(stack.api("POST", f"/api/v1/sections/{code}/status", json={"status": "suspended", "reason": "no return"}))
        ok(stack.api("POST", "/api/v1/sections", json=late), 201)
        publish_raw(n.stack, "voting", missed)
        time.sleep(2)
        quiet = (f"Section {code}: status now suspended", f"Motion adopted: Missed {code}")
        assert not n.mailbox.matching(lambda m: m.subject in quiet)
    finally:
        stack.processes.start("secretariat")
    stack.processes.wait_healthy(timeout=90)

    status_subject = f"Section {code}: status now suspended"
    expected = [
        (f"{code}@example.org", status_subject),
        (CENTRE, status_subject),
        (f"{code}@example.org", f"Motion adopted: Missed {code}"),
        (CENTRE, f"Section registered: {late['name']} ({late['country']})"),
    ]
    for address, subject in expected:
        n.mailbox.wait_for(lambda m, a=address, s=subject: a in m.rcpt_tos and m.subject == s, timeout=60)
    n.hooks.wait_for(code, lambda d: d.body["event_id"] == missed["event_id"], timeout=60)
    n.hooks.wait_for(code, lambda d: d.body["type"] == "section.status_changed", timeout=60)
    time.sleep(2)
    for address, subject in expected:
        assert len(mails(n, address, subject)) == 1, (address, subject)
    assert len(n.hooks.accepted(code, lambda d: d.body["event_id"] == missed["event_id"])) == 1
    assert len(n.hooks.accepted(code, lambda d: d.body["type"] == "section.status_changed")) == 1
    assert n.hooks.endpoint(code).duplicates == [] and n.hooks.endpoint(code).rejected == []


def test_a_credential_is_emailed_over_rpc_and_found_nowhere_else(notified: Notified) -> None:
    n, stack = notified, notified.stack
    credential = "dc_" + secrets.token_urlsafe(32)
    member = f"m-{uuid.uuid4()}"
    payload = {
        "member_id": member,
        "name": "Rosa",
        "email": f"{member}@example.org",
        "body_name": "World Congress",
        "credential": credential,
    }

    def deliver(payload: dict) -> Any:
        """As the voting service calls it: signed by voting for this very call."""
        proof = call_proof(stack, "voting", "secretariat", "deliver_credential", payload)
        with ClusterRpcProxy({"AMQP_URI": n.amqp_uri}, timeout=30, context_data={"congress_proof": proof}) as rpc:
            return rpc.secretariat.deliver_credential(payload)

    assert deliver(payload) == {"delivered": True}
    n.mailbox.refuse = True
    try:
        with pytest.raises(RemoteError) as refused:
            deliver({**payload, "credential": credential + "-2"})
    finally:
        n.mailbox.refuse = False
    with pytest.raises(InvalidInput):  # the real class, as any service importing congress.rpc sees it
        deliver({**payload, "email": "not-an-email"})
    assert refused.value.exc_type == "CredentialNotDelivered" and member in refused.value.value

    (mail,) = n.mailbox.to(f"{member}@example.org")
    assert credential in mail.part("text/plain") and credential in mail.part("text/html")
    assert mail.subject == "Your credential for World Congress"
    records = stack.rows("secretariat", "SELECT outcome FROM credential_deliveries WHERE member_id = :m", m=member)
    assert sorted(r["outcome"] for r in records) == ["delivered", "failed"]

    time.sleep(1)  # the relay and the log writes settle
    secrets_sent = (credential, credential + "-2")
    for path in sorted(stack.processes.log_dir.glob("*.log")):
        text = path.read_text(errors="replace")
        assert not [c for c in secrets_sent if c in text], path.name
    everything = dump_database(stack.engines["secretariat"])
    assert member in everything and not [c for c in secrets_sent if c in everything]
    events = secretariat_events(stack)
    about = [e for e in events if e["data"].get("recipient") == f"member:{member}"]
    assert sorted(e["type"] for e in about) == ["notification.delivered", "notification.failed"]
    assert credential not in json.dumps(events)


def dump_database(engine: sa.Engine) -> str:
    """Every column of every row of every table, as text."""
    out = []
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def test_bad_requests_are_refused_with_the_field_named_and_nothing_is_sent(notified: Notified) -> None:
    n, stack = notified, notified.stack
    code = hooked_section(n)
    before = stack.count("secretariat", "deliveries")
    refusals = [
        ("POST", "/api/v1/webhooks", {"url": n.hooks.url("x"), "event_types": ["ballot.opened"]}, 400, "event_types"),
        ("POST", "/api/v1/webhooks", {"url": "ftp://example.org/x", "event_types": ["motion.decided"]}, 400, "url"),
        ("POST", "/api/v1/webhooks", {"url": n.hooks.url("x"), "event_types": []}, 400, "event_types"),
        ("POST", "/api/v1/circulars", {"title": "T", "body": "B", "audience": "sections"}, 400, "sections"),
        (
            "POST",
            "/api/v1/circulars",
            {"title": "T", "body": "B", "audience": "sections", "sections": ["nowhere"]},
            400,
            "sections",
        ),
        ("POST", "/api/v1/circulars", {"title": "", "body": "B"}, 400, "title"),
        ("GET", "/api/v1/deliveries?status=lost", None, 400, "status"),
        ("GET", f"/api/v1/sections/{code}/inbox?unread=perhaps", None, 400, "unread"),
        ("POST", f"/api/v1/sections/{code}/inbox/999999999/read", None, 404, None),
        ("POST", "/api/v1/deliveries/no-such-delivery/retry", None, 404, None),
        ("DELETE", "/api/v1/webhooks/no-such-subscription", None, 404, None),
        ("POST", f"/api/v1/sections/{new_section()['code']}/webhook-secret", None, 404, None),
    ]
    for method, path, body, status, field in refusals:
        answer = stack.api(method, path, json=body)
        assert answer.status_code == status, f"{method} {path}: {answer.status_code} {answer.text}"
        if field:
            assert field in answer.json()["error"]["fields"], answer.text
    assert stack.api("POST", "/api/v1/circulars", token="observer", json={"title": "T", "body": "B"}).status_code == 403
    assert stack.api("GET", f"/api/v1/sections/{code}/inbox", token=None).status_code == 401
    contact = next(w for w in ok(stack.api("GET", "/api/v1/webhooks"))["webhooks"] if w["section"] == code)
    assert contact["origin"] == "contacts" and contact["event_types"] is None
    assert stack.api("DELETE", f"/api/v1/webhooks/{contact['id']}").status_code == 409
    assert stack.count("secretariat", "deliveries") == before
