"""Issue 15, acceptance 1: every event the e2e run published validates against the published
AsyncAPI document, formats checked, with a standard JSON Schema validator.

Named to run after the other end-to-end modules that share the session's stacks, so it reads what
they all made the services publish (each producer's whole log, replayed through the API)."""

from __future__ import annotations

from collections import Counter

import pytest
from jsonschema import ValidationError

from tests.e2e.conftest import Stack
from tests.support.asyncapi_check import validate_event

pytestmark = pytest.mark.e2e


def every_event(stack: Stack, producer: str) -> list[dict]:
    events, after = [], 0
    while True:
        answer = stack.api("GET", f"/api/v1/events/{producer}?after={after}&limit=1000")
        assert answer.status_code == 200, answer.text
        page = answer.json()
        if not page["events"]:
            return events
        events += [entry["event"] for entry in page["events"]]
        after = page["next_after"]


def test_every_event_published_in_the_run_validates_against_the_asyncapi_document(stack: Stack) -> None:
    document = stack.api("GET", "/api/asyncapi.json", token=None).json()
    seen: Counter[str] = Counter()
    failures = []
    for producer in ("sections", "voting", "secretariat"):
        for event in every_event(stack, producer):
            seen[event["type"]] += 1
            try:
                validate_event(document, event)
            except (AssertionError, ValidationError) as exc:
                failures.append(f"{event['type']} {event['event_id']}: {str(exc).splitlines()[0]}")
    assert not failures, "\n".join(failures[:20])
    # The run exercised the contract broadly, not a handful of types.
    assert len(seen) >= 12, dict(seen)
