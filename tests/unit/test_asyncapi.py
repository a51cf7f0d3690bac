from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from congress.contract import CATALOGUE, new_envelope
from congress.contract.asyncapi import asyncapi_document, message_name
from tests.unit.test_contract import SECTION

EXAMPLES = {"section.registered": SECTION}


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
        broken = {**wire, "data": {k: v for k, v in wire["data"].items() if k != "code"}}
        try:
            jsonschema.validate(broken, schema)
        except jsonschema.ValidationError:
            pass
        else:
            raise AssertionError(f"{event_type}: a payload without 'code' validated")


def test_the_cli_prints_the_same_document() -> None:
    cli = Path(sys.executable).with_name("congress")
    printed = subprocess.run([cli, "contract", "asyncapi"], capture_output=True, text=True, check=True)

    assert json.loads(printed.stdout) == json.loads(json.dumps(asyncapi_document()))
