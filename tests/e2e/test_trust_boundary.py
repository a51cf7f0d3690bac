"""Issue 11, acceptance 2: a user of the broker who has no service key changes nothing.

The attacker here is stronger than any service account: the vhost's administrator (guest), who
may publish to any exchange and call any RPC. Every attack of the issue is made the way it was
made before signing existed, and also with a forged proof (another key), an expired proof and a
genuine proof lifted from one call onto another. Each is checked through the HTTP API afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from kombu import Connection, Exchange, Producer
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

import congress.rpc  # noqa: F401  (domain errors, InvalidProof among them, arrive as their own classes)
from congress.messaging import topology
from congress.proof import CALL_PROOF, EVENT_PROOF, InvalidProof, sign_call, sign_event
from tests.e2e.conftest import new_section, running_stack
from tests.e2e.test_secretariat import CENTRE, Notified, decided, ok
from tests.support import infra
from tests.support.congress import congress_in_session, table_and_open
from tests.support.infra import eventually
from tests.support.mailbox import Mailbox
from tests.support.signing import call_proof, service_key
from tests.support.webhooks import WebhookReceiver

pytestmark = pytest.mark.e2e

OTHER_KEY = secrets.token_bytes(32)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hall(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notified]:
    vhost = infra.create_vhost()
    if vhost is None:
        pytest.skip("needs rabbitmqctl to give this stack a vhost of its own")
    uri = infra.amqp_uri(vhost)
    try:
        with Mailbox() as mailbox, WebhookReceiver() as hooks:
            env = {
                "SMTP_HOST": mailbox.host,
                "SMTP_PORT": str(mailbox.port),
                "CENTRE_EMAIL": CENTRE,
                "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8",  # our receiver is on loopback
            }
            with running_stack(
                request.param, uri, tmp_path_factory.mktemp(f"trust-{request.param}"), extra_env=env
            ) as s:
                yield Notified(s, mailbox, hooks, uri)
    finally:
        infra.delete_vhost(vhost)


def proofs(n: Notified, service: str, method: str, *args: Any) -> dict[str, str | None]:
    """What an attacker without the key can put in the proof header of a call."""
    now = int(time.time())
    lifted = call_proof(n.stack, "gateway", "voting", "get_ballot", "some-other-ballot")  # a real, unrelated one
    expired = jwt.encode(
        {"iss": "gateway", "aud": f"{service}.{method}", "iat": now - 120, "exp": now - 60, "dig": "x"},
        service_key(n.stack),
        algorithm="HS256",
    )
    return {
        "none": None,
        "forged": sign_call("gateway", service, method, args, {}, key=OTHER_KEY),
        "expired": expired,
        "lifted": lifted,
        "garbage": "not-a-proof",
    }


def attack(n: Notified, service: str, method: str, *args: Any) -> None:
    """Call `service.method(*args)` with every kind of proof a keyless attacker has; all are refused."""
    for kind, proof in proofs(n, service, method, *args).items():
        context = {CALL_PROOF: proof} if proof else {}
        with ClusterRpcProxy({"AMQP_URI": n.amqp_uri}, timeout=30, context_data=context) as cluster:
            with pytest.raises((InvalidProof, RemoteError)) as refused:
                getattr(getattr(cluster, service), method)(*args)
        assert "proof" in str(refused.value), (kind, refused.value)


def test_rpcs_without_the_key_change_nothing(hall: Notified) -> None:
    n, stack = hall, hall.stack
    congress = congress_in_session(stack, delegates=4)
    _, ballot = table_and_open(stack, congress.body_id)
    victim, *others = congress.delegates
    section = ok(stack.api("GET", f"/api/v1/bodies/{congress.body_id}/members"))["members"][0]["section"]
    admin = {"role": "admin"}

    # A body created "as admin".
    name = f"Forged body {uuid.uuid4().hex[:6]}"
    attack(n, "voting", "create_body", admin, {"name": name, "kind": "iec"})
    # A section officer token minted for a real section.
    attack(n, "sections", "issue_officer_token", admin, section, {"label": "forged"})
    # Votes cast in members' names.
    for delegate in (victim, *others[:2]):
        actor = {"role": "delegate", "member": delegate.member_id}
        attack(n, "voting", "cast_vote", actor, ballot["id"], {"choice": "no"}, "k" * 32)
    # The ballot closed.
    attack(n, "voting", "close_ballot", admin, ballot["id"])
    # The Secretariat made to email a "credential" to anyone.
    mark = f"forged-{uuid.uuid4().hex}"
    forged_mail = {
        "member_id": "m-1",
        "name": "Mallory",
        "email": f"{mark}@example.org",
        "body_name": "World Congress",
        "credential": mark,
    }
    attack(n, "secretariat", "deliver_credential", forged_mail)
    # Credentials identified without being the gateway.
    attack(n, "voting", "identify", "0" * 64)
    # A batch of votes in the victim's name, by the hash of their real credential; then the same
    # batch signed with the real key, but by a service that is not the gateway.
    gathered = [
        {
            "credential_hash": hashlib.sha256(victim.credential.encode()).hexdigest(),
            "ballot_id": ballot["id"],
            "vote": {"choice": "no"},
            "receipt_key": "k" * 32,
        }
    ]
    attack(n, "voting", "cast_votes", gathered)
    by_sections = sign_call("sections", "voting", "cast_votes", (gathered,), {}, key=service_key(stack))
    with ClusterRpcProxy({"AMQP_URI": n.amqp_uri}, timeout=30, context_data={CALL_PROOF: by_sections}) as cluster:
        with pytest.raises((InvalidProof, RemoteError)) as refused:
            cluster.voting.cast_votes(gathered)
    assert "takes calls from gateway only" in str(refused.value)

    # Through the API afterwards: no body, no working officer token, the voters' votes their own.
    bodies = ok(stack.api("GET", "/api/v1/bodies"))["bodies"]
    assert name not in [b["name"] for b in bodies]
    tokens_listed = stack.api("GET", f"/api/v1/sections/{section}/officer-tokens")
    if tokens_listed.status_code == 200:
        assert not [t for t in tokens_listed.json()["tokens"] if t.get("label") == "forged"]
    assert ok(stack.api("GET", f"/api/v1/ballots/{ballot['id']}"))["status"] == "open"
    assert ok(stack.api("GET", f"/api/v1/ballots/{ballot['id']}"))["votes_cast"] == 0
    for delegate in (victim, *others):
        voted = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=delegate.auth, json={"choice": "yes"})
        assert voted.status_code == 201, voted.text
    # A genuine credential email is the barrier: the Secretariat has worked since the attack.
    reissued = ok(stack.api("POST", f"/api/v1/members/{victim.member_id}/credential"), 200)
    assert reissued.get("credential_delivery") == "sent"
    assert not n.mailbox.matching(lambda m: any(mark in r for r in m.rcpt_tos) or mark in m.part("text/plain"))


def test_a_forged_event_has_no_effect_and_is_kept_aside(hall: Notified) -> None:
    n, stack = hall, hall.stack
    subscription = ok(
        stack.api("POST", "/api/v1/webhooks", json={"url": n.hooks.url("watch"), "event_types": ["motion.decided"]}),
        201,
    )
    n.hooks.endpoint("watch", subscription["secret"])
    title = f"Forged decision {uuid.uuid4().hex[:6]}"
    unsigned, badly_signed, misattributed = decided(title), decided(title), decided(title)
    headers = {
        unsigned["event_id"]: {},
        badly_signed["event_id"]: {EVENT_PROOF: sign_event("voting", badly_signed, key=OTHER_KEY)},
        # A real signature, but by another producer than the exchange's.
        misattributed["event_id"]: {EVENT_PROOF: sign_event("sections", misattributed, key=service_key(stack))},
    }
    with Connection(n.amqp_uri, transport_options={"confirm_publish": True}) as conn:
        dead = topology.dead_letter_queue()(conn.default_channel)
        dead.declare()
        producer = Producer(conn.default_channel)
        for event in (unsigned, badly_signed, misattributed):
            producer.publish(
                json.dumps(event),
                exchange=Exchange("voting.events", type="topic", durable=True),
                routing_key="motion.decided",
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
                headers=headers[event["event_id"]],
            )

        # The barrier: every refused copy is in the dead-letter queue, with why.
        kept: list[Any] = []

        def refused() -> bool:
            while (message := dead.get(no_ack=False)) is not None:
                message.ack()
                if json.loads(message.body).get("event_id") in headers:
                    kept.append(message)
            return len({json.loads(m.body)["event_id"] for m in kept}) == 3

        eventually(refused, what="the three forged events dead-lettered")
    assert all("proof" in m.headers["x-error"] or "signed" in m.headers["x-error"] for m in kept)

    # A genuine decision afterwards arrives: the forged ones made no notice and no webhook.
    congress = congress_in_session(stack, delegates=3)
    _, ballot = table_and_open(stack, congress.body_id)
    for delegate in congress.delegates:
        ok(stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=delegate.auth, json={"choice": "yes"}), 201)
    ok(stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close"))
    n.hooks.wait_for("watch", lambda d: d.body["data"]["ballot_id"] == ballot["id"])
    assert not n.hooks.accepted("watch", lambda d: d.body["data"]["title"] == title)
    notices = ok(stack.api("GET", "/api/v1/notifications?limit=500"))
    assert title not in json.dumps(notices)


def test_observers_replay_public_results_only_and_anyone_reads_the_record_key(hall: Notified) -> None:
    stack = hall.stack
    code = new_section()["code"]
    ok(stack.api("POST", "/api/v1/sections", json=new_section(code)), 201)
    title = f"For {code} only {uuid.uuid4().hex[:6]}"
    circular = {"title": title, "body": "Comrades, …", "audience": "sections", "sections": [code]}
    # The Secretariat learns of the section by its event: issue once it knows it.
    eventually(lambda: stack.api("POST", "/api/v1/circulars", json=circular).status_code == 201, what="a circular")

    def issued() -> bool:
        page = ok(stack.api("GET", "/api/v1/events/secretariat?limit=1000"))
        return any(e["event"]["data"].get("title") == title for e in page["events"])

    eventually(issued, what="the circular in the Secretariat's log")  # the admin sees it
    for types in ("", "&types=circular.issued"):
        page = ok(stack.api("GET", f"/api/v1/events/secretariat?limit=1000{types}", token="observer"))
        assert not [e for e in page["events"] if e["event"]["type"] == "circular.issued"]

    key = ok(stack.api("GET", "/api/v1/keys", token=None))
    assert key["algorithm"] == "Ed25519" and len(base64.b64decode(key["record_signing_key"])) == 32
