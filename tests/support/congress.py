"""Set up a World Congress through the HTTP API, as an organiser would: a section with
members, an apportionment, nominations, a convened congress in session and accredited
delegates with their credentials."""

from __future__ import annotations

import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.support.infra import eventually


@dataclass
class Delegate:
    member_id: str
    name: str
    credential: str

    @property
    def auth(self) -> str:
        return f"Bearer {self.credential}"


@dataclass
class Congress:
    id: str
    body_id: str
    delegates: list[Delegate] = field(default_factory=list)


def _ok(answer: Any, status: int = 200) -> dict:
    assert answer.status_code == status, f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text}"
    return answer.json()


def section_with_nominations(stack: Any, delegates: int, workers: int = 8) -> tuple[str, dict]:
    """A section of our own with `delegates` nominations under a fresh apportionment, once voting
    has heard of them all: (its code, the apportionment)."""
    code = "c" + secrets.token_hex(4)
    section = {"code": code, "name": f"Section {code}", "country": "Congressland", "email": f"{code}@example.org"}
    _ok(stack.api("POST", "/api/v1/sections", json=section), 201)
    _ok(stack.api("POST", f"/api/v1/sections/{code}/returns", json={"as_of": "2026-09-30", "members": 10**9}), 201)
    # Other tests' sections may be as large as ours or larger: double the seats until ours has enough.
    seats = delegates + 5
    while True:
        apportionment = _ok(
            stack.api("POST", "/api/v1/apportionments", json={"seats": seats, "method": "dhondt", "minimum": 0}), 201
        )
        if next(a["seats"] for a in apportionment["allocations"] if a["section"] == code) >= delegates:
            break
        seats *= 2

    def nominate(i: int) -> None:
        nomination = {
            "name": f"Delegate {i} of {code}",
            "email": f"d{i}.{code}@example.org",
            "apportionment_id": apportionment["id"],
        }
        _ok(stack.api("POST", f"/api/v1/sections/{code}/nominations", json=nomination), 201)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(nominate, range(delegates)))
    eventually(
        lambda: (
            stack.rows("voting", "SELECT count(*) AS n FROM nominated_delegates WHERE code = :c", c=code)[0]["n"]
            == delegates
        ),
        timeout=60,
        what="voting to hear of every nomination",
    )
    return code, apportionment


def congress_in_session(stack: Any, delegates: int, workers: int = 8) -> Congress:
    """`stack` has api(method, path, token=…, json=…) and rows(service, sql, **params)."""
    code, apportionment = section_with_nominations(stack, delegates, workers)
    congress = _ok(
        stack.api("POST", "/api/v1/congresses", json={"title": f"Congress {code}", "opens_on": "2027-01-10"}), 201
    )
    convened = _ok(
        stack.api(
            "POST", f"/api/v1/congresses/{congress['id']}/convene", json={"apportionment_id": apportionment["id"]}
        )
    )
    _ok(stack.api("POST", f"/api/v1/congresses/{congress['id']}/session"))
    body_id = convened["body_id"]
    members = _ok(stack.api("GET", f"/api/v1/bodies/{body_id}/members"))["members"]
    assert len(members) == delegates

    def accredit(member: dict) -> Delegate:
        issued = _ok(stack.api("POST", f"/api/v1/bodies/{body_id}/members/{member['id']}/accredit"))
        return Delegate(member_id=member["id"], name=member["name"], credential=issued["credential"])

    with ThreadPoolExecutor(workers) as pool:
        accredited = list(pool.map(accredit, members))
    return Congress(id=congress["id"], body_id=body_id, delegates=accredited)


def table_and_open(stack: Any, body_id: str, secrecy: str = "secret", rule: str = "simple") -> tuple[dict, dict]:
    motion = _ok(
        stack.api(
            "POST",
            f"/api/v1/bodies/{body_id}/motions",
            json={
                "title": "Adopt the programme",
                "text": "The congress adopts…",
                "mover": "IEC",
                "majority_rule": rule,
            },
        ),
        201,
    )
    ballot = _ok(stack.api("POST", f"/api/v1/motions/{motion['id']}/ballot", json={"secrecy": secrecy}), 201)
    return motion, ballot


def ballot_log_problems(stack: Any, ballot_id: str, cast: int, decided: str = "motion.decided") -> list[str]:
    """What a late subscriber replaying voting's log (GET /api/v1/events/voting) finds wrong with a
    closed ballot's events; [] when each is there once, in order (opened, `cast` vote.recorded
    counting 1…cast, closed, decided) and positions only grow."""
    replayed: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _ok(stack.api("GET", f"/api/v1/events/voting?after={after}&limit=1000"))
        replayed += page["events"]
        if not page["events"]:
            break
        after = page["next_after"]
    problems = []
    positions = [entry["position"] for entry in replayed]
    if positions != sorted(set(positions)):
        problems.append("the log's positions are not strictly increasing")
    ours = [e["event"] for e in replayed if e["event"]["data"].get("ballot_id") == ballot_id]
    if len({e["event_id"] for e in ours}) != len(ours):
        problems.append("an event twice in the log")
    kinds = [e["type"] for e in ours]
    if kinds != ["ballot.opened", *["vote.recorded"] * cast, "ballot.closed", decided]:
        problems.append(f"the ballot's events are out of order or not once each: {Counter(kinds)}")
    turnout = [e["data"]["votes_cast"] for e in ours if e["type"] == "vote.recorded"]
    if turnout != list(range(1, cast + 1)):
        problems.append("vote.recorded does not count 1, 2, … in log order")
    return problems
