"""The event contract as an AsyncAPI 3.0 document, generated from the marshmallow schemas.

Served by the gateway at /api/asyncapi.json and printed by `congress contract asyncapi`.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from congress import __version__
from congress.contract.catalogue import CATALOGUE
from congress.contract.envelope import EnvelopeSchema


def _json_schema(schema: Any) -> dict[str, Any]:
    # Nested schemas inline (a resolver returning None): each message's payload stands alone.
    plugin = MarshmallowPlugin(schema_name_resolver=lambda _schema: None)
    APISpec("congress", __version__, "3.1.0", plugins=[plugin])  # binds the converter to 3.1 types
    return plugin.converter.schema2jsonschema(schema)


def message_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def asyncapi_document() -> dict[str, Any]:
    envelope = _json_schema(EnvelopeSchema())
    envelope["additionalProperties"] = False
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, versions in sorted(CATALOGUE.items()):
        for version, (producer, schema_class) in sorted(versions.items()):
            name = message_name(event_type, version)
            payload = {
                **envelope,
                "properties": {
                    **envelope["properties"],
                    "type": {"const": event_type},
                    "version": {"const": version},
                    "producer": {"const": producer},
                    "data": _json_schema(schema_class()),
                },
            }
            messages[name] = {
                "name": name,
                "title": f"{event_type} (version {version})",
                "summary": (schema_class.__doc__ or "").strip(),
                "contentType": "application/json",
                "payload": payload,
                "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": "0.3.0"}},
            }
            channel = channels.setdefault(
                producer,
                {
                    "address": f"{producer}.events",
                    "description": f"Events of the {producer} service; routing key = event type.",
                    "messages": {},
                    "bindings": {
                        "amqp": {
                            "is": "routingKey",
                            "exchange": {
                                "name": f"{producer}.events",
                                "type": "topic",
                                "durable": True,
                                "autoDelete": False,
                                "vhost": "/",
                            },
                            "bindingVersion": "0.3.0",
                        }
                    },
                },
            )
            channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
            operations[f"receive.{name}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{producer}"},
                "messages": [{"$ref": f"#/channels/{producer}/messages/{name}"}],
                "bindings": {"amqp": {"cc": [event_type], "ack": True, "bindingVersion": "0.3.0"}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "congress events",
            "version": __version__,
            "description": (
                "Events of the congress platform. Each producer publishes to its durable topic exchange "
                "`<producer>.events` with the event type as routing key; bind your own durable queue, ack "
                "after applying an event and drop duplicates by event_id (delivery is at least once). A "
                "version only ever gains optional fields."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
