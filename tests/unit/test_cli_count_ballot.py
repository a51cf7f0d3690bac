"""`congress count ballot` as anyone holding a published record runs it: a real process, a real file.

Every forgery of issue 11 is made consistently (result and digest recomputed) and must still be
refused, with one line and exit status 1: by the signature, by the invariants, or by the digest
that `ballot.closed` published; the untouched record passes.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from congress.contract.envelope import new_envelope
from congress.keys import public_key_text
from congress_counting.motions import tally
from congress_counting.record import decision_summary, digest, election_record, motion_record, sign_record
from tests.support.cli_output import fields_of, one_line_error

CLI = Path(sys.executable).with_name("congress")

KEY = Ed25519PrivateKey.generate()  # the voting service's record signing key
PUBLIC = public_key_text(KEY.public_key())
OTHER = Ed25519PrivateKey.generate()  # a forger's
OTHER_PUBLIC = public_key_text(OTHER.public_key())

ELECTORATE = 30
MOTION = {
    "id": "b-motion",
    "kind": "motion",
    "motion_id": "m1",
    "title": "Adopt the programme — 2027",
    "body_id": "congress",
    "secrecy": "secret",
    "majority_rule": "simple",
    "electorate": ELECTORATE,
    "quorum": 16,
}
CANDIDATES = {"c1": "Ana", "c2": "Ben", "c3": "Cas", "c4": "Dev", "c5": "Eve"}


def election(method: str) -> dict[str, Any]:
    return {
        "id": f"b-{method}",
        "kind": "election",
        "election_id": f"e-{method}",
        "title": f"Elect the IEC ({method})",
        "body_id": "congress",
        "secrecy": "secret",
        "method": method,
        "seats": 2,
        "electorate": ELECTORATE,
        "quorum": 16,
        "seed": f"b-{method}",
        "candidates": CANDIDATES,
    }


RANKINGS = (
    [["c1", "c2", "c3"]] * 9
    + [["c2", "c1"]] * 6
    + [["c3", "c4"]] * 6
    + [["c4", "c3", "c5"]] * 5
    + [["c5"]] * 3
    + [["c4"]]
)
VOTES: dict[str, list[Any]] = {
    "motion": ["yes"] * 14 + ["no"] * 10 + ["abstain"] * 6,
    "meek": RANKINGS,
    "wigm": RANKINGS,
    "block": [r[:2] for r in RANKINGS],  # a block ballot marks at most as many as there are seats
}
KINDS = list(VOTES)
assert all(len(votes) == ELECTORATE for votes in VOTES.values())  # everyone voted: a ghost is the 31st


def ballot_of(kind: str) -> dict[str, Any]:
    return MOTION if kind == "motion" else election(kind)


def build(kind: str, votes: list[tuple[str, Any]], participants: list[dict[str, Any]] | None = None) -> dict:
    """A record as the service builds it, result and digest computed, not signed."""
    ballot = ballot_of(kind)
    if participants is None:
        participants = [{"member_id": f"m{i:02d}", "name": f"Delegate {i}", "section": "ew"} for i in range(len(votes))]
    if kind == "motion":
        ballots = [{"receipt": r, "choice": c} for r, c in votes]
        result = decision_summary(tally(c for _, c in votes), ballot)
        return motion_record(ballot, ballots, participants, result)
    return election_record(ballot, [{"receipt": r, "ranking": list(v)} for r, v in votes], participants)


def genuine_votes(kind: str) -> list[tuple[str, Any]]:
    return [(f"r{i:02d}", vote) for i, vote in enumerate(VOTES[kind])]


def genuine(kind: str) -> dict[str, Any]:
    return sign_record(build(kind, genuine_votes(kind)), KEY)


def closed_event(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The ballot.closed envelope the service published for `record`."""
    data = {
        "ballot_id": record["ballot"]["id"],
        "body_id": record["ballot"]["body_id"],
        "kind": record["ballot"]["kind"],
        "votes_cast": len(record["ballots"]),
        "electorate": record["ballot"]["electorate"],
        "digest": record["digest"],
        **changes,
    }
    return new_envelope("ballot.closed", data, "voting").to_wire()


