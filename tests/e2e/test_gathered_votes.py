"""Issue 12: the gateway gathers votes that arrive together into one call to voting (one commit
for many). From outside, on each store: a hall's votes released at once, good ones mixed with every
kind of bad one, travel together (the gateway's metrics say so), and each request still gets the
answer it would get alone; the record holds each accepted vote once, and each vote.recorded event
carries its own request's correlation id."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

import congress.rpc  # noqa: F401  (domain errors arrive as their own classes)
from congress.errors import CongressError
from congress.proof import CALL_PROOF
from tests.e2e.conftest import Stack
from tests.support.congress import congress_in_session, table_and_open
from tests.support.signing import call_proof

pytestmark = pytest.mark.e2e

DELEGATES = 60


def gathered(stack: Stack) -> tuple[float, float]:
    """(calls to voting, votes in them) so far, from the gateway's own /metrics."""
    text = requests.get(stack.url + "/metrics", timeout=10).text
    found = dict(re.findall(r"^congress_votes_gathered_(count|sum) (\S+)$", text, re.M))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def test_votes_sent_together_keep_their_own_answers(stack: Stack) -> None:
    congress = congress_in_session(stack, DELEGATES, workers=16)
    _, ballot = table_and_open(stack, congress.body_id)
    path = f"/api/v1/ballots/{ballot['id']}/votes"
    delegates = congress.delegates
    # (kind, Authorization, path, body, correlation id): what each request is and who sends it.
    submissions: list[tuple[str, str, str, Any, str]] = []

    def send(kind: str, auth: str, body: Any, to: str = path) -> None:
        submissions.append((kind, auth, to, body, f"gather-{uuid.uuid4().hex}"))

    for delegate in delegates[:35]:
        send("good", delegate.auth, {"choice": secrets.choice(["yes", "no", "abstain"])})
    for delegate in delegates[35:42]:  # a retry racing its original: both get the one receipt
        retry = {"choice": "yes", "request_id": str(uuid.uuid4())}
        send("twin", delegate.auth, retry)
        send("twin", delegate.auth, dict(retry))
    for delegate in delegates[42:48]:  # two different votes at once: one counts, one is refused
        send("rival", delegate.auth, {"choice": "yes"})
        send("rival", delegate.auth, {"choice": "no"})
    for delegate in delegates[48:53]:
        send("invalid", delegate.auth, {"choice": "maybe"})
    for _ in range(5):
        send("stranger", f"Bearer dc_{secrets.token_urlsafe(24)}", {"choice": "yes"})
    send("no ballot", delegates[53].auth, {"choice": "yes"}, f"/api/v1/ballots/{uuid.uuid4()}/votes")
    # An id longer than any ballot's, a body no store can keep, a body that is not an object: each
    # refused on its own in the batch (voting validates each vote), the others unharmed.
    send("long id", delegates[54].auth, {"choice": "yes"}, f"/api/v1/ballots/{'b' * 80}/votes")
    send("not an object", delegates[55].auth, ["yes"])
    send("unstorable", delegates[56].auth, {"choice": "yes", "request_id": "r\u0000"})

    calls_before, votes_before = gathered(stack)
    start = threading.Barrier(len(submissions))

    def post(submission: tuple[str, str, str, Any, str]) -> requests.Response:
        _, auth, to, body, correlation_id = submission
        start.wait(timeout=60)
        headers = {"Authorization": auth, "X-Correlation-Id": correlation_id}
        return requests.post(stack.url + to, json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(len(submissions)) as pool:
        answers = list(pool.map(post, submissions))
    calls_after, votes_after = gathered(stack)

    # Every vote went through the gatherer, and they did not go one by one.
    assert votes_after - votes_before == len(submissions)
    assert calls_after - calls_before < votes_after - votes_before

    by_kind: dict[str, list[tuple[tuple, requests.Response]]] = {}
    for submission, answer in zip(submissions, answers, strict=True):
        by_kind.setdefault(submission[0], []).append((submission, answer))
    assert all(answer.status_code == 201 for _, answer in by_kind["good"]), [a.text for _, a in by_kind["good"]]
    twins = [answer for _, answer in by_kind["twin"]]
    assert [a.status_code for a in twins] == [201] * len(twins), [a.text for a in twins]
    for first, second in zip(twins[::2], twins[1::2], strict=True):
        assert first.json()["receipt"] == second.json()["receipt"]
    rivals = [answer for _, answer in by_kind["rival"]]
    for first, second in zip(rivals[::2], rivals[1::2], strict=True):
        assert sorted([first.status_code, second.status_code]) == [201, 409], (first.text, second.text)
    for _, answer in by_kind["invalid"]:
        assert answer.status_code == 400 and "choice" in answer.json()["error"]["fields"], answer.text
    assert [a.status_code for _, a in by_kind["stranger"]] == [401] * 5
    assert [a.status_code for _, a in by_kind["no ballot"]] == [404]
    assert [a.status_code for _, a in by_kind["long id"]] == [404]
    assert [a.status_code for _, a in by_kind["not an object"]] == [400]
    unstorable = [answer for _, answer in by_kind["unstorable"]]
    assert [a.status_code for a in unstorable] == [400], [a.text for a in unstorable]
    assert "NUL" in str(unstorable[0].json()["error"]["fields"]["request_id"]), unstorable[0].text

    accepted = [(s, a) for s, a in zip(submissions, answers, strict=True) if a.status_code == 201]
    receipts = {a.json()["receipt"] for _, a in accepted}
    assert len(receipts) == 35 + 7 + 6  # one per delegate who voted: twins share theirs

    # Each accepted vote's event carries its own request's correlation id (a twin's: either one).
    def events() -> list[tuple[str, dict]]:
        rows = stack.rows("voting", "SELECT correlation_id, envelope FROM outbox WHERE type = 'vote.recorded'")
        found = []
        for row in rows:
            envelope = row["envelope"] if isinstance(row["envelope"], dict) else json.loads(row["envelope"])
            if envelope["data"]["ballot_id"] == ballot["id"]:
                found.append((row["correlation_id"], envelope))
        return found

    recorded = events()
    assert len(recorded) == len(receipts)
    assert all(envelope["correlation_id"] == cid for cid, envelope in recorded)
    sent_ids = Counter(s[4] for s, _ in accepted)
    assert {cid for cid, _ in recorded} <= set(sent_ids)
    twin_pairs = {
        frozenset((a[0][4], b[0][4])) for a, b in zip(by_kind["twin"][::2], by_kind["twin"][1::2], strict=True)
    }
    for pair in twin_pairs:  # the pair's one event names one of the two
        assert len(pair & {cid for cid, _ in recorded}) == 1

    # The record, once closed, holds each receipt once; the turnout counted each voter once.
    closed = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close")
    assert closed.status_code == 200, closed.text
    record = stack.api("GET", f"/api/v1/ballots/{ballot['id']}/record", token=None).json()
    in_record = [entry["receipt"] for entry in record["ballots"]]
    assert sorted(in_record) == sorted(receipts)
    assert closed.json()["votes_cast"] == len(receipts)


def test_each_vote_of_a_batch_is_validated_on_its_own(stack: Stack) -> None:
    """voting.cast_votes called as the gateway, with a batch whose every other item is malformed:
    each bad item gets its own refusal, the good ones their receipts, in order."""
    congress = congress_in_session(stack, 3, workers=3)
    _, ballot = table_and_open(stack, congress.body_id)

    def item(delegate: Any, **changes: Any) -> dict[str, Any]:
        good = {
            "credential_hash": hashlib.sha256(delegate.credential.encode()).hexdigest(),
            "ballot_id": ballot["id"],
            "vote": {"choice": "yes"},
            "receipt_key": secrets.token_hex(16),
        }
        return {**good, **changes}

    one, two, three = congress.delegates
    batch = [
        item(one),
        "not an object",
        item(two, ballot_id="b" * 80),
        item(two, vote={"choice": "yes", "request_id": "r\u0000"}),
        {k: v for k, v in item(two).items() if k != "credential_hash"},
        item(two, extra="unknown field"),
        item(three),
    ]
    proof = call_proof(stack, "gateway", "voting", "cast_votes", batch)
    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}, timeout=30, context_data={CALL_PROOF: proof}) as cluster:
        answers = cluster.voting.cast_votes(batch)
    proof = call_proof(stack, "gateway", "voting", "cast_votes", "not a list")
    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}, timeout=30, context_data={CALL_PROOF: proof}) as cluster:
        with pytest.raises((CongressError, RemoteError)) as refused:
            cluster.voting.cast_votes("not a list")
    assert "votes" in getattr(refused.value, "fields", {}), refused.value

    assert [sorted(a) for a in answers] == [["ok"], ["error"], ["error"], ["error"], ["error"], ["error"], ["ok"]]
    errors = [a["error"] for a in answers[1:6]]
    assert [e["code"] for e in errors] == ["invalid_input", "not_found", *["invalid_input"] * 3]
    assert "NUL" in str(errors[2]["fields"]["request_id"])
    assert "credential_hash" in errors[3]["fields"] and "extra" in errors[4]["fields"]
    record = stack.api("GET", f"/api/v1/ballots/{ballot['id']}").json()
    assert record["votes_cast"] == 2
