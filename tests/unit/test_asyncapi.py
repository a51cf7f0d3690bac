from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from congress.contract import CATALOGUE, new_envelope
from congress.contract.asyncapi import asyncapi_document, message_name
from tests.support.asyncapi_check import document_errors
from tests.unit.test_contract import SECTION

APPORTIONMENT_ID = "5b0c3c4e-0000-4000-8000-000000000001"
EXAMPLES = {
    "section.registered": SECTION,
    "section.updated": {
        "code": "ew",
        "name": "Socialist Party",
        "email": "new@example.org",
        "webhook_url": None,
        "changed": ["email"],
    },
    "section.status_changed": {
        "code": "ew",
        "previous_status": "section",
        "status": "suspended",
        "reason": "no return for two years",
        "changed_at": "2026-11-24T10:00:00+00:00",
    },
    "membership.reported": {
        "return_id": "r-1",
        "code": "ew",
        "as_of": "2026-10-31",
        "members": 1200,
        "supporters": 300,
    },
    "apportionment.calculated": {
        "apportionment_id": APPORTIONMENT_ID,
        "method": "sainte-lague",
        "seats": 10,
        "minimum": 1,
        "cutoff": "2026-10-31",
        "allocations": {"ew": 6, "fr": 4},
        "ties": [],
        "calculated_at": "2026-11-24T10:00:00+00:00",
        "code": "-",
    },
    "delegate.nominated": {
        "nomination_id": "n-1",
        "apportionment_id": APPORTIONMENT_ID,
        "code": "ew",
        "name": "Rosa",
        "email": "rosa@example.org",
    },
    "delegate.withdrawn": {"nomination_id": "n-1", "apportionment_id": APPORTIONMENT_ID, "code": "ew"},
    "congress.scheduled": {"congress_id": "c-1", "title": "World Congress", "opens_on": "2027-01-10"},
    "congress.convened": {
        "congress_id": "c-1",
        "title": "World Congress",
        "body_id": "b-1",
        "apportionment_id": APPORTIONMENT_ID,
        "delegates": 120,
    },
    "congress.in_session": {"congress_id": "c-1", "status": "in_session"},
    "congress.closed": {"congress_id": "c-1", "status": "closed"},
    "delegate.accredited": {
        "member_id": "m-1",
        "body_id": "b-1",
        "name": "Rosa",
        "section": "ew",
        "deliberative": True,
    },
    "motion.tabled": {
        "motion_id": "mo-1",
        "body_id": "b-1",
        "title": "Programme",
        "mover": "IEC",
        "majority_rule": "simple",
    },
    "ballot.opened": {
        "ballot_id": "ba-1",
        "body_id": "b-1",
        "kind": "motion",
        "subject_id": "mo-1",
        "secrecy": "secret",
        "electorate": 120,
        "quorum": 61,
    },
    "vote.recorded": {"ballot_id": "ba-1", "votes_cast": 7, "electorate": 120},
    "ballot.closed": {
        "ballot_id": "ba-1",
        "body_id": "b-1",
        "kind": "motion",
        "votes_cast": 100,
        "electorate": 120,
        "digest": "sha256:00",
    },
    "motion.decided": {
        "motion_id": "mo-1",
        "ballot_id": "ba-1",
        "title": "Programme",
        "outcome": "adopted",
        "adopted": True,
        "tally": {"yes": 60, "no": 30, "abstain": 10},
        "majority_rule": "simple",
        "majority_met": True,
        "quorum": 61,
        "quorum_met": True,
        "electorate": 120,
    },
    "election.result_declared": {
        "election_id": "e-1",
        "ballot_id": "ba-2",
        "body_id": "b-1",
        "fills_body_id": "b-2",
        "title": "IEC",
        "method": "wigm",
        "seats": 7,
        "quota": "13",
        "elected": [{"candidate_id": "c-1", "name": "Rosa", "member_id": "m-1"}],
        "rounds": [{"number": 1}],
        "digest": "sha256:00",
    },
    "body.membership_changed": {
        "body_id": "b-2",
        "kind": "iec",
        "members": ["m-1"],
        "added": ["m-1"],
        "removed": [],
        "reason": "election e-1",
    },
    "circular.issued": {
        "circular_id": "ci-1",
        "title": "Preparations for the World Congress",
        "body": "Comrades, …",
        "audience": "all_sections",
        "sections": ["ew", "fr"],
        "recipients": 2,
        "issued_by": "secretariat",
        "issued_at": "2026-11-24T10:00:00+00:00",
    },
    "notification.delivered": {
        "delivery_id": "d-1",
        "notification_id": 7,
        "channel": "webhook",
        "recipient": "section:ew",
        "event_type": "motion.decided",
        "event_id": "5b0c3c4e-0000-4000-8000-000000000002",
        "attempts": 1,
    },
    "notification.failed": {
        "delivery_id": "d-2",
        "notification_id": 8,
        "channel": "email",
        "recipient": "member:m-1",
        "event_type": "circular.issued",
        "event_id": "5b0c3c4e-0000-4000-8000-000000000003",
        "attempts": 6,
        "error": "SMTP 550: mailbox unavailable",
    },
}
# The field each example's payload cannot do without.
REQUIRED = {"apportionment.calculated": "allocations"} | {
    t: next(iter(d)) for t, d in EXAMPLES.items() if "code" not in d and t != "apportionment.calculated"
}