# The four consistent forgeries of issue 11: each recomputes the result and the digest.


def changed(kind: str) -> dict[str, Any]:
    votes = genuine_votes(kind)
    receipt, vote = votes[0]
    votes[0] = (receipt, "no" if kind == "motion" else ["c5"])
    assert votes[0][1] != vote
    return build(kind, votes)


def swapped(kind: str) -> dict[str, Any]:
    votes = genuine_votes(kind)
    j = next(j for j, (_, v) in enumerate(votes) if v != votes[0][1])
    (r0, v0), (rj, vj) = votes[0], votes[j]
    votes[0], votes[j] = (r0, vj), (rj, v0)
    forged = build(kind, votes)
    assert forged["result"] == genuine(kind)["result"]  # nothing in the count gives it away
    return forged


def removed(kind: str) -> dict[str, Any]:
    return build(kind, genuine_votes(kind)[1:])


def ghost(kind: str) -> dict[str, Any]:
    forged = build(kind, [*genuine_votes(kind), ("r-ghost", VOTES[kind][0])])
    assert (len(forged["ballots"]), forged["ballot"]["electorate"]) == (31, 30)
    return forged


FORGERIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "changed": changed,
    "swapped": swapped,
    "removed": removed,
    "ghost": ghost,
}


def count(tmp_path: Path, content: str | dict[str, Any], *args: str, key: str | None = PUBLIC, **env: str):
    path = tmp_path / "record.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
    trust = ("--key", key) if key else ()
    # Nothing from the caller's own CONGRESS_* settings or ~/.config leaks into a test.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONGRESS_")}
    return subprocess.run(
        [CLI, "count", "ballot", str(path), *trust, *args],
        capture_output=True,
        text=True,
        env={**clean, "HOME": str(tmp_path), **env},
    )


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def error(tmp_path: Path, done: subprocess.CompletedProcess[str]) -> str:
    """The one error line, without the `congress: FILE: ` in front."""
    line = one_line_error(done)
    prefix = f"congress: {tmp_path / 'record.json'}: "
    return line.removeprefix(prefix)


# The untouched record passes


@pytest.mark.parametrize("kind", KINDS)
def test_the_untouched_record_passes_every_check(tmp_path: Path, kind: str) -> None:
    record = genuine(kind)
    event = write(tmp_path, "event.json", closed_event(record))

    done = count(tmp_path, record, "--event", event)

    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert f"signature OK: Ed25519 key {PUBLIC} (given with --key)" in done.stdout
    assert f"digest OK: {record['digest']}; the recount matches the published result" in done.stdout
    assert f"ballot.closed OK: the same digest was published ({event})" in done.stdout


def test_a_motion_recount_is_printed_readably(tmp_path: Path) -> None:
    record = genuine("motion")

    done = count(tmp_path, record)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "Adopt the programme — 2027\n"
        "ballot:    b-motion (secret)\n"
        "tally:     yes 14, no 10, abstain 6\n"
        "cast:      30 of 30 (100%)\n"
        "majority:  simple, met\n"
        "quorum:    16 votes, met\n"
        "outcome:   adopted\n"
        f"signature OK: Ed25519 key {PUBLIC} (given with --key)\n"
        f"digest OK: {record['digest']}; the recount matches the published result\n"
        "ballot.closed: not compared (give --event FILE or --url URL to compare the published digest)\n"
    )


@pytest.mark.parametrize("method", ["meek", "wigm", "block"])
def test_an_election_recount_is_printed_with_the_candidates_names(tmp_path: Path, method: str) -> None:
    record = genuine(method)

    done = count(tmp_path, record)

    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    fields = fields_of(done.stdout)
    assert fields["ballot"] == f"b-{method} (secret)"
    assert fields["method"] == f"{method}, 2 seats"
    assert fields["cast"] == "30 of 30 (100%)"
    assert fields["elected"] == ", ".join(record["result"]["elected_names"])
    assert done.stdout.splitlines()[4].split() == ["candidate", *(str(r["number"]) for r in record["result"]["rounds"])]
    assert all(name in done.stdout for name in CANDIDATES.values())


