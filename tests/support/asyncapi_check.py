"""Checks of the AsyncAPI document and of events against it, with third-party validators only.

- `document_errors`: the document against the official AsyncAPI 3.0.0 JSON Schema, vendored
  from `@asyncapi/specs` in tests/data/asyncapi (see its README); every `$ref` resolves locally.
- `validate_event`: an event against the payload its type and version publish, with `jsonschema`
  checking formats (`uri` needs rfc3986-validator, `date-time` rfc3339-validator), as a
  subscriber's validator would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from congress.contract import Envelope
from congress.contract.asyncapi import message_name

OFFICIAL_SCHEMA = Path(__file__).parents[1] / "data" / "asyncapi" / "3.0.0.json"
DOCUMENT_URI = "urn:congress:asyncapi"
# AsyncAPI's default schema format is a superset of JSON Schema draft 07, so payloads are
# validated as draft 07; their formats with the newest checker set, as ajv-formats does, since
# draft 07's lacks `uuid` (event_id) and would pass it unchecked.
FORMAT_CHECKER: FormatChecker = Draft202012Validator.FORMAT_CHECKER


def _offline(uri: str) -> Resource[Any]:
    # Everything must come from the vendored file: never fetch a $ref over the network.
    raise NoSuchResource(ref=uri)


@cache
def _official_validator() -> Draft7Validator:
    schema = json.loads(OFFICIAL_SCHEMA.read_text())
    registry: Registry[Any] = (
        Registry(retrieve=_offline).with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
    )
    return Draft7Validator(schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER)


def document_errors(document: Mapping[str, Any]) -> list[str]:
    """What the official AsyncAPI 3.0.0 JSON Schema finds wrong with `document`, one line each."""
    # Through JSON first: the served document is JSON (tuples, say, would not be arrays).
    plain = json.loads(json.dumps(document))
    errors = sorted(_official_validator().iter_errors(plain), key=lambda e: list(map(str, e.absolute_path)))
    return [_line(_cause(error)) for error in errors]


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if not error.context:
        yield error
    for sub in error.context or ():
        yield from _leaves(sub)


def _cause(error: ValidationError) -> ValidationError:
    # A oneOf failure says little ("not valid under any of the given schemas"); of the failures
    # under it, the deepest in the document names the offending field.
    return max(_leaves(error), key=lambda leaf: len(leaf.absolute_path))


def _line(error: ValidationError) -> str:
    path = "/".join(map(str, error.absolute_path)) or "<root>"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    return f"{path}: {message}"


def _formats(schema: Any) -> Iterator[str]:
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "format" and isinstance(value, str):
                yield value
            else:
                yield from _formats(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _formats(item)


def validate_event(document: Mapping[str, Any], envelope: Mapping[str, Any] | Envelope) -> None:
    """Raise jsonschema.ValidationError unless `envelope` matches its published payload, formats included.

    `envelope` is an Envelope or its wire form (what the broker carries, or an `event` of the
    replay API). AssertionError if its type and version are not in the document, or if the
    document uses a format this validator cannot check (it would pass anything silently).
    """
    wire = json.loads(json.dumps(envelope.to_wire() if isinstance(envelope, Envelope) else envelope))
    name = message_name(str(wire.get("type")), wire.get("version"))  # type: ignore[arg-type]
    messages = document["components"]["messages"]
    assert name in messages, f"{name} is not in the AsyncAPI document"
    unchecked = set(_formats(messages[name]["payload"])) - set(FORMAT_CHECKER.checkers)
    assert not unchecked, f"formats {sorted(unchecked)} are unknown or their checker's package is missing"
    # Through the document, so a payload's own $refs (if any) resolve against it.
    registry: Registry[Any] = Registry(retrieve=_offline).with_resource(
        DOCUMENT_URI, DRAFT7.create_resource(json.loads(json.dumps(document)))
    )
    pointer = name.replace("~", "~0").replace("/", "~1")
    Draft7Validator(
        {"$ref": f"{DOCUMENT_URI}#/components/messages/{pointer}/payload"},
        registry=registry,
        format_checker=FORMAT_CHECKER,
    ).validate(wire)
