"""Issue 5 acceptance through the HTTP API, against the real RabbitMQ and each kind of store:
returns and apportionment emit their events, voting keeps the allocations, the CLI agrees with
the API, and a section officer acts only for their own section."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from congress.contract import EnvelopeSchema
from tests.e2e.conftest import Stack, new_section
from tests.support.infra import EventTap, eventually

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("congress")


@pytest.fixture
def every_sections_event(stack: Stack):
    tap = EventTap(stack.amqp_uri, "sections.events", "#")
    yield tap
    tap.close()


def register(stack: Stack, **overrides) -> dict:
    section = new_section(**overrides)
    answer = stack.api("POST", "/api/v1/sections", json=section)
    assert answer.status_code == 201, answer.text
    return section


def officer_token(stack: Stack, code: str) -> tuple[str, str]:
    issued = stack.api("POST", f"/api/v1/sections/{code}/officer-tokens", json={"label": "secretary"})
    assert issued.status_code == 201, issued.text
    return issued.json()["id"], f"Bearer {issued.json()['token']}"


def test_a_section_officer_acts_for_their_own_section_only_and_nothing_else_is_written(stack: Stack) -> None:
    own, other = register(stack), register(stack)
    _, token = officer_token(stack, own["code"])

    filed = stack.api(
        "POST",
        f"/api/v1/sections/{own['code']}/returns",
        token=token,
        json={"as_of": "2026-10-31", "members": 120, "supporters": 40},
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["filed_by"] == f"section_officer:{own['code']}"
    assert (
        stack.api(
            "PATCH", f"/api/v1/sections/{own['code']}", token=token, json={"email": "new@example.org"}
        ).status_code
        == 200
    )

    before = stack.count("sections", "membership_returns"), stack.count("sections", "outbox")
    refused = [
        stack.api(
            "POST",
            f"/api/v1/sections/{other['code']}/returns",
            token=token,
            json={"as_of": "2026-10-31", "members": 999},
        ),
        stack.api("PATCH", f"/api/v1/sections/{other['code']}", token=token, json={"email": "x@example.org"}),
        stack.api(
            "POST",
            f"/api/v1/sections/{other['code']}/nominations",
            token=token,
            json={"name": "Intruder", "email": "i@example.org"},
        ),
        stack.api("GET", f"/api/v1/sections/{other['code']}/returns", token=token),
        stack.api(
            "POST",
            f"/api/v1/sections/{own['code']}/status",
            token=token,
            json={"status": "suspended", "reason": "self-suspension"},
        ),
        stack.api("POST", "/api/v1/apportionments", token=token, json={"seats": 10, "method": "dhondt"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    assert all(r.json()["error"]["code"] == "forbidden" for r in refused)
    assert (stack.count("sections", "membership_returns"), stack.count("sections", "outbox")) == before


def test_a_revoked_officer_token_is_refused(stack: Stack) -> None:
    section = register(stack)
    token_id, token = officer_token(stack, section["code"])
    assert stack.api("GET", f"/api/v1/sections/{section['code']}", token=token).status_code == 200

    assert stack.api("DELETE", f"/api/v1/officer-tokens/{token_id}").json()["revoked_at"]

    refused = stack.api("GET", f"/api/v1/sections/{section['code']}", token=token)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]
    assert token.split()[1] not in json.dumps(stack.rows("sections", "SELECT * FROM officer_tokens"), default=str)


def test_a_dissolved_section_gets_no_officer_token(stack: Stack) -> None:
    section = register(stack)
    assert (
        stack.api(
            "POST",
            f"/api/v1/sections/{section['code']}/status",
            json={"status": "dissolved", "reason": "merged into another section"},
        ).status_code
        == 200
    )

    refused = stack.api("POST", f"/api/v1/sections/{section['code']}/officer-tokens", json={})

    assert refused.status_code == 409
    assert stack.rows("sections", "SELECT id FROM officer_tokens WHERE code = :c", c=section["code"]) == []


def test_bad_returns_and_apportionment_requests_name_the_field(stack: Stack) -> None:
    section = register(stack)
    cases = [
        (f"/api/v1/sections/{section['code']}/returns", {"as_of": "2026-10-31", "members": -1}, "members"),
        (f"/api/v1/sections/{section['code']}/returns", {"as_of": "2999-01-01", "members": 1}, "as_of"),
        (f"/api/v1/sections/{section['code']}/returns", {"as_of": "yesterday", "members": 1}, "as_of"),
        (f"/api/v1/sections/{section['code']}/returns", {"as_of": "2026-10-31", "members": "12"}, "members"),
        ("/api/v1/apportionments", {"seats": 10, "method": "jefferson"}, "method"),
        ("/api/v1/apportionments", {"seats": 0, "method": "dhondt"}, "seats"),
        ("/api/v1/apportionments", {"seats": 1, "method": "dhondt", "minimum": 1}, "seats"),
    ]
    for path, body, field in cases:
        answer = stack.api("POST", path, json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert field in answer.json()["error"]["fields"], (body, answer.json())
    assert (
        stack.api("POST", "/api/v1/sections/nowhere/returns", json={"as_of": "2026-10-31", "members": 1}).status_code
        == 404
    )


def test_returns_and_apportionment_emit_events_reach_voting_and_agree_with_the_cli(
    stack: Stack, every_sections_event: EventTap, tmp_path: Path
) -> None:
    big, small, late = register(stack), register(stack), register(stack)
    suspended = register(stack)
    for code, as_of, members in [
        (big["code"], "2026-06-30", 4000),
        (big["code"], "2026-09-30", 5200),  # the latest before the cut-off counts
        (big["code"], "2026-11-15", 9999),  # after the cut-off: ignored
        (small["code"], "2026-09-30", 800),
        (late["code"], "2026-11-15", 3000),  # only a return after the cut-off: counts as none
        (suspended["code"], "2026-09-30", 7000),
    ]:
        assert (
            stack.api("POST", f"/api/v1/sections/{code}/returns", json={"as_of": as_of, "members": members}).status_code
            == 201
        )
    assert (
        stack.api(
            "POST",
            f"/api/v1/sections/{suspended['code']}/status",
            json={"status": "suspended", "reason": "no return for two years"},
        ).status_code
        == 200
    )

    answer = stack.api(
        "POST",
        "/api/v1/apportionments",
        json={"seats": 120, "method": "sainte-lague", "minimum": 1, "cutoff": "2026-10-31"},
    )

    assert answer.status_code == 201, answer.text
    result = answer.json()
    by_code = {a["section"]: a for a in result["allocations"]}
    assert suspended["code"] not in by_code  # only sections with full rights get delegates
    assert by_code[big["code"]]["members"] == 5200 and by_code[big["code"]]["return_as_of"] == "2026-09-30"
    assert by_code[late["code"]]["members"] == 0 and late["code"] in result["without_return"]
    assert sum(a["seats"] for a in result["allocations"]) == 120
    assert all(a["seats"] >= 1 for a in result["allocations"])
    assert stack.api("GET", f"/api/v1/apportionments/{result['id']}", token="observer").json() == result

    # The CLI, given the same figures, prints the same apportionment (ties and all).
    figures = tmp_path / "members.csv"
    with figures.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["section", "members"])
        writer.writerows((a["section"], a["members"]) for a in result["allocations"])
    printed = subprocess.run(
        [CLI, "count", "apportion", str(figures), "--seats", "120", "--method", "sainte-lague", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    offline = json.loads(printed.stdout)
    assert offline["allocations"] == {a["section"]: a["seats"] for a in result["allocations"]}
    assert offline["ties"] == result["ties"]

    # The events, valid against the contract, and voting's read model of the allocations.
    events = every_sections_event.wait_for(
        lambda m: m["type"] == "apportionment.calculated" and m["data"]["apportionment_id"] == result["id"]
    )
    events += every_sections_event.drain(0.5)
    for event in events:
        EnvelopeSchema().load(event)
    reported = [e for e in events if e["type"] == "membership.reported" and e["data"]["code"] == big["code"]]
    assert sorted(e["data"]["members"] for e in reported) == [4000, 5200, 9999]
    assert any(e["type"] == "section.status_changed" and e["data"]["code"] == suspended["code"] for e in events)
    calculated = next(e for e in events if e["type"] == "apportionment.calculated")
    assert calculated["data"]["allocations"] == offline["allocations"]

    kept = eventually(
        lambda: stack.rows("voting", "SELECT code, seats FROM allocations WHERE apportionment_id = :a", a=result["id"]),
        what="voting's allocations",
    )
    assert {row["code"]: row["seats"] for row in kept} == offline["allocations"]
    status = eventually(
        lambda: [
            r
            for r in stack.rows("voting", "SELECT status FROM known_sections WHERE code = :c", c=suspended["code"])
            if r["status"] == "suspended"
        ],
        what="the suspension in voting",
    )
    assert status


def test_nominations_stay_within_the_allocation_and_reach_voting(stack: Stack) -> None:
    section = register(stack)
    assert (
        stack.api(
            "POST", f"/api/v1/sections/{section['code']}/returns", json={"as_of": "2026-09-30", "members": 10}
        ).status_code
        == 201
    )
    apportionment = stack.api("POST", "/api/v1/apportionments", json={"seats": 200, "method": "dhondt"}).json()
    seats = next(a["seats"] for a in apportionment["allocations"] if a["section"] == section["code"])
    _, token = officer_token(stack, section["code"])
    path = f"/api/v1/sections/{section['code']}/nominations"

    made = [
        stack.api("POST", path, token=token, json={"name": f"Delegate {i}", "email": f"d{i}@example.org"})
        for i in range(seats)
    ]
    assert [m.status_code for m in made] == [201] * seats
    assert {m.json()["apportionment_id"] for m in made} == {apportionment["id"]}  # the latest by default
    one_too_many = stack.api("POST", path, token=token, json={"name": "Extra", "email": "extra@example.org"})
    assert one_too_many.status_code == 409
    twice = stack.api("POST", path, token=token, json={"name": "Again", "email": "d0@example.org"})
    assert twice.status_code == 409

    first = made[0].json()["id"]
    withdrawn = stack.api("POST", f"{path}/{first}/withdraw", token=token)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert stack.api("POST", f"{path}/{first}/withdraw", token=token).status_code == 409
    assert stack.api("POST", path, token=token, json={"name": "Extra", "email": "extra@example.org"}).status_code == 201

    listed = stack.api("GET", path, token=token).json()["nominations"]
    assert sorted(n["status"] for n in listed) == sorted(["withdrawn"] + ["nominated"] * seats)

    def voting_view() -> list[dict]:
        rows = stack.rows(
            "voting", "SELECT nomination_id, withdrawn FROM nominated_delegates WHERE code = :c", c=section["code"]
        )
        return rows if len(rows) == seats + 1 and any(r["withdrawn"] for r in rows) else []

    rows = eventually(voting_view, what="nominations in voting")
    assert [r["nomination_id"] for r in rows if r["withdrawn"]] == [first]


def test_an_apportionment_with_no_returns_before_its_cutoff_is_refused_and_stores_nothing(stack: Stack) -> None:
    before = stack.api("GET", "/api/v1/apportionments").json()["apportionments"]
    answer = stack.api("POST", "/api/v1/apportionments", json={"seats": 10, "method": "dhondt", "cutoff": "1990-01-01"})
    assert answer.status_code == 409, answer.text
    assert "cutoff" in answer.json()["error"]["fields"]
    assert stack.api("GET", "/api/v1/apportionments").json()["apportionments"] == before