@pytest.mark.parametrize("method", ["meek", "wigm", "block"])
def test_a_failed_election_recounts_to_no_one_elected_and_says_why(tmp_path: Path, method: str) -> None:
    record = sign_record(build(method, genuine_votes(method)[:15]), KEY)  # 15 of 30 voted; the quorum is 16
    reason = "Quorum not met: 15 of 30 voted, 16 needed. No one is elected."
    assert (record["result"]["outcome"], record["result"]["reason"]) == ("failed", reason)
    event = write(tmp_path, "event.json", closed_event(record))

    printed = count(tmp_path, record, "--event", event)
    checked = count(tmp_path, record, "--event", event, "--json")

    assert (printed.returncode, printed.stderr) == (0, ""), printed.stderr
    assert fields_of(printed.stdout)["elected"] == "no one"
    assert f"round 1: {reason}" in printed.stdout
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr
    recounted = json.loads(checked.stdout)["result"]
    assert recounted == record["result"] and recounted["elected"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_json_output_says_what_was_checked_and_the_result(tmp_path: Path, kind: str) -> None:
    record = genuine(kind)
    event = write(tmp_path, "event.json", closed_event(record))

    done = count(tmp_path, record, "--json", "--event", event)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "ballot_id": record["ballot"]["id"],
        "kind": record["ballot"]["kind"],
        "digest": record["digest"],
        "signature": {"algorithm": "Ed25519", "public_key": PUBLIC, "trusted": "given with --key"},
        "ballot_closed": {"compared": True, "source": event, "position": None},
        "result": record["result"],
    }