def test_every_event_of_the_catalogue_is_documented_on_its_producers_exchange() -> None:
    document = asyncapi_document()

    assert document["asyncapi"] == "3.0.0"
    for event_type, versions in CATALOGUE.items():
        for version, (producer, _) in versions.items():
            name = message_name(event_type, version)
            assert name in document["components"]["messages"]
            assert document["channels"][producer]["address"] == f"{producer}.events"
            assert name in document["channels"][producer]["messages"]


def test_real_events_validate_against_the_documented_payloads_and_broken_ones_do_not() -> None:
    messages = asyncapi_document()["components"]["messages"]
    assert set(EXAMPLES) == set(CATALOGUE), "add an example for every event type"
    for event_type, data in EXAMPLES.items():
        wire = new_envelope(event_type, data, producer=CATALOGUE[event_type][1][0]).to_wire()
        schema = messages[message_name(event_type, wire["version"])]["payload"]

        jsonschema.validate(wire, schema)
        required = REQUIRED.get(event_type, "code")
        broken = {**wire, "data": {k: v for k, v in wire["data"].items() if k != required}}
        try:
            jsonschema.validate(broken, schema)
        except jsonschema.ValidationError:
            pass
        else:
            raise AssertionError(f"{event_type}: a payload without {required!r} validated")


def test_the_cli_prints_the_same_document() -> None:
    cli = Path(sys.executable).with_name("congress")
    printed = subprocess.run([cli, "contract", "asyncapi"], capture_output=True, text=True, check=True)

    assert json.loads(printed.stdout) == json.loads(json.dumps(asyncapi_document()))


def test_the_document_is_valid_against_the_official_asyncapi_3_schema() -> None:
    assert document_errors(asyncapi_document()) == []


def test_the_official_schema_checks_the_amqp_bindings_the_document_uses() -> None:
    # Each mistake the document once made (or could make) must fail: proof the vendored schema's
    # binding definitions are reached, not skipped.
    document = asyncapi_document()
    name = message_name("section.registered", 1)
    mistakes: dict[str, Any] = {
        "delivery mode in the message bindings": lambda d: d["components"]["messages"][name].update(
            bindings={"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}}
        ),
        "a delivery mode AMQP lacks": lambda d: d["operations"][f"send.{name}"]["bindings"]["amqp"].update(
            deliveryMode=3
        ),
        "an exchange type AMQP lacks": lambda d: d["channels"]["sections"]["bindings"]["amqp"]["exchange"].update(
            type="fanin"
        ),
        "a server without a host": lambda d: d["servers"]["broker"].pop("host"),
    }
    for mistake, apply in mistakes.items():
        broken = copy.deepcopy(document)
        apply(broken)
        assert document_errors(broken), f"the official schema let through {mistake}"


def test_the_broker_vhost_and_delivery_mode_are_where_asyncapi_puts_them() -> None:
    document = asyncapi_document()
    (server,) = document["servers"].values()

    assert server["protocol"] == "amqp"
    assert {"host", "port", "vhost"} <= set(server["variables"])
    assert "{vhost}" in server["pathname"]
    assert server["security"] == [{"$ref": "#/components/securitySchemes/userPassword"}]
    for producer, channel in document["channels"].items():
        exchange = channel["bindings"]["amqp"]["exchange"]
        assert exchange == {"name": f"{producer}.events", "type": "topic", "durable": True, "autoDelete": False}
    for event_type, versions in CATALOGUE.items():
        for version, (producer, _) in versions.items():
            operation = document["operations"][f"send.{message_name(event_type, version)}"]
            assert operation["action"] == "send"
            assert operation["channel"] == {"$ref": f"#/channels/{producer}"}
            assert operation["bindings"]["amqp"]["deliveryMode"] == 2
            assert operation["bindings"]["amqp"]["cc"] == [event_type]
    assert all(op["action"] == "send" for op in document["operations"].values())


def _formats(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from [value] if key == "format" and isinstance(value, str) else _formats(value)
    elif isinstance(node, list):
        for item in node:
            yield from _formats(item)


def test_every_format_is_a_json_schema_format() -> None:
    # "url" is apispec's, not JSON Schema's: ajv rejects it, jsonschema checks nothing for it.
    assert set(_formats(asyncapi_document())) <= {"date", "date-time", "email", "uri", "uuid"}
    webhook = asyncapi_document()["components"]["messages"]["section.registered.v1"]["payload"]
    assert webhook["properties"]["data"]["properties"]["webhook_url"]["format"] == "uri"