# Each forgery, consistent, refused by the signature


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize("kind", KINDS)
def test_a_consistent_forgery_left_with_the_genuine_signature_is_refused(
    tmp_path: Path, kind: str, forgery: str
) -> None:
    forged = FORGERIES[forgery](kind)
    forged["signature"] = genuine(kind)["signature"]

    assert error(tmp_path, count(tmp_path, forged)) == (
        f"the signature does not match the record: it has been altered since key {PUBLIC} signed it"
    )


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize("kind", KINDS)
def test_a_consistent_forgery_re_signed_with_another_key_is_refused(tmp_path: Path, kind: str, forgery: str) -> None:
    forged = sign_record(FORGERIES[forgery](kind), OTHER)

    assert error(tmp_path, count(tmp_path, forged)) == (
        f"the record is signed by another key ({OTHER_PUBLIC}), not the trusted key {PUBLIC}"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_forgery_with_the_signature_dropped_is_refused(tmp_path: Path, kind: str) -> None:
    forged = changed(kind)
    assert "signature" not in forged

    assert error(tmp_path, count(tmp_path, forged)) == "the record is not signed"


@pytest.mark.parametrize("kind", KINDS)
def test_a_genuine_record_signed_with_another_key_is_refused(tmp_path: Path, kind: str) -> None:
    record = sign_record(genuine(kind), OTHER)

    assert error(tmp_path, count(tmp_path, record)) == (
        f"the record is signed by another key ({OTHER_PUBLIC}), not the trusted key {PUBLIC}"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_another_key_that_names_the_trusted_one_still_fails(tmp_path: Path, kind: str) -> None:
    forged = sign_record(changed(kind), OTHER)
    forged["signature"]["public_key"] = PUBLIC  # a label only: the value is checked with the trusted key

    assert "the signature does not match the record" in error(tmp_path, count(tmp_path, forged))


# Even a forger holding the signing key: the invariants and the published digest


@pytest.mark.parametrize("forgery", ["changed", "swapped", "removed"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_forgery_signed_with_the_real_key_differs_from_the_published_digest(
    tmp_path: Path, kind: str, forgery: str
) -> None:
    published = write(tmp_path, "event.json", closed_event(genuine(kind)))
    forged = sign_record(FORGERIES[forgery](kind), KEY)

    line = error(tmp_path, count(tmp_path, forged, "--event", published))

    assert line == (
        f"the digest published in ballot.closed ({genuine(kind)['digest']}, {published}) "
        f"is not the record's ({forged['digest']})"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_ghost_ballot_is_refused_even_when_signed_with_the_real_key(tmp_path: Path, kind: str) -> None:
    forged = sign_record(ghost(kind), KEY)

    assert error(tmp_path, count(tmp_path, forged)) == "31 ballots cast, more than the electorate of 30"


@pytest.mark.parametrize("kind", KINDS)
def test_a_ballot_removed_without_its_participant_is_refused(tmp_path: Path, kind: str) -> None:
    record = genuine(kind)
    forged = build(kind, genuine_votes(kind)[1:], participants=record["participants"])

    assert error(tmp_path, count(tmp_path, sign_record(forged, KEY))) == "29 ballots but 30 participants"


@pytest.mark.parametrize("kind", KINDS)
def test_a_receipt_twice_is_refused(tmp_path: Path, kind: str) -> None:
    votes = genuine_votes(kind)
    votes[1] = (votes[0][0], votes[1][1])

    assert error(tmp_path, count(tmp_path, sign_record(build(kind, votes), KEY))) == "receipt 'r00' appears twice"


@pytest.mark.parametrize(
    ("kind", "vote", "says"),
    [
        ("motion", "maybe", "ballot r00: not a choice on a motion: 'maybe'"),
        ("meek", ["c1", "zed"], "ballot r00: 'zed' is not a candidate"),
        ("wigm", ["c1", "c2", "c1"], "ballot r00: 'c1' appears twice"),
        ("block", ["c1", "c2", "c3"], "ballot r00: marks 3 candidates for 2 seats"),
    ],
)
def test_a_ballot_invalid_for_its_kind_is_refused(tmp_path: Path, kind: str, vote: Any, says: str) -> None:
    record = genuine(kind)
    forged = copy.deepcopy(record)
    forged["ballots"][0]["choice" if kind == "motion" else "ranking"] = vote
    forged["digest"] = digest(forged)  # the result cannot be recomputed: the counting code refuses it

    assert error(tmp_path, count(tmp_path, sign_record(forged, KEY))) == says


@pytest.mark.parametrize("kind", KINDS)
def test_a_changed_ballot_with_the_result_left_alone_fails_the_recount(tmp_path: Path, kind: str) -> None:
    forged = changed(kind)
    forged["result"] = genuine(kind)["result"]
    forged["digest"] = digest(forged)

    line = error(tmp_path, count(tmp_path, sign_record(forged, KEY)))

    assert line.startswith("the recount differs from the published result: ")


def test_an_altered_ballot_under_a_valid_signature_fails_the_digest(tmp_path: Path) -> None:
    forged = copy.deepcopy(genuine("motion"))
    forged["ballots"][1]["choice"] = "yes" if forged["ballots"][1]["choice"] != "yes" else "no"

    line = error(tmp_path, count(tmp_path, sign_record(forged, KEY)))  # re-signed, digest left as it was

    assert line == "the digest does not match the record: it has been altered"


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"votes_cast": 29}, "ballot.closed published votes_cast 29; the record has 30"),
        ({"electorate": 31}, "ballot.closed published electorate 31; the record has 30"),
    ],
)
def test_an_event_that_does_not_add_up_is_refused(tmp_path: Path, changes: dict[str, int], says: str) -> None:
    record = genuine("motion")
    event = write(tmp_path, "event.json", closed_event(record, **changes))

    assert error(tmp_path, count(tmp_path, record, "--event", event)) == says


@pytest.mark.parametrize(
    "shape",
    [
        lambda e: e,  # the envelope
        lambda e: e["data"],  # its data
        lambda e: {"position": 7, "event": e},  # an entry of the event log
        lambda e: {"events": [{"position": 7, "event": e}], "next_after": 7},  # a page of it
    ],
)
def test_the_event_is_taken_in_any_shape_the_api_gives_it(tmp_path: Path, shape: Callable[[dict], Any]) -> None:
    record = genuine("meek")
    other = closed_event(genuine("wigm"))  # another ballot's, ignored
    given = shape(closed_event(record))
    event = write(tmp_path, "event.json", [other, given] if isinstance(given, dict) else given)

    done = count(tmp_path, record, "--event", event)

    assert done.returncode == 0, done.stderr
    assert "ballot.closed OK: the same digest was published" in done.stdout


def test_an_event_for_another_ballot_is_one_line(tmp_path: Path) -> None:
    event = write(tmp_path, "event.json", closed_event(genuine("wigm")))

    line = one_line_error(count(tmp_path, genuine("meek"), "--event", event))

    assert line == f"congress: {event}: no ballot.closed event for ballot b-meek"


# The key to trust


def test_with_no_trusted_key_it_refuses_and_names_the_records_own_key(tmp_path: Path) -> None:
    line = error(tmp_path, count(tmp_path, genuine("motion"), key=None))

    assert line == (
        "no trusted key to check the signature against: give --key, --key-file or --url "
        f"(the record names key {PUBLIC}, which proves nothing by itself)"
    )


@pytest.mark.parametrize(
    "content",
    [
        lambda: PUBLIC + "\n",
        lambda: json.dumps({"record_signing_key": PUBLIC, "algorithm": "Ed25519"}),
        lambda: KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
    ],
    ids=["base64", "api-answer", "pem"],
)
def test_the_key_can_come_from_a_file(tmp_path: Path, content: Callable[[], str]) -> None:
    key_file = write(tmp_path, "record.pub", content())

    done = count(tmp_path, genuine("block"), "--key-file", key_file, key=None)

    assert done.returncode == 0, done.stderr
    assert f"signature OK: Ed25519 key {PUBLIC} (from {key_file})" in done.stdout


@pytest.mark.parametrize("bad", ["not base64!", "AAAA", PUBLIC[:-4]])
def test_a_key_that_is_not_one_is_one_line(tmp_path: Path, bad: str) -> None:
    line = one_line_error(count(tmp_path, genuine("motion"), key=bad))

    assert line == "congress: --key: not an Ed25519 public key (base64 of 32 bytes)"


# Through the API: the key it serves and the event log, paged


class FakeApi:
    """The two endpoints the command reads, with a page smaller than asked for (the API may cap it)."""

    def __init__(self, key: str, events: list[dict[str, Any]], token: str = "tok") -> None:
        self.key, self.token, self.requests = key, token, []
        self.log = [{"position": i, "event": e} for i, e in enumerate(events, start=1)]

    def handle(self, path: str, query: dict[str, list[str]], authorization: str | None) -> tuple[int, Any]:
        self.requests.append((path, query, authorization))
        if path == "/api/v1/keys":
            return 200, {"record_signing_key": self.key, "algorithm": "Ed25519"}
        if path == "/api/v1/events/voting":
            if authorization != f"Bearer {self.token}":
                return 401, {"error": {"code": "unauthorized", "message": "a valid bearer token is required"}}
            assert query["types"] == ["ballot.closed"] and query["limit"] == ["1000"]
            after = int(query["after"][0])
            page = [entry for entry in self.log if entry["position"] > after][:2]
            return 200, {"events": page, "next_after": page[-1]["position"] if page else after}
        return 404, {"error": {"code": "not_found", "message": "no such path"}}


@pytest.fixture
def serve() -> Iterator[Callable[[FakeApi], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(api: FakeApi) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                status, body = api.handle(url.path, parse_qs(url.query), self.headers.get("Authorization"))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def event_log(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Other ballots' closes first, so the command has to page to find this one."""
    others = [closed_event(genuine(kind)) for kind in KINDS if kind != record["ballot"].get("method", "motion")]
    return [*others, closed_event(record)]


@pytest.mark.parametrize("kind", KINDS)
def test_through_the_api_the_served_key_and_the_published_digest_are_checked(
    tmp_path: Path, serve: Callable[[FakeApi], str], kind: str
) -> None:
    record = genuine(kind)
    api = FakeApi(PUBLIC, event_log(record))
    url = serve(api)

    done = count(tmp_path, record, "--url", url, key=None, CONGRESS_TOKEN="tok")

    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert f"signature OK: Ed25519 key {PUBLIC} (served by {url}/api/v1/keys)" in done.stdout
    assert f"ballot.closed OK: the same digest was published (the event log at {url}, position 4)" in done.stdout
    pages = [q["after"] for path, q, _ in api.requests if path == "/api/v1/events/voting"]
    assert pages == [["0"], ["2"]]  # paged with next_after, and stopped once found


@pytest.mark.parametrize("kind", KINDS)
def test_through_the_api_a_forgery_with_the_real_key_differs_from_the_log(
    tmp_path: Path, serve: Callable[[FakeApi], str], kind: str
) -> None:
    url = serve(FakeApi(PUBLIC, event_log(genuine(kind))))
    forged = sign_record(swapped(kind), KEY)

    line = error(tmp_path, count(tmp_path, forged, "--url", url, key=None, CONGRESS_TOKEN="tok"))

    assert line.startswith(f"the digest published in ballot.closed ({genuine(kind)['digest']}, the event log at {url})")


def test_through_the_api_a_record_signed_with_another_key_is_refused(
    tmp_path: Path, serve: Callable[[FakeApi], str]
) -> None:
    url = serve(FakeApi(PUBLIC, []))

    line = error(tmp_path, count(tmp_path, sign_record(genuine("wigm"), OTHER), "--url", url, key=None))

    assert line == f"the record is signed by another key ({OTHER_PUBLIC}), not the trusted key {PUBLIC}"


def test_through_the_api_a_ballot_never_closed_in_the_log_is_one_line(
    tmp_path: Path, serve: Callable[[FakeApi], str]
) -> None:
    record = genuine("motion")
    url = serve(FakeApi(PUBLIC, [closed_event(genuine(kind)) for kind in ("meek", "wigm", "block")]))

    line = one_line_error(count(tmp_path, record, "--url", url, key=None, CONGRESS_TOKEN="tok"))

    assert line == f"congress: {url}: no ballot.closed event for ballot b-motion in the voting event log"


def test_through_the_api_the_event_log_needs_a_token(tmp_path: Path, serve: Callable[[FakeApi], str]) -> None:
    url = serve(FakeApi(PUBLIC, event_log(genuine("motion"))))

    line = one_line_error(count(tmp_path, genuine("motion"), "--url", url, key=None))

    assert line.startswith("congress: reading the ballot.closed event needs an API token: set CONGRESS_TOKEN")


def test_through_the_api_a_wrong_token_is_the_apis_answer_in_one_line(
    tmp_path: Path, serve: Callable[[FakeApi], str]
) -> None:
    url = serve(FakeApi(PUBLIC, event_log(genuine("motion"))))

    line = one_line_error(count(tmp_path, genuine("motion"), "--url", url, key=None, CONGRESS_TOKEN="wrong"))

    assert line == f"congress: {url}/api/v1/events/voting: 401 unauthorized: a valid bearer token is required"


def test_an_api_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(count(tmp_path, genuine("motion"), "--url", "http://127.0.0.1:9", key=None))

    assert line.startswith("congress: cannot reach the API at http://127.0.0.1:9: ")


# What is not a record


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a ballot record"),
        ('{"ballot": {}}', "the record is not signed"),
    ],
)
def test_what_is_not_a_record_is_one_line(tmp_path: Path, content: str, says: str) -> None:
    assert says in one_line_error(count(tmp_path, content))


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [CLI, "count", "ballot", str(tmp_path / "nope.json"), "--key", PUBLIC], capture_output=True, text=True
    )

    assert one_line_error(done) == f"congress: {tmp_path / 'nope.json'}: cannot read: No such file or directory"


def test_a_signed_well_formed_digest_over_a_malformed_record_is_one_line(tmp_path: Path) -> None:
    broken = copy.deepcopy(genuine("motion"))
    del broken["ballot"]["majority_rule"]
    broken["digest"] = digest(broken)

    assert "not a well-formed ballot record" in one_line_error(count(tmp_path, sign_record(broken, KEY)))


@pytest.mark.parametrize("missing", ["ballots", "participants", "result", "digest"])
def test_a_signed_record_missing_a_part_is_one_line(tmp_path: Path, missing: str) -> None:
    broken = {k: v for k, v in genuine("meek").items() if k != missing}

    assert error(tmp_path, count(tmp_path, sign_record(broken, KEY))) == f"the record has no {missing!r}"
